package policystore

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"

	atsssv1 "github.com/openatsss/atsss/api/atsss/v1"
)

var policyBucket = []byte("policies")

// Bolt is a Store in the bucket "policies" of a bbolt file, usually the one
// of the sessions (atsss/boltstore.Store.DB). Keys are the policy names,
// values the policies in protobuf binary form with their revision and update
// time. Revisions come from the bucket's sequence, so they grow across
// deletes, re-creates and restarts. Every write is durable (fsync) when it
// returns.
//
// Its Watch sees the writes made through this Bolt only: the bucket must
// have no other writer. Methods are safe for concurrent use.
type Bolt struct {
	db   *bolt.DB
	opts Options

	// mu serializes the writes and Watch, so that changes reach watchers
	// in commit order and each snapshot is exactly the state before the
	// changes its watcher gets. bbolt runs one write transaction at a time
	// anyway, so it costs writers no concurrency. It guards the fields
	// below.
	mu      sync.Mutex
	watches map[*Watch]struct{}
	closed  bool
}

var _ Store = (*Bolt)(nil)

// NewBolt returns a Store in db, creating the bucket "policies" if needed.
// The caller keeps owning db and closes it after Close.
func NewBolt(db *bolt.DB, opts Options) (*Bolt, error) {
	err := db.Update(func(tx *bolt.Tx) error {
		_, err := tx.CreateBucketIfNotExists(policyBucket)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("policy store %s: create bucket: %w", db.Path(), err)
	}
	return &Bolt{db: db, opts: opts, watches: make(map[*Watch]struct{})}, nil
}

// Put implements Store.Put. ctx is checked before the write only: a bbolt
// commit cannot be interrupted.
func (s *Bolt) Put(ctx context.Context, p *atsssv1.Policy, expectedRevision uint64) (*atsssv1.Policy, bool, error) {
	if err := checkName(p.GetName()); err != nil {
		return nil, false, fmt.Errorf("put policy: %w", err)
	}
	var stored *atsssv1.Policy
	created := false
	err := s.write(ctx, func(b *bolt.Bucket) (Event, error) {
		key := []byte(p.Name)
		old := b.Get(key)
		created = old == nil
		if expectedRevision != 0 {
			if err := checkRevision(old, expectedRevision); err != nil {
				return Event{}, err
			}
		}
		rev, err := b.NextSequence()
		if err != nil {
			return Event{}, err
		}
		stored = stamp(p, rev, time.Now())
		v, err := marshal(stored)
		if err != nil {
			return Event{}, fmt.Errorf("encode: %w", err)
		}
		if err := b.Put(key, v); err != nil {
			return Event{}, err
		}
		return Event{Type: atsssv1.PolicyEventType_POLICY_EVENT_TYPE_PUT, Policy: stored}, nil
	})
	if err != nil {
		return nil, false, fmt.Errorf("put policy %q: %w", p.Name, err)
	}
	return stored, created, nil // the watchers got copies: stored is the caller's
}

// Delete implements Store.Delete. ctx is as for Put.
func (s *Bolt) Delete(ctx context.Context, name string, expectedRevision uint64) (*atsssv1.Policy, error) {
	if err := checkName(name); err != nil {
		return nil, fmt.Errorf("delete policy: %w", err)
	}
	var deleted *atsssv1.Policy
	err := s.write(ctx, func(b *bolt.Bucket) (Event, error) {
		key := []byte(name)
		old := b.Get(key)
		if old == nil {
			return Event{}, ErrNotFound
		}
		if expectedRevision != 0 {
			if err := checkRevision(old, expectedRevision); err != nil {
				return Event{}, err
			}
		}
		var err error
		if deleted, err = unmarshal(old); err != nil {
			return Event{}, fmt.Errorf("decode: %w", err)
		}
		if err := b.Delete(key); err != nil {
			return Event{}, err
		}
		return Event{Type: atsssv1.PolicyEventType_POLICY_EVENT_TYPE_DELETED, Policy: deleted}, nil
	})
	if err != nil {
		return nil, fmt.Errorf("delete policy %q: %w", name, err)
	}
	return deleted, nil
}

// checkRevision compares the revision of the stored value v (nil: none)
// with want.
func checkRevision(v []byte, want uint64) error {
	if v == nil {
		return fmt.Errorf("%w: no such policy, expected revision %d", ErrRevisionMismatch, want)
	}
	old, err := unmarshal(v)
	if err != nil {
		return fmt.Errorf("decode: %w", err)
	}
	if old.Revision != want {
		return fmt.Errorf("%w: revision is %d, expected %d", ErrRevisionMismatch, old.Revision, want)
	}
	return nil
}

// write runs fn in a write transaction and, once it is committed, sends
// the event fn returns to every watcher.
func (s *Bolt) write(ctx context.Context, fn func(*bolt.Bucket) (Event, error)) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	var ev Event
	err := s.db.Update(func(tx *bolt.Tx) error {
		var err error
		ev, err = fn(tx.Bucket(policyBucket))
		return err
	})
	if err != nil {
		return err
	}
	for w := range s.watches {
		// Each watcher gets its own copy: consumers may change what they get.
		if !w.send(Event{Type: ev.Type, Policy: proto.CloneOf(ev.Policy)}) {
			delete(s.watches, w)
		}
	}
	return nil
}

