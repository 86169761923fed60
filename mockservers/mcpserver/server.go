// Package mcpserver builds the demo's mock MCP servers (tickets, crm,
// payments, payroll, and a knowledge base of documents and prompts) on mark3labs/mcp-go, served over streamable HTTP at
// /mcp, each with a seeded in-memory Store and a journal of what reached it.
package mcpserver

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/mark3labs/mcp-go/server"

	"github.com/hopguard/hopguard/mockservers/journal"
)

// Name names one of the mock MCP servers.
type Name string

// The demo's MCP servers.
const (
	Tickets  Name = "tickets"
	CRM      Name = "crm"
	Payments Name = "payments"
	Payroll  Name = "payroll"
	// Knowledge serves documents (resources) and prompts besides one tool.
	Knowledge Name = "knowledge"
)

// Names lists every server, in a stable order.
func Names() []Name { return []Name{Tickets, CRM, Payments, Payroll, Knowledge} }

// ParseName returns the server called s.
func ParseName(s string) (Name, error) {
	for _, n := range Names() {
		if string(n) == s {
			return n, nil
		}
	}
	return "", fmt.Errorf("unknown MCP server %q (want one of %v)", s, Names())
}

// EndpointPath is where every server speaks MCP.
const EndpointPath = "/mcp"

// Version is the server version the servers announce.
const Version = "0.1.0"

// Config configures a server.
type Config struct {
	Name Name
	// Seed is the state to start from and reset to; nil means DemoSeed().
	Seed *Seed
	// Now is the clock for comments and journal entries; nil means time.Now.
	Now    func() time.Time
	Logger *slog.Logger
}

// Server is one mock MCP server as an http.Handler: MCP at /mcp, plus the
// journal endpoints.
type Server struct {
	name       Name
	store      *Store
	journal    *journal.Journal
	streamable *server.StreamableHTTPServer
	handler    http.Handler
}

// New builds the server cfg names.
func New(cfg Config) (*Server, error) {
	if _, err := ParseName(string(cfg.Name)); err != nil {
		return nil, err
	}
	seed := DemoSeed()
	if cfg.Seed != nil {
		seed = *cfg.Seed
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.Default()
	}
	logger = logger.With("mcp_server", string(cfg.Name))

	store := NewStore(seed, cfg.Now)
	options := []server.ServerOption{
		server.WithToolCapabilities(false),
		server.WithInputSchemaValidation(),
		server.WithStrictInputSchemaDefault(),
		server.WithRecovery(),
		server.WithLogger(logger),
	}
	if cfg.Name == Knowledge {
		options = append(options, server.WithResourceCapabilities(false, false), server.WithPromptCapabilities(false), server.WithElicitation())
	}
	mcpServer := server.NewMCPServer("hopguard-mock-"+string(cfg.Name), Version, options...)
	mcpServer.AddTools(toolsFor(cfg.Name, store)...)
	if cfg.Name == Knowledge {
		mcpServer.EnableSampling()
		mcpServer.AddResources(knowledgeResources()...)
		mcpServer.AddPrompts(knowledgePrompts()...)
	}

	// The mocks sit behind gateways that may forward a virtual host name
	// (Istio routes by Host), so mcp-go's loopback-only Host check would
	// turn routed requests into 403s. The listener itself binds loopback.
	streamable := server.NewStreamableHTTPServer(mcpServer,
		server.WithEndpointPath(EndpointPath),
		server.WithDisableLocalhostProtection(true),
		server.WithStreamableHTTPLogger(logger),
	)

	j := journal.New(journal.Config{Describe: journal.DescribeMCP, OnReset: store.Reset, Now: cfg.Now})
	mux := http.NewServeMux()
	mux.Handle(EndpointPath, streamable)
	return &Server{
		name:       cfg.Name,
		store:      store,
		journal:    j,
		streamable: streamable,
		handler:    j.Wrap(mux),
	}, nil
}

func toolsFor(name Name, store *Store) []server.ServerTool {
	switch name {
	case Tickets:
		return ticketTools(store)
	case CRM:
		return crmTools(store)
	case Payments:
		return paymentTools(store)
	case Payroll:
		return payrollTools(store)
	case Knowledge:
		return knowledgeTools()
	}
	return nil
}

// ServeHTTP serves MCP and the journal.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

// Name is the server's name.
func (s *Server) Name() Name { return s.name }

// Store is the server's state, for tests to inspect.
func (s *Server) Store() *Store { return s.store }

// Journal is what reached the server.
func (s *Server) Journal() *journal.Journal { return s.journal }

// Close ends the open MCP sessions and their streams, so that an
// http.Server's Shutdown is not held up by clients that keep a GET stream.
func (s *Server) Close(ctx context.Context) {
	s.streamable.CloseSessions(ctx)
}
