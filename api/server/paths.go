package server

import (
	"sync"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	atsssv1 "github.com/openatsss/atsss/api/atsss/v1"
	"github.com/openatsss/atsss/atsss"
)

// pathBuffer is how many path events a subscriber may have pending before
// it is dropped.
const pathBuffer = 1024

// pathHub turns the data plane's access states into path events for every
// WatchSessions stream at once: one poller reads each session's states
// every interval while anyone subscribes, so that the cost does not grow
// with the number of watchers. The data planes report state, not events,
// because a state read is what they can answer without keeping history.
type pathHub struct {
	store    *atsss.Store
	access   atsss.AccessReporter
	interval time.Duration
	events   *fanout[*atsssv1.PathEvent]

	mu   sync.Mutex    // guards stop, and publishing against a poller's stop
	stop chan struct{} // closes the poller; nil while it is not running
}

func newPathHub(store *atsss.Store, access atsss.AccessReporter, interval time.Duration) *pathHub {
	return &pathHub{store: store, access: access, interval: interval, events: newFanout[*atsssv1.PathEvent](pathBuffer)}
}

// subscribe returns a channel of path events, closed if the subscriber
// falls behind, and a function that ends the subscription. The first
// subscriber starts the poller, the last one stops it.
func (h *pathHub) subscribe() (<-chan *atsssv1.PathEvent, func()) {
	if h.access == nil {
		return make(chan *atsssv1.PathEvent), func() {}
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	c, unsubscribe := h.events.subscribe()
	if h.stop == nil {
		h.stop = make(chan struct{})
		// The first states are read now, not at the first tick: a change
		// right after subscribe returns is then an event, not the
		// baseline.
		last, _ := h.sweep(nil)
		go h.poll(h.stop, last)
	}
	return c, func() {
		h.mu.Lock()
		defer h.mu.Unlock()
		if unsubscribe() == 0 && h.stop != nil {
			close(h.stop)
			h.stop = nil
		}
	}
}

// pathState is what the poller remembers of one access of one session.
type pathState struct {
	state   atsss.AccessState
	changed time.Time // when Available last changed
}

func (h *pathHub) poll(stop chan struct{}, last map[atsss.SEID][2]pathState) {
	t := time.NewTicker(h.interval)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		var events []*atsssv1.PathEvent
		last, events = h.sweep(last)
		h.publish(stop, events)
	}
}

// sweep reads every session's access states and returns them with the
// events since last (none for a session last does not have).
func (h *pathHub) sweep(last map[atsss.SEID][2]pathState) (map[atsss.SEID][2]pathState, []*atsssv1.PathEvent) {
	now := time.Now()
	seen := make(map[atsss.SEID][2]pathState, len(last))
	var events []*atsssv1.PathEvent
	for _, sess := range h.store.Sessions() {
		states, ok := h.access.AccessStates(sess.LocalSEID)
		if !ok {
			continue
		}
		prev, had := last[sess.LocalSEID]
		var cur [2]pathState
		for _, a := range atsss.Accesses {
			cur[a] = pathState{state: states[a], changed: prev[a].changed}
			if !had {
				cur[a].changed = now
				continue
			}
			p, s := prev[a].state, states[a]
			if p.Available != s.Available {
				cur[a].changed = now
			}
			for _, typ := range pathChanges(p, s) {
				events = append(events, pathEvent(sess, a, typ, cur[a]))
			}
		}
		seen[sess.LocalSEID] = cur
	}
	return seen, events
}

// pathChanges lists the events between two states of an access.
func pathChanges(p, s atsss.AccessState) []atsssv1.PathEventType {
	var out []atsssv1.PathEventType
	switch {
	case !p.Available && s.Available:
		out = append(out, atsssv1.PathEventType_PATH_EVENT_TYPE_AVAILABLE)
	case p.Available && !s.Available:
		out = append(out, atsssv1.PathEventType_PATH_EVENT_TYPE_UNAVAILABLE)
	}
	switch {
	case s.Subflows > p.Subflows:
		out = append(out, atsssv1.PathEventType_PATH_EVENT_TYPE_SUBFLOW_ESTABLISHED)
	case s.Subflows < p.Subflows:
		out = append(out, atsssv1.PathEventType_PATH_EVENT_TYPE_SUBFLOW_CLOSED)
	}
	return out
}

func pathEvent(sess *atsss.Session, a atsss.AccessType, typ atsssv1.PathEventType, ps pathState) *atsssv1.PathEvent {
	st := &atsssv1.AccessState{Access: fromAccess(a), ChangeTime: timestamppb.New(ps.changed)}
	if addrs := sess.LinkSpecificAddrs(a); len(addrs) > 0 {
		st.UeAddress = addrs[0].String()
	}
	fillAccessState(st, ps.state)
	return &atsssv1.PathEvent{Seid: uint64(sess.LocalSEID), Type: typ, State: st}
}

// publish hands events to the subscribers, unless the poller that swept
// them was stopped meanwhile: its baseline is not a new subscriber's.
func (h *pathHub) publish(stop chan struct{}, events []*atsssv1.PathEvent) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.stop == stop && len(events) > 0 {
		h.events.publish(events...)
	}
}
