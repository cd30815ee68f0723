package pfcp

import (
	"errors"
	"net/netip"
	"slices"
	"testing"
)

func TestAddrPool(t *testing.T) {
	tests := []struct {
		prefix string
		want   []string // every address handed out, in order
	}{
		{"192.0.2.0/30", []string{"192.0.2.1", "192.0.2.2"}},                      // no network, no broadcast
		{"192.0.2.8/31", []string{"192.0.2.8", "192.0.2.9"}},                      // RFC 3021: both usable
		{"2001:db8::/126", []string{"2001:db8::1", "2001:db8::2", "2001:db8::3"}}, // no Subnet-Router anycast
	}
	for _, tc := range tests {
		t.Run(tc.prefix, func(t *testing.T) {
			p := newAddrPool(netip.MustParsePrefix(tc.prefix))
			var got []string
			for range tc.want {
				a, err := p.take()
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, a.String())
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("took %v, want %v", got, tc.want)
			}
			if _, err := p.take(); !errors.Is(err, errPoolExhausted) {
				t.Errorf("full pool: %v, want errPoolExhausted", err)
			}
			freed := netip.MustParseAddr(tc.want[0])
			p.free(freed)
			if a, err := p.take(); err != nil || a != freed {
				t.Errorf("after free: %v %v, want %v", a, err, freed)
			}
			if p.mark(freed) {
				t.Errorf("marking a taken address succeeded")
			}
		})
	}
}

func TestTEIDPool(t *testing.T) {
	var p teidPool
	a, _ := p.take()
	b, _ := p.take()
	if a == 0 || b == 0 || a == b {
		t.Fatalf("took %d and %d: want two distinct non-zero TEIDs", a, b)
	}
	if p.mark(a) || p.mark(0) {
		t.Error("marked a taken TEID or TEID 0")
	}
	p.free(a)
	if !p.mark(a) {
		t.Error("a freed TEID cannot be marked again")
	}
}
