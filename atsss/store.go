package atsss

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"sync"
)

// Backend makes sessions durable. The Store calls Load from NewStore, then
// Commit from its committer goroutine, then Close, one at a time; Encode it
// calls from any goroutine, concurrently.
type Backend interface {
	// Load calls fn for every stored session, in any order.
	Load(fn func(*Session) error) error
	// Encode returns the stored form of a session. The Store calls it on
	// the writer's goroutine, so encoding runs in parallel and only the
	// write itself waits for the committer.
	Encode(*Session) ([]byte, error)
	// Commit writes a batch of operations, in order, in one durable
	// transaction: when it returns nil, all of them survive a crash; when it
	// fails, none may be assumed written. It must not keep ops after it
	// returns: the Store reuses the slice.
	Commit(ops []Op) error
	Close() error
}

// Op is one write to a Backend: Put when Session is not nil, else Delete SEID.
type Op struct {
	SEID    SEID
	Session *Session
	Value   []byte // Session as Backend.Encode made it
}

// ChangeKind says what happened to a session.
type ChangeKind uint8

const (
	ChangePut    ChangeKind = iota // created or replaced
	ChangeDelete                   // removed
)

func (k ChangeKind) String() string {
	if k == ChangePut {
		return "put"
	}
	return "delete"
}

// Change is one entry of the store's change feed. Rev increases by one per
// change, in commit order.
type Change struct {
	Rev     uint64
	Kind    ChangeKind
	SEID    SEID
	Session *Session // the new session for ChangePut; the removed one for ChangeDelete
}

// ErrLagged ends a Watch whose consumer did not keep up; it should watch
// again and resync from the new snapshot.
var ErrLagged = errors.New("watcher fell behind the change feed")

// ErrStoreFailed is returned for every write after the backend failed to
// commit. The store fails stop: nothing not durable was acknowledged, so a
// restart recovers a consistent state.
var ErrStoreFailed = errors.New("session store failed")

// ErrClosed is returned for writes and watches after Store.Close.
var ErrClosed = errors.New("session store closed")

// Watch is a subscription to the change feed, started by Store.Watch.
type Watch struct {
	// Snapshot holds every session at revision Rev, in no particular order.
	Snapshot []*Session
	Rev      uint64
	// C delivers each change after Rev, in order, without gaps. It is
	// closed when the watch ends; Err then says why.
	C <-chan Change

	s    *Store
	c    chan Change // C, for sending
	stop func() bool // unregisters the context.AfterFunc that ends the watch
	err  error       // guarded by s.mu
}

// Err returns why C was closed: the context's error when it ended,
// ErrLagged, an error wrapping ErrStoreFailed, or ErrClosed. It returns nil
// while C is open. It is safe to call from any goroutine.
func (w *Watch) Err() error {
	w.s.mu.RLock()
	defer w.s.mu.RUnlock()
	return w.err
}

// TakeQueued calls fn for each change already waiting on C, in order,
// without waiting for more: a follower that applies changes in batches
// (one table edit, one published view) takes with it whatever else is
// queued. When C is closed it returns; the next receive from C says so.
func (w *Watch) TakeQueued(fn func(Change)) {
	for {
		select {
		case ch, ok := <-w.C:
			if !ok {
				return
			}
			fn(ch)
		default:
			return
		}
	}
}

// maxBatch bounds the writes the committer gathers into one Backend.Commit,
// and the writes that may wait for it. A DeleteFunc may exceed it: it is
// always one transaction.
const maxBatch = 1024

// Store holds the MA PDU sessions in memory, indexed by SEID and by UE
// address, makes every write durable through a Backend before it is
// acknowledged, and publishes every write to a change feed (Watch).
//
// Writes are group committed: one goroutine owned by the Store, the
// committer, takes all writes waiting when the previous commit returned (up
// to 1024) and commits them together, so concurrent writers share one
// fsync. Reads never wait for the disk. All methods are safe for concurrent
// use.
type Store struct {
	backend Backend       // nil: memory only
	reqs    chan *request // writers to the committer
	quit    chan struct{} // closed by Close: the committer returns
	stopped chan struct{} // closed when the committer has returned

	closeOnce sync.Once
	closeErr  error

	// mu guards the fields below. Once NewStore returns, the committer is
	// the only goroutine that writes sessions and byAddr, so it reads them
	// without the lock.
	mu       sync.RWMutex
	sessions map[SEID]*Session
	byAddr   map[netip.Addr]SEID // UE address to the session that last claimed it
	rev      uint64              // Rev of the last change published
	watches  map[*Watch]struct{}
	err      error // set once: the commit failure, or ErrClosed
}

// request is one write waiting for the committer.
type request struct {
	ops     []Op
	pred    func(*Session) bool // DeleteFunc: the committer fills ops from it
	matched []*Session          // DeleteFunc: the sessions pred matched
	done    chan error          // buffered: the committer never blocks on it
}

