package mptcpproxy

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/openatsss/atsss/atsss"
)

// watchBuffer is the change feed's buffer. The follower drains it in
// batches, so it lags only if the table copy cannot keep up with N4.
const watchBuffer = 8192

// follow keeps the admission table in step with the store's change feed
// until ctx ends, and closes the connections of sessions that go away (or
// of addresses a session no longer has). It owns sessions; it is the
// table's only writer. ready is closed once the first snapshot is in the
// table, so no UE is refused while the proxy starts.
func (p *Proxy) follow(ctx context.Context, ready chan<- struct{}) error {
	sessions := make(map[atsss.SEID]*ue)
	for {
		w, err := p.store.Watch(ctx, watchBuffer)
		if err != nil {
			return fmt.Errorf("watch sessions: %w", err)
		}
		// Resync from the snapshot: the first time, and after a lag.
		e := p.table.edit()
		seen := make(map[atsss.SEID]bool, len(w.Snapshot))
		for _, s := range w.Snapshot {
			seen[s.LocalSEID] = true
			p.apply(e, sessions, s.LocalSEID, s)
		}
		for seid := range sessions {
			if !seen[seid] {
				p.apply(e, sessions, seid, nil)
			}
		}
		e.commit()
		if ready != nil {
			close(ready)
			ready = nil
		}
		p.metrics.admissionAddrs.Set(float64(p.table.len()))

		for ch := range w.C {
			e := p.table.edit()
			apply := func(ch atsss.Change) { p.applyChange(e, sessions, ch) }
			apply(ch)
			w.TakeQueued(apply) // into the same batch
			e.commit()
			p.metrics.admissionAddrs.Set(float64(p.table.len()))
		}
		switch err := w.Err(); {
		case errors.Is(err, atsss.ErrLagged):
			p.log.Warn("session feed lagged; resyncing from a snapshot")
		case ctx.Err() != nil:
			return nil
		default:
			return fmt.Errorf("session feed: %w", err)
		}
	}
}

func (p *Proxy) applyChange(e *tableEdit, sessions map[atsss.SEID]*ue, ch atsss.Change) {
	if ch.Kind == atsss.ChangeDelete {
		p.apply(e, sessions, ch.SEID, nil)
		return
	}
	p.apply(e, sessions, ch.SEID, ch.Session)
}

// apply moves one session to its new state s (nil: deleted) in the table,
// and closes the connections that the new state no longer admits.
func (p *Proxy) apply(e *tableEdit, sessions map[atsss.SEID]*ue, seid atsss.SEID, s *atsss.Session) {
	old := sessions[seid]
	var nu *ue
	if s != nil {
		nu = newUE(s)
		sessions[seid] = nu
		p.carried.put(seid)
		for _, a := range nu.addrs {
			e.set(a, nu)
		}
	} else {
		delete(sessions, seid)
		p.carried.remove(seid)
	}
	if old == nil {
		return
	}
	for _, a := range old.addrs {
		if nu == nil || !nu.owns(a) {
			e.remove(a, seid)
		}
	}
	conns := p.conns.session(seid)
	if len(conns) > 0 && nu == nil {
		p.log.Info("session deleted: closing its connections", "seid", uint64(seid), "connections", len(conns))
	}
	for _, c := range conns {
		switch {
		case nu == nil:
			c.abort("session deleted")
		case !nu.owns(c.src.Addr()):
			c.abort("address no longer in the session")
		}
	}
	if nu != nil && len(conns) > 0 {
		p.refreshPolicies(conns, nu)
	}
	switch {
	case p.steer == nil:
	case nu == nil:
		p.steer.forget(seid)
	case len(conns) > 0:
		p.steer.update(conns, time.Now())
	}
}
