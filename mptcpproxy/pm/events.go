package pm

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"sync"
	"syscall"

	"github.com/mdlayher/genetlink"
	"github.com/mdlayher/netlink"
)

// EventType is an MPTCP_EVENT_* value (mptcp_pm.h enum mptcp_event_type).
type EventType uint8

const (
	// EventLost is not sent by the kernel (it is MPTCP_EVENT_UNSPEC): Run
	// reports it after the socket buffer overflowed and events were
	// dropped. State built from events must then be rebuilt from socket
	// readings (see Run).
	EventLost EventType = 0

	EventCreated     EventType = 1 // connection created (SYN seen); Local, Remote, ServerSide
	EventEstablished EventType = 2 // connection established, may open subflows
	EventClosed      EventType = 3 // connection gone; Token only

	EventAnnounced EventType = 6 // peer announced Remote under RemoteID (ADD_ADDR); port is the connection's if the peer gave none
	EventRemoved   EventType = 7 // peer withdrew RemoteID (RM_ADDR)

	EventSubEstablished EventType = 10 // subflow up; IDs, addresses, Backup, IfIndex
	EventSubClosed      EventType = 11 // subflow closed; Err holds its socket error if any
	EventSubPriority    EventType = 13 // backup bit of a subflow changed (MP_PRIO received)

	EventListenerCreated EventType = 15 // PM listener (for a Signal endpoint with a port) created; Local
	EventListenerClosed  EventType = 16 // PM listener closed; Local
)

var eventNames = map[EventType]string{
	EventLost:            "lost",
	EventCreated:         "created",
	EventEstablished:     "established",
	EventClosed:          "closed",
	EventAnnounced:       "announced",
	EventRemoved:         "removed",
	EventSubEstablished:  "sub_established",
	EventSubClosed:       "sub_closed",
	EventSubPriority:     "sub_priority",
	EventListenerCreated: "listener_created",
	EventListenerClosed:  "listener_closed",
}

// String returns the kernel's name of the event, lower case.
func (t EventType) String() string {
	if s, ok := eventNames[t]; ok {
		return s
	}
	return "event_" + strconv.Itoa(int(t))
}

// Event is one path manager notification. Fields an event type does not
// carry are zero; the comment on each EventType lists what it carries.
//
// Addresses are as the kernel reports them: a subflow of a dual-stack
// (AF_INET6) socket has v4-mapped addresses. Pass them unchanged to
// DestroySubflow and SetBackup, which match by family; Unmap them for
// display or comparison with IPv4 addresses.
type Event struct {
	Type  EventType
	Token uint32
	// LocalID and RemoteID are MPTCP address ids (RFC 8684 §3.4.1): 0 is
	// the initial subflow's address.
	LocalID  uint8
	RemoteID uint8
	Local    netip.AddrPort
	Remote   netip.AddrPort
	// Backup is the backup bit as the peer last set it (MP_JOIN or
	// MP_PRIO): this side should send on the subflow only if no other
	// works. A bit this side sets (SetBackup) shows in the peer's events.
	Backup  bool
	IfIndex int32
	// Err is the socket error of a subflow (sk_err), 0 if none.
	Err syscall.Errno
	// ServerSide is true on the side that accepted the connection.
	ServerSide bool
	// DenyJoinID0: the peer does not accept joins to the address of the
	// initial subflow (the C flag of MP_CAPABLE, RFC 8684 §3.1).
	DenyJoinID0 bool
	// ResetReason and ResetFlags are the MP_TCPRST reason and flags of a
	// closed subflow (RFC 8684 §3.6), when the kernel reports them.
	ResetReason uint32
	ResetFlags  uint32
}

// Events receives path manager notifications from the mptcp_pm_events
// multicast group. It is bound to the network namespace it was opened in.
// Run is called once; Close may be called from any goroutine.
type Events struct {
	c         *genetlink.Conn
	family    uint16
	closeOnce sync.Once
	closeErr  error
}

// eventsReadBuffer is the socket receive buffer asked for the events
// socket: a burst of connections produces several events each, and an
// overflow loses them (EventLost).
const eventsReadBuffer = 4 << 20

// OpenEvents subscribes to the path manager events of the calling thread's
// network namespace, with the same namespace rules as Open. Events from
// every connection of the namespace arrive, whichever path manager runs it.
func OpenEvents() (*Events, error) {
	c, f, err := dial()
	if err != nil {
		return nil, err
	}
	var group uint32
	for _, g := range f.Groups {
		if g.Name == eventsGroup {
			group = g.ID
		}
	}
	if group == 0 {
		c.Close()
		return nil, fmt.Errorf("mptcp_pm: no multicast group %q", eventsGroup)
	}
	if err := c.JoinGroup(group); err != nil {
		c.Close()
		return nil, fmt.Errorf("mptcp_pm: join %s: %w", eventsGroup, err)
	}
	setReadBuffer(c, eventsReadBuffer)
	return &Events{c: c, family: f.ID}, nil
}

