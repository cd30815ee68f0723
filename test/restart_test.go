package test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	pfcplib "github.com/wmnsk/go-pfcp"

	"github.com/openatsss/atsss/atsss"
	"github.com/openatsss/atsss/pfcp/atsssie"
	"github.com/openatsss/atsss/pfcp/pfcptest"
	"github.com/openatsss/atsss/test/daemontest"
)

// TestRestartKeepsAcceptedSessions kills atsssd with SIGKILL in the middle
// of a load of establishments and restarts it on the same store. Every
// session the SMF got an acceptance for must come back whole: the rules it
// sent, nothing half-applied, under the UP SEID it was given. Sessions the
// daemon committed but could not answer before it died may come back too;
// there are at most as many as were in flight or went unanswered. The
// daemon keeps its
// Recovery Time Stamp, so the SMF does not take it for a restart that lost
// its sessions, and a new session gets none of the restored sessions'
// link-specific addresses.
func TestRestartKeepsAcceptedSessions(t *testing.T) {
	const (
		establishments = 20000
		concurrency    = 64
		killAt         = 4000 // sessions committed when the daemon is killed
		seidBase       = 1_000_000
	)
	pfcplib.DisableLogging()
	ctx, cancel := context.WithTimeout(t.Context(), 80*time.Second)
	defer cancel()
	bin := buildCommands(ctx, t)
	dir := t.TempDir()
	n4, metrics, cfg := loadDaemon(t)
	cfg["store_path"] = filepath.Join(dir, "sessions.db")
	d := startAtsssd(ctx, t, func(ctx context.Context) (*daemontest.Daemon, error) {
		return daemontest.Start(ctx, bin["atsssd"], dir, cfg, n4, metrics)
	})

	// A second SMF, in the test, watches the Recovery Time Stamp and
	// establishes a session after the restart.
	smf := dialSMF(ctx, t, "127.0.0.3:0", n4, pfcptest.Dialer{T1: 200 * time.Millisecond, N1: 10})
	if r, err := smf.Associate(ctx); err != nil || r.Cause != atsssie.CauseAccepted {
		t.Fatalf("associate: %s", describeResponse(r, err))
	}
	hb, err := smf.Heartbeat(ctx)
	if err != nil || hb.Recovery.IsZero() {
		t.Fatalf("heartbeat before the kill: %s", describeResponse(hb, err))
	}
	recovery := hb.Recovery

	accepted := filepath.Join(dir, "accepted")
	load := startSMFSim(t, bin["smfsim"], "load", "-o", "json",
		"-upf", n4.String(), "-local", "127.0.0.2:0",
		"-sessions", strconv.Itoa(establishments), "-concurrency", strconv.Itoa(concurrency),
		"-t1", "200ms", "-n1", "2", "-accepted", accepted,
		"-seid", strconv.Itoa(seidBase), "-ue-pool", loadUEPool.String(),
		"-functionality", "mptcp", "-mode", "load-balancing", "-weights", "70/30", "-atsss", "mptcp,atsss-ll,pmf")
	var committed float64
	err = daemontest.WaitFor(ctx, func() bool {
		if load.exited() {
			return true
		}
		committed, _ = d.Metric(ctx, "atsss_pfcp_sessions")
		return committed >= killAt
	})
	if err != nil {
		t.Fatalf("waiting for %d sessions (have %v): %v\nsmfsim:\n%s", killAt, committed, err, load.output())
	}
	if load.exited() {
		t.Fatalf("smfsim finished before the kill, with %v sessions committed:\n%s", committed, load.output())
	}
	d.Kill()
	t.Logf("atsssd killed with at least %v sessions committed", committed)

	// Without the daemon, smfsim would wait (N1+1)·T1 for each session
	// left, 64 at a time: minutes. What it saw accepted is in the file
	// already (a line per acceptance, written before the worker moves
	// on), so interrupt it; it prints its summary and exits.
	sum := load.interrupt(ctx, t)
	acks := readAccepted(t, accepted)
	if len(acks) != sum.Causes[uint8(atsssie.CauseAccepted)] {
		t.Errorf("smfsim counted %d acceptances and recorded %d", sum.Causes[uint8(atsssie.CauseAccepted)], len(acks))
	}

	config := d.Config
	d = startAtsssd(ctx, t, func(ctx context.Context) (*daemontest.Daemon, error) {
		return daemontest.StartConfig(ctx, bin["atsssd"], config, n4, metrics)
	})
	all, err := d.Sessions(ctx)
	if err != nil {
		t.Fatal(err)
	}
	restored := map[atsss.SEID]*atsss.Session{} // smfsim's, by CP SEID
	held := map[netip.Addr]atsss.SEID{}         // link-specific addresses, to their session
	for _, s := range all {
		for _, a := range atsss.Accesses {
			for _, addr := range s.LinkSpecificAddrs(a) {
				if other, dup := held[addr]; dup {
					t.Errorf("sessions %v and %v both hold link-specific address %v", other, s.LocalSEID, addr)
				}
				held[addr] = s.LocalSEID
			}
		}
		if s.PeerNodeID != "127.0.0.2" {
			t.Errorf("restored session %v of an unexpected peer %q", s.LocalSEID, s.PeerNodeID)
			continue
		}
		if prev, dup := restored[s.RemoteSEID]; dup {
			t.Errorf("CP SEID %v restored twice, as %v and %v", s.RemoteSEID, prev.LocalSEID, s.LocalSEID)
		}
		restored[s.RemoteSEID] = s
	}

	missing := 0
	for cp, up := range acks {
		s, ok := restored[cp]
		switch {
		case !ok:
			if missing++; missing <= 5 {
				t.Errorf("accepted session CP SEID %v (UP SEID %v) is not restored", cp, up)
			}
		case s.LocalSEID != up:
			t.Errorf("accepted session CP SEID %v restored with UP SEID %v, was answered with %v", cp, s.LocalSEID, up)
		}
	}
	if missing > 0 {
		t.Errorf("%d of %d accepted sessions are not restored", missing, len(acks))
	}
	spec := loadSpec(seidBase)
	opt := cmpopts.EquateComparable(netip.Addr{})
	bad := 0
	for cp, s := range restored {
		i := uint64(cp - seidBase)
		if cp < seidBase || i >= establishments {
			t.Errorf("restored session %v has CP SEID %v, which smfsim never sent", s.LocalSEID, cp)
			continue
		}
		err := s.Validate()
		diff := cmp.Diff(rulesOf(spec.Nth(uint32(i)).Session()), rulesOf(s), opt)
		if err == nil && diff == "" {
			continue
		}
		if bad++; bad > 3 {
			continue
		}
		if err != nil {
			t.Errorf("restored session CP SEID %v does not validate: %v", cp, err)
		}
		if diff != "" {
			t.Errorf("restored session CP SEID %v, rules (-sent +restored):\n%s", cp, diff)
		}
	}
	if bad > 0 {
		t.Errorf("%d of %d restored sessions are not what smfsim sent", bad, len(restored))
	}
	if float64(len(restored)) < committed {
		t.Errorf("%d sessions restored; atsssd held %v before the kill", len(restored), committed)
	}
	unacked := len(restored) - (len(acks) - missing)
	t.Logf("smfsim saw %d accepted and %d failed; %d restored, of which %d committed but never acknowledged",
		len(acks), sum.Failed, len(restored), unacked)
	// A session committed without an acceptance seen was in flight at the
	// kill (one per worker at most), or its establishment failed: no
	// answer within (N1+1)·T1.
	if unacked > concurrency+sum.Failed {
		t.Errorf("%d sessions restored that smfsim never saw accepted; at most %d were in flight and %d failed",
			unacked, concurrency, sum.Failed)
	}

	hb, err = smf.Heartbeat(ctx)
	if err != nil {
		t.Fatalf("heartbeat after the restart: %v", err)
	}
	if !hb.Recovery.Equal(recovery) {
		t.Errorf("Recovery Time Stamp %v after the restart, %v before", hb.Recovery, recovery)
	}
	// The test's SMF had no sessions, so its association did not survive.
	if r, err := smf.Associate(ctx); err != nil || r.Cause != atsssie.CauseAccepted {
		t.Fatalf("associate after the restart: %s", describeResponse(r, err))
	}
	fresh := loadSpec(1 << 40)
	fresh.UEIP = netip.MustParseAddr("198.18.200.1")
	r, err := smf.Establish(ctx, fresh)
	if err != nil || r.Cause != atsssie.CauseAccepted || r.ATSSS == nil || r.ATSSS.MPTCP == nil {
		t.Fatalf("establish after the restart: %s; want Cause 1 with MPTCP parameters", describeResponse(r, err))
	}
	for _, a := range atsss.Accesses {
		for _, addr := range r.ATSSS.MPTCP.LinkSpecific[a].Addrs() {
			if s, taken := held[addr]; taken {
				t.Errorf("new session got %v link-specific address %v, which restored session %v holds", a, addr, s)
			}
		}
	}
}

