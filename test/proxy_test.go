package test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/openatsss/atsss/atsss"
	"github.com/openatsss/atsss/mptcpproxy/convert"
	"github.com/openatsss/atsss/mptcpproxy/pm"
	"github.com/openatsss/atsss/test/continuity"
	"github.com/openatsss/atsss/test/daemontest"
	"github.com/openatsss/atsss/test/lab"
	"github.com/openatsss/atsss/test/netnstest"
	"github.com/openatsss/atsss/test/rig"
	"github.com/openatsss/atsss/test/timeline"
	"github.com/openatsss/atsss/test/traffic"
	"github.com/openatsss/atsss/test/uesim"
)

// The data network's test servers in the lab.
const (
	dnPort       = 5001 // allowed by the sessions' PDR filters
	dnOtherPort  = 5002 // not allowed
	dnClosedPort = 5003 // allowed, nothing listens
)

var (
	buildOnce sync.Once
	buildDir  string
	buildErr  error
)

// rigBinaries builds atsssd and smfsim once for all tests of the package.
func rigBinaries(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		buildDir, buildErr = os.MkdirTemp("", "atsss-test-bin-")
		if buildErr == nil {
			_, buildErr = daemontest.Build(context.Background(), buildDir, rig.Binaries...)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return buildDir
}

// newRig starts a rig for t and stops it when t ends; it skips (fails
// under CI=true) without the privilege to make namespaces.
func newRig(t testing.TB, opts rig.Options) *rig.Rig {
	t.Helper()
	netnstest.Require(t)
	if err := uesim.CheckKernel(); err != nil {
		t.Fatal(err)
	}
	r, err := rig.New(t.Context(), rigBinaries(t), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() && r.Daemon != nil {
			t.Logf("atsssd log:\n%s", r.Daemon.Log())
		}
		if err := r.Close(); err != nil {
			t.Errorf("close rig: %v", err)
		}
	})
	return r
}

// serveDN starts a checking traffic server in the data network.
func serveDN(t testing.TB, r *rig.Rig, port uint16, up, down *traffic.Counter) <-chan traffic.Result {
	t.Helper()
	ln, err := r.ListenDN(port)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return traffic.Serve(ln, up, down)
}

func dnAddr(port uint16) netip.AddrPort { return netip.AddrPortFrom(lab.DNAddr, port) }

// TestNetnsContinuity moves 256 MiB each way at once through the proxy
// over both accesses, cuts the non-3GPP access halfway through for two
// seconds, restores it, and checks that every byte arrived intact and that
// the restored access carries traffic again. The Convert message goes after
// the handshake: see continuity.Scenario.ZeroRTT for why.
func TestNetnsContinuity(t *testing.T) {
	for _, how := range []lab.CutMethod{lab.LinkDown, lab.SilentDrop} {
		t.Run(how.String(), func(t *testing.T) { testContinuity(t, how) })
	}
}

func testContinuity(t *testing.T, how lab.CutMethod) {
	r := newRig(t, rig.Options{Lab: lab.Config{Rate: [2]lab.Rate{
		atsss.Access3GPP:    {UpMbit: 100, DownMbit: 100},
		atsss.AccessNon3GPP: {UpMbit: 200, DownMbit: 200},
	}}})
	ue, err := r.Establish(t.Context(), rig.SessionSpec{Mode: "load-balancing", Weights: "50/50"})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := continuity.Run(t.Context(), r, ue, continuity.Scenario{
		Size: 256 << 20, Cut: atsss.AccessNon3GPP, How: how, For: 2 * time.Second, CutAt: 0.5,
		DNPort: dnPort,
	})
	if dir := os.Getenv("ATSSS_TEST_PLOTS"); dir != "" && rep.Timeline.Len() > 0 {
		writePlot(t, rep.Timeline, dir+"/continuity-"+how.String()+".svg")
	}
	if err != nil {
		t.Fatal(err)
	}
	if err := rep.Intact(); err != nil {
		t.Fatal(err)
	}
	up, down := rep.Outage()
	t.Logf("outage after the cut: uplink %v, downlink %v (%v timeline)", up, down, continuity.Interval)
	after := rep.CutAccessAfterRestore()
	t.Logf("non-3GPP access after restore: %d bytes; bytes per access: %v", after, rep.AccessBytes())
	if after < 1<<20 {
		t.Errorf("the non-3GPP access carried %d bytes after it was restored, want its subflow back in use", after)
	}
}

