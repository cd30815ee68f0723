package atsss_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"

	"github.com/google/go-cmp/cmp"

	"github.com/openatsss/atsss/atsss"
	"github.com/openatsss/atsss/atsss/atssstest"
)

// fakeBackend is an atsss.Backend in memory. It records the size of every
// commit, can hold commits back (gate), and can fail one (failAt).
type fakeBackend struct {
	gate   chan struct{} // when not nil, each Commit waits for a receive
	failAt int           // the Commit call that fails, counting from 1; 0: none

	mu      sync.Mutex
	stored  map[atsss.SEID]*atsss.Session
	calls   int
	batches []int // len(ops) of each successful Commit
	closed  bool
}

func newFakeBackend(sessions ...*atsss.Session) *fakeBackend {
	f := &fakeBackend{stored: make(map[atsss.SEID]*atsss.Session)}
	for _, s := range sessions {
		f.stored[s.LocalSEID] = s
	}
	return f
}

func (f *fakeBackend) Load(fn func(*atsss.Session) error) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, s := range f.stored {
		if err := fn(s); err != nil {
			return err
		}
	}
	return nil
}

func (f *fakeBackend) Encode(*atsss.Session) ([]byte, error) { return []byte{1}, nil }

func (f *fakeBackend) Commit(ops []atsss.Op) error {
	if f.gate != nil {
		<-f.gate
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if f.calls == f.failAt {
		return errors.New("disk on fire")
	}
	for _, op := range ops {
		if op.Session == nil {
			delete(f.stored, op.SEID)
		} else {
			f.stored[op.SEID] = op.Session
		}
	}
	f.batches = append(f.batches, len(ops))
	return nil
}

func (f *fakeBackend) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closed = true
	return nil
}

func (f *fakeBackend) isClosed() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.closed
}

func (f *fakeBackend) state() (calls int, batches []int, stored []atsss.SEID) {
	f.mu.Lock()
	defer f.mu.Unlock()
	ids := slices.Sorted(func(yield func(atsss.SEID) bool) {
		for id := range f.stored {
			if !yield(id) {
				return
			}
		}
	})
	return f.calls, slices.Clone(f.batches), ids
}