// loadUEPool is where the UE addresses of the load runs come from
// (RFC 2544's benchmark range, smfsim's default).
var loadUEPool = netip.MustParsePrefix("198.18.0.0/16")

// loadSpec is the first session smfsim load sends with the flags of
// TestRestartKeepsAcceptedSessions and -seid seid (Nth gives the others),
// written out independently of smfsim: pfcptest.DefaultSpec with one MPTCP
// Load-Balancing 70/30 MAR over both accesses, asking for MPTCP, ATSSS-LL
// and PMF.
func loadSpec(seid atsss.SEID) pfcptest.SessionSpec {
	s := pfcptest.DefaultSpec()
	s.SEID = seid
	s.UEIP = loadUEPool.Addr().Next()
	s.MARs = []pfcptest.MARSpec{{
		ID: 1, Functionality: atsss.FunctionalityMPTCP, Mode: atsss.ModeLoadBalancing,
		Legs: [2]pfcptest.LegSpec{
			{Present: true, Weight: atsss.OptionalUint8{Value: 70, Set: true}},
			{Present: true, Weight: atsss.OptionalUint8{Value: 30, Set: true}},
		},
	}}
	s.ATSSS = atsss.ATSSSRequest{MPTCP: true, ATSSSLL: true, PMF: true}
	return s
}