// Close closes the events socket, ending Run. It is idempotent.
func (e *Events) Close() error {
	e.closeOnce.Do(func() { e.closeErr = e.c.Close() })
	return e.closeErr
}

// Run calls fn for each event, in the kernel's order, until ctx is done or
// the socket fails. fn runs on Run's goroutine and should not block: events
// arriving meanwhile queue in the socket buffer.
//
// When the buffer overflows, the kernel drops that event and every later
// one until the queue has been read empty, and says so once (ENOBUFS). Run
// delivers the backlog, then EventLost once the queue is empty: from then
// on events flow again, so a consumer that rebuilds its state when it gets
// EventLost misses nothing.
//
// Run closes the socket when it returns; it returns ctx.Err() after ctx is
// done, and an error after Close.
func (e *Events) Run(ctx context.Context, fn func(Event)) error {
	defer e.Close()
	stop := context.AfterFunc(ctx, func() { e.Close() })
	defer stop()
	rc, err := e.c.SyscallConn()
	if err != nil {
		return fmt.Errorf("mptcp_pm events: %w", err)
	}
	lost := false
	for {
		if lost && queueEmpty(rc) {
			lost = false
			fn(Event{Type: EventLost})
		}
		msgs, nlmsgs, err := e.c.Receive()
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if errors.Is(err, syscall.ENOBUFS) {
				lost = true
				continue
			}
			return fmt.Errorf("mptcp_pm events: %w", err)
		}
		for i, m := range msgs {
			if nlmsgs[i].Header.Type != netlink.HeaderType(e.family) {
				continue
			}
			ev, err := decodeEvent(EventType(m.Header.Command), m.Data)
			if err != nil {
				return fmt.Errorf("mptcp_pm events: %s: %w", EventType(m.Header.Command), err)
			}
			fn(ev)
		}
	}
}

// decodeEvent reads the attributes of one event. Unknown attributes are
// skipped (newer kernels add some); a known one with the wrong size is an
// error, as is a malformed attribute stream.
func decodeEvent(t EventType, b []byte) (Event, error) {
	ev := Event{Type: t}
	ad, err := netlink.NewAttributeDecoder(b)
	if err != nil {
		return ev, err
	}
	var (
		saddr, daddr netip.Addr
		sport, dport uint16
	)
	for ad.Next() {
		switch ad.Type() {
		case evAttrToken:
			ev.Token = ad.Uint32()
		case evAttrLocID:
			ev.LocalID = ad.Uint8()
		case evAttrRemID:
			ev.RemoteID = ad.Uint8()
		case evAttrSaddr4, evAttrDaddr4:
			b := ad.Bytes()
			if len(b) != 4 {
				return ev, fmt.Errorf("attribute %d: length %d, want 4", ad.Type(), len(b))
			}
			if ad.Type() == evAttrSaddr4 {
				saddr = netip.AddrFrom4([4]byte(b))
			} else {
				daddr = netip.AddrFrom4([4]byte(b))
			}
		case evAttrSaddr6, evAttrDaddr6:
			b := ad.Bytes()
			if len(b) != 16 {
				return ev, fmt.Errorf("attribute %d: length %d, want 16", ad.Type(), len(b))
			}
			if ad.Type() == evAttrSaddr6 {
				saddr = netip.AddrFrom16([16]byte(b))
			} else {
				daddr = netip.AddrFrom16([16]byte(b))
			}
		case evAttrSport, evAttrDport:
			p, ok := be16(ad.Bytes())
			if !ok {
				return ev, fmt.Errorf("attribute %d: length %d, want 2", ad.Type(), len(ad.Bytes()))
			}
			if ad.Type() == evAttrSport {
				sport = p
			} else {
				dport = p
			}
		case evAttrBackup:
			ev.Backup = ad.Uint8() != 0
		case evAttrError:
			ev.Err = syscall.Errno(ad.Uint8())
		case evAttrFlags:
			f := ad.Uint16()
			ev.DenyJoinID0 = f&evFlagDenyJoinID0 != 0
			ev.ServerSide = ev.ServerSide || f&evFlagServerSide != 0
		case evAttrIfIndex:
			ev.IfIndex = ad.Int32()
		case evAttrResetReason:
			ev.ResetReason = ad.Uint32()
		case evAttrResetFlags:
			ev.ResetFlags = ad.Uint32()
		case evAttrServerSide:
			ev.ServerSide = ev.ServerSide || ad.Uint8() != 0
		}
	}
	if err := ad.Err(); err != nil {
		return ev, err
	}
	if saddr.IsValid() || sport != 0 {
		ev.Local = netip.AddrPortFrom(saddr, sport)
	}
	if daddr.IsValid() || dport != 0 {
		ev.Remote = netip.AddrPortFrom(daddr, dport)
	}
	return ev, nil
}
