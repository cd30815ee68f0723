package atsss_test

import (
	"fmt"
	"net/netip"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/openatsss/atsss/atsss"
)

// addrCmp compares netip.Addr values, whose fields are unexported.
var addrCmp = cmp.Comparer(func(a, b netip.Addr) bool { return a == b })

var addrType = reflect.TypeFor[netip.Addr]()

// fullSession is validSession with every slice and pointer of the model set
// somewhere, so that TestCloneIsDeep reaches all of them. It need not be
// valid.
func fullSession() *atsss.Session {
	s := validSession()
	for i := range s.URRs {
		s.URRs[i].Raw = []byte{0x01, 0x02, byte(i)}
	}
	m := s.MAR(marLL)
	m.Thresholds = rtt(40)
	m.SMI = &atsss.SteeringModeIndicator{UEAssistance: true}
	m.Legs[atsss.AccessNon3GPP].URRIDs = []uint32{urrUnused}
	s.ATSSS.Requested.PQPM = true
	s.ATSSS.Requested.QFIs = []uint8{1, 9}
	s.ATSSS.Params.PMF = append(s.ATSSS.Params.PMF, atsss.PMFParams{QFI: 1, Addr: atsss.AddrPair{IPv6: ueIPv6}, Ports: [2]uint16{4003, 4004}})
	s.DNN = "internet.mnc001.mcc001.gprs"
	s.SNSSAI = &atsss.SNSSAI{SST: 1, SD: 0x010203, SDSet: true}
	return s
}

// walk calls visit for v and for every value reachable from it through
// exported struct fields, pointers, slices and arrays. path names the value
// with slice and array indexes left out, so that it names a field of the
// model: "PDRs[].PDI.FTEID".
func walk(v reflect.Value, path string, visit func(path string, v reflect.Value)) {
	visit(path, v)
	switch v.Kind() {
	case reflect.Pointer:
		if !v.IsNil() {
			walk(v.Elem(), path, visit)
		}
	case reflect.Slice, reflect.Array:
		for i := range v.Len() {
			walk(v.Index(i), path+"[]", visit)
		}
	case reflect.Struct:
		if v.Type() == addrType {
			return // a value; its unexported fields are not ours
		}
		for i := range v.NumField() {
			if f := v.Type().Field(i); f.IsExported() {
				walk(v.Field(i), path+"."+f.Name, visit)
			}
		}
	}
}

// mutate changes every scalar reachable from v.
func mutate(v reflect.Value) {
	other := netip.MustParseAddr("203.0.113.99")
	walk(v, "", func(_ string, v reflect.Value) {
		if !v.CanSet() {
			return
		}
		switch {
		case v.Type() == addrType:
			if v.Interface().(netip.Addr) == other {
				v.Set(reflect.ValueOf(netip.MustParseAddr("203.0.113.98")))
			} else {
				v.Set(reflect.ValueOf(other))
			}
		case v.Kind() == reflect.Bool:
			v.SetBool(!v.Bool())
		case v.CanUint():
			v.SetUint(v.Uint() + 1)
		case v.CanInt():
			v.SetInt(v.Int() + 1)
		case v.Kind() == reflect.String:
			v.SetString(v.String() + "'")
		}
	})
}

func TestCloneIsDeep(t *testing.T) {
	// Every pointer and slice of the model must be set somewhere in the
	// fixture, or a field added later could escape the test.
	populated := map[string]bool{}
	walk(reflect.ValueOf(fullSession()), "Session", func(path string, v reflect.Value) {
		switch v.Kind() {
		case reflect.Pointer, reflect.Slice:
			set := v.Kind() == reflect.Pointer && !v.IsNil() || v.Kind() == reflect.Slice && v.Len() > 0
			populated[path] = populated[path] || set
		}
	})
	for path, ok := range populated {
		if !ok {
			t.Errorf("fullSession leaves %s unset everywhere; set it so Clone is checked for it", path)
		}
	}

	before, orig := fullSession(), fullSession()
	c := orig.Clone()
	if diff := cmp.Diff(orig, c, addrCmp); diff != "" {
		t.Fatalf("Clone differs from the original (-orig +clone):\n%s", diff)
	}
	mutate(reflect.ValueOf(c))
	if diff := cmp.Diff(before, orig, addrCmp); diff != "" {
		t.Errorf("changing the clone changed the original (-before +after):\n%s", diff)
	}
	if cmp.Equal(orig, c, addrCmp) {
		t.Error("mutate changed nothing; the test checks nothing")
	}
}

