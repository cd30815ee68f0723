package policystore_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"

	atsssv1 "github.com/openatsss/atsss/api/atsss/v1"
	"github.com/openatsss/atsss/api/policystore"
	"github.com/openatsss/atsss/api/policystore/etcdtest"
	"github.com/openatsss/atsss/atsss"
	"github.com/openatsss/atsss/atsss/boltstore"
)

const (
	put     = atsssv1.PolicyEventType_POLICY_EVENT_TYPE_PUT
	deleted = atsssv1.PolicyEventType_POLICY_EVENT_TYPE_DELETED
)

// backend opens empty stores of one kind; t.Cleanup closes them.
type backend struct {
	name string
	open func(t *testing.T, opts policystore.Options) policystore.Store
}

// backends returns both backends. The etcd one shares one embedded server
// among the stores of t, each under a prefix of its own.
func backends(t *testing.T) []backend {
	var (
		once sync.Once
		cli  *clientv3.Client
		n    int
		mu   sync.Mutex
	)
	return []backend{
		{"bolt", func(t *testing.T, opts policystore.Options) policystore.Store {
			db := openBolt(t, filepath.Join(t.TempDir(), "atsss.db"))
			s, err := policystore.NewBolt(db.DB(), opts)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			return s
		}},
		{"etcd", func(tt *testing.T, opts policystore.Options) policystore.Store {
			// The server outlives the subtests: it belongs to their parent.
			once.Do(func() { cli = etcdtest.Start(t) })
			mu.Lock()
			n++
			prefix := fmt.Sprintf("/test/%d/", n)
			mu.Unlock()
			s, err := policystore.NewEtcd(cli, prefix, opts)
			if err != nil {
				tt.Fatal(err)
			}
			tt.Cleanup(func() { s.Close() })
			return s
		}},
	}
}

