// Package boltstore keeps atsss sessions in a bbolt file: the persistent
// atsss.Backend of the session store. It owns the file format; atsss owns
// the semantics (group commit, change feed).
//
// Sessions live in the bucket "sessions": key the local SEID as 8 bytes big
// endian, value a format byte then the session. Format 1 is encoding/json of
// atsss.Session, whose field tags are the schema. For a typical MA PDU
// session it is 2.4 kB, encodes in 8–13 µs, next to a commit that waits for
// fsync for a millisecond or more, and decodes in about 40 µs, so 100k
// sessions load in about 4 s at start. It tolerates added fields, and the
// bbolt CLI shows it as text. encoding/gob was larger (3 kB: each record
// carries its types) and 4–5x slower both ways; a hand-written binary form
// would be smaller and faster, at the cost of a second schema to keep in
// step with atsss.Session. The format byte leaves room for one.
package boltstore

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"

	"github.com/openatsss/atsss/atsss"
)

var bucketName = []byte("sessions")

// formatJSON marks a value as encoding/json of atsss.Session.
const formatJSON byte = 1

// Options tune Open. The zero value is the default.
type Options struct {
	// LockTimeout is how long Open waits for another process to release the
	// file; 0 means one second.
	LockTimeout time.Duration
}

// Store is an atsss.Backend on a bbolt file. Commit is durable (fsync) when
// it returns nil. Its methods are safe for concurrent use (bbolt runs one
// write transaction at a time), though atsss.Store calls them one at a time.
type Store struct {
	db *bolt.DB
}

var _ atsss.Backend = (*Store)(nil)

// Open opens the session file at path, creating it if needed. While it is
// open, another process that opens it fails after opts.LockTimeout.
func Open(path string, opts Options) (*Store, error) {
	timeout := opts.LockTimeout
	if timeout == 0 {
		timeout = time.Second
	}
	// bbolt's defaults fsync every commit; atsss.Store acknowledges a write
	// only once Commit returns, so NoSync is never an option here.
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: timeout})
	if errors.Is(err, bolterrors.ErrTimeout) {
		return nil, fmt.Errorf("open session store %s: still locked by another process after %v: %w", path, timeout, err)
	}
	if err != nil {
		return nil, fmt.Errorf("open session store %s: %w", path, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		_, err := tx.CreateBucketIfNotExists(bucketName)
		return err
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("open session store %s: create bucket: %w", path, err)
	}
	return &Store{db: db}, nil
}

// Load calls fn for every stored session, in SEID order. A record that does
// not decode is an error that names its SEID.
func (s *Store) Load(fn func(*atsss.Session) error) error {
	return s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketName).ForEach(func(k, v []byte) error {
			if len(k) != 8 {
				return fmt.Errorf("load session: key %x is not a SEID", k)
			}
			id := atsss.SEID(binary.BigEndian.Uint64(k))
			sess, err := decode(v)
			if err != nil {
				return fmt.Errorf("load session %v: %w", id, err)
			}
			if sess.LocalSEID != id {
				return fmt.Errorf("load session %v: record holds session %v", id, sess.LocalSEID)
			}
			return fn(sess)
		})
	})
}

// Commit writes ops, with the values Encode made, in one transaction and
// returns once it is on disk.
func (s *Store) Commit(ops []atsss.Op) error {
	// The keys stay valid until the commit, as bbolt requires.
	keys := make([]byte, 8*len(ops))
	for i, op := range ops {
		binary.BigEndian.PutUint64(keys[8*i:], uint64(op.SEID))
		if op.Session != nil && len(op.Value) == 0 {
			return fmt.Errorf("write session %v: not encoded", op.SEID)
		}
	}
	err := s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketName)
		for i, op := range ops {
			k := keys[8*i : 8*i+8]
			var err error
			if op.Session == nil {
				err = b.Delete(k)
			} else {
				err = b.Put(k, op.Value)
			}
			if err != nil {
				return fmt.Errorf("write session %v: %w", op.SEID, err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("%s: %w", s.db.Path(), err)
	}
	return nil
}

// DB returns the open bbolt file. The policy store (api/policystore.Bolt)
// shares the file, in a bucket of its own, so that one file holds all of
// atsssd's state. The Store still owns the file: its Close closes it.
func (s *Store) DB() *bolt.DB { return s.db }

// Close closes the file.
func (s *Store) Close() error {
	return s.db.Close()
}

// Encode returns the stored form of sess. Safe for concurrent use.
func (s *Store) Encode(sess *atsss.Session) ([]byte, error) { return encode(sess) }

func encode(sess *atsss.Session) ([]byte, error) {
	b, err := json.Marshal(sess)
	if err != nil {
		return nil, err
	}
	return append([]byte{formatJSON}, b...), nil
}

func decode(v []byte) (*atsss.Session, error) {
	if len(v) == 0 {
		return nil, errors.New("empty record")
	}
	if v[0] != formatJSON {
		return nil, fmt.Errorf("unknown record format %d", v[0])
	}
	var sess atsss.Session
	if err := json.Unmarshal(v[1:], &sess); err != nil {
		return nil, err
	}
	return &sess, nil
}
