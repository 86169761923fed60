package clients

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/hopguard/hopguard/conformance/scenarios"
	"github.com/hopguard/hopguard/conformance/stack"
)

// recoveryTimeout bounds the wait for the environment to allow hops again after a restart.
const recoveryTimeout = 30 * time.Second

// disrupted plays every cell that needs component stopped, behind every gateway, with one stop:
// the cells are prepared first (synapse's admin API creates their tasks), then component stops,
// the cells are played, and component starts again; the run goes on once every gateway allows
// an allowed hop again, as the fail-closed scenario waits.
func (p *player) disrupted(ctx context.Context, component string) ([]*cell, error) {
	var cells, ready []*cell
	for _, env := range p.envs {
		for i, e := range matrix() {
			if e.spec.disrupt != component {
				continue
			}
			c := &cell{order: i, client: e.client, spec: e.spec, env: env}
			cells = append(cells, c)
			if err := p.prepare(ctx, c); err != nil {
				c.setupFailed(err)
				continue
			}
			ready = append(ready, c)
		}
	}
	if len(ready) == 0 {
		return cells, nil
	}
	probes, err := p.probes(ctx, component)
	if err != nil {
		for _, c := range ready {
			c.setupFailed(err)
		}
		return cells, nil
	}
	control := p.envs[0].Control
	p.logf("clients: stopping %s", component)
	if err := control.Stop(ctx, component); err != nil {
		for _, c := range ready {
			c.setupFailed(fmt.Errorf("stop %s: %w", component, err))
		}
		return cells, nil
	}
	for _, c := range ready {
		p.run(ctx, c)
	}
	return cells, p.restore(ctx, control, component, probes)
}

// probe is an allowed hop behind one gateway: Alice's model call, with a token got while
// synapse's admin API was up.
type probe struct {
	env   scenarios.Env
	token string
}

func (p *player) probes(ctx context.Context, component string) ([]probe, error) {
	var out []probe
	for _, env := range p.envs {
		id := fmt.Sprintf("%s-%s-clients-probe-%s", env.RunID, env.Gateway, strings.ToLower(component))
		if err := aliceTask(ctx, env, id, "T-2001"); err != nil {
			return nil, err
		}
		tok, err := token(ctx, env.STSURL, id, "llm")
		if err != nil {
			return nil, err
		}
		out = append(out, probe{env: env, token: tok})
	}
	return out, nil
}

// restore starts component again and waits until synapse is ready and every gateway allows the
// probe hop: the environment is whole again. It runs even when ctx is done, so that the tests
// after it find the environment whole.
func (p *player) restore(ctx context.Context, control scenarios.Control, component string, probes []probe) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*recoveryTimeout)
	defer cancel()
	p.logf("clients: starting %s again", component)
	if err := control.Restart(ctx, component); err != nil {
		return fmt.Errorf("start %s again: %w", component, err)
	}
	if err := control.Ready(ctx, stack.Synapse); err != nil {
		return fmt.Errorf("synapse ready after %s started again: %w", component, err)
	}
	for _, pr := range probes {
		if err := p.untilAllowed(ctx, pr); err != nil {
			return fmt.Errorf("after %s started again, behind %s: %w", component, pr.env.Gateway, err)
		}
	}
	return nil
}

// untilAllowed repeats the probe hop until it goes through: a wait for readiness, not a check.
func (p *player) untilAllowed(ctx context.Context, pr probe) error {
	deadline := time.Now().Add(recoveryTimeout)
	body := `{"model":"` + allowedModel + `","messages":[{"role":"user","content":"Work ticket T-2001."}]}`
	client := &http.Client{Transport: p.transport, Timeout: 5 * time.Second}
	last := ""
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, pr.env.GatewayURL+"/v1/chat/completions", strings.NewReader(body))
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+pr.token)
		resp, err := client.Do(req)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			last = resp.Status
		} else {
			last = err.Error()
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the allowed probe hop still fails %s after the restart: %s", recoveryTimeout, last)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}
