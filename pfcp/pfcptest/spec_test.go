package pfcptest

import (
	"net/netip"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	pfcp "github.com/wmnsk/go-pfcp"
	"gopkg.in/yaml.v3"

	"github.com/openatsss/atsss/atsss"
)

func TestMain(m *testing.M) {
	pfcp.DisableLogging()
	os.Exit(m.Run())
}

// cmpAddr compares netip.Addr, which cmp cannot look into.
var cmpAddr = cmp.Comparer(func(a, b netip.Addr) bool { return a == b })

func TestSessionValidates(t *testing.T) {
	tests := map[string]func(*SessionSpec){
		"default": func(*SessionSpec) {},
		"3GPP only": func(s *SessionSpec) {
			s.N3IWF = nil
			s.MARs[0].Legs[atsss.AccessNon3GPP] = LegSpec{}
			s.MARs[0].Legs[atsss.Access3GPP].Weight.Value = 100
			s.MARs[1].Legs[atsss.AccessNon3GPP] = LegSpec{}
		},
		"active-standby without a standby AFAI": func(s *SessionSpec) {
			s.MARs[1].Legs[atsss.AccessNon3GPP] = LegSpec{}
		},
		"redundant with RTT threshold": func(s *SessionSpec) {
			s.MARs[0].Mode = atsss.ModeRedundant
			s.MARs[0].SMI = nil
			s.MARs[0].Thresholds = &atsss.Thresholds{RTT: atsss.OptionalUint16{Value: 50, Set: true}}
			s.MARs[0].Legs[atsss.Access3GPP].Priority = atsss.OptionalPriority{Value: atsss.PriorityPrimary, Set: true}
		},
	}
	for name, change := range tests {
		t.Run(name, func(t *testing.T) {
			spec := DefaultSpec()
			change(&spec)
			if err := spec.Session().Validate(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestSessionShape checks the rules TS 29.244 §5.20 asks of an MA PDU
// session that Validate does not: where the MTAI goes, the interface types
// of the FARs, PDRs per access.
func TestSessionShape(t *testing.T) {
	spec := DefaultSpec()
	s := spec.Session()
	type pdr struct {
		ID        uint16
		Uplink    bool
		FAR       uint32
		MAR       uint16
		TEID      uint32
		Multipath atsss.MultipathIndicator
	}
	var got []pdr
	for _, p := range s.PDRs {
		r := pdr{ID: p.ID, Uplink: p.Uplink(), FAR: p.FARID.Value, MAR: p.MARID.Value, Multipath: p.Multipath}
		if p.PDI.FTEID != nil {
			r.TEID = p.PDI.FTEID.TEID
		}
		got = append(got, r)
	}
	mptcp := atsss.MultipathIndicator{MPTCP: true}
	want := []pdr{
		{ID: 4, Uplink: true, FAR: 1, TEID: 0x100, Multipath: mptcp},
		{ID: 5, Uplink: true, FAR: 1, TEID: 0x200, Multipath: mptcp},
		{ID: 6, MAR: 1},
		{ID: 7, Uplink: true, FAR: 1, TEID: 0x100},
		{ID: 8, Uplink: true, FAR: 1, TEID: 0x200},
		{ID: 9, MAR: 2},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("PDRs (-want +got):\n%s", diff)
	}
	types := map[uint32]atsss.InterfaceType{}
	for _, f := range s.FARs {
		types[f.ID] = f.Forwarding.InterfaceType.Value
	}
	wantTypes := map[uint32]atsss.InterfaceType{
		1: atsss.InterfaceTypeN6,
		4: atsss.InterfaceTypeN3Access3GPP, 5: atsss.InterfaceTypeN3UntrustedNon3GPP,
		6: atsss.InterfaceTypeN3Access3GPP, 7: atsss.InterfaceTypeN3UntrustedNon3GPP,
	}
	if diff := cmp.Diff(wantTypes, types); diff != "" {
		t.Errorf("FAR interface types (-want +got):\n%s", diff)
	}
	if got := s.MAR(2).Legs[atsss.AccessNon3GPP]; got.FARID != 7 || len(got.URRIDs) != 1 || got.URRIDs[0] != 3 {
		t.Errorf("MAR 2 non-3GPP leg = %+v, want FAR 7 and URR 3", got)
	}
}

func TestNth(t *testing.T) {
	spec := DefaultSpec()
	spec.UEIP = netip.MustParseAddr("198.18.0.255")
	n := spec.Nth(2)
	if n.SEID != 3 || n.UEIP != netip.MustParseAddr("198.18.1.1") || n.GNB.UPF.TEID != 0x102 || n.N3IWF.AN.TEID != 0x2002 {
		t.Errorf("Nth(2) = SEID %v, UE %v, TEIDs %#x %#x", n.SEID, n.UEIP, n.GNB.UPF.TEID, n.N3IWF.AN.TEID)
	}
	if spec.GNB.UPF.TEID != 0x100 {
		t.Errorf("Nth changed the spec it was called on: TEID %#x", spec.GNB.UPF.TEID)
	}
}

func TestMARTextSpec(t *testing.T) {
	tests := []struct {
		name    string
		text    MARText
		want    MARSpec
		wantErr string
	}{
		{
			name: "load balancing",
			text: MARText{ID: 1, Functionality: "mptcp", Mode: "load-balancing", Weights: "70/30", Thresholds: "rtt=50ms,plr=5%", SDF: "permit out 6 from any to assigned"},
			want: MARSpec{
				ID: 1, Functionality: atsss.FunctionalityMPTCP, Mode: atsss.ModeLoadBalancing,
				Legs: [2]LegSpec{
					{Present: true, Weight: atsss.OptionalUint8{Value: 70, Set: true}},
					{Present: true, Weight: atsss.OptionalUint8{Value: 30, Set: true}},
				},
				Thresholds: &atsss.Thresholds{RTT: atsss.OptionalUint16{Value: 50, Set: true}, PLR: atsss.OptionalUint8{Value: 5, Set: true}},
				SDF:        "permit out 6 from any to assigned",
			},
		},
		{
			name: "active-standby on one access",
			text: MARText{ID: 2, Functionality: "atsss-ll", Mode: "active-standby", Priorities: "active/-", Accesses: "3gpp", SMI: "none"},
			want: MARSpec{
				ID: 2, Functionality: atsss.FunctionalityATSSSLL, Mode: atsss.ModeActiveStandby,
				Legs: [2]LegSpec{{Present: true, Priority: atsss.OptionalPriority{Value: atsss.PriorityActive, Set: true}}},
			},
		},
		{
			name: "smi",
			text: MARText{Functionality: "mptcp", Mode: "load-balancing", SMI: "ueai"},
			want: MARSpec{
				Functionality: atsss.FunctionalityMPTCP, Mode: atsss.ModeLoadBalancing,
				Legs: [2]LegSpec{{Present: true}, {Present: true}},
				SMI:  &atsss.SteeringModeIndicator{UEAssistance: true},
			},
		},
		{name: "no mode", text: MARText{Functionality: "mptcp"}, wantErr: "mode missing"},
		{name: "bad mode", text: MARText{Functionality: "mptcp", Mode: "fastest"}, wantErr: `unknown steering mode "fastest"`},
		{name: "one weight", text: MARText{Functionality: "mptcp", Mode: "load-balancing", Weights: "70"}, wantErr: "want 3GPP/non-3GPP"},
		{name: "bad priority", text: MARText{Functionality: "mptcp", Mode: "active-standby", Priorities: "active/backup"}, wantErr: `unknown priority "backup"`},
		{name: "rtt in µs", text: MARText{Functionality: "mptcp", Mode: "smallest-delay", Thresholds: "rtt=1500us"}, wantErr: "whole milliseconds"},
		{name: "bad threshold", text: MARText{Functionality: "mptcp", Mode: "smallest-delay", Thresholds: "jitter=5ms"}, wantErr: `"jitter=5ms"`},
		{name: "bad access", text: MARText{Functionality: "mptcp", Mode: "smallest-delay", Accesses: "wifi"}, wantErr: `unknown access "wifi"`},
		{name: "remove", text: MARText{Functionality: "mptcp", Mode: "smallest-delay", Remove: "3gpp"}, wantErr: "change an existing MAR"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.text.Spec()
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Spec() error = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Spec() (-want +got):\n%s", diff)
			}
		})
	}
}

func TestMARTextUpdate(t *testing.T) {
	tests := []struct {
		name    string
		text    MARText
		want    MARUpdate
		wantErr string
	}{
		{
			name: "switch mode",
			text: MARText{ID: 1, Mode: "active-standby", Priorities: "active/standby"},
			want: MARUpdate{ID: 1, Mode: new(atsss.ModeActiveStandby), Legs: [2]LegUpdate{
				{Priority: atsss.OptionalPriority{Value: atsss.PriorityActive, Set: true}},
				{Priority: atsss.OptionalPriority{Value: atsss.PriorityStandby, Set: true}},
			}},
		},
		{
			name: "remove",
			text: MARText{ID: 1, Remove: "non3gpp", Weights: "100/-"},
			want: MARUpdate{ID: 1, Legs: [2]LegUpdate{{Weight: atsss.OptionalUint8{Value: 100, Set: true}}, {Op: LegRemove}}},
		},
		{
			name: "add back and clear the SMI",
			text: MARText{ID: 1, Add: "non3gpp", Weights: "70/30", SMI: "none"},
			want: MARUpdate{ID: 1, SMI: &atsss.SteeringModeIndicator{}, Legs: [2]LegUpdate{
				{Weight: atsss.OptionalUint8{Value: 70, Set: true}},
				{Op: LegAdd, Weight: atsss.OptionalUint8{Value: 30, Set: true}},
			}},
		},
		{name: "remove and add", text: MARText{Remove: "3gpp", Add: "3gpp"}, wantErr: "removed and added at once"},
		{name: "accesses", text: MARText{Accesses: "3gpp"}, wantErr: "when a MAR is created"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.text.Update()
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Update() error = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Update() (-want +got):\n%s", diff)
			}
		})
	}
}

const specYAML = `
seid: 0x1
ue_ip: 203.0.113.1
qfi: 9
gnb:   {upf: {addr: 192.0.2.253, teid: 0x100}, an: {addr: 192.0.2.254, teid: 0x1000}}
n3iwf: {upf: {addr: 198.51.100.253, teid: 0x200}, an: {addr: 198.51.100.254, teid: 0x2000}}
mars:
  - {id: 1, functionality: mptcp, mode: load-balancing, weights: 70/30, smi: albi, sdf: "permit out 6 from any to assigned"}
  - id: 2
    functionality: atsss-ll
    mode: active-standby
    priorities: active/standby
atsss: {mptcp: true, atsssll: true, pmf: true}
report_availability: true
`

func decodeStrict(src string, v any) error {
	dec := yaml.NewDecoder(strings.NewReader(src))
	dec.KnownFields(true)
	return dec.Decode(v)
}

func TestSpecYAML(t *testing.T) {
	var got SessionSpec
	if err := decodeStrict(specYAML, &got); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(DefaultSpec(), got, cmpAddr); diff != "" {
		t.Errorf("decoded spec (-DefaultSpec +got):\n%s", diff)
	}

	for name, tt := range map[string]struct{ src, wantErr string }{
		"unknown session field": {strings.Replace(specYAML, "qfi: 9", "qos: 9", 1), "field qos not found"},
		"unknown MAR field":     {strings.Replace(specYAML, "priorities:", "priority:", 1), "line 12: field priority not found"},
		"bad MAR":               {strings.Replace(specYAML, "mode: active-standby", "mode: backup", 1), `line 9: MAR 2: unknown steering mode "backup"`},
	} {
		t.Run(name, func(t *testing.T) {
			err := decodeStrict(tt.src, new(SessionSpec))
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("decode error = %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}
