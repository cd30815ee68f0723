package atsss

import "errors"

// Backend makes sessions durable. The Store calls it from one goroutine.
type Backend interface {
	// Load calls fn for every stored session, in any order.
	Load(fn func(*Session) error) error
	// Commit writes a batch of operations in one durable transaction: when it
	// returns nil, all of them survive a crash; when it fails, none may be
	// assumed written.
	Commit(ops []Op) error
	Close() error
}

// Op is one write to a Backend: Put when Session is not nil, else Delete SEID.
type Op struct {
	SEID    SEID
	Session *Session
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

// Watch is a subscription to the change feed, started by Store.Watch.
type Watch struct {
	// Snapshot holds every session at revision Rev.
	Snapshot []*Session
	Rev      uint64
	// C delivers each change after Rev, in order. It is closed when the
	// watch is cancelled or lags; Err then says why.
	C   <-chan Change
	err func() error
}

// Err returns why C was closed: nil after cancel, ErrLagged, or the context error.
func (w *Watch) Err() error { return w.err() }
