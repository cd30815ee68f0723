package pm

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/openatsss/atsss/test/netnstest"
)

// Lab addresses, documentation ranges only (RFC 5737, RFC 3849).
var (
	addrA  = netip.MustParseAddr("192.0.2.1")
	addrB  = netip.MustParseAddr("198.51.100.1")
	addrV6 = netip.MustParseAddr("2001:db8::1")
)

// waitBound bounds every poll of kernel state; it is a safety net against
// hanging, not a timing assertion.
const waitBound = 20 * time.Second

// setupLo puts the lab addresses on lo of the current (fresh) namespace.
// It runs inside netnstest.Run, on the namespace's locked thread.
func setupLo(v6 bool) error {
	lo, err := netlink.LinkByName("lo")
	if err != nil {
		return fmt.Errorf("lo: %w", err)
	}
	prefixes := []string{"192.0.2.1/24", "198.51.100.1/24"}
	if v6 {
		prefixes = append(prefixes, "2001:db8::1/64")
	}
	for _, p := range prefixes {
		a, err := netlink.ParseAddr(p)
		if err != nil {
			return err
		}
		if v6 {
			a.Flags = unix.IFA_F_NODAD
		}
		if err := netlink.AddrAdd(lo, a); err != nil {
			return fmt.Errorf("add %s: %w", p, err)
		}
	}
	return nil
}

func TestNetnsLimits(t *testing.T) {
	var c *Client
	netnstest.Run(t, func() (err error) {
		c, err = Open()
		return err
	})
	defer c.Close()

	// A fresh namespace starts with the kernel defaults (pm_nl_init_net).
	got, err := c.Limits()
	if err != nil {
		t.Fatal(err)
	}
	if want := (Limits{Subflows: 2, AddAddrAccepted: 0}); got != want {
		t.Errorf("fresh namespace limits = %+v, want %+v", got, want)
	}
	for _, want := range []Limits{{Subflows: 3, AddAddrAccepted: 4}, {Subflows: 8, AddAddrAccepted: 8}, {}} {
		if err := c.SetLimits(want); err != nil {
			t.Fatalf("SetLimits(%+v): %v", want, err)
		}
		got, err := c.Limits()
		if err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("Limits after SetLimits(%+v) = %+v", want, got)
		}
	}
	err = c.SetLimits(Limits{Subflows: 9})
	if !errors.Is(err, unix.EINVAL) {
		t.Errorf("SetLimits above the kernel maximum: %v, want EINVAL", err)
	}
	t.Logf("limit above maximum: %v", err)
}

