package pmf

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"github.com/openatsss/atsss/atsss"
	"github.com/openatsss/atsss/atsss/atssstest"
)

// waitLimit bounds every wait of the loopback tests. It only turns a hang
// into a failure; no test asserts how fast anything is.
const waitLimit = 10 * time.Second

var loopback = netip.MustParseAddr("127.0.0.1")

// startServer listens on 127.0.0.1, one random port per access, and runs
// the Server until the test ends. The default lookup maps 127.0.0.1 to
// SEID 7.
func startServer(t *testing.T, cfg Config) *Server {
	t.Helper()
	cfg.Listen = []Listener{
		{Addr: netip.AddrPortFrom(loopback, 0), Access: atsss.Access3GPP},
		{Addr: netip.AddrPortFrom(loopback, 0), Access: atsss.AccessNon3GPP},
	}
	if cfg.Lookup == nil {
		cfg.Lookup = func(_ Listener, ue netip.AddrPort) (atsss.SEID, bool) { return 7, ue.Addr() == loopback }
	}
	s, err := Listen(cfg)
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() { errc <- s.Run(context.Background()) }()
	t.Cleanup(func() {
		s.Close()
		if err := <-errc; err != nil {
			t.Errorf("Server.Run: %v", err)
		}
	})
	return s
}

func serverPorts(s *Server) [2]netip.AddrPort {
	var out [2]netip.AddrPort
	for _, l := range s.Listeners() {
		out[l.Access] = l.Addr
	}
	return out
}

func startClient(t *testing.T, cfg ClientConfig) *Client {
	t.Helper()
	c, err := NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() { errc <- c.Run(context.Background()) }()
	t.Cleanup(func() {
		c.Close()
		if err := <-errc; err != nil {
			t.Errorf("Client.Run: %v", err)
		}
	})
	return c
}

// waitFor reads events until one matches.
func waitFor(t *testing.T, s *Server, what string, match func(Event) bool) Event {
	t.Helper()
	timeout := time.After(waitLimit)
	for {
		select {
		case e, ok := <-s.Events():
			if !ok {
				t.Fatalf("events closed while waiting for %s", what)
			}
			if match(e) {
				return e
			}
		case <-timeout:
			t.Fatalf("no %s event", what)
		}
	}
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), waitLimit)
	t.Cleanup(cancel)
	return ctx
}