// Get implements Store.Get.
func (s *Bolt) Get(ctx context.Context, name string) (*atsssv1.Policy, error) {
	var p *atsssv1.Policy
	err := s.read(ctx, func(b *bolt.Bucket) error {
		v := b.Get([]byte(name))
		if v == nil {
			return ErrNotFound
		}
		var err error
		p, err = unmarshal(v)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("get policy %q: %w", name, err)
	}
	return p, nil
}

// List implements Store.List.
func (s *Bolt) List(ctx context.Context, after string, limit int) ([]*atsssv1.Policy, error) {
	var ps []*atsssv1.Policy
	err := s.read(ctx, func(b *bolt.Bucket) error {
		var err error
		ps, err = list(b, after, limit)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("list policies: %w", err)
	}
	return ps, nil
}

// list decodes up to limit policies after the name after.
func list(b *bolt.Bucket, after string, limit int) ([]*atsssv1.Policy, error) {
	var ps []*atsssv1.Policy
	c := b.Cursor()
	k, v := c.Seek([]byte(after))
	if k != nil && bytes.Equal(k, []byte(after)) {
		k, v = c.Next()
	}
	for ; k != nil && (limit <= 0 || len(ps) < limit); k, v = c.Next() {
		p, err := unmarshal(v)
		if err != nil {
			return nil, fmt.Errorf("decode %q: %w", k, err)
		}
		ps = append(ps, p)
	}
	return ps, nil
}

func (s *Bolt) read(ctx context.Context, fn func(*bolt.Bucket) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if closed {
		return ErrClosed
	}
	return s.db.View(func(tx *bolt.Tx) error { return fn(tx.Bucket(policyBucket)) })
}

// Watch implements Store.Watch: the watch sees the writes made through s.
func (s *Bolt) Watch(ctx context.Context) (*Watch, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("watch policies: %w", err)
	}
	w := newWatch(s.opts.watchBuffer())
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, fmt.Errorf("watch policies: %w", ErrClosed)
	}
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		w.Snapshot, err = list(tx.Bucket(policyBucket), "", 0)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("watch policies: %w", err)
	}
	// AfterFunc runs its function at once (in a goroutine) if ctx is
	// already done; w.mu keeps it from ending the watch before cancel is
	// set, and s.mu from unregistering it before it is registered.
	w.mu.Lock()
	stop := context.AfterFunc(ctx, func() {
		w.end(ctx.Err())
		s.mu.Lock()
		delete(s.watches, w)
		s.mu.Unlock()
	})
	w.cancel = func() { stop() }
	w.mu.Unlock()
	s.watches[w] = struct{}{}
	return w, nil
}

// Close implements Store.Close.
func (s *Bolt) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	for w := range s.watches {
		w.end(ErrClosed)
		delete(s.watches, w)
	}
	return nil
}
