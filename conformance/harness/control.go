package harness

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/hopguard/hopguard/conformance/runtime"
	"github.com/hopguard/hopguard/conformance/stack"
)

// The control API of `make up`: what the suites need of a running environment beyond its
// endpoints (the fail-closed scenario stops and restarts synapse and Cerbos), over HTTP on
// loopback, guarded by the environment's admin token.
const (
	controlComponentPath = "/v1/components/"
	controlPIDsPath      = "/v1/pids"
)

// ControlHandler serves the control API of environment rt to bearers of token.
func ControlHandler(rt runtime.Environment, token string) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+controlComponentPath+"{name}/{action}", func(w http.ResponseWriter, r *http.Request) {
		name, action := r.PathValue("name"), r.PathValue("action")
		var err error
		switch action {
		case "stop":
			err = rt.Stop(r.Context(), name)
		case "restart":
			err = rt.Restart(r.Context(), name)
		case "ready":
			err = rt.Ready(r.Context(), name)
		case "freeze":
			err = signal(r.Context(), rt, name, syscall.SIGSTOP)
		case "thaw":
			err = signal(r.Context(), rt, name, syscall.SIGCONT)
		default:
			http.Error(w, "unknown action "+action+": want stop, restart, ready, freeze or thaw", http.StatusNotFound)
			return
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusConflict)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("GET "+controlPIDsPath, func(w http.ResponseWriter, r *http.Request) {
		pids, err := rt.PIDs(r.Context())
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(pids)
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || subtle.ConstantTimeCompare([]byte(got), []byte(token)) != 1 {
			http.Error(w, "a bearer token is required: the environment's admin token", http.StatusUnauthorized)
			return
		}
		mux.ServeHTTP(w, r)
	})
}

// signal sends sig to the main process of a running component: SIGSTOP holds it still (it keeps
// its connections and answers nothing), SIGCONT lets it go on.
func signal(ctx context.Context, rt runtime.Environment, component string, sig syscall.Signal) error {
	pids, err := rt.PIDs(ctx)
	if err != nil {
		return err
	}
	pid, ok := pids[component]
	if !ok {
		return fmt.Errorf("%s is not running", component)
	}
	if err := syscall.Kill(pid, sig); err != nil {
		return fmt.Errorf("signal %s (process %d): %w", component, pid, err)
	}
	return nil
}

// Attach is the environment that `make up` published at path, for suites that run against it
// (an EXTERNAL gateway was configured in front of its endpoints). Its Runtime reaches the
// components through the published endpoints and the control API; Close leaves them running.
func Attach(path string) (*Env, error) {
	p, err := ReadPublished(path)
	if err != nil {
		return nil, err
	}
	token, err := os.ReadFile(p.AdminTokenFile)
	if err != nil {
		return nil, fmt.Errorf("the admin token of the published environment: %w", err)
	}
	key, err := os.ReadFile(p.SigningKeyFile)
	if err != nil {
		return nil, fmt.Errorf("the STS's signing key of the published environment: %w", err)
	}
	rt := &attached{published: p, token: strings.TrimSpace(string(token)), external: map[string]netip.AddrPort{}, client: &http.Client{Timeout: 2 * time.Minute}}
	return &Env{
		Runtime:     rt,
		Secrets:     stack.Secrets{AdminToken: rt.token, SigningKeyPEM: key},
		NotRun:      map[string]error{},
		RuntimeName: p.Runtime,
		attached:    rt,
	}, nil
}

// AddExternal puts a gateway that hopguard did not start, reached at front (its base URL), in
// front of an attached environment: its front door is then Endpoint(name, "http").
func (h *Env) AddExternal(name, front string) error {
	if h.attached == nil {
		return fmt.Errorf("external gateway %s: only an attached environment (make up) can have one", name)
	}
	addr, err := frontDoor(front)
	if err != nil {
		return fmt.Errorf("external gateway %s: %w", name, err)
	}
	h.attached.external[name] = addr
	return nil
}

// frontDoor is the address of a gateway's base URL, which must be plain HTTP on loopback:
// the suites send hostile requests and must not send them anywhere else.
func frontDoor(front string) (netip.AddrPort, error) {
	rest, ok := strings.CutPrefix(front, "http://")
	if !ok {
		return netip.AddrPort{}, fmt.Errorf("%q: want http://127.0.0.1:<port> (plain HTTP on loopback)", front)
	}
	addr, err := netip.ParseAddrPort(strings.TrimSuffix(rest, "/"))
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("%q: want http://127.0.0.1:<port>: %w", front, err)
	}
	if !addr.Addr().IsLoopback() {
		return netip.AddrPort{}, fmt.Errorf("%q: the suites send requests to loopback only", front)
	}
	return addr, nil
}

// attached is a runtime.Environment run by another process (`make up`).
type attached struct {
	published Published
	token     string
	external  map[string]netip.AddrPort
	client    *http.Client
}

var _ runtime.Environment = (*attached)(nil)

func (a *attached) Endpoint(component, port string) (netip.AddrPort, error) {
	if addr, ok := a.external[component]; ok && port == stack.PortHTTP {
		return addr, nil
	}
	raw, ok := a.published.Endpoints[component][port]
	if !ok {
		return netip.AddrPort{}, fmt.Errorf("no port %q on component %q in the published environment", port, component)
	}
	return netip.ParseAddrPort(raw)
}

func (a *attached) Stop(ctx context.Context, component string) error {
	return a.control(ctx, component, "stop")
}

func (a *attached) Restart(ctx context.Context, component string) error {
	return a.control(ctx, component, "restart")
}

func (a *attached) Ready(ctx context.Context, component string) error {
	return a.control(ctx, component, "ready")
}

// Freeze holds a component still (SIGSTOP) through the control API.
func (a *attached) Freeze(ctx context.Context, component string) error {
	return a.control(ctx, component, "freeze")
}

// Thaw lets a frozen component go on (SIGCONT) through the control API.
func (a *attached) Thaw(ctx context.Context, component string) error {
	return a.control(ctx, component, "thaw")
}

func (a *attached) control(ctx context.Context, component, action string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.published.Control+controlComponentPath+component+"/"+action, nil)
	if err != nil {
		return err
	}
	_, err = a.do(req)
	if err != nil {
		return fmt.Errorf("%s %s through make up's control API: %w", action, component, err)
	}
	return nil
}

func (a *attached) PIDs(ctx context.Context) (map[string]int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, a.published.Control+controlPIDsPath, nil)
	if err != nil {
		return nil, err
	}
	body, err := a.do(req)
	if err != nil {
		return nil, fmt.Errorf("the processes of the published environment: %w", err)
	}
	var pids map[string]int
	if err := json.Unmarshal(body, &pids); err != nil {
		return nil, fmt.Errorf("the processes of the published environment: %w", err)
	}
	return pids, nil
}

func (a *attached) do(req *http.Request) ([]byte, error) {
	req.Header.Set("Authorization", "Bearer "+a.token)
	resp, err := a.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode/100 != 2 {
		return nil, fmt.Errorf("%s: %s", resp.Status, strings.TrimSpace(string(body)))
	}
	return body, nil
}

func (a *attached) LogPath(component string) string {
	return filepath.Join(a.published.Logs, component+".log")
}

func (a *attached) Dir() string { return a.published.Dir }

func (a *attached) NotRunning() map[string]error { return map[string]error{} }

// Close leaves the environment running: `make up` owns it.
func (a *attached) Close(context.Context) error { return nil }
