package server_test

import (
	"context"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"

	atsssv1 "github.com/openatsss/atsss/api/atsss/v1"
	"github.com/openatsss/atsss/api/policystore"
	"github.com/openatsss/atsss/api/policystore/etcdtest"
	"github.com/openatsss/atsss/atsss"
	"github.com/openatsss/atsss/atsss/atssstest"
)

// storeOf returns an in-memory session store holding sessions 1..n of
// atssstest, closed with b.
func storeOf(b *testing.B, n int) *atsss.Store {
	b.Helper()
	st, err := atsss.NewStore(nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	ctx := context.Background()
	for i := 1; i <= n; i++ {
		if err := st.Put(ctx, atssstest.Session(atsss.SEID(i))); err != nil {
			b.Fatal(err)
		}
	}
	return st
}

// BenchmarkPolicyApply10k measures what an operator waits for when a
// policy changes over 10 000 live sessions: from PutPolicy over gRPC until
// the policy holder the data planes follow has the new set (put-to-set)
// and the steering in force of every session has been recomputed under it
// (effective-10k), which is what GetSession then shows. The policy, Load-
// Balancing for the sessions' downlink SDF filter, applies to all of them.
// The data planes' own re-decision is measured in their packages.
func BenchmarkPolicyApply10k(b *testing.B) {
	const n = 10_000
	for _, backend := range []string{"bolt", "etcd"} {
		b.Run(backend, func(b *testing.B) {
			var ps policystore.Store
			if backend == "etcd" {
				ps = newEtcdStore(b, etcdtest.Start(b))
			}
			h := start(b, options{auth: tokenAuth(), sessions: storeOf(b, n), policyStore: ps})
			c := h.dial(b, operatorToken)
			sessions := h.sessions.Sessions()
			wake, stop := h.policies.Subscribe()
			defer stop()
			ctx := context.Background()
			var toSet, toEffective time.Duration
			load := uint32(0)
			b.ReportAllocs()
			for b.Loop() {
				load = (load + 1) % 100 // a new split each time
				t0 := time.Now()
				resp, err := c.policies.PutPolicy(ctx, &atsssv1.PutPolicyRequest{Policy: lbPolicy("policies/all", "permit out ip from any to assigned", load)})
				if err != nil {
					b.Fatal(err)
				}
				rev := resp.GetPolicy().GetRevision()
				var set *atsss.PolicySet
				for set == nil {
					if s, _ := h.policies.Current(); s.Len() == 1 && s.All()[0].Revision == rev {
						set = s
						break
					}
					select {
					case <-wake:
					case <-time.After(10 * time.Second):
						b.Fatal("policy not in force after 10 s")
					}
				}
				t1 := time.Now()
				for _, s := range sessions {
					eff := atsss.Effective(s, set)
					if eff[0].Policy == nil || eff[0].Err != nil || eff[0].MAR.Legs[atsss.Access3GPP].Weight.Value != uint8(load) {
						b.Fatalf("session %v: %+v", s.LocalSEID, eff[0])
					}
				}
				t2 := time.Now()
				toSet += t1.Sub(t0)
				toEffective += t2.Sub(t1)
			}
			b.ReportMetric(float64(toSet.Nanoseconds())/float64(b.N), "put-to-set-ns/op")
			b.ReportMetric(float64(toEffective.Nanoseconds())/float64(b.N), "effective-10k-ns/op")
		})
	}
}

// BenchmarkPolicyWatched10k measures a policy change as a watcher of all
// sessions sees it: from PutPolicy over gRPC until one WatchSessions
// stream has received a MODIFIED event for each of the 10 000 sessions the
// policy re-steers.
func BenchmarkPolicyWatched10k(b *testing.B) {
	const n = 10_000
	h := start(b, options{auth: tokenAuth(), sessions: storeOf(b, n)})
	c := h.dial(b, operatorToken)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s, err := c.sessions.WatchSessions(ctx, &atsssv1.WatchSessionsRequest{Initial: true})
	if err != nil {
		b.Fatal(err)
	}
	for range n {
		if _, err := s.Recv(); err != nil {
			b.Fatal(err)
		}
	}
	load := uint32(0)
	for b.Loop() {
		load = (load + 1) % 100
		if _, err := c.policies.PutPolicy(ctx, &atsssv1.PutPolicyRequest{Policy: lbPolicy("policies/all", "permit out ip from any to assigned", load)}); err != nil {
			b.Fatal(err)
		}
		for range n {
			r, err := s.Recv()
			if err != nil {
				b.Fatal(err)
			}
			if e := r.GetSessionEvent(); e.GetType() != atsssv1.SessionEventType_SESSION_EVENT_TYPE_MODIFIED ||
				e.GetSession().GetMars()[0].GetEffectiveSteeringDl().GetThreeGLoad() != load {
				b.Fatalf("got %v, want MODIFIED with three_g_load %d", e, load)
			}
		}
	}
}

// BenchmarkGetSession10k is one GetSession over gRPC with 10 000 sessions
// and a policy in force for every one: the cost of showing the effective
// steering.
func BenchmarkGetSession10k(b *testing.B) {
	h := start(b, options{auth: tokenAuth(), sessions: storeOf(b, 10_000)})
	h.seed(b, lbPolicy("policies/all", "permit out ip from any to assigned", 80))
	c := h.dial(b, viewerToken)
	ctx := context.Background()
	var seid uint64
	b.ReportAllocs()
	for b.Loop() {
		seid = seid%10_000 + 1
		r, err := c.sessions.GetSession(ctx, &atsssv1.GetSessionRequest{Seid: seid})
		if err != nil || r.GetSession().GetMars()[0].GetPolicy() != "policies/all" {
			b.Fatal(r, err)
		}
	}
}

// BenchmarkWatch100 runs 100 WatchSessions subscribers, each with its own
// connection (100 atsssctl watch), with throughput samples every 100 ms,
// over 100 sessions whose data plane counters grow. Each round is one
// session change, at 10 per second (a busy SMF's pace for 100 sessions),
// that every subscriber must receive. It reports the CPU the process used
// per second of wall time (server and the 100 clients: they share the
// process), the heap in use with the subscribers, and the time from a
// store change to its arrival at the last subscriber.
func BenchmarkWatch100(b *testing.B) {
	const subscribers, sessions = 100, 100
	const interval = 100 * time.Millisecond
	access := newFakeAccess()
	for i := 1; i <= sessions; i++ {
		access.update(atsss.SEID(i), func(s *[2]atsss.AccessState) { s[0], s[1] = up(20*time.Millisecond), up(8*time.Millisecond) })
	}
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)

	h := start(b, options{auth: tokenAuth(), sessions: storeOf(b, sessions), access: access})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var (
		mu       sync.Mutex
		cond     = sync.NewCond(&mu)
		got      = make([]uint64, subscribers) // per subscriber: the last round it saw
		messages atomic.Int64
		failed   atomic.Value
	)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	for i := range subscribers {
		c := h.dial(b, viewerToken)
		s, err := c.sessions.WatchSessions(ctx, &atsssv1.WatchSessionsRequest{Initial: true, SampleInterval: durationpb.New(interval)})
		if err != nil {
			b.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				r, err := s.Recv()
				if err != nil {
					if ctx.Err() == nil {
						failed.Store(err)
						cond.Broadcast()
					}
					return
				}
				messages.Add(1)
				// The round number travels in the session's CP SEID.
				if e := r.GetSessionEvent(); e.GetType() == atsssv1.SessionEventType_SESSION_EVENT_TYPE_MODIFIED {
					mu.Lock()
					got[i] = e.GetSession().GetCpSeid()
					mu.Unlock()
					cond.Broadcast()
				}
			}
		}()
	}
	// Let the streams settle (initial events, first samples).
	time.Sleep(3 * interval)
	runtime.GC()
	var with runtime.MemStats
	runtime.ReadMemStats(&with)

	var ru0, ru1 syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
	messages.Store(0)
	t0 := time.Now()
	var fanout time.Duration
	round := uint64(0)
	for b.Loop() {
		round++
		next := t0.Add(time.Duration(round) * interval)
		access.mu.Lock()
		for id, s := range access.states {
			s[0].DownlinkBytes += 1 << 20
			s[1].DownlinkBytes += 1 << 18
			access.states[id] = s
		}
		access.mu.Unlock()
		sess := atssstest.Session(atsss.SEID(1 + round%sessions))
		sess.RemoteSEID = atsss.SEID(round)
		t1 := time.Now()
		if err := h.sessions.Put(ctx, sess); err != nil {
			b.Fatal(err)
		}
		mu.Lock()
		for !all(got, round) && failed.Load() == nil {
			cond.Wait()
		}
		mu.Unlock()
		if err := failed.Load(); err != nil {
			b.Fatalf("a subscriber's stream ended: %v", err)
		}
		fanout += time.Since(t1)
		time.Sleep(time.Until(next))
	}
	wall := time.Since(t0)
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
	cpu := time.Duration(ru1.Utime.Nano()-ru0.Utime.Nano()) + time.Duration(ru1.Stime.Nano()-ru0.Stime.Nano())
	b.ReportMetric(cpu.Seconds()/wall.Seconds(), "cpu-s/s")
	b.ReportMetric(float64(with.HeapInuse)/(1<<20), "heap-MiB")
	b.ReportMetric(float64(int64(with.HeapInuse)-int64(before.HeapInuse))/subscribers/1024, "heap-KiB/subscriber")
	b.ReportMetric(float64(fanout.Nanoseconds())/float64(b.N), "fanout-ns/op")
	b.ReportMetric(float64(messages.Load())/wall.Seconds(), "msgs/s")
}

func all(got []uint64, round uint64) bool {
	for _, r := range got {
		if r < round {
			return false
		}
	}
	return true
}
