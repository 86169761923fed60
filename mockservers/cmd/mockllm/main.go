// Command mockllm serves the demo's mock model provider on loopback.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/hopguard/hopguard/mockservers/internal/serve"
	"github.com/hopguard/hopguard/mockservers/llm"
)

const usage = `mockllm serves the demo's mock model provider.

Endpoints: POST /v1/chat/completions (tool calls; stream: true as SSE),
GET /v1/models, GET /v1/models/{id}, POST /v1/responses (minimal),
POST /v1/messages (Anthropic), GET /_journal, POST /_reset.

Only the provider key is accepted (Authorization: Bearer <key> or
x-api-key: <key>; 401 otherwise) and only the listed models (404
model_not_found otherwise). Replies come from a deterministic scenario
brain that works the ticket named in the user message.

Once bound it prints "listening on http://HOST:PORT" on stdout.

Usage: mockllm [flags]

Flags:
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return
		}
		fmt.Fprintln(os.Stderr, "mockllm:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("mockllm", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), usage)
		fs.PrintDefaults()
	}
	addr := fs.String("addr", "127.0.0.1:18080", "loopback `host:port` to listen on; port 0 picks a free port")
	key := fs.String("provider-key", llm.DefaultProviderKey, "the only API `key` accepted")
	models := fs.String("models", strings.Join(llm.DefaultModels(), ","), "comma-separated `list` of models served")
	level := fs.String("log-level", "info", "log `level`: debug, info, warn, error")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	logger, err := serve.NewLogger(stderr, *level)
	if err != nil {
		return err
	}
	srv, err := llm.New(llm.Config{
		ProviderKey: *key,
		Models:      strings.Split(*models, ","),
		Logger:      logger,
	})
	if err != nil {
		return err
	}
	logger.Info("mock LLM ready", "models", srv.Models())
	return serve.Run(ctx, serve.Options{Addr: *addr, Handler: srv, Logger: logger, Stdout: stdout})
}