// writePlot writes the timeline as SVG, PNG and CSV next to path (whose
// extension is replaced).
func writePlot(t *testing.T, tl timeline.Timeline, path string) {
	if _, err := tl.WriteFiles(path, strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))); err != nil {
		t.Error(err)
	}
}

// TestNetnsConverterRefuses checks every refusal of the converter and its
// Error TLV, while another UE's transfer goes on.
func TestNetnsConverterRefuses(t *testing.T) {
	r := newRig(t, rig.Options{})
	ctx := t.Context()
	// The UE's connections get extra subflows only where a test asks
	// (userspace path manager), so one test's subflow from another UE's
	// address joins nothing else.
	if err := r.Lab.UE.Sysctl("net.mptcp.pm_type", "1"); err != nil {
		t.Fatal(err)
	}
	// Port dnClosedPort is allowed, but nothing listens there; the rest of
	// N6 is allowed, but only the DN server answers ARP.
	sdf := fmt.Sprintf("permit out 6 from %v %d,%d to assigned", lab.N6Subnet, dnPort, dnClosedPort)
	a, err := r.Establish(ctx, rig.SessionSpec{CPSEID: 1, SDF: sdf})
	if err != nil {
		t.Fatal(err)
	}
	b, err := r.Establish(ctx, rig.SessionSpec{CPSEID: 2, SDF: sdf})
	if err != nil {
		t.Fatal(err)
	}
	serveDN(t, r, dnPort, nil, nil)
	serveDN(t, r, dnOtherPort, nil, nil)

	// B's transfer runs through all the refusals.
	bc, err := b.Dialer(atsss.Access3GPP).Dial(ctx, dnAddr(dnPort))
	if err != nil {
		t.Fatal(err)
	}
	defer bc.Close()
	const size = 64 << 20
	bDone := make(chan traffic.Result, 1)
	go func() { bDone <- traffic.Run(ctx, bc, traffic.Request{Up: size, Down: size, Seed: 9}, nil, nil) }()

	spoof := func(c *net.TCPConn) error {
		// Join a subflow from B's non-3GPP address to A's connection.
		return r.Lab.UE.Do(func() error {
			rc, err := c.SyscallConn()
			if err != nil {
				return err
			}
			info, err := pm.ReadInfo(rc)
			if err != nil {
				return err
			}
			cl, err := pm.Open()
			if err != nil {
				return err
			}
			defer cl.Close()
			return cl.CreateSubflow(pm.SubflowRequest{
				Token:  info.Token,
				Local:  b.LinkSpecific[atsss.AccessNon3GPP],
				Remote: netip.AddrPortFrom(lab.ProxyAddr, rig.ProxyPort),
			})
		})
	}
	waitSpoof := func(c *net.TCPConn) error {
		// A join needs the connection fully established (ENOTCONN before).
		var err error
		for range 100 {
			if err = spoof(c); !errors.Is(err, syscall.ENOTCONN) {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		if err != nil {
			return err
		}
		return uesim.WaitSubflows(ctx, c, 2)
	}

	for _, tc := range []struct {
		name string
		d    *uesim.Dialer
		dst  netip.AddrPort
		want convert.ErrorCode
	}{
		{"unknown source", with(a.Dialer(atsss.Access3GPP), func(d *uesim.Dialer) {
			d.Sources = []netip.Addr{lab.Access[atsss.Access3GPP].UEAddr}
		}), dnAddr(dnPort), convert.ErrNotAuthorized},
		{"destination outside the PDR filters", a.Dialer(atsss.Access3GPP), dnAddr(dnOtherPort), convert.ErrNotAuthorized},
		{"proxy's own address", a.Dialer(atsss.Access3GPP), netip.AddrPortFrom(lab.ProxyAddr, dnPort), convert.ErrNotAuthorized},
		{"subflow from another UE's link-specific address", with(a.Dialer(atsss.Access3GPP), func(d *uesim.Dialer) {
			d.AfterHandshake, d.BeforeConvert = true, waitSpoof
		}), dnAddr(dnPort), convert.ErrNotAuthorized},
		{"version 2", with(a.Dialer(atsss.Access3GPP), func(d *uesim.Dialer) {
			d.Payload = []byte{2, 1, 0x22, 0x63}
		}), dnAddr(dnPort), convert.ErrUnsupportedVersion},
		{"bad magic", with(a.Dialer(atsss.Access3GPP), func(d *uesim.Dialer) {
			d.Payload = []byte{1, 1, 0x22, 0x64}
		}), dnAddr(dnPort), convert.ErrMalformedMessage},
		{"TLV longer than the message", with(a.Dialer(atsss.Access3GPP), func(d *uesim.Dialer) {
			d.Payload = []byte{1, 2, 0x22, 0x63, 10, 5, 0, 0}
		}), dnAddr(dnPort), convert.ErrMalformedMessage},
		{"no Connect TLV", with(a.Dialer(atsss.Access3GPP), func(d *uesim.Dialer) {
			d.Payload = []byte{1, 1, 0x22, 0x63}
		}), dnAddr(dnPort), convert.ErrMalformedMessage},
		{"server refuses", a.Dialer(atsss.Access3GPP), dnAddr(dnClosedPort), convert.ErrConnectionReset},
		{"server unreachable", a.Dialer(atsss.Access3GPP), netip.AddrPortFrom(lab.DNAddr.Next(), dnPort), convert.ErrDestinationUnreachable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.d.Dial(ctx, tc.dst)
			var refused *uesim.RefusedError
			if !errors.As(err, &refused) {
				t.Fatalf("got %v, want the converter's Error TLV %v", err, tc.want)
			}
			if refused.Code != tc.want {
				t.Fatalf("Error TLV %v, want %v", refused.Code, tc.want)
			}
		})
	}

	// A's proper connection is served.
	c, err := a.Dialer(atsss.Access3GPP).Dial(ctx, dnAddr(dnPort))
	if err != nil {
		t.Fatal(err)
	}
	if res := traffic.Run(ctx, c, traffic.Request{Up: 1 << 20, Down: 1 << 20, Seed: 3}, nil, nil); res.Err != nil {
		t.Fatalf("A after the refusals: %v", res.Err)
	}
	c.Close()
	if res := <-bDone; res.Err != nil || res.Received != size {
		t.Fatalf("B's transfer during the refusals: %+v", res)
	}
}

func with(d *uesim.Dialer, change func(*uesim.Dialer)) *uesim.Dialer {
	change(d)
	return d
}

// TestNetnsPlainTCPFallback serves a UE whose connection is plain TCP (its
// SYN carried no MPTCP option) and refuses one with no session.
func TestNetnsPlainTCPFallback(t *testing.T) {
	r := newRig(t, rig.Options{})
	ctx := t.Context()
	a, err := r.Establish(ctx, rig.SessionSpec{})
	if err != nil {
		t.Fatal(err)
	}
	serveDN(t, r, dnPort, nil, nil)

	d := a.Dialer(atsss.AccessNon3GPP)
	d.PlainTCP = true
	c, err := d.Dial(ctx, dnAddr(dnPort))
	if err != nil {
		t.Fatal(err)
	}
	if mptcp, _ := c.MultipathTCP(); mptcp {
		t.Fatal("the plain TCP client's connection is MPTCP")
	}
	if res := traffic.Run(ctx, c, traffic.Request{Up: 4 << 20, Down: 4 << 20, Seed: 5}, nil, nil); res.Err != nil {
		t.Fatalf("plain TCP UE: %v", res.Err)
	}
	c.Close()
	if err := daemontest.WaitFor(ctx, func() bool {
		n, _ := r.Daemon.Metric(ctx, `atsss_mptcpproxy_connections_accepted_total{transport="tcp"}`)
		return n == 1
	}); err != nil {
		t.Fatal("the proxy did not count the connection as plain TCP")
	}

	d.Sources = []netip.Addr{lab.Access[atsss.AccessNon3GPP].UEAddr} // in no session
	_, err = d.Dial(ctx, dnAddr(dnPort))
	var refused *uesim.RefusedError
	if !errors.As(err, &refused) || refused.Code != convert.ErrNotAuthorized {
		t.Fatalf("plain TCP UE without a session: %v, want Not Authorized", err)
	}
}

// TestNetnsConnectionReadings reads a live connection from atsssd's
// /connections: the session, the server, and per access the subflow's
// bytes and RTT from the kernel.
func TestNetnsConnectionReadings(t *testing.T) {
	r := newRig(t, rig.Options{})
	ctx := t.Context()
	ue, err := r.Establish(ctx, rig.SessionSpec{Mode: "load-balancing", Weights: "50/50"})
	if err != nil {
		t.Fatal(err)
	}
	serveDN(t, r, dnPort, nil, nil)
	c := dialBoth(t, ue, atsss.Access3GPP)
	defer c.Close()
	const size = 8 << 20
	if res := traffic.Run(ctx, c, traffic.Request{Up: size, Down: size, Seed: 7, KeepWriteOpen: true}, nil, nil); res.Err != nil {
		t.Fatal(res.Err)
	}

	conns, err := r.Daemon.Connections(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(conns) != 1 {
		t.Fatalf("/connections lists %d connections, want 1: %+v", len(conns), conns)
	}
	got := conns[0]
	if got.SEID != ue.SEID || got.Server != dnAddr(dnPort) || got.Transport != "mptcp" || got.Err != "" {
		t.Errorf("connection %+v, want SEID %v to %v over mptcp", got, ue.SEID, dnAddr(dnPort))
	}
	if got.BytesReceived < size || got.BytesSent < size {
		t.Errorf("data-level bytes: received %d, sent %d; want at least %d each", got.BytesReceived, got.BytesSent, size)
	}
	var subflowBytes uint64
	accesses := map[string]bool{}
	for _, s := range got.Subflows {
		accesses[s.Access] = true
		subflowBytes += s.BytesReceived
		if s.BytesReceived+s.BytesSent == 0 || s.RTTMicros <= 0 {
			t.Errorf("subflow %+v: want bytes and an RTT", s)
		}
		if want := ue.LinkSpecific[atsss.Access3GPP]; s.Access == "3gpp" && s.Remote.Addr() != want {
			t.Errorf("3GPP subflow from %v, want %v", s.Remote.Addr(), want)
		}
	}
	if !accesses["3gpp"] || !accesses["non3gpp"] || len(got.Subflows) != 2 {
		t.Errorf("subflows %+v: want one per access", got.Subflows)
	}
	if subflowBytes < size {
		t.Errorf("the subflows received %d bytes in all, want at least %d", subflowBytes, size)
	}
}

// TestNetnsSessionDeletionClosesConnections deletes a session over N4 in the
// middle of a transfer: its connections must end at once, another UE's not.
func TestNetnsSessionDeletionClosesConnections(t *testing.T) {
	r := newRig(t, rig.Options{Lab: lab.Config{Rate: [2]lab.Rate{{UpMbit: 50, DownMbit: 50}, {UpMbit: 50, DownMbit: 50}}}})
	ctx := t.Context()
	// Two UEs share the lab's UE namespace: with the kernel path manager
	// each connection would join from the other UE's addresses too.
	if err := r.Lab.UE.Sysctl("net.mptcp.pm_type", "1"); err != nil {
		t.Fatal(err)
	}
	a, err := r.Establish(ctx, rig.SessionSpec{CPSEID: 1})
	if err != nil {
		t.Fatal(err)
	}
	b, err := r.Establish(ctx, rig.SessionSpec{CPSEID: 2})
	if err != nil {
		t.Fatal(err)
	}
	serveDN(t, r, dnPort, nil, nil)
	start := func(u *rig.UE, size uint64, down *traffic.Counter) <-chan traffic.Result {
		c, err := u.Dialer(atsss.Access3GPP).Dial(ctx, dnAddr(dnPort))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		done := make(chan traffic.Result, 1)
		go func() { done <- traffic.Run(ctx, c, traffic.Request{Up: size, Down: size, Seed: 11}, nil, down) }()
		return done
	}
	var aDown traffic.Counter
	aDone := start(a, 1<<30, &aDown) // far more than fits in the test's time
	bDone := start(b, 8<<20, nil)
	if err := daemontest.WaitFor(ctx, func() bool { n, _ := aDown.Read(); return n > 1<<20 }); err != nil {
		t.Fatal(err)
	}
	if err := a.Delete(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case res := <-aDone:
		if res.Err == nil {
			t.Fatal("A's transfer of 1 GiB completed although its session was deleted")
		}
		t.Logf("A's connection ended after its session was deleted: %v", res.Err)
	case <-time.After(10 * time.Second):
		t.Fatal("A's connection outlived its session by 10 s")
	}
	if res := <-bDone; res.Err != nil {
		t.Fatalf("B's transfer: %v", res.Err)
	}
}