func TestLoopback(t *testing.T) {
	s := startServer(t, Config{EchoInterval: -1, PLRInterval: -1})
	var dropDown, dropUp atomic.Bool
	var down, up atomic.Int64
	c := startClient(t, ClientConfig{
		Server: serverPorts(s),
		Local:  [2]netip.AddrPort{netip.AddrPortFrom(loopback, 0), netip.AddrPortFrom(loopback, 0)},
		Drop: func(a atsss.AccessType, received bool, m Message) bool {
			switch {
			case a != atsss.Access3GPP:
			case received && m.Type == TypeEchoRequest && dropDown.Load():
				n := down.Add(1)
				return n <= 8 && n%4 == 0 // 2 of the next 8 echoes to the UE are lost
			case !received && m.Type == TypeEchoResponse && dropUp.Load():
				n := up.Add(1)
				return n <= 6 && n%3 == 0 // 2 of the next 6 answers from the UE are lost
			}
			return false
		},
	})
	ctx := ctxT(t)
	id := PathID{SEID: 7, Access: atsss.Access3GPP}
	idN3 := PathID{SEID: 7, Access: atsss.AccessNon3GPP}

	// The UE's first messages teach the UPF its address per access.
	for _, a := range atsss.Accesses {
		if _, err := c.Echo(ctx, a); err != nil {
			t.Fatalf("UE echo on %v: %v", a, err)
		}
		e := waitFor(t, s, "learned", func(e Event) bool { return e.Kind == KindLearned && e.Path.Access == a })
		if e.UE != c.LocalAddr(a) || e.Path.SEID != 7 {
			t.Errorf("learned %+v, want the client's %v", e, c.LocalAddr(a))
		}
	}
	if _, n := c.RTT(atsss.Access3GPP); n != 1 {
		t.Errorf("client RTT samples %d, want 1", n)
	}

	t.Run("rtt", func(t *testing.T) {
		for i := range 5 {
			if err := s.Probe(id); err != nil {
				t.Fatal(err)
			}
			e := waitFor(t, s, "rtt", func(e Event) bool { return e.Kind == KindRTT && e.Path == id })
			if e.Samples != uint64(i+1) || e.RTTSample < 0 || e.RTT < 0 {
				t.Errorf("rtt event %+v, want sample %d", e, i+1)
			}
		}
		if st, _ := s.Path(id); st.Samples != 5 || st.UE != c.LocalAddr(atsss.Access3GPP) {
			t.Errorf("path %+v, want 5 samples", st)
		}
	})

	t.Run("downlink plr", func(t *testing.T) {
		if err := s.StartPLR(id); err != nil {
			t.Fatal(err)
		}
		dropDown.Store(true)
		for range 8 {
			if err := s.Probe(id); err != nil {
				t.Fatal(err)
			}
		}
		for range 6 { // the answered ones
			waitFor(t, s, "rtt", func(e Event) bool { return e.Kind == KindRTT && e.Path == id })
		}
		// The report follows the echoes on the same path: the UE has
		// counted all 8 when it answers.
		if err := s.ReportPLR(id, false); err != nil {
			t.Fatal(err)
		}
		e := waitFor(t, s, "plr", func(e Event) bool { return e.Kind == KindPLR })
		if e.PLRResult != (PLRResult{Sent: 8, Received: 6, PLR: 25}) || e.Path != id {
			t.Errorf("plr event %+v, want 6 of 8 on %v", e, id)
		}
	})

	t.Run("uplink plr", func(t *testing.T) {
		if err := c.StartPLR(ctx, atsss.Access3GPP); err != nil {
			t.Fatal(err)
		}
		dropUp.Store(true)
		for range 6 {
			if err := s.Probe(id); err != nil {
				t.Fatal(err)
			}
		}
		for range 4 {
			waitFor(t, s, "rtt", func(e Event) bool { return e.Kind == KindRTT && e.Path == id })
		}
		// The report must follow the UE's sixth answer (dropped or not).
		for deadline := time.Now().Add(waitLimit); up.Load() < 6; time.Sleep(time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("the UE answered %d of 6 echoes", up.Load())
			}
		}
		r, err := c.ReportPLR(ctx, atsss.Access3GPP, false)
		if err != nil {
			t.Fatal(err)
		}
		if r != (PLRResult{Sent: 6, Received: 4, PLR: 100.0 / 3}) {
			t.Errorf("uplink PLR %+v, want 4 of 6", r)
		}
	})

	t.Run("availability", func(t *testing.T) {
		if err := c.ReportAccess(ctx, atsss.Access3GPP, atsss.AccessNon3GPP, false); err != nil {
			t.Fatal(err)
		}
		e := waitFor(t, s, "availability", func(e Event) bool { return e.Kind == KindAvailability })
		if e.Path != idN3 || e.Via != atsss.Access3GPP || e.Available {
			t.Errorf("availability event %+v, want non-3GPP unavailable via 3GPP", e)
		}
		if st, _ := s.Path(idN3); st.Available {
			t.Errorf("non-3GPP path %+v: want unavailable", st)
		}
		if err := c.ReportAccess(ctx, atsss.AccessNon3GPP, atsss.AccessNon3GPP, true); err != nil {
			t.Fatal(err)
		}
		if e := waitFor(t, s, "availability", func(e Event) bool { return e.Kind == KindAvailability }); !e.Available {
			t.Errorf("availability event %+v, want available", e)
		}
	})

	t.Run("ue assistance", func(t *testing.T) {
		if err := c.SendUAD(ctx, atsss.AccessNon3GPP, [2]uint8{70, 30}); err != nil {
			t.Fatal(err)
		}
		e := waitFor(t, s, "uad", func(e Event) bool { return e.Kind == KindUEAssistance })
		if e.Split != [2]uint8{70, 30} || e.Path != idN3 {
			t.Errorf("UAD event %+v, want 70/30", e)
		}
		if err := c.SendUAT(ctx, atsss.AccessNon3GPP); err != nil {
			t.Fatal(err)
		}
		waitFor(t, s, "uat", func(e Event) bool { return e.Kind == KindUEAssistanceEnd })
		if err := c.SendUAD(ctx, atsss.Access3GPP, [2]uint8{70, 31}); !errors.Is(err, ErrInvalid) {
			t.Errorf("UAD 70/31: %v, want ErrInvalid", err)
		}
	})

	t.Run("duplication", func(t *testing.T) {
		for _, suspend := range []bool{true, false} {
			if err := s.SetDuplication(id, suspend); err != nil {
				t.Fatal(err)
			}
			e := waitFor(t, s, "duplication", func(e Event) bool { return e.Kind == KindDuplication })
			if e.Suspended != suspend || c.DuplicationSuspended() != suspend {
				t.Errorf("event %+v, client suspended %v; want %v", e, c.DuplicationSuspended(), suspend)
			}
		}
	})

	t.Run("malformed", func(t *testing.T) {
		raw, err := net.DialUDP("udp4", nil, net.UDPAddrFromAddrPort(serverPorts(s)[atsss.Access3GPP]))
		if err != nil {
			t.Fatal(err)
		}
		defer raw.Close()
		echo, _ := Message{Type: TypeEchoRequest, Seq: 1, Timestamp: 5}.Append(nil)
		for _, b := range [][]byte{{0xff}, {}, echo} {
			if _, err := raw.Write(b); err != nil {
				t.Fatal(err)
			}
		}
		// The answer to the echo comes after the server read the garbage.
		raw.SetReadDeadline(time.Now().Add(waitLimit))
		buf := make([]byte, 64)
		n, err := raw.Read(buf)
		if err != nil {
			t.Fatal(err)
		}
		if m, err := Parse(buf[:n]); err != nil || m != (Message{Type: TypeEchoResponse, Seq: 1, Timestamp: 5}) {
			t.Errorf("answer %+v, %v", m, err)
		}
		if st := s.Stats(); st.Malformed != 2 || st.EventsDropped != 0 {
			t.Errorf("server stats %+v, want 2 malformed", st)
		}
	})
	if st := c.Stats(); st.Malformed != 0 || st.Unexpected != 0 || st.SendErrors != 0 {
		t.Errorf("client stats %+v", st)
	}
}

