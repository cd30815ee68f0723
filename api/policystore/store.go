package policystore

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	atsssv1 "github.com/openatsss/atsss/api/atsss/v1"
)

// Store is durable storage of steering policies with a change feed. Bolt and
// Etcd implement it. Every value a Store returns is the caller's own: the
// store keeps no reference to it, and the caller may change it. Methods are
// safe for concurrent use.
type Store interface {
	// Put creates or replaces the policy p.Name with a copy of p, setting
	// its Revision and UpdateTime (the ones in p are ignored), and returns
	// the stored policy and whether no policy of that name existed. When
	// expectedRevision is not 0, the stored policy must have that revision,
	// else Put fails with ErrRevisionMismatch, also when no policy of that
	// name exists. p is not changed.
	Put(ctx context.Context, p *atsssv1.Policy, expectedRevision uint64) (stored *atsssv1.Policy, created bool, err error)
	// Get returns the policy name, or ErrNotFound.
	Get(ctx context.Context, name string) (*atsssv1.Policy, error)
	// List returns up to limit policies (all if limit <= 0) whose names sort
	// after the name after, ordered by name (byte-wise). Pass the last name
	// of one page as after to get the next page; "" starts at the first.
	List(ctx context.Context, after string, limit int) ([]*atsssv1.Policy, error)
	// Delete removes the policy name and returns it as it was, or
	// ErrNotFound. When expectedRevision is not 0, the stored policy must
	// have that revision, else Delete fails with ErrRevisionMismatch.
	Delete(ctx context.Context, name string, expectedRevision uint64) (*atsssv1.Policy, error)
	// Watch returns every stored policy and then, on Watch.C, each change
	// after that snapshot, in order and without gaps, until ctx ends, the
	// watcher falls behind, or the store closes (Watch.Err says which).
	Watch(ctx context.Context) (*Watch, error)
	// Close ends every watch with ErrClosed; later calls fail with
	// ErrClosed. It does not close the database or client the store was
	// made with: their owner does. It is safe to call more than once.
	Close() error
}

var (
	// ErrNotFound is returned for a policy name that is not stored.
	ErrNotFound = errors.New("policy not found")
	// ErrRevisionMismatch is returned when a conditional Put or Delete finds
	// another revision than the expected one (the API's FAILED_PRECONDITION).
	ErrRevisionMismatch = errors.New("policy revision mismatch")
	// ErrLagged ends a watch that fell behind: its consumer did not keep up
	// with the changes, or (etcd) the revisions it needed were compacted
	// away. The consumer should watch again and resync from the new
	// snapshot.
	ErrLagged = errors.New("policy watch fell behind")
	// ErrClosed is returned by every call after Close, and ends every watch.
	ErrClosed = errors.New("policy store closed")
)

// Options tune a backend. The zero value is the default.
type Options struct {
	// WatchBuffer is how many changes a watcher may have pending before it
	// is dropped with ErrLagged; 0 means 256.
	WatchBuffer int
	// RequestTimeout bounds each call to etcd (Etcd only); 0 means 5 s. A
	// shorter deadline of the caller's context wins.
	RequestTimeout time.Duration
}

func (o Options) watchBuffer() int {
	if o.WatchBuffer <= 0 {
		return 256
	}
	return o.WatchBuffer
}

func (o Options) requestTimeout() time.Duration {
	if o.RequestTimeout <= 0 {
		return 5 * time.Second
	}
	return o.RequestTimeout
}

// Event is one change of a stored policy.
type Event struct {
	// Type is atsssv1.PolicyEventType_POLICY_EVENT_TYPE_PUT for a created or
	// replaced policy, atsssv1.PolicyEventType_POLICY_EVENT_TYPE_DELETED for
	// a deleted one.
	Type atsssv1.PolicyEventType
	// Policy is the policy after the change; for a deletion, the policy as
	// it was, with its last revision.
	Policy *atsssv1.Policy
}

// Watch is a subscription to a store's changes, started by Store.Watch.
// Every watcher gets its own copies of the policies.
type Watch struct {
	// Snapshot holds every policy stored when the watch began, ordered by
	// name.
	Snapshot []*atsssv1.Policy
	// C delivers each change after Snapshot, in order, without gaps. It is
	// closed when the watch ends; Err then says why.
	C <-chan Event

	c chan Event // C, for sending

	mu     sync.Mutex // guards the fields below, and sending on and closing c
	ended  bool
	err    error
	cancel func() // called once when the watch ends; set before the watch is shared
}

func newWatch(buffer int) *Watch {
	c := make(chan Event, buffer)
	return &Watch{C: c, c: c}
}

// Err returns why C was closed: the watch context's error, ErrLagged (or an
// error wrapping it), ErrClosed, or an error of the backend. It returns nil
// while C is open. It is safe to call from any goroutine.
func (w *Watch) Err() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

// send queues ev without blocking, and ends the watch with ErrLagged when
// its buffer is full, so that a slow consumer never holds up the producer.
// It reports whether the watch is still open.
func (w *Watch) send(ev Event) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.ended {
		return false
	}
	select {
	case w.c <- ev:
		return true
	default:
		w.endLocked(fmt.Errorf("%w: %d changes pending", ErrLagged, cap(w.c)))
		return false
	}
}

// end closes C with err, once; later calls do nothing.
func (w *Watch) end(err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.endLocked(err)
}

func (w *Watch) endLocked(err error) {
	if w.ended {
		return
	}
	w.ended = true
	w.err = err
	close(w.c)
	if w.cancel != nil {
		w.cancel()
	}
}

// checkName is the one requirement on a policy's contents this package has;
// the server validates the rest.
func checkName(name string) error {
	if name == "" {
		return errors.New("empty policy name")
	}
	return nil
}

// marshal is the stored form of a policy. Deterministic, so that equal
// policies are equal bytes.
func marshal(p *atsssv1.Policy) ([]byte, error) {
	return proto.MarshalOptions{Deterministic: true}.Marshal(p)
}

func unmarshal(b []byte) (*atsssv1.Policy, error) {
	p := new(atsssv1.Policy)
	if err := proto.Unmarshal(b, p); err != nil {
		return nil, err
	}
	return p, nil
}

// stamp returns a copy of p, as the store keeps it, with revision rev and
// update time now.
func stamp(p *atsssv1.Policy, rev uint64, now time.Time) *atsssv1.Policy {
	p = proto.CloneOf(p)
	p.Revision = rev
	p.UpdateTime = timestamppb.New(now)
	return p
}