// sessionRules is what an SMF installs in a session: all but the SEIDs,
// the peer, and what the UPF allocates.
type sessionRules struct {
	PDRs      []atsss.PDR
	FARs      []atsss.FAR
	QERs      []atsss.QER
	URRs      []atsss.URR
	MARs      []atsss.MAR
	SRRs      []atsss.SRR
	Requested atsss.ATSSSRequest
}

func rulesOf(s *atsss.Session) sessionRules {
	return sessionRules{PDRs: s.PDRs, FARs: s.FARs, QERs: s.QERs, URRs: s.URRs, MARs: s.MARs, SRRs: s.SRRs, Requested: s.ATSSS.Requested}
}

// readAccepted reads smfsim load's -accepted file: UP SEIDs by CP SEID.
func readAccepted(t *testing.T, path string) map[atsss.SEID]atsss.SEID {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	out := map[atsss.SEID]atsss.SEID{}
	for line := range strings.Lines(string(b)) {
		var cp, up atsss.SEID
		if _, err := fmt.Sscanf(line, "%d %d\n", &cp, &up); err != nil {
			t.Fatalf("-accepted line %q: %v", line, err)
		}
		if _, dup := out[cp]; dup {
			t.Errorf("CP SEID %v accepted twice", cp)
		}
		out[cp] = up
	}
	return out
}

// The helpers below are shared with flood_test.go.

// buildCommands builds atsssd and smfsim (without -race) and returns their
// paths by name.
func buildCommands(ctx context.Context, t *testing.T) map[string]string {
	t.Helper()
	bin, err := daemontest.Build(ctx, t.TempDir(), "atsssd", "smfsim")
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

// startAtsssd starts atsssd with start, kills it when the test ends, and
// shows its log if the test failed.
// loadDaemon returns free loopback addresses and an atsssd configuration
// whose link-specific pools (IPv6 documentation prefixes) are large enough
// for any load run here.
func loadDaemon(t *testing.T) (n4, metrics netip.AddrPort, cfg map[string]any) {
	t.Helper()
	n4, metrics, err := daemontest.Ports()
	if err != nil {
		t.Fatal(err)
	}
	return n4, metrics, daemontest.Config(n4, metrics, [2]string{"2001:db8:3::/64", "2001:db8:4::/64"})
}

func startAtsssd(ctx context.Context, t *testing.T, start func(context.Context) (*daemontest.Daemon, error)) *daemontest.Daemon {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	d, err := start(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		d.Kill()
		if t.Failed() {
			t.Logf("atsssd (pid %d) log:\n%s", d.PID(), lastLines(d.Log(), 40))
		}
	})
	return d
}