// TestManyUEs: UEs are told apart by their source address.
func TestManyUEs(t *testing.T) {
	ues := map[netip.Addr]atsss.SEID{
		netip.MustParseAddr("127.0.0.2"): 2,
		netip.MustParseAddr("127.0.0.3"): 3,
		netip.MustParseAddr("127.0.0.4"): 4,
	}
	s := startServer(t, Config{EchoInterval: -1, PLRInterval: -1, Lookup: func(_ Listener, ue netip.AddrPort) (atsss.SEID, bool) {
		seid, ok := ues[ue.Addr()]
		return seid, ok
	}})
	ctx := ctxT(t)
	for a := range ues {
		c := startClient(t, ClientConfig{Server: serverPorts(s), Local: [2]netip.AddrPort{netip.AddrPortFrom(a, 0), netip.AddrPortFrom(a, 0)}})
		for _, acc := range atsss.Accesses {
			if _, err := c.Echo(ctx, acc); err != nil {
				t.Fatalf("UE %v echo on %v: %v", a, acc, err)
			}
		}
	}
	learned := map[PathID]bool{}
	for len(learned) < 6 {
		e := waitFor(t, s, "learned", func(e Event) bool { return e.Kind == KindLearned })
		learned[e.Path] = true
		if ues[e.UE.Addr()] != e.Path.SEID {
			t.Errorf("learned %+v: address and session do not match", e)
		}
	}
	for id := range learned {
		if err := s.Probe(id); err != nil {
			t.Fatal(err)
		}
	}
	rtt := map[PathID]bool{}
	for len(rtt) < 6 {
		e := waitFor(t, s, "rtt", func(e Event) bool { return e.Kind == KindRTT })
		rtt[e.Path] = true
	}

	stranger := startClient(t, ClientConfig{Server: serverPorts(s), Local: [2]netip.AddrPort{netip.AddrPortFrom(netip.MustParseAddr("127.0.0.9"), 0)}})
	short, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	if _, err := stranger.Echo(short, atsss.Access3GPP); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("unknown UE's echo: %v, want no answer", err)
	}
	for deadline := time.Now().Add(waitLimit); s.Stats().UnknownUE == 0; {
		if time.Now().After(deadline) {
			t.Fatal("unknown UE not counted")
		}
		time.Sleep(time.Millisecond)
	}
}

// TestPeriodicLoopback: the Server probes and measures PLR on its own.
func TestPeriodicLoopback(t *testing.T) {
	s := startServer(t, Config{EchoInterval: 10 * time.Millisecond, PLRInterval: 50 * time.Millisecond, Tick: 5 * time.Millisecond})
	c := startClient(t, ClientConfig{Server: serverPorts(s)})
	if _, err := c.Echo(ctxT(t), atsss.AccessNon3GPP); err != nil {
		t.Fatal(err)
	}
	id := PathID{SEID: 7, Access: atsss.AccessNon3GPP}
	waitFor(t, s, "rtt", func(e Event) bool { return e.Kind == KindRTT && e.Path == id && e.Samples >= 3 })
	e := waitFor(t, s, "plr", func(e Event) bool { return e.Kind == KindPLR && e.Sent > 0 })
	if e.Received != e.Sent || e.PLR != 0 {
		t.Errorf("plr %+v: loopback lost nothing", e)
	}
}

