// Package smfsimtest runs the smfsim command as a process, one command per
// test step, and reads what it prints with -o json.
package smfsimtest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/openatsss/atsss/atsss"
)

// SMF runs smfsim commands as one SMF: every command sends from Local and
// keeps smfsim's default Recovery Time Stamp, so the UPF sees the same SMF
// from one process to the next. Its methods are safe for concurrent use.
type SMF struct {
	Bin   string         // the smfsim binary (daemontest.Build)
	UPF   netip.AddrPort // the UPF's PFCP endpoint
	Local netip.AddrPort // where the SMF sends from
	// Command makes the smfsim process; nil: exec.CommandContext. A lab
	// passes its upf namespace's Command, so the SMF reaches N4 there.
	Command func(ctx context.Context, name string, args ...string) *exec.Cmd
}

// Outcome is a line of smfsim -o json: a request and what came of it, or
// the result of a load run (Request "load").
type Outcome struct {
	Step      int                `json:"step"` // in a scenario, from 1
	Request   string             `json:"request"`
	SEID      atsss.SEID         `json:"seid"` // CP SEID
	Cause     uint8              `json:"cause"`
	CauseName string             `json:"cause_name"`
	Expected  uint8              `json:"expected"`
	OK        bool               `json:"ok"` // Cause is as expected
	UPSEID    atsss.SEID         `json:"up_seid"`
	ATSSS     *atsss.ATSSSParams `json:"atsss"`
	Features  []string           `json:"features"`
	Error     string             `json:"error"`

	// Load results.
	Done   int           `json:"done"`
	Causes map[uint8]int `json:"causes"`
	Failed int           `json:"failed"`
}

// Run runs `smfsim CMD -upf UPF -local LOCAL -o json ARGS...` and returns
// the lines it printed. An exit status other than 0 (a Cause not the one
// expected, a failed request, a usage error) is an error that carries the
// output.
func (s SMF) Run(ctx context.Context, cmd string, args ...string) ([]Outcome, error) {
	args = append([]string{cmd, "-upf", s.UPF.String(), "-local", s.Local.String(), "-o", "json"}, args...)
	var stdout, stderr bytes.Buffer
	command := s.Command
	if command == nil {
		command = exec.CommandContext
	}
	c := command(ctx, s.Bin, args...)
	c.Stdout, c.Stderr = &stdout, &stderr
	if err := c.Run(); err != nil {
		return nil, fmt.Errorf("smfsim %s: %w\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	var out []Outcome
	for line := range strings.Lines(stdout.String()) {
		var o Outcome
		if err := json.Unmarshal([]byte(line), &o); err != nil {
			return nil, fmt.Errorf("smfsim %s: %w in %q", cmd, err, line)
		}
		out = append(out, o)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("smfsim %s printed nothing\nstderr:\n%s", strings.Join(args, " "), stderr.String())
	}
	return out, nil
}

// FreeAddr returns a UDP address on ip whose port was free a moment ago:
// a Local for an SMF. Any address of 127.0.0.0/8 works on Linux, so SMFs
// on 127.0.0.2, 127.0.0.3, ... are told apart by address.
func FreeAddr(ip netip.Addr) (netip.AddrPort, error) {
	c, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(ip, 0)))
	if err != nil {
		return netip.AddrPort{}, err
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).AddrPort(), nil
}

// Listener is an SMF that answers the UPF until its context ends: what
// smfsim run printed so far is in Lines.
type Listener struct {
	mu    sync.Mutex // guards lines
	lines []string
}

// Lines returns the lines smfsim printed (-o json) so far.
func (l *Listener) Lines() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.lines)
}

// Listen associates with the UPF and keeps answering its heartbeats and
// session reports (smfsim run) until ctx ends, as the SMF of the sessions
// earlier commands established. dir holds its scenario file.
func (s SMF) Listen(ctx context.Context, dir string) (*Listener, error) {
	scenario := filepath.Join(dir, "listen.yaml")
	if err := os.WriteFile(scenario, []byte("steps:\n  - associate: {}\n"), 0o644); err != nil {
		return nil, err
	}
	command := s.Command
	if command == nil {
		command = exec.CommandContext
	}
	c := command(ctx, s.Bin, "run", "-upf", s.UPF.String(), "-local", s.Local.String(), "-o", "json", "-scenario", scenario)
	stdout, err := c.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := c.Start(); err != nil {
		return nil, err
	}
	l := &Listener{}
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			l.mu.Lock()
			l.lines = append(l.lines, sc.Text())
			l.mu.Unlock()
		}
		c.Wait()
	}()
	return l, nil
}