// dialSMF returns a running pfcptest client on local, talking to the UPF
// at upf.
func dialSMF(ctx context.Context, t *testing.T, local string, upf netip.AddrPort, d pfcptest.Dialer) *pfcptest.Client {
	t.Helper()
	c, err := d.Dial(ctx, netip.MustParseAddrPort(local), upf, "")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("client %v: %v", local, err)
		}
	})
	return c
}

// smfsimProcess is smfsim running as a process of its own.
type smfsimProcess struct {
	cmd    *exec.Cmd
	stdout bytes.Buffer // read only after done
	stderr bytes.Buffer // read only after done
	done   chan struct{}
	err    error // Wait's, set before done is closed
}

// startSMFSim runs smfsim with args; the process is killed when the test
// ends, and its output shown if the test failed.
func startSMFSim(t *testing.T, bin string, args ...string) *smfsimProcess {
	t.Helper()
	p := &smfsimProcess{cmd: exec.Command(bin, args...), done: make(chan struct{})}
	p.cmd.Stdout, p.cmd.Stderr = &p.stdout, &p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		_ = p.cmd.Process.Kill() // os.ErrProcessDone once it exited
		<-p.done
		if t.Failed() {
			t.Logf("smfsim %s: %v\n%s", strings.Join(args, " "), p.err, lastLines(p.output(), 20))
		}
	})
	return p
}

func (p *smfsimProcess) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// output returns stdout and stderr once the process exited; before, only
// that it runs.
func (p *smfsimProcess) output() string {
	if !p.exited() {
		return "(still running)"
	}
	return p.stdout.String() + p.stderr.String()
}

// wait waits for smfsim to exit and returns its load summary.
func (p *smfsimProcess) wait(ctx context.Context, t *testing.T) loadSummary {
	t.Helper()
	select {
	case <-p.done:
	case <-ctx.Done():
		t.Fatalf("smfsim did not exit: %v", ctx.Err())
	}
	sc := bufio.NewScanner(bytes.NewReader(p.stdout.Bytes()))
	for sc.Scan() {
		var l loadSummary
		if json.Unmarshal(sc.Bytes(), &l) == nil && l.Request == "load" {
			return l
		}
	}
	t.Fatalf("smfsim printed no load summary (%v):\n%s", p.err, p.output())
	return loadSummary{}
}

// interrupt stops smfsim as Ctrl-C does and returns its load summary.
func (p *smfsimProcess) interrupt(ctx context.Context, t *testing.T) loadSummary {
	t.Helper()
	if err := p.cmd.Process.Signal(os.Interrupt); err != nil && !errors.Is(err, os.ErrProcessDone) {
		t.Fatal(err)
	}
	return p.wait(ctx, t)
}

// loadSummary is the line smfsim load -o json prints at the end.
type loadSummary struct {
	Request string        `json:"request"`
	Done    int           `json:"done"`
	Elapsed time.Duration `json:"elapsed_ns"`
	Causes  map[uint8]int `json:"causes"`
	Failed  int           `json:"failed"`
	Error   string        `json:"error"`
}

// describeResponse says what came back for a request: the Cause and
// Recovery Time Stamp of r, or err.
func describeResponse(r *pfcptest.Response, err error) string {
	if err != nil {
		return err.Error()
	}
	return fmt.Sprintf("Cause %d (%v), Recovery Time Stamp %v, ATSSS parameters %+v", uint8(r.Cause), r.Cause, r.Recovery, r.ATSSS)
}

// lastLines returns the last n lines of s.
func lastLines(s string, n int) string {
	lines := strings.SplitAfter(strings.TrimSuffix(s, "\n"), "\n")
	if len(lines) > n {
		lines = append([]string{fmt.Sprintf("[%d lines before]\n", len(lines)-n)}, lines[len(lines)-n:]...)
	}
	return strings.Join(lines, "")
}
