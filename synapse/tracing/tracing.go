// Package tracing gives synapse OpenTelemetry traces: a span for each check, its stages beneath
// (map, verify, task lookup, Cerbos), joined to the gateway's trace by the request's traceparent
// and carried on to Cerbos in the call's metadata, so that one hop is one trace across the
// gateway, synapse and Cerbos. Spans go to an OTLP collector over gRPC when one is configured;
// otherwise nothing is recorded and nothing is sent.
//
// A traceparent comes from the gateway or the client, and is believed for correlation only:
// nothing is decided from it.
package tracing

import (
	"context"
	"fmt"
	"time"

	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.37.0"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
	"google.golang.org/grpc/metadata"
)

// Config says where spans go.
type Config struct {
	// OTLPEndpoint is the collector's OTLP gRPC address (host:port); empty turns tracing off.
	OTLPEndpoint string
	// Insecure sends spans without TLS (a collector on loopback or in the pod).
	Insecure bool
	// SampleRatio is the share of traces synapse starts itself that it records; a trace the
	// gateway sampled is recorded whatever it is.
	SampleRatio float64
	// Version is synapse's, on every span's resource.
	Version string
}

// Propagator reads and writes W3C trace context, the one gateways and Cerbos speak.
func Propagator() propagation.TextMapPropagator { return propagation.TraceContext{} }

// FromCheck is ctx in the gateway's trace: the one of its call to synapse (the trace context
// in the gRPC metadata, where Envoy puts its ext_authz span's), else the one the checked
// request's headers carry.
func FromCheck(ctx context.Context, requestHeaders map[string]string) context.Context {
	if md, ok := metadata.FromIncomingContext(ctx); ok && len(md.Get("traceparent")) > 0 {
		return Propagator().Extract(ctx, MetadataCarrier(md))
	}
	return Propagator().Extract(ctx, propagation.MapCarrier(requestHeaders))
}

// MetadataCarrier is gRPC metadata as OpenTelemetry's carrier, to read a trace context from or
// write one to.
type MetadataCarrier metadata.MD

// Get is the first value of key.
func (c MetadataCarrier) Get(key string) string {
	if v := metadata.MD(c).Get(key); len(v) > 0 {
		return v[0]
	}
	return ""
}

// Set replaces key's values with value.
func (c MetadataCarrier) Set(key, value string) { metadata.MD(c).Set(key, value) }

// Keys lists the keys.
func (c MetadataCarrier) Keys() []string {
	keys := make([]string, 0, len(c))
	for k := range c {
		keys = append(keys, k)
	}
	return keys
}

// Setup returns the tracer provider cfg asks for and how to flush and stop it.
func Setup(ctx context.Context, cfg Config) (trace.TracerProvider, func(context.Context) error, error) {
	if cfg.OTLPEndpoint == "" {
		return noop.NewTracerProvider(), func(context.Context) error { return nil }, nil
	}
	opts := []otlptracegrpc.Option{otlptracegrpc.WithEndpoint(cfg.OTLPEndpoint), otlptracegrpc.WithTimeout(5 * time.Second)}
	if cfg.Insecure {
		opts = append(opts, otlptracegrpc.WithInsecure())
	}
	exporter, err := otlptracegrpc.New(ctx, opts...)
	if err != nil {
		return nil, nil, fmt.Errorf("tracing: OTLP exporter for %s: %w", cfg.OTLPEndpoint, err)
	}
	res := resource.NewSchemaless(semconv.ServiceName("synapse"), semconv.ServiceVersion(cfg.Version))
	provider := sdktrace.NewTracerProvider(
		sdktrace.WithBatcher(exporter),
		sdktrace.WithResource(res),
		sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(cfg.SampleRatio))),
	)
	return provider, provider.Shutdown, nil
}