func TestNetnsEndpoints(t *testing.T) {
	var c *Client
	var loIndex int32
	netnstest.Run(t, func() (err error) {
		if err := setupLo(true); err != nil {
			return err
		}
		lo, err := net.InterfaceByName("lo")
		if err != nil {
			return err
		}
		loIndex = int32(lo.Index)
		c, err = Open()
		return err
	})
	defer c.Close()

	eps := []Endpoint{
		{Addr: addrA, Flags: FlagSubflow},
		{ID: 7, Addr: addrB, Port: 4242, Flags: FlagSignal | FlagBackup},
		{ID: 9, Addr: addrV6, IfIndex: loIndex, Flags: FlagSubflow | FlagFullmesh},
	}
	for _, e := range eps {
		if err := c.AddEndpoint(e); err != nil {
			t.Fatalf("AddEndpoint(%+v): %v", e, err)
		}
	}
	want := []Endpoint{
		{ID: 1, Addr: addrA, Flags: FlagSubflow}, // the kernel picks the lowest free id
		eps[1],
		eps[2],
	}
	list := func() []Endpoint {
		t.Helper()
		got, err := c.Endpoints()
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	if diff := cmp.Diff(want, list(), cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); diff != "" {
		t.Fatalf("Endpoints (-want +got):\n%s", diff)
	}

	// Duplicates: the same address, and the same id.
	errDupAddr := c.AddEndpoint(Endpoint{Addr: addrA, Flags: FlagSignal})
	errDupID := c.AddEndpoint(Endpoint{ID: 7, Addr: netip.MustParseAddr("192.0.2.2"), Flags: FlagSubflow})
	if errDupAddr == nil || errDupID == nil {
		t.Fatalf("duplicate endpoints accepted: address %v, id %v", errDupAddr, errDupID)
	}
	t.Logf("duplicate address: %v", errDupAddr)
	t.Logf("duplicate id: %v", errDupID)
	if !errors.Is(errDupAddr, unix.EEXIST) || !errors.Is(errDupID, unix.EBUSY) {
		t.Errorf("duplicate address: %v, want EEXIST; duplicate id: %v, want EBUSY", errDupAddr, errDupID)
	}

	// Flags: backup off on 7, backup on 1; fullmesh on a signal endpoint
	// is refused.
	if err := c.SetEndpointFlags(7, 0); err != nil {
		t.Fatal(err)
	}
	if err := c.SetEndpointFlags(1, FlagBackup|FlagSignal); err != nil {
		t.Fatal(err)
	}
	want[1].Flags = FlagSignal
	want[0].Flags = FlagSubflow | FlagBackup
	if diff := cmp.Diff(want, list(), cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); diff != "" {
		t.Fatalf("Endpoints after SetEndpointFlags (-want +got):\n%s", diff)
	}
	if err := c.SetEndpointFlags(7, FlagFullmesh); !errors.Is(err, unix.EINVAL) {
		t.Errorf("fullmesh on a signal endpoint: %v, want EINVAL", err)
	}
	if err := c.SetEndpointFlags(42, FlagBackup); !errors.Is(err, unix.EINVAL) {
		t.Errorf("SetEndpointFlags of an unknown id: %v, want EINVAL", err)
	}

	if err := c.DeleteEndpoint(7); err != nil {
		t.Fatal(err)
	}
	err := c.DeleteEndpoint(7)
	if !errors.Is(err, unix.EINVAL) {
		t.Errorf("DeleteEndpoint of an unknown id: %v, want EINVAL", err)
	}
	t.Logf("delete unknown id: %v", err)
	if diff := cmp.Diff([]Endpoint{want[0], want[2]}, list(), cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); diff != "" {
		t.Fatalf("Endpoints after DeleteEndpoint (-want +got):\n%s", diff)
	}
	if err := c.DeleteEndpoint(0); err == nil {
		t.Error("DeleteEndpoint(0) succeeded")
	}

	for range 2 { // idempotent
		if err := c.FlushEndpoints(); err != nil {
			t.Fatal(err)
		}
	}
	if got := list(); len(got) != 0 {
		t.Errorf("Endpoints after FlushEndpoints = %+v", got)
	}
}

// pair is one MPTCP connection inside a test namespace.
type pair struct {
	ln             net.Listener
	client, server *net.TCPConn
}

func (p *pair) Close() {
	for _, c := range []io.Closer{p.client, p.server, p.ln} {
		if c != nil {
			c.Close()
		}
	}
}

// dialPair opens a tcp4 listener on addrA (MPTCP unless mptcpServer is
// false) and dials it from addrA (MPTCP unless mptcpClient is false). It
// runs on the namespace's thread, so both sockets live there.
func dialPair(mptcpServer, mptcpClient bool) (*pair, error) {
	return dialPairOn(false, mptcpServer, mptcpClient)
}

// dialPairOn is dialPair with, if dualStack, a listener on ":0": an
// AF_INET6 socket whose IPv4 subflows have v4-mapped addresses.
func dialPairOn(dualStack, mptcpServer, mptcpClient bool) (*pair, error) {
	var lc net.ListenConfig
	lc.SetMultipathTCP(mptcpServer)
	network, laddr := "tcp4", netip.AddrPortFrom(addrA, 0).String()
	if dualStack {
		network, laddr = "tcp", ":0"
	}
	ln, err := lc.Listen(context.Background(), network, laddr)
	if err != nil {
		return nil, err
	}
	p := &pair{ln: ln}
	d := net.Dialer{LocalAddr: net.TCPAddrFromAddrPort(netip.AddrPortFrom(addrA, 0))}
	d.SetMultipathTCP(mptcpClient)
	port := netip.MustParseAddrPort(ln.Addr().String()).Port()
	c, err := d.Dial("tcp4", netip.AddrPortFrom(addrA, port).String())
	if err != nil {
		p.Close()
		return nil, err
	}
	p.client = c.(*net.TCPConn)
	s, err := ln.Accept()
	if err != nil {
		p.Close()
		return nil, err
	}
	p.server = s.(*net.TCPConn)
	// One byte each way makes both ends fully established (RFC 8684 §3.1:
	// the client needs the server's first DSS). Before that the client's
	// in-kernel PM opens no subflow; measured: ~15 s without data, <20 ms
	// after a byte.
	b := []byte{0}
	for _, rw := range [][2]*net.TCPConn{{p.client, p.server}, {p.server, p.client}} {
		if _, err := rw[0].Write(b); err != nil {
			p.Close()
			return nil, err
		}
		if _, err := io.ReadFull(rw[1], b); err != nil {
			p.Close()
			return nil, err
		}
	}
	return p, nil
}

func rawConn(t testing.TB, c *net.TCPConn) syscall.RawConn {
	t.Helper()
	rc, err := c.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	return rc
}

// waitSubflows polls until the connection has n subflows.
func waitSubflows(t testing.TB, rc syscall.RawConn, n int) []Subflow {
	t.Helper()
	deadline := time.Now().Add(waitBound)
	for {
		sfs, err := ReadSubflows(rc)
		if err != nil {
			t.Fatal(err)
		}
		if len(sfs) == n {
			return sfs
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d subflows after %v, want %d: %+v", len(sfs), waitBound, n, sfs)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// transfer sends n bytes from one end to the other and waits for them.
func transfer(t testing.TB, from, to *net.TCPConn, n int) {
	t.Helper()
	errc := make(chan error, 1)
	go func() {
		_, err := from.Write(make([]byte, n))
		errc <- err
	}()
	if _, err := io.ReadFull(to, make([]byte, n)); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
}

func TestNetnsSubflows(t *testing.T) {
	var p *pair
	netnstest.Run(t, func() error {
		if err := setupLo(false); err != nil {
			return err
		}
		c, err := Open()
		if err != nil {
			return err
		}
		defer c.Close()
		if err := c.SetLimits(Limits{Subflows: 2, AddAddrAccepted: 2}); err != nil {
			return err
		}
		if err := c.AddEndpoint(Endpoint{Addr: addrB, Flags: FlagSubflow}); err != nil {
			return err
		}
		p, err = dialPair(true, true)
		return err
	})
	defer p.Close()
	crc, src := rawConn(t, p.client), rawConn(t, p.server)
	serverAddr := netip.MustParseAddrPort(p.ln.Addr().String())
	clientAddr := netip.MustParseAddrPort(p.client.LocalAddr().String())

	sfs := waitSubflows(t, crc, 2)
	if sfs[0].Local != clientAddr || sfs[0].Remote != serverAddr {
		t.Errorf("initial subflow %v -> %v, want %v -> %v", sfs[0].Local, sfs[0].Remote, clientAddr, serverAddr)
	}
	if sfs[1].Local.Addr() != addrB || sfs[1].Remote != serverAddr {
		t.Errorf("joined subflow %v -> %v, want %v:* -> %v", sfs[1].Local, sfs[1].Remote, addrB, serverAddr)
	}
	if sfs[0].ID == 0 || sfs[1].ID == 0 || sfs[0].ID == sfs[1].ID {
		t.Errorf("subflow ids %d, %d: want distinct, non-zero", sfs[0].ID, sfs[1].ID)
	}

	const n = 4 << 20
	before, err := ReadInfo(crc)
	if err != nil {
		t.Fatal(err)
	}
	transfer(t, p.client, p.server, n)
	transfer(t, p.server, p.client, n)

	info, err := ReadInfo(crc)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("client info: %+v", info)
	if info.Size != sizeofMPTCPInfo {
		t.Errorf("mptcp_info size %d, want %d on 6.18", info.Size, sizeofMPTCPInfo)
	}
	if info.Token == 0 || info.Token != before.Token {
		t.Errorf("token %#x then %#x: want stable, non-zero", before.Token, info.Token)
	}
	if info.Subflows != 1 || info.SubflowsTotal != 2 {
		t.Errorf("subflows extra %d total %d, want 1 and 2", info.Subflows, info.SubflowsTotal)
	}
	if info.Fallback || !info.RemoteKeyReceived {
		t.Errorf("flags: fallback %v remote key %v", info.Fallback, info.RemoteKeyReceived)
	}
	if info.BytesSent < n || info.BytesAcked < n || info.BytesReceived < n {
		t.Errorf("data-level bytes sent %d acked %d received %d, want each ≥ %d",
			info.BytesSent, info.BytesAcked, info.BytesReceived, n)
	}
	if info.BytesSent-before.BytesSent < n || info.SndUna-before.SndUna < n || info.RcvNxt-before.RcvNxt < n {
		t.Errorf("counters did not move by %d: before %+v after %+v", n, before, info)
	}
	if info.SubflowsMax != 2 || info.AddAddrAcceptedMax != 2 || info.LocalAddrMax != 1 {
		t.Errorf("PM limits in info: subflows_max %d add_addr_accepted_max %d local_addr_max %d",
			info.SubflowsMax, info.AddAddrAcceptedMax, info.LocalAddrMax)
	}

	sinfo, err := ReadInfo(src)
	if err != nil {
		t.Fatal(err)
	}
	if sinfo.BytesReceived < n || sinfo.BytesSent < n || sinfo.Token == info.Token {
		t.Errorf("server info %+v", sinfo)
	}

	sfs, err = ReadSubflows(crc)
	if err != nil {
		t.Fatal(err)
	}
	var sent, received uint64
	for i, sf := range sfs {
		t.Logf("client subflow %d: %+v", i, sf)
		if sf.State != 1 { // TCP_ESTABLISHED
			t.Errorf("subflow %d state %d", i, sf.State)
		}
		if sf.RTT <= 0 || sf.SndCwnd == 0 || sf.SndMSS == 0 {
			t.Errorf("subflow %d: rtt %v cwnd %d mss %d", i, sf.RTT, sf.SndCwnd, sf.SndMSS)
		}
		sent += sf.BytesSent
		received += sf.BytesReceived
	}
	if sent < n || received < n {
		t.Errorf("subflow bytes sent %d received %d, want each ≥ %d", sent, received, n)
	}

	// The server sees the same two subflows, ends swapped.
	ssfs := waitSubflows(t, src, 2)
	for i := range ssfs {
		if ssfs[i].Local != sfs[i].Remote || ssfs[i].Remote != sfs[i].Local {
			t.Errorf("server subflow %d %v -> %v, client's %v -> %v", i, ssfs[i].Local, ssfs[i].Remote, sfs[i].Local, sfs[i].Remote)
		}
	}

	// The split path (kernels before 6.5) sees the same subflows.
	s := getScratch()
	s.op = opSplit
	err = s.run(crc)
	split := s.dst
	s.dst = nil
	if err != nil {
		t.Fatal(err)
	}
	addrsOf := func(sfs []Subflow) (a [][2]netip.AddrPort) {
		for _, sf := range sfs {
			a = append(a, [2]netip.AddrPort{sf.Local, sf.Remote})
		}
		return a
	}
	if diff := cmp.Diff(addrsOf(sfs), addrsOf(split), cmp.Comparer(func(a, b netip.AddrPort) bool { return a == b })); diff != "" {
		t.Errorf("split path subflows (-full +split):\n%s", diff)
	}
	if s.info.Token != info.Token {
		t.Errorf("split path token %#x, want %#x", s.info.Token, info.Token)
	}

	// Snapshot: info and subflows from one call agree.
	sinfo2, snap, err := AppendSnapshot(nil, crc)
	if err != nil {
		t.Fatal(err)
	}
	if int(sinfo2.SubflowsTotal) != len(snap) || sinfo2.Token != info.Token {
		t.Errorf("snapshot: total %d with %d subflows, token %#x", sinfo2.SubflowsTotal, len(snap), sinfo2.Token)
	}

	// Appending keeps what dst held.
	got, err := AppendSubflows([]Subflow{{ID: 99}}, crc)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || got[0].ID != 99 {
		t.Errorf("AppendSubflows kept %+v", got)
	}
}

// TestNetnsManySubflows makes the kernel report more subflows than the
// scratch buffers hold at first, to exercise the size negotiation.
func TestNetnsManySubflows(t *testing.T) {
	var p *pair
	netnstest.Run(t, func() error {
		lo, err := netlink.LinkByName("lo")
		if err != nil {
			return err
		}
		a, _ := netlink.ParseAddr("192.0.2.1/24")
		if err := netlink.AddrAdd(lo, a); err != nil {
			return err
		}
		c, err := Open()
		if err != nil {
			return err
		}
		defer c.Close()
		if err := c.SetLimits(Limits{Subflows: 8, AddAddrAccepted: 8}); err != nil {
			return err
		}
		for i := 2; i <= 9; i++ {
			ip := netip.AddrFrom4([4]byte{192, 0, 2, byte(i)})
			a, _ := netlink.ParseAddr(ip.String() + "/24")
			if err := netlink.AddrAdd(lo, a); err != nil {
				return err
			}
			if err := c.AddEndpoint(Endpoint{Addr: ip, Flags: FlagSubflow}); err != nil {
				return err
			}
		}
		p, err = dialPair(true, true)
		return err
	})
	defer p.Close()
	crc := rawConn(t, p.client)
	sfs := waitSubflows(t, crc, 9)
	seen := map[netip.Addr]bool{}
	for _, sf := range sfs {
		seen[sf.Local.Addr()] = true
	}
	if len(seen) != 9 {
		t.Errorf("local addresses %v, want 9 distinct", seen)
	}
	// A fresh scratch starts at 4 and must grow; force one.
	s := &scratch{}
	s.control = s.do
	s.grow(1)
	s.op = opFull
	if err := s.run(crc); err != nil || len(s.dst) != 9 {
		t.Errorf("from capacity 1: %d subflows, %v", len(s.dst), err)
	}
	s = &scratch{}
	s.control = s.do
	s.grow(1)
	s.op = opSplit
	if err := s.run(crc); err != nil || len(s.dst) != 9 {
		t.Errorf("split from capacity 1: %d subflows, %v", len(s.dst), err)
	}
}

func TestNetnsFallback(t *testing.T) {
	cases := []struct {
		name                     string
		mptcpServer, mptcpClient bool
		wantClient, wantServer   error
	}{
		{"mptcp client to tcp server", false, true, ErrFallback, ErrNotMPTCP},
		// Passive fallback: the kernel hands accept a plain TCP socket
		// (SO_PROTOCOL is TCP), so the server end is ErrNotMPTCP, not
		// ErrFallback.
		{"tcp client to mptcp server", true, false, ErrNotMPTCP, ErrNotMPTCP},
		{"tcp both", false, false, ErrNotMPTCP, ErrNotMPTCP},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var p *pair
			netnstest.Run(t, func() (err error) {
				if err := setupLo(false); err != nil {
					return err
				}
				p, err = dialPair(tc.mptcpServer, tc.mptcpClient)
				return err
			})
			defer p.Close()
			transfer(t, p.client, p.server, 1000)
			for _, end := range []struct {
				name string
				c    *net.TCPConn
				want error
			}{{"client", p.client, tc.wantClient}, {"server", p.server, tc.wantServer}} {
				_, err := ReadInfo(rawConn(t, end.c))
				_, serr := ReadSubflows(rawConn(t, end.c))
				mp, _ := end.c.MultipathTCP()
				t.Logf("%s: go MultipathTCP=%v ReadInfo: %v; ReadSubflows: %v", end.name, mp, err, serr)
				if !errors.Is(err, end.want) || !errors.Is(serr, end.want) {
					t.Errorf("%s: ReadInfo %v, ReadSubflows %v: want %v", end.name, err, serr, end.want)
				}
				if !errors.Is(err, ErrNotMPTCP) || !errors.Is(err, unix.EOPNOTSUPP) {
					t.Errorf("%s: %v does not match ErrNotMPTCP and EOPNOTSUPP", end.name, err)
				}
				if end.want == ErrNotMPTCP && errors.Is(err, ErrFallback) {
					t.Errorf("%s: plain TCP reported as fallback: %v", end.name, err)
				}
			}
		})
	}
}

// eventLog collects events from an Events run.
type eventLog struct {
	mu     sync.Mutex
	events []Event
	signal chan struct{}
}

func (l *eventLog) add(ev Event) {
	l.mu.Lock()
	l.events = append(l.events, ev)
	l.mu.Unlock()
	select {
	case l.signal <- struct{}{}:
	default:
	}
}

// wait returns the first event matching match, waiting for it.
func (l *eventLog) wait(t *testing.T, what string, match func(Event) bool) Event {
	t.Helper()
	timeout := time.After(waitBound)
	for {
		l.mu.Lock()
		for _, ev := range l.events {
			if match(ev) {
				l.mu.Unlock()
				return ev
			}
		}
		l.mu.Unlock()
		select {
		case <-l.signal:
		case <-timeout:
			l.mu.Lock()
			defer l.mu.Unlock()
			t.Fatalf("no %s event in %v; got %+v", what, waitBound, l.events)
		}
	}
}

func TestNetnsUserspacePM(t *testing.T) {
	t.Run("tcp4", func(t *testing.T) { testUserspacePM(t, false) })
	// A dual-stack listener: the server's events carry v4-mapped
	// addresses, which the commands must take back unchanged.
	t.Run("dual-stack", func(t *testing.T) { testUserspacePM(t, true) })
}

func testUserspacePM(t *testing.T, dualStack bool) {
	var (
		c  *Client
		ev *Events
		p  *pair
	)
	netnstest.Run(t, func() (err error) {
		if err := setupLo(false); err != nil {
			return err
		}
		// Per-namespace sysctl: /proc/sys/net resolves in the opening
		// thread's namespace, and this thread is in the test's.
		if err := os.WriteFile("/proc/sys/net/mptcp/pm_type", []byte("1"), 0); err != nil {
			return err
		}
		if c, err = Open(); err != nil {
			return err
		}
		if ev, err = OpenEvents(); err != nil {
			return err
		}
		p, err = dialPairOn(dualStack, true, true)
		return err
	})
	defer c.Close()
	defer p.Close()

	log := &eventLog{signal: make(chan struct{}, 1)}
	ctx, cancel := context.WithCancel(context.Background())
	runErr := make(chan error, 1)
	go func() { runErr <- ev.Run(ctx, log.add) }()
	defer func() {
		cancel()
		if err := <-runErr; !errors.Is(err, context.Canceled) {
			t.Errorf("Run: %v, want context.Canceled", err)
		}
	}()

	crc, src := rawConn(t, p.client), rawConn(t, p.server)
	cinfo, err := ReadInfo(crc)
	if err != nil {
		t.Fatal(err)
	}
	sinfo, err := ReadInfo(src)
	if err != nil {
		t.Fatal(err)
	}
	serverAddr := netip.MustParseAddrPort(p.client.RemoteAddr().String())
	clientAddr := netip.MustParseAddrPort(p.client.LocalAddr().String())
	// What the server's events say: v4-mapped on a dual-stack socket.
	sview := func(a netip.AddrPort) netip.AddrPort {
		if dualStack {
			return netip.AddrPortFrom(netip.AddrFrom16(a.Addr().As16()), a.Port())
		}
		return a
	}

	// The socket joined the group in OpenEvents, before the dial, so the
	// connection's first events are queued for Run.
	created := log.wait(t, "client created", func(e Event) bool {
		return e.Type == EventCreated && e.Token == cinfo.Token
	})
	if created.ServerSide || created.Local != clientAddr || created.Remote != serverAddr {
		t.Errorf("client created event %+v", created)
	}
	screated := log.wait(t, "server created", func(e Event) bool {
		return e.Type == EventCreated && e.Token == sinfo.Token
	})
	if !screated.ServerSide || screated.Local != sview(serverAddr) || screated.Remote != sview(clientAddr) {
		t.Errorf("server created event %+v", screated)
	}
	log.wait(t, "established", func(e Event) bool { return e.Type == EventEstablished && e.Token == cinfo.Token })
	log.wait(t, "established", func(e Event) bool { return e.Type == EventEstablished && e.Token == sinfo.Token })

	// The in-kernel PM's commands are refused on a userspace-managed
	// connection, and unknown tokens too.
	if err := c.Announce(0xdeadbeef, 5, netip.AddrPortFrom(addrB, 0)); !errors.Is(err, unix.EINVAL) {
		t.Errorf("Announce with an unknown token: %v, want EINVAL", err)
	} else {
		t.Logf("unknown token: %v", err)
	}

	// ADD_ADDR from the server; the client hears it, with the
	// connection's port filled in for an announcement without one.
	if err := c.Announce(sinfo.Token, 5, netip.AddrPortFrom(addrB, 0)); err != nil {
		t.Fatal(err)
	}
	ann := log.wait(t, "announced", func(e Event) bool { return e.Type == EventAnnounced })
	if want := (Event{Type: EventAnnounced, Token: cinfo.Token, RemoteID: 5, Remote: netip.AddrPortFrom(addrB, serverAddr.Port())}); ann != want {
		t.Errorf("announced event %+v, want %+v", ann, want)
	}

	// A join from the client's second address.
	req := SubflowRequest{Token: cinfo.Token, LocalID: 3, Local: addrB, Remote: serverAddr}
	if err := c.CreateSubflow(req); err != nil {
		t.Fatal(err)
	}
	csub := log.wait(t, "client sub_established", func(e Event) bool {
		return e.Type == EventSubEstablished && e.Token == cinfo.Token
	})
	ssub := log.wait(t, "server sub_established", func(e Event) bool {
		return e.Type == EventSubEstablished && e.Token == sinfo.Token
	})
	t.Logf("sub_established: client %+v server %+v", csub, ssub)
	if csub.Local.Addr() != addrB || csub.Remote != serverAddr || csub.LocalID != 3 || csub.Backup {
		t.Errorf("client sub_established %+v", csub)
	}
	if ssub.Remote != sview(csub.Local) || ssub.Local != sview(csub.Remote) || ssub.RemoteID != 3 {
		t.Errorf("server sub_established %+v does not mirror %+v", ssub, csub)
	}
	sfs := waitSubflows(t, crc, 2)
	if sfs[1].Local != csub.Local {
		t.Errorf("subflow %v, event says %v", sfs[1].Local, csub.Local)
	}

	// MP_PRIO: the server marks the joined subflow backup; the client hears.
	if err := c.SetBackup(sinfo.Token, ssub.Local, ssub.Remote, true); err != nil {
		t.Fatal(err)
	}
	prio := log.wait(t, "sub_priority", func(e Event) bool { return e.Type == EventSubPriority })
	t.Logf("sub_priority: %+v", prio)
	errAgain := c.SetBackup(sinfo.Token, ssub.Local, ssub.Remote, true)
	errNone := c.SetBackup(sinfo.Token, ssub.Local, netip.AddrPortFrom(ssub.Remote.Addr(), 9), true)
	if errAgain != nil || !errors.Is(errNone, unix.EINVAL) {
		t.Errorf("SetBackup again: %v, want nil; of no subflow: %v, want EINVAL", errAgain, errNone)
	}
	if prio.Token != cinfo.Token || !prio.Backup || prio.Local != csub.Local {
		t.Errorf("sub_priority %+v", prio)
	}

	// Destroy the join: from the client on tcp4, from the server (the
	// proxy's side) on dual-stack, with the server's v4-mapped view.
	token, local, remote := cinfo.Token, csub.Local, csub.Remote
	if dualStack {
		token, local, remote = sinfo.Token, ssub.Local, ssub.Remote
		// Unmapped addresses do not name the subflow of an AF_INET6 socket.
		err := c.DestroySubflow(token, netip.AddrPortFrom(local.Addr().Unmap(), local.Port()),
			netip.AddrPortFrom(remote.Addr().Unmap(), remote.Port()))
		t.Logf("destroy with unmapped addresses on a dual-stack socket: %v", err)
		if err == nil {
			t.Fatal("destroy with unmapped addresses succeeded; the test expects the kernel to compare families")
		}
	}
	if err := c.DestroySubflow(token, local, remote); err != nil {
		t.Fatal(err)
	}
	closed := log.wait(t, "sub_closed", func(e Event) bool {
		return e.Type == EventSubClosed && e.Token == token
	})
	if closed.Local != local || closed.Remote != remote {
		t.Errorf("sub_closed %+v", closed)
	}
	t.Logf("sub_closed: %+v", closed)
	waitSubflows(t, crc, 1)
	waitSubflows(t, src, 1)
	if err := c.DestroySubflow(token, local, remote); !errors.Is(err, unix.ESRCH) {
		t.Errorf("DestroySubflow of a gone subflow: %v, want ESRCH", err)
	}

	// RM_ADDR from the server.
	if err := c.Remove(sinfo.Token, 5); err != nil {
		t.Fatal(err)
	}
	rm := log.wait(t, "removed", func(e Event) bool { return e.Type == EventRemoved })
	if rm.Token != cinfo.Token || rm.RemoteID != 5 {
		t.Errorf("removed event %+v", rm)
	}

	transfer(t, p.server, p.client, 1000) // still alive on the initial subflow
	p.client.Close()
	p.server.Close()
	log.wait(t, "closed", func(e Event) bool { return e.Type == EventClosed && e.Token == cinfo.Token })
	log.wait(t, "closed", func(e Event) bool { return e.Type == EventClosed && e.Token == sinfo.Token })
}

// TestNetnsEndpointBackup: SET_FLAGS on an endpoint sends MP_PRIO on the
// subflows that use it; the peer reports it as sub_priority.
func TestNetnsEndpointBackup(t *testing.T) {
	var (
		c  *Client
		ev *Events
		p  *pair
	)
	netnstest.Run(t, func() (err error) {
		if err := setupLo(false); err != nil {
			return err
		}
		if c, err = Open(); err != nil {
			return err
		}
		if err := c.AddEndpoint(Endpoint{ID: 2, Addr: addrB, Flags: FlagSubflow}); err != nil {
			return err
		}
		if ev, err = OpenEvents(); err != nil {
			return err
		}
		p, err = dialPair(true, true)
		return err
	})
	defer c.Close()
	defer p.Close()
	log := &eventLog{signal: make(chan struct{}, 1)}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go ev.Run(ctx, log.add)

	sinfo, err := ReadInfo(rawConn(t, p.server))
	if err != nil {
		t.Fatal(err)
	}
	waitSubflows(t, rawConn(t, p.client), 2)
	if err := c.SetEndpointFlags(2, FlagBackup); err != nil {
		t.Fatal(err)
	}
	prio := log.wait(t, "sub_priority", func(e Event) bool {
		return e.Type == EventSubPriority && e.Token == sinfo.Token
	})
	if !prio.Backup || prio.Remote.Addr() != addrB {
		t.Errorf("sub_priority %+v", prio)
	}
}

// TestNetnsEventsLost overflows a tiny events buffer before Run reads it:
// Run reports EventLost, then goes on delivering.
func TestNetnsEventsLost(t *testing.T) {
	var (
		ev    *Events
		pairs []*pair
	)
	netnstest.Run(t, func() (err error) {
		if err := setupLo(false); err != nil {
			return err
		}
		if ev, err = OpenEvents(); err != nil {
			return err
		}
		// As root, OpenEvents got its buffer beyond rmem_max.
		rc, err := ev.c.SyscallConn()
		if err != nil {
			return err
		}
		var size int
		rc.Control(func(fd uintptr) { size, err = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF) })
		if err != nil || size < eventsReadBuffer {
			return fmt.Errorf("events receive buffer %d (%v), want ≥ %d", size, err, eventsReadBuffer)
		}
		// The kernel rounds this up to its minimum (a few KiB): room for
		// a handful of events. Events are queued when they happen, so the
		// overflow has happened when the dials return.
		if err := ev.c.SetReadBuffer(1); err != nil {
			return err
		}
		for range 20 {
			p, err := dialPair(true, true)
			if err != nil {
				return err
			}
			pairs = append(pairs, p)
		}
		return nil
	})
	defer func() {
		for _, p := range pairs {
			p.Close()
		}
	}()
	log := &eventLog{signal: make(chan struct{}, 1)}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go ev.Run(ctx, log.add)
	log.wait(t, "lost", func(e Event) bool { return e.Type == EventLost })
	// Events after the loss still arrive, once there is room for them.
	setReadBuffer(ev.c, eventsReadBuffer)
	cinfo, err := ReadInfo(rawConn(t, pairs[0].client))
	if err != nil {
		t.Fatal(err)
	}
	sinfo, err := ReadInfo(rawConn(t, pairs[0].server))
	if err != nil {
		t.Fatal(err)
	}
	pairs[0].Close()
	log.wait(t, "client closed", func(e Event) bool { return e.Type == EventClosed && e.Token == cinfo.Token })
	log.wait(t, "server closed", func(e Event) bool { return e.Type == EventClosed && e.Token == sinfo.Token })
}
