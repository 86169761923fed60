// Command mockllm serves the demo's mock model provider on loopback.
package main

import (
	"context"
	"errors"
	"io"
	"strings"

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

With --tls-cert and --tls-key it serves HTTPS instead (HTTP/2 and HTTP/1.1),
as a real provider does: how a gateway's TLS origination is tested here.

Once bound it prints "listening on http://HOST:PORT" (https:// over TLS) on
stdout.

Usage: mockllm [flags]

Flags:
`

func main() { serve.Main("mockllm", run) }

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := serve.NewFlags("mockllm", usage, "127.0.0.1:18080", stderr)
	key := fs.String("provider-key", llm.DefaultProviderKey, "the only API `key` accepted")
	models := fs.String("models", strings.Join(llm.DefaultModels(), ","), "comma-separated `list` of models served")
	certFile := fs.String("tls-cert", "", "serve HTTPS with this certificate chain (PEM `file`); needs --tls-key")
	keyFile := fs.String("tls-key", "", "the private key (PEM `file`) of --tls-cert")
	logger, err := fs.Parse(args)
	if err != nil {
		return err
	}
	if (*certFile == "") != (*keyFile == "") {
		return errors.New("--tls-cert and --tls-key go together")
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
	opts := serve.Options{Addr: *fs.Addr, Handler: srv, Logger: logger, Stdout: stdout}
	if *certFile != "" {
		if err := serve.CheckLoopback(opts.Addr); err != nil {
			return err // before the certificate, as for plaintext
		}
		if opts.TLS, err = serverTLS(*certFile, *keyFile); err != nil {
			return err
		}
	}
	return serve.Run(ctx, opts)
}
