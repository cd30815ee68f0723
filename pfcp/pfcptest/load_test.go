package pfcptest

import (
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/wmnsk/go-pfcp/ie"
	"github.com/wmnsk/go-pfcp/message"

	"github.com/openatsss/atsss/atsss"
	"github.com/openatsss/atsss/pfcp/atsssie"
)

func TestLoad(t *testing.T) {
	const n = 300
	upf := NewFakeUPF(t, nil)
	c, err := Dial(t.Context(), netip.AddrPort{}, upf.Addr(), "smf.example.net")
	if err != nil {
		t.Fatal(err)
	}
	runClient(t, c)
	spec := DefaultSpec()
	spec.UEIP = netip.MustParseAddr("198.18.0.1")
	var mu sync.Mutex
	accepted := map[atsss.SEID]atsss.SEID{} // CP SEID to UP SEID, as Accepted saw them
	r, err := Load(t.Context(), c, LoadConfig{Spec: spec, Sessions: n, Concurrency: 8, Delete: true,
		Accepted: func(cp, up atsss.SEID) {
			mu.Lock()
			defer mu.Unlock()
			accepted[cp] = up
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(accepted) != n || accepted[1] != FakeUPSEID(1) || accepted[n] != FakeUPSEID(n) {
		t.Errorf("Accepted saw %d sessions, CP SEID 1 with UP SEID %v, %d with %v; want %d, %v and %v",
			len(accepted), accepted[1], n, accepted[n], n, FakeUPSEID(1), FakeUPSEID(n))
	}
	if diff := cmp.Diff(map[Cause]int{atsssie.CauseAccepted: n}, r.Causes); diff != "" || r.Failed != 0 || r.Deleted != n {
		t.Errorf("causes (-want +got):\n%s\nfailed %d (%v), deleted %d", diff, r.Failed, r.Err, r.Deleted)
	}
	if r.Latency.P50 <= 0 || r.Latency.P50 > r.Latency.P99 || r.Latency.P99 > r.Latency.Max {
		t.Errorf("latency %+v", r.Latency)
	}

	seids := map[atsss.SEID]bool{}
	ues := map[netip.Addr]bool{}
	deleted := 0
	for _, req := range upf.Requests() {
		switch req := req.(type) {
		case *message.SessionEstablishmentRequest:
			f, _ := req.CPFSEID.FSEID()
			seids[atsss.SEID(f.SEID)] = true
			ue, _ := req.CreatePDR[0].UEIPAddress()
			a, _ := netip.AddrFromSlice(ue.IPv4Address)
			ues[a] = true
		case *message.SessionDeletionRequest:
			deleted++
		}
	}
	if len(seids) != n || len(ues) != n || !seids[1] || !seids[n] || !ues[netip.MustParseAddr("198.18.1.44")] || deleted != n {
		t.Errorf("UPF saw %d CP SEIDs, %d UE addresses, %d deletions; want %d of each from SEID 1 and 198.18.0.1", len(seids), len(ues), deleted, n)
	}
	if _, ok := c.UPSEID(1); ok {
		t.Error("the client still knows a deleted session")
	}
}

// TestLoadCauses: rejections are counted per Cause, not taken for errors,
// and unanswered establishments are failures.
func TestLoadCauses(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var seen atomic.Int64
		flooded := func(req message.Message) message.Message {
			if _, ok := req.(*message.SessionEstablishmentRequest); !ok {
				return Accept(req)
			}
			switch seen.Add(1) % 4 {
			case 1:
				return message.NewSessionEstablishmentResponse(0, 0, 0, req.Sequence(), 0, ie.NewCause(uint8(atsssie.CauseCongestion)))
			case 2:
				return message.NewSessionEstablishmentResponse(0, 0, 0, req.Sequence(), 0, ie.NewCause(uint8(atsssie.CauseNoResources)))
			case 3:
				return nil
			}
			return Accept(req)
		}
		c, _ := memClient(t, Dialer{N1: -1}, flooded)
		r, err := Load(t.Context(), c, LoadConfig{Spec: DefaultSpec(), Sessions: 100, Concurrency: 10})
		if err != nil {
			t.Fatal(err)
		}
		want := map[Cause]int{atsssie.CauseAccepted: 25, atsssie.CauseCongestion: 25, atsssie.CauseNoResources: 25}
		if diff := cmp.Diff(want, r.Causes); diff != "" || r.Failed != 25 || r.Done() != 100 {
			t.Errorf("causes (-want +got):\n%s\nfailed %d, done %d", diff, r.Failed, r.Done())
		}
	})
}

// TestLoadRate runs at 100 establishments a second, in fake time, and
// reports progress once a second.
func TestLoadRate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, _ := memClient(t, Dialer{}, nil)
		var progress []LoadResult
		r, err := Load(t.Context(), c, LoadConfig{
			Spec: DefaultSpec(), Sessions: 250, Rate: 100, Concurrency: 16,
			Progress: func(r LoadResult) { progress = append(progress, r) },
		})
		if err != nil {
			t.Fatal(err)
		}
		// One at once, then one every 10 ms.
		if r.Elapsed != 2490*time.Millisecond || r.Causes[atsssie.CauseAccepted] != 250 {
			t.Errorf("%d accepted in %v, want 250 in 2.49s", r.Causes[atsssie.CauseAccepted], r.Elapsed)
		}
		if len(progress) != 2 {
			t.Fatalf("%d progress reports, want 2", len(progress))
		}
		for i, p := range progress {
			if want := 100 * (i + 1); p.Elapsed != time.Duration(i+1)*time.Second || p.Done() < want || p.Done() > want+1 {
				t.Errorf("progress %d: %d done at %v, want %d at %ds", i, p.Done(), p.Elapsed, want, i+1)
			}
		}
	})
}

// BenchmarkLoad measures Load against a UPF that answers each
// establishment from one pre-encoded response, so that the client's cost
// dominates: what a load run can ask of a UPF on the same machine.
func BenchmarkLoad(b *testing.B) {
	conn, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.MustParseAddrPort("127.0.0.1:0")))
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	resp := encode(b, Accept(Establishment(DefaultSpec(), 0)))
	go func() {
		buf := make([]byte, 64<<10)
		for {
			_, from, err := conn.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			copy(resp[12:15], buf[12:15]) // the sequence number
			conn.WriteToUDPAddrPort(resp, from)
		}
	}()
	c, err := (&Dialer{T1: time.Minute}).Dial(b.Context(), netip.AddrPort{}, conn.LocalAddr().(*net.UDPAddr).AddrPort(), "smf.example.net")
	if err != nil {
		b.Fatal(err)
	}
	go c.Run(b.Context())
	b.ReportAllocs()
	b.ResetTimer()
	r, err := Load(b.Context(), c, LoadConfig{Spec: DefaultSpec(), Sessions: b.N, Concurrency: 64})
	if err != nil || r.Causes[atsssie.CauseAccepted] != b.N {
		b.Fatalf("%+v, %v", r, err)
	}
	b.ReportMetric(r.Rate(), "est/s")
}
