package boltstore

import (
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

var (
	metaBucket = []byte("meta")
	createdKey = []byte("created")
)

// Created returns when this store's state began: the first call on a new
// file records the current time. The N4 server uses it as its Recovery
// Time Stamp, so that a restart that keeps the sessions keeps the stamp too
// and SMFs do not take it for a restart that lost them (TS 29.244 §19A).
func (s *Store) Created() (time.Time, error) {
	var created time.Time
	err := s.db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(metaBucket)
		if err != nil {
			return err
		}
		if v := b.Get(createdKey); v != nil {
			return created.UnmarshalBinary(v)
		}
		// Recovery Time Stamps have a one-second resolution (TS 29.244
		// §8.2.65): keep what the wire can carry.
		created = time.Now().Truncate(time.Second)
		v, err := created.MarshalBinary()
		if err != nil {
			return err
		}
		return b.Put(createdKey, v)
	})
	if err != nil {
		return time.Time{}, fmt.Errorf("session store creation time: %w", err)
	}
	return created, nil
}