// NewStore loads every session from b and starts the committer. b may be
// nil for a store that lives in memory only. The Store owns b from then on
// and closes it in Close; if NewStore fails, the caller still owns b.
func NewStore(b Backend) (*Store, error) {
	s := &Store{
		backend:  b,
		reqs:     make(chan *request, maxBatch),
		quit:     make(chan struct{}),
		stopped:  make(chan struct{}),
		sessions: make(map[SEID]*Session),
		byAddr:   make(map[netip.Addr]SEID),
		watches:  make(map[*Watch]struct{}),
	}
	if b != nil {
		err := b.Load(func(sess *Session) error {
			if _, dup := s.sessions[sess.LocalSEID]; dup {
				return fmt.Errorf("session %v loaded twice", sess.LocalSEID)
			}
			s.sessions[sess.LocalSEID] = sess
			s.index(sess)
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("restore sessions: %w", err)
		}
	}
	go s.commitLoop()
	return s, nil
}

// Get returns the session with local SEID id. It is safe for concurrent use.
func (s *Store) Get(id SEID) (*Session, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	sess, ok := s.sessions[id]
	return sess, ok
}

// ByUEAddr returns the session that a belongs to: one of its MA PDU session
// addresses or link-specific addresses (Session.UEAddrs). When sessions
// claim the same address, the one Put last owns it; when that one lets go of
// the address, the address is unknown until a session claims it again. It
// is safe for concurrent use.
func (s *Store) ByUEAddr(a netip.Addr) (*Session, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	id, ok := s.byAddr[a]
	if !ok {
		return nil, false
	}
	return s.sessions[id], true
}

// Len returns the number of sessions. It is safe for concurrent use.
func (s *Store) Len() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.sessions)
}

// Sessions returns every session, in no particular order. It is safe for
// concurrent use; use Watch to follow changes from a consistent snapshot.
func (s *Store) Sessions() []*Session {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return slices.Collect(maps.Values(s.sessions))
}

// Put creates or replaces the session with local SEID sess.LocalSEID. sess
// must not be changed afterwards: the store and its readers share it.
//
// Put returns nil once the write is durable and visible to Get and to
// watchers. If ctx ends first, Put returns ctx.Err() and the write may or may
// not take effect; Put is idempotent, so retrying is safe. It is safe for
// concurrent use; concurrent writes take effect in some serial order.
func (s *Store) Put(ctx context.Context, sess *Session) error {
	if sess == nil {
		return errors.New("put session: nil")
	}
	op := Op{SEID: sess.LocalSEID, Session: sess}
	if s.backend != nil {
		v, err := s.backend.Encode(sess)
		if err != nil {
			return fmt.Errorf("put session %v: encode: %w", sess.LocalSEID, err)
		}
		op.Value = v
	}
	if err := s.write(ctx, &request{ops: []Op{op}}); err != nil {
		return fmt.Errorf("put session %v: %w", sess.LocalSEID, err)
	}
	return nil
}

// Delete removes the session with local SEID id; an unknown id is not an
// error. Durability, ctx and concurrency are as for Put.
func (s *Store) Delete(ctx context.Context, id SEID) error {
	if err := s.write(ctx, &request{ops: []Op{{SEID: id}}}); err != nil {
		return fmt.Errorf("delete session %v: %w", id, err)
	}
	return nil
}

// DeleteFunc removes, in one durable transaction, every session for which
// match returns true, and returns them in increasing SEID order, so the
// caller can release what they held. It takes
// effect at a single point in the order of writes: match sees every write
// that returned before DeleteFunc was called, and no write is lost between
// matching and deleting. match runs on the committer goroutine: it must be
// quick and must not write to the Store. Durability, ctx and concurrency
// are as for Put.
func (s *Store) DeleteFunc(ctx context.Context, match func(*Session) bool) ([]*Session, error) {
	r := &request{pred: match}
	if err := s.write(ctx, r); err != nil {
		return nil, fmt.Errorf("delete sessions: %w", err)
	}
	slices.SortFunc(r.matched, func(a, b *Session) int { return cmp.Compare(a.LocalSEID, b.LocalSEID) })
	return r.matched, nil
}

// write hands r to the committer and waits for its answer.
func (s *Store) write(ctx context.Context, r *request) error {
	r.done = make(chan error, 1)
	select {
	case s.reqs <- r:
	case <-s.quit:
		return ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-r.done:
		return err
	case <-s.stopped:
		// The committer may have answered r just before it returned.
		select {
		case err := <-r.done:
			return err
		default:
			return ErrClosed
		}
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Watch returns a snapshot of every session, its revision, and a channel
// of every change after it. The channel holds up to buffer changes: a
// consumer that lets it fill up is dropped (C closed, Err ErrLagged) rather
// than slowing down writers. The watch ends when ctx does. It is safe for
// concurrent use.
func (s *Store) Watch(ctx context.Context, buffer int) (*Watch, error) {
	if buffer < 1 {
		return nil, fmt.Errorf("watch: buffer %d, want at least 1", buffer)
	}
	c := make(chan Change, buffer)
	w := &Watch{C: c, s: s, c: c}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return nil, fmt.Errorf("watch: %w", s.err)
	}
	w.Snapshot = slices.Collect(maps.Values(s.sessions))
	w.Rev = s.rev
	s.watches[w] = struct{}{}
	// Set under s.mu, so that endWatch, which runs under s.mu, sees it.
	w.stop = context.AfterFunc(ctx, func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.endWatch(w, ctx.Err())
	})
	return w, nil
}