func newTestStore(t testing.TB, b atsss.Backend) *atsss.Store {
	t.Helper()
	st, err := atsss.NewStore(b)
	if err != nil {
		t.Fatalf("NewStore: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// claiming returns a copy of atssstest.Session(id) whose 3GPP link-specific
// IPv4 address is a.
func claiming(id atsss.SEID, a netip.Addr) *atsss.Session {
	s := atssstest.Session(id)
	s.ATSSS.Params.MPTCP.LinkSpecific[atsss.Access3GPP].IPv4 = a
	return s
}

func seids(sessions []*atsss.Session) []atsss.SEID {
	ids := make([]atsss.SEID, len(sessions))
	for i, s := range sessions {
		ids[i] = s.LocalSEID
	}
	slices.Sort(ids)
	return ids
}

func TestSessionHelperIsValid(t *testing.T) {
	if err := atssstest.Session(7).Validate(); err != nil {
		t.Fatalf("atssstest.Session does not validate: %v", err)
	}
}

func TestStoreWrites(t *testing.T) {
	addrX := netip.MustParseAddr("192.0.2.77")
	addrY := netip.MustParseAddr("192.0.2.78")
	// step is a Put when put is not nil, else a Delete of del.
	type step struct {
		put *atsss.Session
		del atsss.SEID
	}
	tests := []struct {
		name  string
		steps []step
		want  []atsss.SEID
		addrs map[netip.Addr]atsss.SEID // 0: the address belongs to no session
	}{
		{
			name:  "put",
			steps: []step{{put: claiming(1, addrX)}},
			want:  []atsss.SEID{1},
			addrs: map[netip.Addr]atsss.SEID{addrX: 1, atssstest.Session(1).MAPDUAddrs()[0]: 1},
		},
		{
			name:  "replace moves the addresses",
			steps: []step{{put: claiming(1, addrX)}, {put: claiming(1, addrY)}},
			want:  []atsss.SEID{1},
			addrs: map[netip.Addr]atsss.SEID{addrX: 0, addrY: 1},
		},
		{
			name:  "delete",
			steps: []step{{put: claiming(1, addrX)}, {put: claiming(2, addrY)}, {del: 1}},
			want:  []atsss.SEID{2},
			addrs: map[netip.Addr]atsss.SEID{addrX: 0, addrY: 2, atssstest.Session(1).MAPDUAddrs()[1]: 0},
		},
		{
			name:  "delete unknown",
			steps: []step{{put: claiming(1, addrX)}, {del: 9}},
			want:  []atsss.SEID{1},
			addrs: map[netip.Addr]atsss.SEID{addrX: 1},
		},
		{
			name:  "later put wins a shared address",
			steps: []step{{put: claiming(1, addrX)}, {put: claiming(2, addrX)}},
			want:  []atsss.SEID{1, 2},
			addrs: map[netip.Addr]atsss.SEID{addrX: 2},
		},
		{
			name:  "deleting the older claim keeps the newer",
			steps: []step{{put: claiming(1, addrX)}, {put: claiming(2, addrX)}, {del: 1}},
			want:  []atsss.SEID{2},
			addrs: map[netip.Addr]atsss.SEID{addrX: 2},
		},
		{
			name:  "replacing the older claim keeps the newer",
			steps: []step{{put: claiming(1, addrX)}, {put: claiming(2, addrX)}, {put: claiming(1, addrY)}},
			want:  []atsss.SEID{1, 2},
			addrs: map[netip.Addr]atsss.SEID{addrX: 2, addrY: 1},
		},
		{
			name:  "a put again takes the address back",
			steps: []step{{put: claiming(1, addrX)}, {put: claiming(2, addrX)}, {put: claiming(1, addrX)}},
			want:  []atsss.SEID{1, 2},
			addrs: map[netip.Addr]atsss.SEID{addrX: 1},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := t.Context()
			backend := newFakeBackend()
			st := newTestStore(t, backend)
			latest := map[atsss.SEID]*atsss.Session{}
			for _, s := range tt.steps {
				if s.put != nil {
					if err := st.Put(ctx, s.put); err != nil {
						t.Fatalf("Put(%v): %v", s.put.LocalSEID, err)
					}
					latest[s.put.LocalSEID] = s.put
				} else if err := st.Delete(ctx, s.del); err != nil {
					t.Fatalf("Delete(%v): %v", s.del, err)
				}
			}
			if diff := cmp.Diff(tt.want, seids(st.Sessions())); diff != "" {
				t.Errorf("Sessions() SEIDs (-want +got):\n%s", diff)
			}
			if _, _, stored := backend.state(); !slices.Equal(stored, tt.want) {
				t.Errorf("backend holds %v, want %v", stored, tt.want)
			}
			if st.Len() != len(tt.want) {
				t.Errorf("Len() = %d, want %d", st.Len(), len(tt.want))
			}
			for _, id := range tt.want {
				if got, ok := st.Get(id); !ok || got != latest[id] {
					t.Errorf("Get(%v) = %p, %v; want the session last put, %p", id, got, ok, latest[id])
				}
			}
			for a, want := range tt.addrs {
				got, ok := st.ByUEAddr(a)
				switch {
				case want == 0 && ok:
					t.Errorf("ByUEAddr(%v) = session %v, want none", a, got.LocalSEID)
				case want != 0 && !ok:
					t.Errorf("ByUEAddr(%v) = none, want session %v", a, want)
				case want != 0 && got != latest[want]:
					t.Errorf("ByUEAddr(%v) = session %v, want %v", a, got.LocalSEID, want)
				}
			}
		})
	}
}

func TestStoreLoadsBackend(t *testing.T) {
	s1, s2 := atssstest.Session(1), atssstest.Session(2)
	st := newTestStore(t, newFakeBackend(s1, s2))
	if got, ok := st.Get(2); !ok || got != s2 {
		t.Errorf("Get(2) = %v, %v; want the loaded session", got, ok)
	}
	for _, a := range s1.UEAddrs() {
		if got, ok := st.ByUEAddr(a); !ok || got != s1 {
			t.Errorf("ByUEAddr(%v) = %v, %v; want session 1", a, got, ok)
		}
	}
	w, err := st.Watch(t.Context(), 1)
	if err != nil {
		t.Fatal(err)
	}
	if w.Rev != 0 || len(w.Snapshot) != 2 {
		t.Errorf("Watch after load: rev %d, %d sessions; want rev 0, 2 sessions", w.Rev, len(w.Snapshot))
	}
}

// twiceBackend loads every session twice, as a broken backend might.
type twiceBackend struct{ *fakeBackend }

func (b twiceBackend) Load(fn func(*atsss.Session) error) error {
	if err := b.fakeBackend.Load(fn); err != nil {
		return err
	}
	return b.fakeBackend.Load(fn)
}

func TestStoreLoadDuplicate(t *testing.T) {
	_, err := atsss.NewStore(twiceBackend{newFakeBackend(atssstest.Session(1))})
	if err == nil || !strings.Contains(err.Error(), "session 0x1 loaded twice") {
		t.Errorf("NewStore on a backend that repeats a session = %v, want an error naming it", err)
	}
}

func TestStoreDeleteFunc(t *testing.T) {
	ctx := t.Context()
	backend := newFakeBackend()
	st := newTestStore(t, backend)
	for id := range atsss.SEID(10) {
		s := atssstest.Session(id)
		if id%3 == 0 {
			s.PeerNodeID = "smf-restarted.example.net"
		}
		if err := st.Put(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	callsBefore, _, _ := backend.state()

	got, err := st.DeleteFunc(ctx, func(s *atsss.Session) bool { return s.PeerNodeID == "smf-restarted.example.net" })
	if err != nil {
		t.Fatalf("DeleteFunc: %v", err)
	}
	if diff := cmp.Diff([]atsss.SEID{0, 3, 6, 9}, seids(got)); diff != "" {
		t.Errorf("DeleteFunc SEIDs (-want +got):\n%s", diff)
	}
	calls, batches, stored := backend.state()
	if calls != callsBefore+1 || batches[len(batches)-1] != 4 {
		t.Errorf("DeleteFunc took %d commits, last of %d writes; want 1 commit of 4", calls-callsBefore, batches[len(batches)-1])
	}
	if diff := cmp.Diff([]atsss.SEID{1, 2, 4, 5, 7, 8}, stored); diff != "" {
		t.Errorf("backend after DeleteFunc (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(stored, seids(st.Sessions())); diff != "" {
		t.Errorf("store after DeleteFunc (-backend +store):\n%s", diff)
	}

	got, err = st.DeleteFunc(ctx, func(*atsss.Session) bool { return false })
	if err != nil || len(got) != 0 {
		t.Errorf("DeleteFunc matching nothing = %v, %v; want none, nil", got, err)
	}
}

// TestStoreGroupCommit holds the first commit at the disk and checks that
// the writes arriving meanwhile share the next one.
func TestStoreGroupCommit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := t.Context()
		backend := newFakeBackend()
		backend.gate = make(chan struct{})
		st := newTestStore(t, backend)

		var wg sync.WaitGroup
		wg.Go(func() {
			if err := st.Put(ctx, atssstest.Session(100)); err != nil {
				t.Errorf("Put: %v", err)
			}
		})
		synctest.Wait() // the committer waits at the gate with one write
		for id := range atsss.SEID(10) {
			wg.Go(func() {
				if err := st.Put(ctx, atssstest.Session(id)); err != nil {
					t.Errorf("Put: %v", err)
				}
			})
		}
		synctest.Wait()
		if st.Len() != 0 {
			t.Errorf("Len() = %d before any commit returned, want 0", st.Len())
		}
		backend.gate <- struct{}{}
		backend.gate <- struct{}{}
		wg.Wait()

		if _, batches, _ := backend.state(); !slices.Equal(batches, []int{1, 10}) {
			t.Errorf("commit sizes %v, want [1 10]", batches)
		}
		if st.Len() != 11 {
			t.Errorf("Len() = %d, want 11", st.Len())
		}
	})
}

func TestStoreFailStop(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := t.Context()
		backend := newFakeBackend()
		backend.gate = make(chan struct{})
		backend.failAt = 2
		st := newTestStore(t, backend)
		w, err := st.Watch(ctx, 100)
		if err != nil {
			t.Fatal(err)
		}

		var wg sync.WaitGroup
		wg.Go(func() {
			if err := st.Put(ctx, atssstest.Session(1)); err != nil {
				t.Errorf("Put before the failure: %v", err)
			}
		})
		synctest.Wait()
		// Three writes wait for the commit that fails.
		errs := make([]error, 3)
		for i := range errs {
			wg.Go(func() { errs[i] = st.Put(ctx, atssstest.Session(atsss.SEID(10+i))) })
		}
		synctest.Wait()
		backend.gate <- struct{}{}
		backend.gate <- struct{}{}
		wg.Wait()

		for i, err := range errs {
			if !errors.Is(err, atsss.ErrStoreFailed) {
				t.Errorf("Put %d in the failed commit: %v, want ErrStoreFailed", i, err)
			}
		}
		// Later writes fail without reaching the backend; state stays as
		// it was before the failed commit.
		if err := st.Delete(ctx, 1); !errors.Is(err, atsss.ErrStoreFailed) {
			t.Errorf("Delete after the failure: %v, want ErrStoreFailed", err)
		}
		if _, err := st.DeleteFunc(ctx, func(*atsss.Session) bool { return true }); !errors.Is(err, atsss.ErrStoreFailed) {
			t.Errorf("DeleteFunc after the failure: %v, want ErrStoreFailed", err)
		}
		if calls, _, _ := backend.state(); calls != 2 {
			t.Errorf("backend saw %d commits, want 2", calls)
		}
		if diff := cmp.Diff([]atsss.SEID{1}, seids(st.Sessions())); diff != "" {
			t.Errorf("sessions after the failure (-want +got):\n%s", diff)
		}

		var changes []atsss.SEID
		for c := range w.C {
			changes = append(changes, c.SEID)
		}
		if !slices.Equal(changes, []atsss.SEID{1}) || !errors.Is(w.Err(), atsss.ErrStoreFailed) {
			t.Errorf("watch saw %v, then %v; want [1], then ErrStoreFailed", changes, w.Err())
		}
		if _, err := st.Watch(ctx, 1); !errors.Is(err, atsss.ErrStoreFailed) {
			t.Errorf("Watch after the failure: %v, want ErrStoreFailed", err)
		}
	})
}

func TestStorePutContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		backend := newFakeBackend()
		backend.gate = make(chan struct{})
		st := newTestStore(t, backend)
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error)
		go func() { done <- st.Put(ctx, atssstest.Session(1)) }()
		synctest.Wait()
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("Put with its context cancelled during the commit: %v, want context.Canceled", err)
		}
		backend.gate <- struct{}{}
	})
}

func TestStoreClose(t *testing.T) {
	ctx := t.Context()
	backend := newFakeBackend()
	st, err := atsss.NewStore(backend)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Put(ctx, atssstest.Session(1)); err != nil {
		t.Fatal(err)
	}
	w, err := st.Watch(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := st.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if !backend.isClosed() {
		t.Error("backend not closed")
	}
	if _, ok := <-w.C; ok || !errors.Is(w.Err(), atsss.ErrClosed) {
		t.Errorf("watch after Close: open %v, Err %v; want closed, ErrClosed", ok, w.Err())
	}
	if err := st.Put(ctx, atssstest.Session(2)); !errors.Is(err, atsss.ErrClosed) {
		t.Errorf("Put after Close: %v, want ErrClosed", err)
	}
	if _, ok := st.Get(1); !ok {
		t.Error("Get after Close lost session 1")
	}
}

// TestStoreWatchConcurrent starts a watch among concurrent writers and
// checks that its snapshot plus its changes replay to the final state, with
// revisions that go up by exactly one.
func TestStoreWatchConcurrent(t *testing.T) {
	const writers, writes = 8, 200
	ctx := t.Context()
	st := newTestStore(t, nil)

	var wg sync.WaitGroup
	start := make(chan struct{})
	started := sync.OnceFunc(func() { close(start) })
	for g := range writers {
		wg.Go(func() {
			if g == 0 {
				defer started()
			}
			for i := range writes {
				if i == writes/4 && g == 0 {
					started()
				}
				id := atsss.SEID(g*writes + i%50) // replaces, so that order matters
				var err error
				if i%7 == 6 {
					err = st.Delete(ctx, id)
				} else {
					err = st.Put(ctx, atssstest.Session(id))
				}
				if err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	<-start
	w, err := st.Watch(ctx, writers*writes)
	if err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	end, err := st.Watch(ctx, 1) // its Rev is the last revision
	if err != nil {
		t.Fatal(err)
	}

	state := map[atsss.SEID]*atsss.Session{}
	for _, s := range w.Snapshot {
		state[s.LocalSEID] = s
	}
	rev := w.Rev
	for rev < end.Rev {
		c, ok := <-w.C
		if !ok {
			t.Fatalf("watch closed at rev %d of %d: %v", rev, end.Rev, w.Err())
		}
		if c.Rev != rev+1 {
			t.Fatalf("change rev %d after %d", c.Rev, rev)
		}
		rev = c.Rev
		switch c.Kind {
		case atsss.ChangePut:
			state[c.SEID] = c.Session
		case atsss.ChangeDelete:
			if _, ok := state[c.SEID]; !ok {
				t.Fatalf("rev %d deletes %v, which the watch never saw", c.Rev, c.SEID)
			}
			delete(state, c.SEID)
		}
	}
	// The store hands out the pointers it was given: compare identities.
	want := map[atsss.SEID]*atsss.Session{}
	for _, s := range end.Snapshot {
		want[s.LocalSEID] = s
	}
	for id := range state {
		if _, ok := want[id]; !ok {
			want[id] = nil
		}
	}
	for id, s := range want {
		if state[id] != s {
			t.Errorf("session %v: replayed %p, store has %p", id, state[id], s)
		}
	}
}

func TestStoreWatchLagged(t *testing.T) {
	ctx := t.Context()
	st := newTestStore(t, nil)
	slow, err := st.Watch(ctx, 2)
	if err != nil {
		t.Fatal(err)
	}
	fast, err := st.Watch(ctx, 10)
	if err != nil {
		t.Fatal(err)
	}
	// Nobody reads either watch: the writes must still go through.
	for id := range atsss.SEID(10) {
		if err := st.Put(ctx, atssstest.Session(id)); err != nil {
			t.Fatal(err)
		}
	}
	var got []uint64
	for c := range slow.C {
		got = append(got, c.Rev)
	}
	if !slices.Equal(got, []uint64{1, 2}) || !errors.Is(slow.Err(), atsss.ErrLagged) {
		t.Errorf("slow watch: revs %v, then %v; want [1 2], then ErrLagged", got, slow.Err())
	}
	if len(fast.C) != 10 || fast.Err() != nil {
		t.Errorf("fast watch: %d changes queued, Err %v; want 10, nil", len(fast.C), fast.Err())
	}
}

// TestWatchTakeQueued: TakeQueued takes the changes waiting, in order,
// and returns without waiting for more, also on a closed watch.
func TestWatchTakeQueued(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	st := newTestStore(t, nil)
	w, err := st.Watch(ctx, 10)
	if err != nil {
		t.Fatal(err)
	}
	for id := range atsss.SEID(3) {
		if err := st.Put(ctx, atssstest.Session(id)); err != nil {
			t.Fatal(err)
		}
	}
	var got []uint64
	take := func(c atsss.Change) { got = append(got, c.Rev) }
	w.TakeQueued(take)
	if !slices.Equal(got, []uint64{1, 2, 3}) {
		t.Errorf("took revs %v, want [1 2 3]", got)
	}
	w.TakeQueued(take) // nothing waits: returns at once
	cancel()
	if _, ok := <-w.C; ok {
		t.Fatal("a change after the three")
	}
	w.TakeQueued(take) // closed: returns
	if len(got) != 3 {
		t.Errorf("took %v, want only the three changes", got)
	}
}

func TestStoreWatchCancel(t *testing.T) {
	st := newTestStore(t, nil)
	ctx, cancel := context.WithCancel(t.Context())
	w, err := st.Watch(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	if _, ok := <-w.C; ok {
		t.Fatal("watch delivered a change nobody made")
	}
	if !errors.Is(w.Err(), context.Canceled) {
		t.Errorf("Err() = %v, want context.Canceled", w.Err())
	}
	if err := st.Put(t.Context(), atssstest.Session(1)); err != nil {
		t.Errorf("Put after a watch ended: %v", err)
	}
	if _, err := st.Watch(t.Context(), 0); err == nil {
		t.Error("Watch with a buffer of 0: no error")
	}
}

// BenchmarkStorePut measures the store without a disk: the cost of the
// committer, the maps and the change feed per write.
func BenchmarkStorePut(b *testing.B) {
	for _, writers := range []int{1, 16, 64} {
		b.Run(fmt.Sprintf("writers=%d", writers), func(b *testing.B) {
			atssstest.BenchPut(b, newTestStore(b, nil), writers)
		})
	}
}

// BenchmarkStoreMemory reports the heap per stored session: the session
// itself, decoded from JSON as after a restart (strings are not shared), and
// what the store adds for it (maps, address index).
func BenchmarkStoreMemory(b *testing.B) {
	const n = 100_000
	ctx := b.Context()
	for b.Loop() {
		before := heapAlloc()
		sessions := make([]*atsss.Session, n)
		for i := range sessions {
			enc, err := json.Marshal(atssstest.Session(atsss.SEID(i)))
			if err != nil {
				b.Fatal(err)
			}
			sessions[i] = new(atsss.Session)
			if err := json.Unmarshal(enc, sessions[i]); err != nil {
				b.Fatal(err)
			}
		}
		built := heapAlloc()
		st, err := atsss.NewStore(nil)
		if err != nil {
			b.Fatal(err)
		}
		for _, s := range sessions {
			if err := st.Put(ctx, s); err != nil {
				b.Fatal(err)
			}
		}
		stored := heapAlloc()
		b.ReportMetric(float64(built-before)/n, "session-B")
		b.ReportMetric(float64(stored-built)/n, "store-B/session")
		runtime.KeepAlive(sessions)
		st.Close()
	}
}

func heapAlloc() int64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapAlloc)
}
