package pm

import (
	"bufio"
	"encoding/hex"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/mdlayher/netlink"
)

// goldenEvent is one line of testdata/kernel-events.txt.
type goldenEvent struct {
	typ  EventType
	data []byte
}

func readGoldenEvents(tb testing.TB) []goldenEvent {
	tb.Helper()
	f, err := os.Open("testdata/kernel-events.txt")
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	var out []goldenEvent
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		num, hexData, ok := strings.Cut(line, " ")
		if !ok {
			tb.Fatalf("bad golden line %q", line)
		}
		n, err := strconv.ParseUint(num, 10, 8)
		if err != nil {
			tb.Fatal(err)
		}
		b, err := hex.DecodeString(hexData)
		if err != nil {
			tb.Fatal(err)
		}
		out = append(out, goldenEvent{EventType(n), b})
	}
	if err := sc.Err(); err != nil {
		tb.Fatal(err)
	}
	return out
}

var cmpAddrs = cmp.Options{
	cmp.Comparer(func(a, b netip.Addr) bool { return a == b }),
	cmp.Comparer(func(a, b netip.AddrPort) bool { return a == b }),
}

func TestDecodeEventGolden(t *testing.T) {
	const (
		client = 4088464482
		server = 2762751480
	)
	ap := netip.MustParseAddrPort
	var (
		cInit   = Event{Local: ap("192.0.2.1:35867"), Remote: ap("192.0.2.1:44869")}
		sInit   = Event{Local: ap("[::ffff:192.0.2.1]:44869"), Remote: ap("[::ffff:192.0.2.1]:35867"), ServerSide: true}
		cJoin   = Event{LocalID: 3, Local: ap("198.51.100.1:35393"), Remote: ap("192.0.2.1:44869")}
		sJoin   = Event{RemoteID: 3, Local: ap("[::ffff:192.0.2.1]:44869"), Remote: ap("[::ffff:198.51.100.1]:35393")}
		with    = func(e Event, t EventType, token uint32) Event { e.Type, e.Token = t, token; return e }
		backup  = func(e Event) Event { e.Backup = true; return e }
		lnEvent = func(t EventType) Event { return Event{Type: t, Local: ap("[::]:44869")} }
	)
	want := []Event{
		lnEvent(EventListenerCreated),
		with(cInit, EventCreated, client),
		with(sInit, EventCreated, server),
		with(sInit, EventEstablished, server),
		with(cInit, EventEstablished, client),
		{Type: EventAnnounced, Token: client, RemoteID: 5, Remote: ap("198.51.100.1:44869")},
		with(cJoin, EventSubEstablished, client),
		with(sJoin, EventSubEstablished, server),
		backup(with(sJoin, EventSubPriority, server)),
		{Type: EventRemoved, Token: client, RemoteID: 5},
		with(cJoin, EventSubClosed, client),
		backup(with(sJoin, EventSubClosed, server)),
		{Type: EventClosed, Token: client},
		{Type: EventClosed, Token: server},
		lnEvent(EventListenerClosed),
	}
	var got []Event
	for _, g := range readGoldenEvents(t) {
		ev, err := decodeEvent(g.typ, g.data)
		if err != nil {
			t.Fatalf("%v: %v", g.typ, err)
		}
		got = append(got, ev)
	}
	if diff := cmp.Diff(want, got, cmpAddrs); diff != "" {
		t.Errorf("decoded kernel events (-want +got):\n%s", diff)
	}
}