func TestCloneKeepsEmptyAndNil(t *testing.T) {
	empty := &atsss.Session{
		PDRs: []atsss.PDR{{QERIDs: []uint32{}, PDI: atsss.PDI{QFIs: []uint8{}}}},
		FARs: []atsss.FAR{}, QERs: []atsss.QER{}, URRs: []atsss.URR{{Raw: []byte{}}},
		MARs: []atsss.MAR{}, SRRs: []atsss.SRR{},
	}
	for _, tc := range []struct {
		name string
		s    *atsss.Session
	}{
		{"zero", &atsss.Session{}},
		{"empty-slices", empty},
		{"valid", validSession()},
		{"full", fullSession()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// cmp tells a nil slice from an empty one.
			if diff := cmp.Diff(tc.s, tc.s.Clone(), addrCmp); diff != "" {
				t.Errorf("Clone (-orig +clone):\n%s", diff)
			}
		})
	}
}

func TestRuleLookup(t *testing.T) {
	s := validSession()
	if p := s.PDR(pdrDLMPTCP); p != &s.PDRs[2] {
		t.Errorf("PDR(%d) = %p, want &PDRs[2]", pdrDLMPTCP, p)
	}
	if f := s.FAR(farN3IWF); f != &s.FARs[2] {
		t.Errorf("FAR(%d) = %p, want &FARs[2]", farN3IWF, f)
	}
	if q := s.QER(qerGBR); q != &s.QERs[1] {
		t.Errorf("QER(%d) = %p, want &QERs[1]", qerGBR, q)
	}
	if u := s.URR(urrMPTCP3); u != &s.URRs[2] {
		t.Errorf("URR(%d) = %p, want &URRs[2]", urrMPTCP3, u)
	}
	if m := s.MAR(marLL); m != &s.MARs[1] {
		t.Errorf("MAR(%d) = %p, want &MARs[1]", marLL, m)
	}
	if r := s.SRR(srrAvailability); r != &s.SRRs[0] {
		t.Errorf("SRR(%d) = %p, want &SRRs[0]", srrAvailability, r)
	}
	if s.PDR(99) != nil || s.FAR(99) != nil || s.QER(99) != nil || s.URR(99) != nil || s.MAR(99) != nil || s.SRR(99) != nil {
		t.Error("lookup of an unknown ID returned a rule")
	}
}

func addrs(ss ...string) []netip.Addr {
	var out []netip.Addr
	for _, s := range ss {
		out = append(out, netip.MustParseAddr(s))
	}
	return out
}

