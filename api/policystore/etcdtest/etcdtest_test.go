package etcdtest_test

import (
	"testing"
	"time"

	"github.com/openatsss/atsss/api/policystore/etcdtest"
)

func TestStart(t *testing.T) {
	cli := etcdtest.Start(t)
	other := etcdtest.NewClient(t, cli.Endpoints()...)
	if _, err := cli.Put(t.Context(), "k", "v"); err != nil {
		t.Fatal(err)
	}
	resp, err := other.Get(t.Context(), "k")
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Kvs) != 1 || string(resp.Kvs[0].Value) != "v" {
		t.Errorf("second client read %v, want k=v", resp.Kvs)
	}
}

// BenchmarkStart measures a server's start until it serves (ready-ms) and
// its stop (stop-ms), as each test that uses one pays them.
func BenchmarkStart(b *testing.B) {
	var ready, stop time.Duration
	for b.Loop() {
		start := time.Now()
		tb := &cleanupTB{TB: b}
		cli := etcdtest.Start(tb)
		if _, err := cli.Get(b.Context(), "k"); err != nil {
			b.Fatal(err)
		}
		ready += time.Since(start)
		stopping := time.Now()
		tb.cleanup()
		stop += time.Since(stopping)
	}
	b.ReportMetric(float64(ready.Milliseconds())/float64(b.N), "ready-ms")
	b.ReportMetric(float64(stop.Milliseconds())/float64(b.N), "stop-ms")
}

// cleanupTB runs the cleanups registered on it when told, so that one
// benchmark can start and stop many servers.
type cleanupTB struct {
	testing.TB
	fns []func()
}

func (t *cleanupTB) Cleanup(fn func()) { t.fns = append(t.fns, fn) }

func (t *cleanupTB) cleanup() {
	for i := len(t.fns) - 1; i >= 0; i-- {
		t.fns[i]()
	}
	t.fns = nil
}