func TestLifecycle(t *testing.T) {
	cfg := Config{
		Listen: []Listener{{Addr: netip.AddrPortFrom(loopback, 0)}},
		Lookup: func(Listener, netip.AddrPort) (atsss.SEID, bool) { return 0, false },
	}
	t.Run("close before run", func(t *testing.T) {
		s, err := Listen(cfg)
		if err != nil {
			t.Fatal(err)
		}
		s.Close()
		s.Close()
		if _, ok := <-s.Events(); ok {
			t.Error("events open after Close")
		}
		if err := s.Run(t.Context()); !errors.Is(err, ErrClosed) {
			t.Errorf("Run after Close: %v", err)
		}
	})
	t.Run("context ends run", func(t *testing.T) {
		s, err := Listen(cfg)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(t.Context())
		errc := make(chan error, 1)
		go func() { errc <- s.Run(ctx) }()
		cancel()
		if err := <-errc; err != nil {
			t.Errorf("Run: %v", err)
		}
		for range s.Events() {
		}
		s.Close()
		if err := s.Probe(PathID{}); !errors.Is(err, ErrClosed) {
			t.Errorf("Probe after Close: %v", err)
		}
	})
	t.Run("close waits for run", func(t *testing.T) {
		s, err := Listen(cfg)
		if err != nil {
			t.Fatal(err)
		}
		go s.Run(t.Context())
		for !s.isRunning() {
			time.Sleep(time.Millisecond)
		}
		s.Close()
		// Run closes Events after its goroutines ended, before Close returns.
		select {
		case _, ok := <-s.Events():
			if ok {
				t.Error("an event after Close")
			}
		default:
			t.Error("Close returned before Run finished")
		}
	})
	t.Run("bad config", func(t *testing.T) {
		for _, bad := range []Config{
			{},
			{Listen: cfg.Listen},
			{Listen: []Listener{{Access: 2, Addr: netip.AddrPortFrom(loopback, 0)}}, Lookup: cfg.Lookup},
			{Listen: []Listener{{QFI: 64, Addr: netip.AddrPortFrom(loopback, 0)}}, Lookup: cfg.Lookup},
			{Listen: cfg.Listen, Lookup: cfg.Lookup, RTTGain: 2},
			{Listen: cfg.Listen, Lookup: cfg.Lookup, PLRMinMessages: -1},
		} {
			if s, err := Listen(bad); err == nil {
				s.Close()
				t.Errorf("Listen(%+v) accepted", bad)
			}
		}
	})
}

func (s *Server) isRunning() bool {
	s.life.Lock()
	defer s.life.Unlock()
	return s.running
}

func TestStoreLookup(t *testing.T) {
	st, err := atsss.NewStore(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	sess := atssstest.Session(5)
	if err := st.Put(t.Context(), sess); err != nil {
		t.Fatal(err)
	}
	lookup := StoreLookup(st)
	ue := netip.AddrPortFrom(sess.MAPDUAddrs()[0], 40000)
	pmf := sess.ATSSS.Params.PMF[0]
	for _, tc := range []struct {
		name string
		l    Listener
		ue   netip.AddrPort
		ok   bool
	}{
		{"3gpp port", Listener{Addr: netip.AddrPortFrom(loopback, pmf.Ports[atsss.Access3GPP]), Access: atsss.Access3GPP}, ue, true},
		{"non-3gpp port", Listener{Addr: netip.AddrPortFrom(loopback, pmf.Ports[atsss.AccessNon3GPP]), Access: atsss.AccessNon3GPP}, ue, true},
		{"port of the other access", Listener{Addr: netip.AddrPortFrom(loopback, pmf.Ports[atsss.Access3GPP]), Access: atsss.AccessNon3GPP}, ue, false},
		{"qfi without PMF", Listener{Addr: netip.AddrPortFrom(loopback, pmf.Ports[atsss.Access3GPP]), Access: atsss.Access3GPP, QFI: 9}, ue, false},
		{"unknown UE", Listener{Addr: netip.AddrPortFrom(loopback, pmf.Ports[atsss.Access3GPP]), Access: atsss.Access3GPP}, netip.MustParseAddrPort("198.51.100.200:1"), false},
	} {
		seid, ok := lookup(tc.l, tc.ue)
		if ok != tc.ok || (ok && seid != 5) {
			t.Errorf("%s: lookup = %v, %v; want ok %v", tc.name, seid, ok, tc.ok)
		}
	}
}

func TestPortListeners(t *testing.T) {
	got := PortListeners([]netip.Addr{loopback}, 50000, 9)
	want := []Listener{
		{Addr: netip.AddrPortFrom(loopback, 50000), Access: atsss.Access3GPP},
		{Addr: netip.AddrPortFrom(loopback, 50001), Access: atsss.AccessNon3GPP},
		{Addr: netip.AddrPortFrom(loopback, 50018), Access: atsss.Access3GPP, QFI: 9},
		{Addr: netip.AddrPortFrom(loopback, 50019), Access: atsss.AccessNon3GPP, QFI: 9},
	}
	if len(got) != len(want) {
		t.Fatalf("got %+v", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("[%d] = %+v, want %+v", i, got[i], want[i])
		}
	}
}