func TestMAPDUAddrs(t *testing.T) {
	ueip := func(v4, v6 string) atsss.PDR {
		var u atsss.UEIP
		if v4 != "" {
			u.IPv4 = netip.MustParseAddr(v4)
		}
		if v6 != "" {
			u.IPv6 = netip.MustParseAddr(v6)
		}
		return atsss.PDR{PDI: atsss.PDI{UEIP: &u}}
	}
	for _, tc := range []struct {
		name string
		pdrs []atsss.PDR
		want []netip.Addr
	}{
		{"no-pdrs", nil, nil},
		{"no-ue-ip", []atsss.PDR{{}, {PDI: atsss.PDI{FTEID: &atsss.FTEID{TEID: 1}}}}, nil},
		{"ue-ip-without-addresses", []atsss.PDR{{PDI: atsss.PDI{UEIP: &atsss.UEIP{}}}}, nil},
		{"ipv4", []atsss.PDR{ueip("10.45.0.2", "")}, addrs("10.45.0.2")},
		{"ipv6", []atsss.PDR{ueip("", "2001:db8::2")}, addrs("2001:db8::2")},
		{"dual-stack-in-pdr-order", []atsss.PDR{ueip("10.45.0.2", ""), {}, ueip("10.45.0.2", "2001:db8::2")},
			addrs("10.45.0.2", "2001:db8::2")},
		{"two-addresses", []atsss.PDR{ueip("10.45.0.2", ""), ueip("10.45.0.3", "")}, addrs("10.45.0.2", "10.45.0.3")},
		{"valid-session", validSession().PDRs, []netip.Addr{ueIPv4, ueIPv6}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := &atsss.Session{PDRs: tc.pdrs}
			if got := s.MAPDUAddrs(); !slices.Equal(got, tc.want) {
				t.Errorf("MAPDUAddrs() = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestLinkSpecificAddrs(t *testing.T) {
	dual := &atsss.MPTCPParams{LinkSpecific: [2]atsss.AddrPair{
		atsss.Access3GPP:    {IPv4: netip.MustParseAddr("10.46.0.2"), IPv6: netip.MustParseAddr("2001:db8:46::2")},
		atsss.AccessNon3GPP: {IPv6: netip.MustParseAddr("2001:db8:47::2")},
	}}
	for _, tc := range []struct {
		name   string
		params *atsss.MPTCPParams
		access atsss.AccessType
		want   []netip.Addr
	}{
		{"no-mptcp", nil, atsss.Access3GPP, nil},
		{"3gpp", dual, atsss.Access3GPP, addrs("10.46.0.2", "2001:db8:46::2")},
		{"non3gpp", dual, atsss.AccessNon3GPP, addrs("2001:db8:47::2")},
		{"unknown-access", dual, 2, nil},
		{"none-allocated", &atsss.MPTCPParams{}, atsss.AccessNon3GPP, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := &atsss.Session{ATSSS: atsss.ATSSSControl{Params: atsss.ATSSSParams{MPTCP: tc.params}}}
			if got := s.LinkSpecificAddrs(tc.access); !slices.Equal(got, tc.want) {
				t.Errorf("LinkSpecificAddrs(%v) = %v, want %v", tc.access, got, tc.want)
			}
		})
	}
}

func TestUEAddrs(t *testing.T) {
	s := validSession()
	want := []netip.Addr{ueIPv4, ueIPv6, link3GPP, linkN3}
	if got := s.UEAddrs(); !slices.Equal(got, want) {
		t.Errorf("UEAddrs() = %v, want %v", got, want)
	}
	s.ATSSS.Params.MPTCP = nil
	want = []netip.Addr{ueIPv4, ueIPv6}
	if got := s.UEAddrs(); !slices.Equal(got, want) {
		t.Errorf("without MPTCP: UEAddrs() = %v, want %v", got, want)
	}
}

// enumCase checks one enum with a String method and, when parse is not nil,
// its Parse function: every valid value round-trips, every invalid value
// prints as prefix(N) and does not parse.
type enumCase struct {
	name   string
	prefix string                      // of String for an undefined value
	names  []string                    // String of 0, 1, 2, ... as TS 29.244 numbers them
	str    func(v uint8) string        // String of the value v
	valid  func(v uint8) bool          // Valid of the value v
	parse  func(s string) (int, error) // the enum's Parse function
}

func TestEnumStringParse(t *testing.T) {
	for _, tc := range []enumCase{
		{
			name: "SteeringMode", prefix: "mode",
			names: []string{"active-standby", "smallest-delay", "load-balancing", "priority-based", "redundant"},
			str:   func(v uint8) string { return atsss.SteeringMode(v).String() },
			valid: func(v uint8) bool { return atsss.SteeringMode(v).Valid() },
			parse: func(s string) (int, error) { v, err := atsss.ParseSteeringMode(s); return int(v), err },
		},
		{
			name: "SteeringFunctionality", prefix: "functionality",
			names: []string{"atsss-ll", "mptcp", "mpquic-udp", "mpquic-ip", "mpquic-e"},
			str:   func(v uint8) string { return atsss.SteeringFunctionality(v).String() },
			valid: func(v uint8) bool { return atsss.SteeringFunctionality(v).Valid() },
			parse: func(s string) (int, error) { v, err := atsss.ParseSteeringFunctionality(s); return int(v), err },
		},
		{
			name: "Priority", prefix: "priority",
			names: []string{"active", "standby", "no-standby", "high", "low", "primary", "secondary"},
			str:   func(v uint8) string { return atsss.Priority(v).String() },
			valid: func(v uint8) bool { return atsss.Priority(v).Valid() },
			parse: func(s string) (int, error) { v, err := atsss.ParsePriority(s); return int(v), err },
		},
		{
			name: "AccessType", prefix: "access",
			names: []string{"3gpp", "non3gpp"},
			str:   func(v uint8) string { return atsss.AccessType(v).String() },
			valid: func(v uint8) bool { return atsss.AccessType(v).Valid() },
		},
		{
			name: "Interface", prefix: "interface",
			names: []string{"access", "core", "sgi-lan", "cp-function", "li", "5g-vn-internal"},
			str:   func(v uint8) string { return atsss.Interface(v).String() },
			valid: func(v uint8) bool { return atsss.Interface(v).Valid() },
		},
		{
			name: "RuleType", prefix: "rule",
			names: []string{"PDR", "FAR", "QER", "URR", "BAR", "MAR", "SRR"},
			str:   func(v uint8) string { return atsss.RuleType(v).String() },
			valid: func(v uint8) bool { return int(v) < 7 },
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for v := range 256 {
				v := uint8(v)
				s := tc.str(v)
				if int(v) < len(tc.names) {
					if s != tc.names[v] {
						t.Errorf("%s(%d).String() = %q, want %q", tc.name, v, s, tc.names[v])
					}
					if !tc.valid(v) {
						t.Errorf("%s(%d).Valid() = false", tc.name, v)
					}
					if tc.parse != nil {
						if got, err := tc.parse(s); err != nil || got != int(v) {
							t.Errorf("Parse%s(%q) = %d, %v; want %d", tc.name, s, got, err, v)
						}
					}
					continue
				}
				if want := fmt.Sprintf("%s(%d)", tc.prefix, v); s != want {
					t.Errorf("%s(%d).String() = %q, want %q", tc.name, v, s, want)
				}
				if tc.valid(v) {
					t.Errorf("%s(%d).Valid() = true", tc.name, v)
				}
				if tc.parse != nil {
					if got, err := tc.parse(s); err == nil {
						t.Errorf("Parse%s(%q) = %d, want an error", tc.name, s, got)
					}
				}
			}
			if tc.parse == nil {
				return
			}
			for _, bad := range []string{"", strings.ToUpper(tc.names[0]), " " + tc.names[0], tc.names[0] + "\n", "0"} {
				if got, err := tc.parse(bad); err == nil {
					t.Errorf("Parse%s(%q) = %d, want an error", tc.name, bad, got)
				} else if !strings.Contains(err.Error(), tc.names[len(tc.names)-1]) {
					t.Errorf("Parse%s(%q) error %q does not list the valid names", tc.name, bad, err)
				}
			}
		})
	}
}

// TestEnumValues pins the constants to the values of TS 29.244 §8.2: they
// go on the wire as they are.
func TestEnumValues(t *testing.T) {
	for _, tc := range []struct {
		name      string
		got, want int
	}{
		{"Access3GPP", int(atsss.Access3GPP), 0},
		{"AccessNon3GPP", int(atsss.AccessNon3GPP), 1},
		{"FunctionalityMPQUICE", int(atsss.FunctionalityMPQUICE), 4},
		{"ModeRedundant", int(atsss.ModeRedundant), 4},
		{"PriorityHigh", int(atsss.PriorityHigh), 3},
		{"PrioritySecondary", int(atsss.PrioritySecondary), 6},
		{"InterfaceTypeN3Access3GPP", int(atsss.InterfaceTypeN3Access3GPP), 11},
		{"InterfaceTypeN3UntrustedNon3GPP", int(atsss.InterfaceTypeN3UntrustedNon3GPP), 13},
		{"InterfaceTypeN6", int(atsss.InterfaceTypeN6), 17},
		{"ActionForw", int(atsss.ActionForw), 2},
		{"ActionDupl", int(atsss.ActionDupl), 16},
		{"RuleMAR", int(atsss.RuleMAR), 5},
		{"RuleSRR", int(atsss.RuleSRR), 6},
	} {
		if tc.got != tc.want {
			t.Errorf("%s = %d, want %d", tc.name, tc.got, tc.want)
		}
	}
	if atsss.Accesses != [2]atsss.AccessType{atsss.Access3GPP, atsss.AccessNon3GPP} {
		t.Errorf("Accesses = %v, want 3GPP then non-3GPP (index order of Legs)", atsss.Accesses)
	}
}

func TestIsMPQUIC(t *testing.T) {
	for v := range 256 {
		f := atsss.SteeringFunctionality(v)
		want := f == atsss.FunctionalityMPQUICUDP || f == atsss.FunctionalityMPQUICIP || f == atsss.FunctionalityMPQUICE
		if got := f.IsMPQUIC(); got != want {
			t.Errorf("%v.IsMPQUIC() = %v, want %v", f, got, want)
		}
	}
}

func TestInterfaceType(t *testing.T) {
	for _, tc := range []struct {
		t         atsss.InterfaceType
		str       string
		access    atsss.AccessType
		hasAccess bool
	}{
		{atsss.InterfaceTypeS1U, "s1-u", atsss.Access3GPP, true},
		{atsss.InterfaceTypeN3Access3GPP, "n3-3gpp", atsss.Access3GPP, true},
		{atsss.InterfaceTypeN3TrustedNon3GPP, "n3-trusted-non3gpp", atsss.AccessNon3GPP, true},
		{atsss.InterfaceTypeN3UntrustedNon3GPP, "n3-untrusted-non3gpp", atsss.AccessNon3GPP, true},
		{atsss.InterfaceTypeN3DataForwarding, "n3-data-forwarding", 0, false},
		{atsss.InterfaceTypeN9, "n9", 0, false},
		{atsss.InterfaceTypeSGi, "sgi", 0, false},
		{atsss.InterfaceTypeN6, "n6", 0, false},
		{1, "interface-type(1)", 0, false},
		{255, "interface-type(255)", 0, false},
	} {
		t.Run(tc.str, func(t *testing.T) {
			if got := tc.t.String(); got != tc.str {
				t.Errorf("String() = %q, want %q", got, tc.str)
			}
			if a, ok := tc.t.Access(); a != tc.access || ok != tc.hasAccess {
				t.Errorf("Access() = %v, %v; want %v, %v", a, ok, tc.access, tc.hasAccess)
			}
		})
	}
}

func TestSmallEnumStrings(t *testing.T) {
	for _, tc := range []struct {
		v    fmt.Stringer
		want string
	}{
		{atsss.ApplyAction(0), "none"},
		{atsss.ActionForw, "FORW"},
		{atsss.ActionForw | atsss.ActionDupl, "FORW|DUPL"},
		{atsss.ActionBuff | atsss.ActionNocp, "BUFF|NOCP"},
		{atsss.ActionDrop | atsss.ActionForw | atsss.ActionBuff | atsss.ActionNocp | atsss.ActionDupl, "DROP|FORW|BUFF|NOCP|DUPL"},
		{atsss.ApplyAction(0x100), "0x100"},
		{atsss.ActionDrop | 0x0440, "DROP|0x440"},
		{atsss.GateOpen, "open"},
		{atsss.GateClosed, "closed"},
		{atsss.SEID(0x1001), "0x1001"},
		{atsss.SEID(0), "0x0"},
	} {
		if got := tc.v.String(); got != tc.want {
			t.Errorf("%T.String() = %q, want %q", tc.v, got, tc.want)
		}
	}
}
