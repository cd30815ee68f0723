package mptcpproxy

import (
	"net/netip"
	"strings"
	"testing"
)

func TestAdmissionLastOwnerWins(t *testing.T) {
	a := netip.MustParseAddr("192.0.2.1")
	b := netip.MustParseAddr("198.51.100.1")
	one := &ue{seid: 1, addrs: []netip.Addr{a}}
	two := &ue{seid: 2, addrs: []netip.Addr{a, b}}
	tbl := newAdmission()

	e := tbl.edit()
	e.set(a, one)
	e.commit()
	e = tbl.edit()
	e.set(a, two)
	e.set(b, two)
	e.commit()
	if u, ok := tbl.lookup(a); !ok || u.seid != 2 {
		t.Fatalf("lookup %v: %+v, want session 2 (the last to claim it)", a, u)
	}
	// Session 1 going away must not take session 2's address with it.
	e = tbl.edit()
	e.remove(a, 1)
	e.commit()
	if u, ok := tbl.lookup(a); !ok || u.seid != 2 {
		t.Fatalf("after session 1 left: %+v, want session 2", u)
	}
	e = tbl.edit()
	e.remove(a, 2)
	e.remove(b, 2)
	e.commit()
	if _, ok := tbl.lookup(a); ok || tbl.len() != 0 {
		t.Fatalf("after session 2 left: %d addresses remain", tbl.len())
	}
	// A set and a remove in one batch: the pending owner decides.
	e = tbl.edit()
	e.set(b, two)
	e.remove(b, 1)
	e.commit()
	if _, ok := tbl.lookup(b); !ok {
		t.Fatal("a removal by a non-owner in the same batch dropped the address")
	}
}

func TestConfigValidateNamesTheField(t *testing.T) {
	ok := Config{Listen: []netip.AddrPort{netip.MustParseAddrPort("203.0.113.1:8803")}}.WithDefaults()
	if err := ok.Validate(); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	for field, change := range map[string]func(*Config){
		"listen":                 func(c *Config) { c.Listen = nil },
		"dial_timeout":           func(c *Config) { c.DialTimeout = -1 },
		"max_connections_per_ue": func(c *Config) { c.MaxConnectionsPerUE = -1 },
		"n6_source4":             func(c *Config) { c.N6Source4 = netip.MustParseAddr("2001:db8::1") },
		"relay.uplink":           func(c *Config) { c.Relay.Uplink = "zerocopy" },
		"relay.buffer_size":      func(c *Config) { c.Relay.BufferSize = 64 << 20 },
		"max_subflows":           func(c *Config) { c.MaxSubflows = 9 },
		"access_links.3gpp":      func(c *Config) { c.AccessLinks.ThreeGPP = []string{"n3"} }, // steering off
		"access_links.non3gpp": func(c *Config) {
			c.Steering, c.AccessLinks = true, AccessLinks{ThreeGPP: []string{"n3"}, Non3GPP: []string{"n3"}}
		},
	} {
		c := ok
		change(&c)
		err := c.Validate()
		if err == nil || !strings.HasPrefix(err.Error(), field+":") {
			t.Errorf("%s: got %v, want an error naming it", field, err)
		}
	}
}

func TestDeniedDestinations(t *testing.T) {
	p := &Proxy{denied: deniedPrefixes(Config{
		Listen:             []netip.AddrPort{netip.MustParseAddrPort("203.0.113.1:8803")},
		DeniedDestinations: []netip.Prefix{netip.MustParsePrefix("198.51.100.0/24")},
	})}
	for addr, want := range map[string]bool{
		"127.0.0.1": true, "0.0.0.0": true, "169.254.1.1": true, "224.0.0.1": true, "255.255.255.255": true,
		"203.0.113.1": true, "198.51.100.7": true, "::ffff:127.0.0.1": true,
		"203.0.113.130": false, "192.0.2.9": false, "2001:db8::1": false,
	} {
		if got := p.isDenied(netip.MustParseAddr(addr)); got != want {
			t.Errorf("isDenied(%s) = %v, want %v", addr, got, want)
		}
	}
}

func TestUnsupportedOption(t *testing.T) {
	for _, tc := range []struct {
		opts []byte
		kind byte
		bad  bool
	}{
		{nil, 0, false},
		{[]byte{2, 4, 5, 0xb4, 4, 2}, 0, false}, // MSS, SACK permitted
		{[]byte{2, 4, 5, 0xb4, 30, 4, 0, 0}, 30, true},
		{[]byte{8, 1}, 8, true}, // a length below 2 cannot be walked
	} {
		kind, bad := unsupportedOption(tc.opts)
		if bad != tc.bad || kind != tc.kind {
			t.Errorf("unsupportedOption(%v) = %d, %v; want %d, %v", tc.opts, kind, bad, tc.kind, tc.bad)
		}
	}
}
