package boltstore_test

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"

	"github.com/openatsss/atsss/atsss"
	"github.com/openatsss/atsss/atsss/atssstest"
	"github.com/openatsss/atsss/atsss/boltstore"
)

func openStore(t testing.TB, path string) *atsss.Store {
	t.Helper()
	b, err := boltstore.Open(path, boltstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	st, err := atsss.NewStore(b)
	if err != nil {
		b.Close()
		t.Fatal(err)
	}
	return st
}

func bySEID(sessions []*atsss.Session) map[atsss.SEID]*atsss.Session {
	m := make(map[atsss.SEID]*atsss.Session, len(sessions))
	for _, s := range sessions {
		m[s.LocalSEID] = s
	}
	return m
}

// TestRestart writes sessions concurrently, as the N4 server does, closes
// the store, and checks that a new store on the same file has them all.
func TestRestart(t *testing.T) {
	const writers, perWriter = 8, 64
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "sessions.db")
	st := openStore(t, path)

	want := map[atsss.SEID]*atsss.Session{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for g := range writers {
		wg.Go(func() {
			for i := range perWriter {
				id := atsss.SEID(g*perWriter + i)
				s := atssstest.Session(id)
				// The DNN and the slice come back too, with or without an SD.
				switch i % 3 {
				case 1:
					s.DNN = "Internet.mnc001.mcc001.gprs"
					s.SNSSAI = &atsss.SNSSAI{SST: 1, SD: 0x010203, SDSet: true}
				case 2:
					s.DNN = "ims"
					s.SNSSAI = &atsss.SNSSAI{SST: 2, SDSet: i%2 == 0}
				}
				if err := st.Put(ctx, s); err != nil {
					t.Error(err)
					return
				}
				var err error
				switch i % 4 {
				case 1: // a modification: the SMF moves traffic to non-3GPP
					s = s.Clone()
					s.MARs[0].Legs[atsss.Access3GPP].Weight.Value = 0
					s.MARs[0].Legs[atsss.AccessNon3GPP].Weight.Value = 100
					s.Unavailable[atsss.Access3GPP] = true
					err = st.Put(ctx, s)
				case 2:
					err = st.Delete(ctx, id)
					s = nil
				}
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				if s != nil {
					want[id] = s
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}

	st = openStore(t, path)
	defer st.Close()
	opts := cmpopts.EquateComparable(netip.Addr{})
	if diff := cmp.Diff(want, bySEID(st.Sessions()), opts); diff != "" {
		t.Errorf("sessions after restart (-written +loaded):\n%s", diff)
	}
	for id, s := range want {
		for _, a := range s.UEAddrs() {
			if a.Is4() { // shared: atssstest reuses IPv4 addresses every 200 SEIDs
				continue
			}
			if got, ok := st.ByUEAddr(a); !ok || got.LocalSEID != id {
				t.Errorf("ByUEAddr(%v) after restart = %v, %v; want session %v", a, got, ok, id)
			}
		}
	}
}

func TestOpenLocked(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sessions.db")
	b, err := boltstore.Open(path, boltstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	// bbolt's flock is per open file, so a second Open in this process
	// stands for a second daemon.
	_, err = boltstore.Open(path, boltstore.Options{LockTimeout: 50 * time.Millisecond})
	if !errors.Is(err, bolterrors.ErrTimeout) || !strings.Contains(err.Error(), path) {
		t.Errorf("second Open = %v, want a timeout that names %s", err, path)
	}
}

func TestLoadCorrupt(t *testing.T) {
	valid, err := json.Marshal(atssstest.Session(0x2a))
	if err != nil {
		t.Fatal(err)
	}
	key := binary.BigEndian.AppendUint64(nil, 0x2a)
	tests := []struct {
		name       string
		key, value []byte
		want       string
	}{
		{"truncated JSON", key, append([]byte{1}, valid[:100]...), "load session 0x2a: unexpected end of JSON input"},
		{"unknown format", key, append([]byte{9}, valid...), "load session 0x2a: unknown record format 9"},
		{"empty", key, []byte{}, "load session 0x2a: empty record"},
		{"other SEID", binary.BigEndian.AppendUint64(nil, 0x2b), append([]byte{1}, valid...), "load session 0x2b: record holds session 0x2a"},
		{"short key", []byte{0x2a}, append([]byte{1}, valid...), "load session: key 2a is not a SEID"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "sessions.db")
			b, err := boltstore.Open(path, boltstore.Options{})
			if err != nil {
				t.Fatal(err)
			}
			b.Close()
			db, err := bolt.Open(path, 0o600, nil)
			if err != nil {
				t.Fatal(err)
			}
			err = db.Update(func(tx *bolt.Tx) error {
				return tx.Bucket([]byte("sessions")).Put(tt.key, tt.value)
			})
			db.Close()
			if err != nil {
				t.Fatal(err)
			}

			b, err = boltstore.Open(path, boltstore.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close()
			_, err = atsss.NewStore(b)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("NewStore on a corrupt file = %v, want an error with %q", err, tt.want)
			}
		})
	}
}

// countingBackend counts the commits of a Backend and their writes.
type countingBackend struct {
	atsss.Backend
	commits, ops atomic.Int64
}

func (c *countingBackend) Commit(ops []atsss.Op) error {
	c.commits.Add(1)
	c.ops.Add(int64(len(ops)))
	return c.Backend.Commit(ops)
}

// BenchmarkPut measures durable Puts on a bbolt file (fsync per commit) from
// concurrent writers, replacing sessions among 4096. Beside ns/op it reports
// sessions/s and writes/commit: the batch size that group commit reached.
func BenchmarkPut(b *testing.B) {
	for _, writers := range []int{1, 16, 64} {
		b.Run(fmt.Sprintf("writers=%d", writers), func(b *testing.B) {
			backend, err := boltstore.Open(filepath.Join(b.TempDir(), "sessions.db"), boltstore.Options{})
			if err != nil {
				b.Fatal(err)
			}
			counting := &countingBackend{Backend: backend}
			st, err := atsss.NewStore(counting)
			if err != nil {
				b.Fatal(err)
			}
			defer st.Close()
			atssstest.BenchPut(b, st, writers)
			b.ReportMetric(float64(counting.ops.Load())/float64(counting.commits.Load()), "writes/commit")
		})
	}
}

// TestCommitOrder checks that a batch applies its writes in order: a Put and
// a Delete of the same SEID in one Commit leave it deleted, and the reverse
// leaves it stored.
func TestCommitOrder(t *testing.T) {
	b, err := boltstore.Open(filepath.Join(t.TempDir(), "sessions.db"), boltstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	put := func(seid atsss.SEID) atsss.Op {
		s := atssstest.Session(seid)
		v, err := b.Encode(s)
		if err != nil {
			t.Fatal(err)
		}
		return atsss.Op{SEID: seid, Session: s, Value: v}
	}
	err = b.Commit([]atsss.Op{
		put(1), {SEID: 1},
		{SEID: 2}, put(2),
	})
	if err != nil {
		t.Fatal(err)
	}
	var got []atsss.SEID
	err = b.Load(func(s *atsss.Session) error {
		got = append(got, s.LocalSEID)
		return nil
	})
	if err != nil || !slices.Equal(got, []atsss.SEID{2}) {
		t.Errorf("Load = %v, %v; want [2], nil", got, err)
	}
}
