package pdp

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	svcv1 "github.com/cerbos/cerbos/api/genpb/cerbos/svc/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/hopguard/hopguard/synapse/tracing"
)

// DefaultTimeout bounds one CheckResources call when none is configured.
const DefaultTimeout = 200 * time.Millisecond

// MaxRequestBytes is the largest CheckResources request Cerbos accepts: its gRPC server's
// default maximum message size. A larger one is not sent.
const MaxRequestBytes = 4 << 20

// ErrRequestTooLarge means the request is larger than Cerbos accepts (it was not sent, or
// Cerbos refused it unread, gRPC ResourceExhausted). It is the caller's request that is too big,
// not Cerbos that is down: a denial of the request, never an outage.
var ErrRequestTooLarge = errors.New("request too large for Cerbos")

// Client is a Cerbos client over gRPC.
type Client struct {
	conn    *grpc.ClientConn
	cerbos  svcv1.CerbosServiceClient
	health  healthpb.HealthClient
	timeout time.Duration
}

// Dial prepares a client for the Cerbos gRPC API at addr (host:port). It does
// not connect until the first call, so synapse can start before Cerbos.
// Cerbos runs beside synapse on 127.0.0.1, hence plaintext.
func Dial(addr string, timeout time.Duration, opts ...grpc.DialOption) (*Client, error) {
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	opts = append(defaultDialOptions(), opts...)
	conn, err := grpc.NewClient("passthrough:///"+addr, opts...)
	if err != nil {
		return nil, fmt.Errorf("cerbos client for %s: %w", addr, err)
	}
	return &Client{
		conn:    conn,
		cerbos:  svcv1.NewCerbosServiceClient(conn),
		health:  healthpb.NewHealthClient(conn),
		timeout: timeout,
	}, nil
}

// staticWindow is the HTTP/2 flow-control window, per stream and per connection, on the
// connection to Cerbos. A fixed window turns off gRPC's bandwidth estimator, which otherwise
// answers nearly every response with a WINDOW_UPDATE and a PING that Cerbos must read and
// acknowledge: two more writes and a read per decision, on both sides, for messages of a
// few KiB that never come near the window. 1 MiB is no more than the estimator may grow to.
const staticWindow = 1 << 20

// defaultDialOptions come before the caller's options, which may override them.
func defaultDialOptions() []grpc.DialOption {
	return []grpc.DialOption{
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithStaticStreamWindowSize(staticWindow),
		grpc.WithStaticConnWindowSize(staticWindow),
		// gRPC measures the encoded message it is about to send, so a request Cerbos would
		// refuse fails here, before a byte of it is sent (ResourceExhausted, as Cerbos's own
		// refusal).
		grpc.WithDefaultCallOptions(grpc.ForceCodecV2(newVTCodec()), grpc.MaxCallSendMsgSize(MaxRequestBytes)),
	}
}

// Close closes the connection.
func (c *Client) Close() error {
	if err := c.conn.Close(); err != nil {
		return fmt.Errorf("close cerbos client: %w", err)
	}
	return nil
}

// Check sends one CheckResources call. Any error means no decision was made:
// the caller must deny.
func (c *Client) Check(ctx context.Context, req Request) (*Response, error) {
	in, err := toProto(req)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	ctx = metadata.NewOutgoingContext(ctx, traced(ctx, headers(req.Metadata)))

	out, err := c.cerbos.CheckResources(ctx, in)
	if status.Code(err) == codes.ResourceExhausted {
		return nil, fmt.Errorf("cerbos CheckResources: %w: %w", ErrRequestTooLarge, err)
	}
	if err != nil {
		return nil, fmt.Errorf("cerbos CheckResources: %w", err)
	}
	resp, err := fromProto(out, req)
	if err != nil {
		return nil, fmt.Errorf("cerbos CheckResources: %w", err)
	}
	return resp, nil
}

// Ready reports whether Cerbos answers its gRPC health check.
func (c *Client) Ready(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	resp, err := c.health.Check(ctx, &healthpb.HealthCheckRequest{Service: svcv1.CerbosService_ServiceDesc.ServiceName})
	if err != nil {
		return fmt.Errorf("cerbos health: %w", err)
	}
	if s := resp.GetStatus(); s != healthpb.HealthCheckResponse_SERVING {
		return fmt.Errorf("cerbos health: %s", s)
	}
	return nil
}

func headers(m Metadata) metadata.MD {
	md := make(metadata.MD, 4)
	// One backing array for the four values: each key holds a one-element slice of it.
	values := make([]string, 0, 4)
	for _, h := range [...]struct{ key, value string }{
		{HeaderDecisionID, m.DecisionID},
		{HeaderAgentID, m.AgentID},
		{HeaderHarnessVersion, m.HarnessVersion},
		{HeaderTaskID, m.TaskID},
	} {
		if h.value == "" {
			continue
		}
		// The keys are lower case already, which is all metadata.MD.Set would add.
		values = append(values, headerValue(h.value))
		md[h.key] = values[len(values)-1 : len(values) : len(values)]
	}
	return md
}

// maxHeaderValue keeps token-supplied strings from bloating every call.
const maxHeaderValue = 256

// headerValue makes a value safe for a gRPC header (printable ASCII): token
// claims are signed but not otherwise constrained, and a value gRPC refuses
// would turn into a failed decision. At most maxHeaderValue bytes are kept.
func headerValue(v string) string {
	if n := min(len(v), maxHeaderValue); isPrintableASCII(v[:n]) {
		return v[:n] // what the rune-by-rune copy below would give, without copying
	}
	var b strings.Builder
	for _, r := range v {
		if b.Len() >= maxHeaderValue {
			break
		}
		if r < 0x20 || r > 0x7e {
			r = '?'
		}
		b.WriteRune(r)
	}
	return b.String()
}

func isPrintableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// ErrorReason names the kind of a Check error, for logs and a metric label.
func ErrorReason(err error) string {
	switch {
	case err == nil:
		return ""
	case errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	case errors.Is(err, context.Canceled):
		return "canceled"
	case errors.Is(err, ErrInvalidResponse):
		return "invalid_response"
	case errors.Is(err, ErrInvalidRequest):
		return "invalid_request"
	case errors.Is(err, ErrRequestTooLarge):
		return "request_too_large"
	}
	switch status.Code(err) {
	case codes.DeadlineExceeded:
		return "timeout"
	case codes.Canceled:
		return "canceled"
	case codes.Unavailable:
		return "unavailable"
	case codes.InvalidArgument:
		return "invalid_argument"
	}
	return "other"
}

// traced adds the trace the call belongs to (traceparent) to md, so that Cerbos's spans join the
// check's (synapse/tracing).
func traced(ctx context.Context, md metadata.MD) metadata.MD {
	tracing.Propagator().Inject(ctx, tracing.MetadataCarrier(md))
	return md
}