// openBolt opens the sessions' bbolt file at path, as atsssd does; the
// policy store shares it. t.Cleanup closes it.
func openBolt(t testing.TB, path string) *boltstore.Store {
	t.Helper()
	db, err := boltstore.Open(path, boltstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// pol returns a valid policy: load-balancing 80/20 for the DNN "internet".
func pol(name string, precedence uint32) *atsssv1.Policy {
	return &atsssv1.Policy{
		Name:       name,
		Precedence: precedence,
		Match:      &atsssv1.PolicyMatch{Key: &atsssv1.PolicyMatch_Dnn{Dnn: "internet"}},
		SteerModeDl: &atsssv1.SteeringMode{
			SteerModeValue: atsssv1.SteeringModeValue_STEERING_MODE_VALUE_LOAD_BALANCING,
			ThreeGLoad:     proto.Uint32(80),
		},
	}
}

func mustPut(t *testing.T, s policystore.Store, p *atsssv1.Policy, expectedRevision uint64) *atsssv1.Policy {
	t.Helper()
	stored, _, err := s.Put(t.Context(), p, expectedRevision)
	if err != nil {
		t.Fatal(err)
	}
	return stored
}

// next returns w's next event, waiting for it.
func next(t *testing.T, w *policystore.Watch) policystore.Event {
	t.Helper()
	ev, ok := <-w.C
	if !ok {
		t.Fatalf("watch ended: %v", w.Err())
	}
	return ev
}

// drain returns the events left in w until it ends.
func drain(w *policystore.Watch) []policystore.Event {
	var evs []policystore.Event
	for ev := range w.C {
		evs = append(evs, ev)
	}
	return evs
}

func names(ps []*atsssv1.Policy) []string {
	var ns []string
	for _, p := range ps {
		ns = append(ns, p.GetName())
	}
	return ns
}

func diff(want, got any) string { return cmp.Diff(want, got, protocmp.Transform()) }

// behaviours is the conformance suite: each runs on an empty store of each
// backend.
var behaviours = []struct {
	name string
	opts policystore.Options
	run  func(t *testing.T, s policystore.Store)
}{
	{name: "create", run: func(t *testing.T, s policystore.Store) {
		in := pol("policies/a", 10)
		stored, created, err := s.Put(t.Context(), in, 0)
		if err != nil || !created {
			t.Fatalf("Put = %v, %v; want created", created, err)
		}
		if stored.Revision == 0 || stored.UpdateTime == nil {
			t.Errorf("stored revision %d, update time %v; want both set", stored.Revision, stored.UpdateTime)
		}
		want := proto.CloneOf(in)
		want.Revision, want.UpdateTime = stored.Revision, stored.UpdateTime
		if d := diff(want, stored); d != "" {
			t.Errorf("Put returned (-want +got):\n%s", d)
		}
		got, err := s.Get(t.Context(), "policies/a")
		if err != nil {
			t.Fatal(err)
		}
		if d := diff(stored, got); d != "" {
			t.Errorf("Get (-put +got):\n%s", d)
		}
	}},
	{name: "input revision and update time are ignored", run: func(t *testing.T, s policystore.Store) {
		in := pol("policies/a", 10)
		in.Revision = 1 << 40
		in.UpdateTime = nil
		stored := mustPut(t, s, in, 0)
		if stored.Revision == 1<<40 || stored.UpdateTime == nil {
			t.Errorf("stored revision %d, update time %v; want the store's", stored.Revision, stored.UpdateTime)
		}
		if in.Revision != 1<<40 || in.UpdateTime != nil {
			t.Errorf("Put changed its input: %v", in)
		}
	}},
	{name: "replace grows the revision", run: func(t *testing.T, s policystore.Store) {
		first := mustPut(t, s, pol("policies/a", 10), 0)
		second, created, err := s.Put(t.Context(), pol("policies/a", 20), 0)
		if err != nil || created {
			t.Fatalf("second Put = %v, %v; want replaced", created, err)
		}
		if second.Revision <= first.Revision {
			t.Errorf("revision %d after %d, want it to grow", second.Revision, first.Revision)
		}
		got, err := s.Get(t.Context(), "policies/a")
		if err != nil {
			t.Fatal(err)
		}
		if got.Precedence != 20 || got.Revision != second.Revision {
			t.Errorf("Get = precedence %d revision %d, want 20, %d", got.Precedence, got.Revision, second.Revision)
		}
	}},
	{name: "revision grows across delete and re-create", run: func(t *testing.T, s policystore.Store) {
		first := mustPut(t, s, pol("policies/a", 10), 0)
		mustPut(t, s, pol("policies/b", 10), 0) // another name's write in between
		if _, err := s.Delete(t.Context(), "policies/a", 0); err != nil {
			t.Fatal(err)
		}
		again, created, err := s.Put(t.Context(), pol("policies/a", 10), 0)
		if err != nil || !created {
			t.Fatalf("re-create = %v, %v; want created", created, err)
		}
		if again.Revision <= first.Revision {
			t.Errorf("revision %d after re-create, was %d: want it to grow", again.Revision, first.Revision)
		}
	}},
	{name: "conditional put", run: func(t *testing.T, s policystore.Store) {
		ctx := t.Context()
		if _, _, err := s.Put(ctx, pol("policies/a", 1), 1); !errors.Is(err, policystore.ErrRevisionMismatch) {
			t.Errorf("conditional Put of a missing policy = %v, want ErrRevisionMismatch", err)
		}
		if _, err := s.Get(ctx, "policies/a"); !errors.Is(err, policystore.ErrNotFound) {
			t.Errorf("failed conditional Put created the policy: Get = %v", err)
		}
		v1 := mustPut(t, s, pol("policies/a", 1), 0)
		v2 := mustPut(t, s, pol("policies/a", 2), v1.Revision)
		for _, stale := range []uint64{v1.Revision, v2.Revision + 1000, 1<<64 - 1} {
			_, _, err := s.Put(ctx, pol("policies/a", 3), stale)
			if !errors.Is(err, policystore.ErrRevisionMismatch) {
				t.Errorf("Put expecting revision %d (stored %d) = %v, want ErrRevisionMismatch", stale, v2.Revision, err)
			}
		}
		got, err := s.Get(ctx, "policies/a")
		if err != nil || got.Precedence != 2 {
			t.Errorf("after failed conditional Puts Get = %v, %v; want precedence 2", got, err)
		}
	}},
	{name: "conditional delete", run: func(t *testing.T, s policystore.Store) {
		ctx := t.Context()
		if _, err := s.Delete(ctx, "policies/a", 1); !errors.Is(err, policystore.ErrNotFound) {
			t.Errorf("conditional Delete of a missing policy = %v, want ErrNotFound", err)
		}
		v1 := mustPut(t, s, pol("policies/a", 1), 0)
		v2 := mustPut(t, s, pol("policies/a", 2), 0)
		if _, err := s.Delete(ctx, "policies/a", v1.Revision); !errors.Is(err, policystore.ErrRevisionMismatch) {
			t.Errorf("Delete expecting stale revision = %v, want ErrRevisionMismatch", err)
		}
		got, err := s.Delete(ctx, "policies/a", v2.Revision)
		if err != nil {
			t.Fatal(err)
		}
		if d := diff(v2, got); d != "" {
			t.Errorf("Delete returned (-stored +got):\n%s", d)
		}
		if _, err := s.Get(ctx, "policies/a"); !errors.Is(err, policystore.ErrNotFound) {
			t.Errorf("Get after Delete = %v, want ErrNotFound", err)
		}
	}},
	{name: "not found", run: func(t *testing.T, s policystore.Store) {
		ctx := t.Context()
		mustPut(t, s, pol("policies/a", 1), 0)
		if _, err := s.Get(ctx, "policies/b"); !errors.Is(err, policystore.ErrNotFound) {
			t.Errorf("Get = %v, want ErrNotFound", err)
		}
		if _, err := s.Delete(ctx, "policies/b", 0); !errors.Is(err, policystore.ErrNotFound) {
			t.Errorf("Delete = %v, want ErrNotFound", err)
		}
		// A name that is a prefix of a stored one is another name.
		if _, err := s.Get(ctx, "policies/"); !errors.Is(err, policystore.ErrNotFound) {
			t.Errorf("Get of a prefix = %v, want ErrNotFound", err)
		}
	}},
	{name: "empty name", run: func(t *testing.T, s policystore.Store) {
		ctx := t.Context()
		if _, _, err := s.Put(ctx, pol("", 1), 0); err == nil {
			t.Error("Put without a name succeeded")
		}
		if _, _, err := s.Put(ctx, nil, 0); err == nil {
			t.Error("Put(nil) succeeded")
		}
		if _, err := s.Delete(ctx, "", 0); err == nil {
			t.Error("Delete without a name succeeded")
		}
	}},
	{name: "list pages in name order", run: func(t *testing.T, s policystore.Store) {
		ctx := t.Context()
		// Written out of order; "policies/a-b" sorts before "policies/ab"
		// ('-' < 'b'), and "policies/a" before both.
		all := []string{"policies/c", "policies/ab", "policies/a", "policies/b2", "policies/a-b", "policies/b", "policies/z"}
		for _, n := range all {
			mustPut(t, s, pol(n, 1), 0)
		}
		want := slices.Sorted(slices.Values(all))
		var got []string
		after := ""
		for page := 0; ; page++ {
			ps, err := s.List(ctx, after, 3)
			if err != nil {
				t.Fatal(err)
			}
			if len(ps) > 3 {
				t.Fatalf("page %d has %d policies, limit 3", page, len(ps))
			}
			if len(ps) == 0 {
				break
			}
			got = append(got, names(ps)...)
			after = ps[len(ps)-1].Name
		}
		if d := cmp.Diff(want, got); d != "" {
			t.Errorf("paged List (-want +got):\n%s", d)
		}
		ps, err := s.List(ctx, "", 0)
		if err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff(want, names(ps)); d != "" {
			t.Errorf("List without limit (-want +got):\n%s", d)
		}
		// after need not be a stored name.
		ps, err = s.List(ctx, "policies/b1", 2)
		if err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff([]string{"policies/b2", "policies/c"}, names(ps)); d != "" {
			t.Errorf("List after an unstored name (-want +got):\n%s", d)
		}
		for _, p := range ps {
			if p.Revision == 0 || p.UpdateTime == nil {
				t.Errorf("listed %s without revision or update time", p.Name)
			}
		}
	}},
	{name: "values are copies", run: func(t *testing.T, s policystore.Store) {
		ctx := t.Context()
		in := pol("policies/a", 1)
		stored := mustPut(t, s, in, 0)
		want := proto.CloneOf(stored)
		in.Precedence = 100
		in.SteerModeDl.ThreeGLoad = proto.Uint32(0)
		stored.Precedence = 101
		stored.SteerModeDl.ThreeGLoad = proto.Uint32(1)
		got, err := s.Get(ctx, "policies/a")
		if err != nil {
			t.Fatal(err)
		}
		got.Precedence = 102
		listed, err := s.List(ctx, "", 0)
		if err != nil {
			t.Fatal(err)
		}
		listed[0].SteerModeDl.ThreeGLoad = proto.Uint32(2)
		got, err = s.Get(ctx, "policies/a")
		if err != nil {
			t.Fatal(err)
		}
		if d := diff(want, got); d != "" {
			t.Errorf("stored policy changed through a returned value (-want +got):\n%s", d)
		}
	}},
	{name: "watch: snapshot then changes in order", run: func(t *testing.T, s policystore.Store) {
		ctx := t.Context()
		a := mustPut(t, s, pol("policies/a", 1), 0)
		b := mustPut(t, s, pol("policies/b", 2), 0)
		w, err := s.Watch(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if d := diff([]*atsssv1.Policy{a, b}, w.Snapshot); d != "" {
			t.Errorf("snapshot (-want +got):\n%s", d)
		}
		c := mustPut(t, s, pol("policies/c", 3), 0)
		a2 := mustPut(t, s, pol("policies/a", 4), a.Revision)
		gone, err := s.Delete(ctx, "policies/b", 0)
		if err != nil {
			t.Fatal(err)
		}
		want := []policystore.Event{{Type: put, Policy: c}, {Type: put, Policy: a2}, {Type: deleted, Policy: gone}}
		var got []policystore.Event
		for range want {
			got = append(got, next(t, w))
		}
		if d := diff(want, got); d != "" {
			t.Errorf("events (-want +got):\n%s", d)
		}
		if d := diff(b, gone); d != "" {
			t.Errorf("deleted policy (-last stored +deleted):\n%s", d)
		}
	}},
	{name: "watchers get their own copies", run: func(t *testing.T, s policystore.Store) {
		ctx := t.Context()
		w1, err := s.Watch(ctx)
		if err != nil {
			t.Fatal(err)
		}
		w2, err := s.Watch(ctx)
		if err != nil {
			t.Fatal(err)
		}
		stored := mustPut(t, s, pol("policies/a", 1), 0)
		e1 := next(t, w1)
		e1.Policy.Precedence = 99
		if d := diff(stored, next(t, w2).Policy); d != "" {
			t.Errorf("second watcher's event changed through the first's (-want +got):\n%s", d)
		}
	}},
	{name: "watch ends with its context", run: func(t *testing.T, s policystore.Store) {
		ctx, cancel := context.WithCancel(t.Context())
		w, err := s.Watch(ctx)
		if err != nil {
			t.Fatal(err)
		}
		cancel()
		drain(w)
		if !errors.Is(w.Err(), context.Canceled) {
			t.Errorf("Err = %v, want context.Canceled", w.Err())
		}
		mustPut(t, s, pol("policies/a", 1), 0) // no watcher left to block or panic on
		if _, err := s.Watch(ctx); err == nil {
			t.Error("Watch with an ended context succeeded")
		}
	}},
	{name: "a watcher that does not read is dropped", opts: policystore.Options{WatchBuffer: 4}, run: func(t *testing.T, s policystore.Store) {
		ctx := t.Context()
		w, err := s.Watch(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var stored []*atsssv1.Policy
		for i := range 6 { // more than the buffer: each Put must still return
			stored = append(stored, mustPut(t, s, pol(fmt.Sprintf("policies/p%d", i), 1), 0))
		}
		// The etcd backend forwards events from its own goroutine: wait
		// for it to find the buffer full before reading makes room.
		deadline := time.Now().Add(10 * time.Second)
		for w.Err() == nil {
			if time.Now().After(deadline) {
				t.Fatal("watcher not dropped 10 s after its buffer filled")
			}
			time.Sleep(time.Millisecond)
		}
		got := drain(w)
		if !errors.Is(w.Err(), policystore.ErrLagged) {
			t.Errorf("Err = %v, want ErrLagged", w.Err())
		}
		if len(got) > 4 {
			t.Errorf("%d events delivered, buffer is 4", len(got))
		}
		for i, ev := range got { // what was delivered is the feed's start
			if d := diff(policystore.Event{Type: put, Policy: stored[i]}, ev); d != "" {
				t.Errorf("event %d (-want +got):\n%s", i, d)
			}
		}
		// Watching again resyncs.
		w, err = s.Watch(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if d := diff(stored, w.Snapshot); d != "" {
			t.Errorf("snapshot after the drop (-want +got):\n%s", d)
		}
	}},
	{name: "concurrent conditional puts lose no update", run: func(t *testing.T, s policystore.Store) {
		const writers, increments = 4, 8
		ctx := t.Context()
		mustPut(t, s, pol("policies/counter", 0), 0)
		w, err := s.Watch(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		for range writers {
			wg.Go(func() {
				for range increments {
					for {
						p, err := s.Get(ctx, "policies/counter")
						if err != nil {
							t.Error(err)
							return
						}
						rev := p.Revision
						p.Precedence++
						_, _, err = s.Put(ctx, p, rev)
						if err == nil {
							break
						}
						if !errors.Is(err, policystore.ErrRevisionMismatch) {
							t.Error(err)
							return
						}
					}
				}
			})
		}
		wg.Wait()
		got, err := s.Get(ctx, "policies/counter")
		if err != nil {
			t.Fatal(err)
		}
		if got.Precedence != writers*increments {
			t.Errorf("counter = %d, want %d", got.Precedence, writers*increments)
		}
		var last uint64
		for i := range writers * increments {
			ev := next(t, w)
			if ev.Policy.Precedence != uint32(i+1) || ev.Policy.Revision <= last {
				t.Fatalf("event %d: precedence %d revision %d after %d; want precedence %d and a growing revision",
					i, ev.Policy.Precedence, ev.Policy.Revision, last, i+1)
			}
			last = ev.Policy.Revision
		}
	}},
	{name: "close", run: func(t *testing.T, s policystore.Store) {
		ctx := t.Context()
		mustPut(t, s, pol("policies/a", 1), 0)
		w, err := s.Watch(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		drain(w)
		if !errors.Is(w.Err(), policystore.ErrClosed) {
			t.Errorf("watch Err = %v, want ErrClosed", w.Err())
		}
		_, _, errPut := s.Put(ctx, pol("policies/b", 1), 0)
		_, errGet := s.Get(ctx, "policies/a")
		_, errList := s.List(ctx, "", 0)
		_, errDelete := s.Delete(ctx, "policies/a", 0)
		_, errWatch := s.Watch(ctx)
		for i, err := range []error{errPut, errGet, errList, errDelete, errWatch} {
			if !errors.Is(err, policystore.ErrClosed) {
				t.Errorf("call %d after Close = %v, want ErrClosed", i, err)
			}
		}
		if err := s.Close(); err != nil {
			t.Errorf("second Close = %v", err)
		}
	}},
}

func TestStore(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			for _, tc := range behaviours {
				t.Run(tc.name, func(t *testing.T) {
					tc.run(t, b.open(t, tc.opts))
				})
			}
		})
	}
}

// TestEtcdShared runs two stores on two clients of one etcd, as two atsssd
// instances: each sees the other's changes through its watch, and a
// revision read from one is valid on the other.
func TestEtcdShared(t *testing.T) {
	ctx := t.Context()
	cli1 := etcdtest.Start(t)
	cli2 := etcdtest.NewClient(t, cli1.Endpoints()...)
	var stores [2]*policystore.Etcd
	for i, cli := range []*clientv3.Client{cli1, cli2} {
		s, err := policystore.NewEtcd(cli, "/atsss/policies/", policystore.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		stores[i] = s
	}
	one, two := stores[0], stores[1]
	before := mustPut(t, one, pol("policies/before", 1), 0)
	w1, err := one.Watch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	w2, err := two.Watch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if d := diff([]*atsssv1.Policy{before}, w2.Snapshot); d != "" {
		t.Errorf("second instance's snapshot (-want +got):\n%s", d)
	}

	a := mustPut(t, one, pol("policies/a", 1), 0)
	if d := diff(policystore.Event{Type: put, Policy: a}, next(t, w2)); d != "" {
		t.Errorf("second instance saw (-first's put +got):\n%s", d)
	}
	a2 := mustPut(t, two, pol("policies/a", 2), a.Revision)
	gone, err := two.Delete(ctx, "policies/before", before.Revision)
	if err != nil {
		t.Fatal(err)
	}
	want := []policystore.Event{{Type: put, Policy: a}, {Type: put, Policy: a2}, {Type: deleted, Policy: gone}}
	var got []policystore.Event
	for range want {
		got = append(got, next(t, w1))
	}
	if d := diff(want, got); d != "" {
		t.Errorf("first instance saw (-want +got):\n%s", d)
	}
	if _, _, err := one.Put(ctx, pol("policies/a", 3), a.Revision); !errors.Is(err, policystore.ErrRevisionMismatch) {
		t.Errorf("Put on the first instance over the second's change = %v, want ErrRevisionMismatch", err)
	}
}

// TestEtcdForeignKeys checks that keys outside the prefix are not policies
// and that a value under it that is not one is an error that names its key.
func TestEtcdForeignKeys(t *testing.T) {
	ctx := t.Context()
	cli := etcdtest.Start(t)
	s, err := policystore.NewEtcd(cli, "/p/", policystore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, k := range []string{"/p", "/p0/x", "/o/x", "/q/"} {
		if _, err := cli.Put(ctx, k, "not a policy"); err != nil {
			t.Fatal(err)
		}
	}
	mustPut(t, s, pol("policies/a", 1), 0)
	ps, err := s.List(ctx, "", 0)
	if err != nil || len(ps) != 1 {
		t.Fatalf("List = %v, %v; want policies/a alone", names(ps), err)
	}
	w, err := s.Watch(ctx)
	if err != nil {
		t.Fatal(err)
	}

	// A policy stored under another name's key is as wrong as garbage.
	moved, err := proto.Marshal(pol("policies/b", 1))
	if err != nil {
		t.Fatal(err)
	}
	for _, kv := range [][2]string{{"/p/policies/x", "\xff\xff"}, {"/p/policies/y", string(moved)}} {
		key := kv[0]
		if _, err := cli.Put(ctx, key, kv[1]); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Get(ctx, strings.TrimPrefix(key, "/p/")); err == nil || !strings.Contains(err.Error(), key) {
			t.Errorf("Get of %s = %v, want an error naming the key", key, err)
		}
	}
	drain(w)
	if err := w.Err(); err == nil || !strings.Contains(err.Error(), "/p/policies/x") {
		t.Errorf("watch Err = %v, want an error naming /p/policies/x", err)
	}
	if _, err := s.List(ctx, "", 0); err == nil {
		t.Error("List over a bad value succeeded")
	}
}

// TestBoltReopen checks that policies outlive the process: closed and
// reopened, the file has them, revisions go on growing, and the sessions
// in the same file still load.
func TestBoltReopen(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "atsss.db")
	db := openBolt(t, path)
	s, err := policystore.NewBolt(db.DB(), policystore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	a := mustPut(t, s, pol("policies/a", 1), 0)
	b := mustPut(t, s, pol("policies/b", 2), 0)
	if _, err := s.Delete(ctx, "policies/b", 0); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	db = openBolt(t, path)
	s, err = policystore.NewBolt(db.DB(), policystore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ps, err := s.List(ctx, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	if d := diff([]*atsssv1.Policy{a}, ps); d != "" {
		t.Errorf("after reopen (-before +after):\n%s", d)
	}
	b2, created, err := s.Put(ctx, pol("policies/b", 2), 0)
	if err != nil || !created {
		t.Fatalf("re-create after reopen = %v, %v", created, err)
	}
	if b2.Revision <= b.Revision {
		t.Errorf("revision %d after reopen, had reached %d: want it to grow", b2.Revision, b.Revision)
	}
	// The session store ignores the policies' bucket.
	sessions, err := atsss.NewStore(db)
	if err != nil {
		t.Fatalf("session store on a file with policies: %v", err)
	}
	if n := sessions.Len(); n != 0 {
		t.Errorf("%d sessions loaded, want 0", n)
	}
	s.Close()
	sessions.Close() // closes db; the cleanup's second Close is harmless
}

func BenchmarkPut(b *testing.B) {
	ctx := b.Context()
	stores := map[string]func() policystore.Store{
		"bolt": func() policystore.Store {
			db := openBolt(b, filepath.Join(b.TempDir(), "atsss.db"))
			s, err := policystore.NewBolt(db.DB(), policystore.Options{})
			if err != nil {
				b.Fatal(err)
			}
			return s
		},
		"etcd-nofsync": func() policystore.Store {
			s, err := policystore.NewEtcd(etcdtest.Start(b), "/bench/", policystore.Options{})
			if err != nil {
				b.Fatal(err)
			}
			return s
		},
	}
	for _, name := range []string{"bolt", "etcd-nofsync"} {
		b.Run(name, func(b *testing.B) {
			s := stores[name]()
			defer s.Close()
			var ps []*atsssv1.Policy
			for i := range 100 {
				ps = append(ps, pol(fmt.Sprintf("policies/p%d", i), uint32(i)))
			}
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if _, _, err := s.Put(ctx, ps[i%len(ps)], 0); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}