// attrs encodes attributes for hand-made test inputs.
func attrs(tb testing.TB, fn func(ae *netlink.AttributeEncoder)) []byte {
	tb.Helper()
	ae := netlink.NewAttributeEncoder()
	fn(ae)
	b, err := ae.Encode()
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func TestDecodeEvent(t *testing.T) {
	tests := []struct {
		name    string
		typ     EventType
		data    []byte
		want    Event
		wantErr bool
	}{
		{
			name: "sub_closed with error and reset",
			typ:  EventSubClosed,
			data: attrs(t, func(ae *netlink.AttributeEncoder) {
				ae.Uint32(evAttrToken, 7)
				ae.Uint16(evAttrFamily, afInet6)
				ae.Bytes(evAttrSaddr6, netip.MustParseAddr("2001:db8::1").AsSlice())
				ae.Bytes(evAttrDaddr6, netip.MustParseAddr("2001:db8::2").AsSlice())
				ae.Bytes(evAttrSport, []byte{0x12, 0x34})
				ae.Bytes(evAttrDport, []byte{0x00, 0x50})
				ae.Uint8(evAttrError, uint8(syscall.ECONNRESET))
				ae.Uint32(evAttrResetReason, 1)
				ae.Uint32(evAttrResetFlags, 2)
				ae.Int32(evAttrIfIndex, 3)
			}),
			want: Event{
				Type: EventSubClosed, Token: 7,
				Local:  netip.MustParseAddrPort("[2001:db8::1]:4660"),
				Remote: netip.MustParseAddrPort("[2001:db8::2]:80"),
				Err:    syscall.ECONNRESET, ResetReason: 1, ResetFlags: 2, IfIndex: 3,
			},
		},
		{
			name: "created: deny join id0 flag, unknown attribute skipped",
			typ:  EventCreated,
			data: attrs(t, func(ae *netlink.AttributeEncoder) {
				ae.Uint32(evAttrToken, 1)
				ae.Uint16(evAttrFlags, evFlagDenyJoinID0)
				ae.Uint64(200, 42)
			}),
			want: Event{Type: EventCreated, Token: 1, DenyJoinID0: true},
		},
		{
			name: "unknown event type kept",
			typ:  99,
			data: attrs(t, func(ae *netlink.AttributeEncoder) { ae.Uint32(evAttrToken, 5) }),
			want: Event{Type: 99, Token: 5},
		},
		{
			name:    "short addr4",
			typ:     EventCreated,
			data:    attrs(t, func(ae *netlink.AttributeEncoder) { ae.Bytes(evAttrSaddr4, []byte{192, 0, 2}) }),
			wantErr: true,
		},
		{
			name:    "long port",
			typ:     EventCreated,
			data:    attrs(t, func(ae *netlink.AttributeEncoder) { ae.Uint32(evAttrSport, 1) }),
			wantErr: true,
		},
		{
			name:    "token of the wrong size",
			typ:     EventClosed,
			data:    attrs(t, func(ae *netlink.AttributeEncoder) { ae.Uint16(evAttrToken, 1) }),
			wantErr: true,
		},
		{
			name:    "truncated attribute",
			typ:     EventClosed,
			data:    []byte{8, 0, 1, 0, 1, 2},
			wantErr: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := decodeEvent(tt.typ, tt.data)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if err != nil {
				return
			}
			if diff := cmp.Diff(tt.want, got, cmpAddrs); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func FuzzDecodeEvent(f *testing.F) {
	for _, g := range readGoldenEvents(f) {
		f.Add(uint8(g.typ), g.data)
	}
	f.Fuzz(func(t *testing.T, typ uint8, b []byte) {
		ev, err := decodeEvent(EventType(typ), b)
		if err != nil {
			return
		}
		if ev.Type != EventType(typ) {
			t.Errorf("type %v, want %d", ev.Type, typ)
		}
		_ = ev.Type.String()
	})
}

// TestAddrWire checks the nested address encoding byte for byte against
// the uapi layout, and that decoding gives it back.
func TestAddrWire(t *testing.T) {
	tests := []struct {
		name string
		addr pmAddr
		// want is the nested attribute's payload: each attribute is
		// len(u16) type(u16) value, padded to 4.
		want string
	}{
		{
			name: "ipv4 endpoint",
			addr: pmAddr{id: 7, hasID: true, addr: netip.MustParseAddr("192.0.2.1"), port: 4242, flags: FlagSignal | FlagBackup, ifIndex: 2},
			want: "0600 0100 0200 0000" + // family AF_INET
				"0800 0300 c0000201" + // addr4, network order
				"0500 0200 07 000000" + // id
				"0600 0500 9210 0000" + // port 4242, host order
				"0800 0600 05000000" + // flags signal|backup
				"0800 0700 02000000", // ifindex
		},
		{
			name: "ipv6 without id",
			addr: pmAddr{addr: netip.MustParseAddr("2001:db8::1"), flags: FlagSubflow},
			want: "0600 0100 0a00 0000" +
				"1400 0400 20010db8000000000000000000000001" +
				"0800 0600 02000000",
		},
		{
			name: "v4-mapped stays AF_INET6",
			addr: pmAddr{addr: netip.MustParseAddr("::ffff:192.0.2.1"), port: 80},
			want: "0600 0100 0a00 0000" +
				"1400 0400 00000000000000000000ffffc0000201" +
				"0600 0500 5000 0000",
		},
		{
			name: "id only (lookup by id)",
			addr: pmAddr{id: 3, hasID: true},
			want: "0500 0200 03 000000",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := attrs(t, func(ae *netlink.AttributeEncoder) { encodeAddr(ae, attrAddr, tt.addr) })
			want, err := hex.DecodeString(strings.ReplaceAll(tt.want, " ", ""))
			if err != nil {
				t.Fatal(err)
			}
			// Outer header: length, type attrAddr with NLA_F_NESTED.
			if len(b) < 4 || b[2] != byte(attrAddr) || b[3] != 0x80 {
				t.Fatalf("outer attribute header % x", b[:min(4, len(b))])
			}
			if got := b[4:]; string(got) != string(want) {
				t.Errorf("payload\n got % x\nwant % x", got, want)
			}
			e, err := decodeEndpoint(b)
			if err != nil {
				t.Fatal(err)
			}
			back := Endpoint{ID: tt.addr.id, Addr: tt.addr.addr, Port: tt.addr.port, IfIndex: tt.addr.ifIndex, Flags: tt.addr.flags}
			if diff := cmp.Diff(back, e, cmpAddrs); diff != "" {
				t.Errorf("decode (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDecodeEndpointErrors(t *testing.T) {
	tests := []struct {
		name string
		data []byte
	}{
		{"no address", attrs(t, func(ae *netlink.AttributeEncoder) { ae.Uint32(attrToken, 1) })},
		{"family mismatch", attrs(t, func(ae *netlink.AttributeEncoder) {
			ae.Nested(attrAddr, func(nae *netlink.AttributeEncoder) error {
				nae.Uint16(addrAttrFamily, afInet6)
				nae.Bytes(addrAttrAddr4, []byte{192, 0, 2, 1})
				return nil
			})
		})},
		{"short addr6", attrs(t, func(ae *netlink.AttributeEncoder) {
			ae.Nested(attrAddr, func(nae *netlink.AttributeEncoder) error {
				nae.Bytes(addrAttrAddr6, make([]byte, 4))
				return nil
			})
		})},
		{"id of the wrong size", attrs(t, func(ae *netlink.AttributeEncoder) {
			ae.Nested(attrAddr, func(nae *netlink.AttributeEncoder) error {
				nae.Uint32(addrAttrID, 1)
				return nil
			})
		})},
		{"garbage", []byte{1, 2, 3}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if e, err := decodeEndpoint(tt.data); err == nil {
				t.Errorf("decoded %+v, want an error", e)
			}
		})
	}
}

func FuzzDecodeEndpoint(f *testing.F) {
	for _, a := range []pmAddr{
		{id: 7, hasID: true, addr: netip.MustParseAddr("192.0.2.1"), port: 4242, flags: FlagSignal, ifIndex: 2},
		{addr: netip.MustParseAddr("2001:db8::1"), flags: FlagSubflow | FlagFullmesh},
	} {
		f.Add(attrs(f, func(ae *netlink.AttributeEncoder) { encodeAddr(ae, attrAddr, a) }))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := decodeEndpoint(b)
		if err != nil {
			return
		}
		// What decodes re-encodes to something that decodes the same.
		again, err := decodeEndpoint(attrs(t, func(ae *netlink.AttributeEncoder) {
			encodeAddr(ae, attrAddr, pmAddr{id: e.ID, hasID: e.ID != 0, addr: e.Addr, port: e.Port, flags: e.Flags, ifIndex: e.IfIndex})
		}))
		if err != nil {
			t.Fatalf("re-encoded %+v does not decode: %v", e, err)
		}
		if diff := cmp.Diff(e, again, cmpAddrs); diff != "" {
			t.Errorf("round trip (-first +second):\n%s", diff)
		}
	})
}

func TestEndpointFlagsString(t *testing.T) {
	tests := []struct {
		f    EndpointFlags
		want string
	}{
		{0, "none"},
		{FlagSignal, "signal"},
		{FlagSubflow | FlagBackup, "subflow,backup"},
		{FlagSignal | FlagSubflow | FlagBackup | FlagFullmesh | FlagImplicit | FlagLaminar, "signal,subflow,backup,fullmesh,implicit,laminar"},
		{FlagBackup | 1<<8, "backup,0x100"},
		{1 << 31, "0x80000000"},
	}
	for _, tt := range tests {
		if got := tt.f.String(); got != tt.want {
			t.Errorf("EndpointFlags(%#x).String() = %q, want %q", uint32(tt.f), got, tt.want)
		}
	}
}

func TestStrings(t *testing.T) {
	tests := []struct {
		got, want string
	}{
		{EventSubPriority.String(), "sub_priority"},
		{EventLost.String(), "lost"},
		{EventType(42).String(), "event_42"},
		{cmdSetLimits.String(), "set_limits"},
		{cmdSubflowDestroy.String(), "subflow_destroy"},
		{command(77).String(), "cmd_77"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("got %q, want %q", tt.got, tt.want)
		}
	}
}
