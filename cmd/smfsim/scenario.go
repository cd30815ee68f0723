package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/wmnsk/go-pfcp/message"
	"gopkg.in/yaml.v3"

	"github.com/openatsss/atsss/atsss"
	"github.com/openatsss/atsss/pfcp/atsssie"
	"github.com/openatsss/atsss/pfcp/pfcptest"
)

// scenario is a YAML file of steps that smfsim runs in order; see
// testdata/*.yaml.
type scenario struct {
	Steps []step `yaml:"steps"`
}

// step is one thing to do: exactly one of the actions below.
type step struct {
	Associate *struct{}             `yaml:"associate"`
	Heartbeat *struct{}             `yaml:"heartbeat"`
	Establish *pfcptest.SessionSpec `yaml:"establish"`
	Modify    *modifyStep           `yaml:"modify"`
	Delete    *sessionRef           `yaml:"delete"`
	Release   *struct{}             `yaml:"release"`
	Wait      time.Duration         `yaml:"wait"`
	// Expect is the Cause the response must have; accepted if not given.
	Expect *pfcptest.Cause `yaml:"expect"`
}

// sessionRef names a session of the scenario by its CP SEID, or by a UP
// SEID, which may be one no step established, to test a UPF's Cause 65.
type sessionRef struct {
	SEID   atsss.SEID `yaml:"seid"`
	UPSEID atsss.SEID `yaml:"up_seid"`
}

// modifyStep changes a MAR (given as the change: only what is set is sent)
// or reports an access available or unavailable.
type modifyStep struct {
	sessionRef   `yaml:",inline"`
	MAR          *pfcptest.MARText `yaml:"mar"`
	Availability *struct {
		Access    string `yaml:"access"`
		Available bool   `yaml:"available"`
	} `yaml:"availability"`
}

// action is a step checked and ready to run.
type action struct {
	name   string     // associate, establish, ...
	seid   atsss.SEID // the CP SEID of a session step
	wait   time.Duration
	expect pfcptest.Cause
	do     request // nil for a wait alone
}

// loadScenario reads a scenario file and checks all of it before anything
// is sent: unknown fields, steps with no action or two, unknown names.
func loadScenario(path string) ([]action, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, usageError{err}
	}
	defer f.Close()
	dec := yaml.NewDecoder(f)
	dec.KnownFields(true)
	var sc scenario
	if err := dec.Decode(&sc); err != nil {
		return nil, usagef("%s: %w", path, err)
	}
	if len(sc.Steps) == 0 {
		return nil, usagef("%s: no steps", path)
	}
	actions := make([]action, len(sc.Steps))
	for i, s := range sc.Steps {
		a, err := s.plan()
		if err != nil {
			return nil, usagef("%s: step %d: %w", path, i+1, err)
		}
		actions[i] = a
	}
	return actions, nil
}

// request sends a request and returns the response.
type request = func(context.Context, *pfcptest.Client) (*pfcptest.Response, error)

func (s step) plan() (action, error) {
	var found []action
	add := func(name string, seid atsss.SEID, do request) {
		found = append(found, action{name: name, seid: seid, do: do})
	}
	if s.Associate != nil {
		add("associate", 0, func(ctx context.Context, c *pfcptest.Client) (*pfcptest.Response, error) { return c.Associate(ctx) })
	}
	if s.Heartbeat != nil {
		add("heartbeat", 0, func(ctx context.Context, c *pfcptest.Client) (*pfcptest.Response, error) { return c.Heartbeat(ctx) })
	}
	if s.Release != nil {
		add("release", 0, func(ctx context.Context, c *pfcptest.Client) (*pfcptest.Response, error) { return c.Release(ctx) })
	}
	if spec := s.Establish; spec != nil {
		add("establish", spec.SEID, func(ctx context.Context, c *pfcptest.Client) (*pfcptest.Response, error) {
			return c.Establish(ctx, *spec)
		})
	}
	if d := s.Delete; d != nil {
		add("delete", d.SEID, d.request(func(up atsss.SEID) message.Message { return pfcptest.Deletion(up, 0) }))
	}
	if m := s.Modify; m != nil {
		build, err := m.plan()
		if err != nil {
			return action{}, err
		}
		add("modify", m.SEID, m.request(build))
	}

	var a action
	switch {
	case len(found) > 1:
		return a, fmt.Errorf("%s and %s in one step", found[0].name, found[1].name)
	case len(found) == 1:
		a = found[0]
	case s.Wait == 0:
		return a, errors.New("no action: want associate, heartbeat, establish, modify, delete, release or wait")
	case s.Expect != nil:
		return a, errors.New("expect on a step that sends nothing")
	}
	a.wait, a.expect = s.Wait, atsssie.CauseAccepted
	if s.Expect != nil {
		a.expect = *s.Expect
	}
	return a, nil
}