// Close stops the committer, ends every watch with ErrClosed and closes the
// backend. Writes that the committer has not taken yet fail with ErrClosed;
// reads keep working. It is safe to call more than once and
// concurrently with other methods.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		close(s.quit)
		<-s.stopped
		s.mu.Lock()
		if s.err == nil {
			s.err = ErrClosed
		}
		for w := range s.watches {
			s.endWatch(w, ErrClosed)
		}
		s.mu.Unlock()
		if s.backend != nil {
			if err := s.backend.Close(); err != nil {
				s.closeErr = fmt.Errorf("close session store: %w", err)
			}
		}
	})
	return s.closeErr
}

// commitLoop is the committer: it owns the writes to sessions and byAddr,
// and the calls to Backend.Commit.
func (s *Store) commitLoop() {
	defer close(s.stopped)
	var (
		batch []*request
		ops   []Op
		next  *request // a DeleteFunc held back to start the next batch
	)
	for {
		r := next
		next = nil
		if r == nil {
			select {
			case r = <-s.reqs:
			case <-s.quit:
				return
			}
		}
		clear(batch)
		clear(ops)
		batch, ops = append(batch[:0], r), s.appendOps(ops[:0], r)
		// Take what waits now; no timer: the batch grows by itself while
		// the previous commit is at the disk.
	gather:
		for len(ops) < maxBatch {
			select {
			case r := <-s.reqs:
				// A DeleteFunc matches against committed sessions, so it
				// only starts a batch.
				if r.pred != nil {
					next = r
					break gather
				}
				batch, ops = append(batch, r), s.appendOps(ops, r)
			default:
				break gather
			}
		}
		err := s.commit(ops)
		for _, r := range batch {
			r.done <- err
		}
	}
}

// appendOps appends the writes of r to ops. For a DeleteFunc it first fills
// r.ops from the committed sessions, so that the caller learns what went.
func (s *Store) appendOps(ops []Op, r *request) []Op {
	if r.pred != nil {
		for id, sess := range s.sessions {
			if r.pred(sess) {
				r.ops = append(r.ops, Op{SEID: id})
				r.matched = append(r.matched, sess)
			}
		}
	}
	return append(ops, r.ops...)
}

// commit makes ops durable, then applies and publishes them. After a
// failed commit it fails every later one without touching the backend.
func (s *Store) commit(ops []Op) error {
	s.mu.RLock()
	err := s.err
	s.mu.RUnlock()
	if err != nil {
		return err
	}
	if s.backend != nil && len(ops) > 0 {
		if err := s.backend.Commit(ops); err != nil {
			return s.fail(fmt.Errorf("%w: commit %d writes: %w", ErrStoreFailed, len(ops), err))
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, op := range ops {
		s.apply(op)
	}
	return nil
}

// fail stops the store for good: every later write and Watch returns err,
// and every watch ends with it, as the feed has nothing more to say.
func (s *Store) fail(err error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.err = err
	for w := range s.watches {
		s.endWatch(w, err)
	}
	return err
}

// apply changes the maps for op and publishes the change. s.mu is held.
func (s *Store) apply(op Op) {
	old, existed := s.sessions[op.SEID]
	if existed {
		s.unindex(old)
	}
	if op.Session == nil {
		if !existed {
			return
		}
		delete(s.sessions, op.SEID)
		s.publish(Change{Kind: ChangeDelete, SEID: op.SEID, Session: old})
		return
	}
	s.sessions[op.SEID] = op.Session
	s.index(op.Session)
	s.publish(Change{Kind: ChangePut, SEID: op.SEID, Session: op.Session})
}

// index points every address of sess at it, taking them from older claims.
func (s *Store) index(sess *Session) {
	for _, a := range sess.UEAddrs() {
		s.byAddr[a] = sess.LocalSEID
	}
}

// unindex removes the addresses of sess that still point at it, leaving
// those that a later Put of another session took.
func (s *Store) unindex(sess *Session) {
	for _, a := range sess.UEAddrs() {
		if s.byAddr[a] == sess.LocalSEID {
			delete(s.byAddr, a)
		}
	}
}

// publish gives c the next revision and sends it to every watch, ending
// those whose buffer is full. s.mu is held, which orders it with Watch.
func (s *Store) publish(c Change) {
	s.rev++
	c.Rev = s.rev
	for w := range s.watches {
		select {
		case w.c <- c:
		default:
			s.endWatch(w, ErrLagged)
		}
	}
}

// endWatch closes w's channel with err, once. s.mu is held.
func (s *Store) endWatch(w *Watch, err error) {
	if _, ok := s.watches[w]; !ok {
		return
	}
	delete(s.watches, w)
	w.stop()
	w.err = err
	close(w.c)
}
