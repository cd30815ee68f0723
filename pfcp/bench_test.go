package pfcp_test

import (
	"context"
	"net/netip"
	"path/filepath"
	"testing"

	"github.com/openatsss/atsss/atsss"
	"github.com/openatsss/atsss/atsss/boltstore"
	"github.com/openatsss/atsss/pfcp"
	"github.com/openatsss/atsss/pfcp/atsssie"
	"github.com/openatsss/atsss/pfcp/pfcptest"
)

// BenchmarkEstablish measures session establishments through the whole N4
// path over loopback UDP: decode, allocate, validate, durable group commit
// to bbolt, respond. The client keeps 128 establishments in flight, as
// smfsim load does. The figure that matters is establishments/s.
func BenchmarkEstablish(b *testing.B) {
	for _, durable := range []bool{false, true} {
		name := "memory"
		if durable {
			name = "bbolt"
		}
		b.Run(name, func(b *testing.B) {
			var backend atsss.Backend
			if durable {
				bs, err := boltstore.Open(filepath.Join(b.TempDir(), "s.db"), boltstore.Options{})
				if err != nil {
					b.Fatal(err)
				}
				backend = bs
			}
			store, err := atsss.NewStore(backend)
			if err != nil {
				b.Fatal(err)
			}
			defer store.Close()
			cfg := testConfig()
			cfg.MaxSessions, cfg.PeerRate, cfg.PeerBurst = 1<<30, 1e9, 1<<20
			cfg.ATSSS.MPTCP.LinkSpecificPools = pfcp.AccessPools{
				ThreeGPP: []netip.Prefix{netip.MustParsePrefix("2001:db8:1::/64")},
				Non3GPP:  []netip.Prefix{netip.MustParsePrefix("2001:db8:2::/64")},
			}
			srv, err := pfcp.New(cfg, store, pfcp.Options{})
			if err != nil {
				b.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			go srv.Run(ctx)
			<-srv.Ready()
			c, err := pfcptest.Dial(ctx, netip.MustParseAddrPort("127.0.0.1:0"), srv.Addrs()[0], "smf.bench")
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			go c.Run(ctx)
			if _, err := c.Associate(ctx); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			res, err := pfcptest.Load(ctx, c, pfcptest.LoadConfig{Spec: pfcptest.DefaultSpec(), Sessions: b.N, Concurrency: 128})
			if err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			if res.Failed > 0 || res.Causes[atsssie.CauseAccepted] != b.N {
				b.Fatalf("load: %+v", res)
			}
			b.ReportMetric(res.Rate(), "est/s")
			b.ReportMetric(float64(res.Latency.P99.Microseconds()), "p99-µs")
		})
	}
}