// request returns what sends the request build makes for the session r
// names, which an earlier step established unless r gives its UP SEID.
func (r sessionRef) request(build func(up atsss.SEID) message.Message) request {
	return func(ctx context.Context, c *pfcptest.Client) (*pfcptest.Response, error) {
		up := r.UPSEID
		if up == 0 {
			var ok bool
			if up, ok = c.UPSEID(r.SEID); !ok {
				return nil, fmt.Errorf("no session with CP SEID %v: none established, or deleted", r.SEID)
			}
		}
		return c.Do(ctx, build(up))
	}
}

func (m *modifyStep) plan() (func(up atsss.SEID) message.Message, error) {
	switch {
	case (m.MAR == nil) == (m.Availability == nil):
		return nil, errors.New("modify: want one of mar and availability")
	case m.Availability != nil:
		a, err := pfcptest.ParseAccess(m.Availability.Access)
		if err != nil {
			return nil, fmt.Errorf("modify: availability: %w", err)
		}
		available := m.Availability.Available
		return func(up atsss.SEID) message.Message { return pfcptest.AccessAvailability(up, 0, a, available) }, nil
	}
	u, err := m.MAR.Update()
	if err != nil {
		return nil, fmt.Errorf("modify: MAR %d: %w", m.MAR.ID, err)
	}
	return func(up atsss.SEID) message.Message { return pfcptest.UpdateMAR(up, 0, u) }, nil
}

// play runs the scenario in the file at path, or, without one, sets up the
// association; then it prints the session reports received and, with
// serve, goes on printing them until ctx ends.
func play(ctx context.Context, n *node, path string, serve bool, out *printer) error {
	associate, _ := step{Associate: &struct{}{}}.plan() // a plain step plans without error
	actions := []action{associate}
	if path != "" {
		var err error
		if actions, err = loadScenario(path); err != nil {
			return err
		}
	}
	c, stop, err := n.dial(ctx, out)
	if err != nil {
		return err
	}
	defer stop()
	err = runActions(ctx, c, actions, out)
	printed := len(c.Reports())
	for _, r := range c.Reports()[:printed] {
		out.report(r)
	}
	if err != nil || !serve {
		return err
	}
	for {
		rs, err := c.WaitReports(ctx, printed+1)
		for _, r := range rs[printed:] {
			out.report(r)
		}
		printed = len(rs)
		if err != nil {
			return nil // interrupted: serving is over
		}
	}
}

// runActions runs the actions in order and stops at the first whose
// response is not as expected.
func runActions(ctx context.Context, c *pfcptest.Client, actions []action, out *printer) error {
	for i, a := range actions {
		if a.wait > 0 {
			select {
			case <-time.After(a.wait):
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		if a.do == nil {
			continue
		}
		r, err := a.do(ctx, c)
		o := newOutcome(a.name, a.expect, r, err)
		o.Step, o.SEID = i+1, a.seid
		if err := out.outcome(o); err != nil {
			return err
		}
	}
	return nil
}

func runScenario(ctx context.Context, args []string, out *printer) error {
	var n node
	fs := newFlagSet("run", `Runs the steps of a YAML scenario (without -scenario, sets up the
association), then answers the UPF's heartbeats and prints its session
reports until interrupted.`, out, &n)
	file := fs.String("scenario", "", "YAML `file` of steps")
	serve := fs.Bool("serve", true, "after the steps, answer heartbeats and print session reports until interrupted")
	if err := n.parse(fs, args, out); err != nil {
		return err
	}
	return play(ctx, &n, *file, *serve, out)
}
