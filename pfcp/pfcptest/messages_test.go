package pfcptest

import (
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/wmnsk/go-pfcp/ie"
	"github.com/wmnsk/go-pfcp/message"

	"github.com/openatsss/atsss/atsss"
	"github.com/openatsss/atsss/pfcp/atsssie"
)

// roundTrip encodes m and has go-pfcp parse it back, as a UPF would.
func roundTrip[M message.Message](t *testing.T, m M) M {
	t.Helper()
	b := make([]byte, m.MarshalLen())
	if err := m.MarshalTo(b); err != nil {
		t.Fatal(err)
	}
	got, err := message.Parse(b)
	if err != nil {
		t.Fatalf("parse %s: %v", m.MessageTypeName(), err)
	}
	return got.(M)
}

func testSpec() SessionSpec {
	s := DefaultSpec()
	s.NodeID = "smf.example.net"
	s.CPAddr = netip.MustParseAddr("203.0.113.250")
	s.MARs[0].SMI = nil
	s.MARs[0].Thresholds = &atsss.Thresholds{RTT: atsss.OptionalUint16{Value: 50, Set: true}, PLR: atsss.OptionalUint8{Value: 5, Set: true}}
	s.ATSSS = atsss.ATSSSRequest{MPTCP: true, ATSSSLL: true, PMF: true, DRTTI: true, PQPM: true, QFIs: []uint8{9}}
	return s
}

func TestEstablishment(t *testing.T) {
	spec := testSpec()
	m := roundTrip(t, Establishment(spec, 7))
	if m.Sequence() != 7 || m.SEID() != 0 || !m.HasSEID() {
		t.Errorf("header: seq %d, SEID %d (S=%v), want 7, 0 (S=true)", m.Sequence(), m.SEID(), m.HasSEID())
	}
	if id, err := m.NodeID.NodeID(); err != nil || id != "smf.example.net" {
		t.Errorf("Node ID = %q, %v", id, err)
	}
	if f, err := m.CPFSEID.FSEID(); err != nil || f.SEID != 1 || !f.IPv4Address.Equal(ip(spec.CPAddr)) {
		t.Errorf("CP F-SEID = %+v, %v", f, err)
	}
	counts := map[string][2]int{
		"Create PDR": {len(m.CreatePDR), 6}, "Create FAR": {len(m.CreateFAR), 5}, "Create URR": {len(m.CreateURR), 3},
		"Create QER": {len(m.CreateQER), 1}, "Create MAR": {len(m.CreateMAR), 2}, "Create SRR": {len(m.CreateSRR), 1},
	}
	for name, n := range counts {
		if n[0] != n[1] {
			t.Errorf("%d %s, want %d", n[0], name, n[1])
		}
	}
	if req, err := atsssie.ParseProvideATSSSControlInformation(m.ProvideATSSSControlInformation); err != nil || !cmp.Equal(req, spec.ATSSS) {
		t.Errorf("Provide ATSSS Control Information = %+v, %v; want %+v", req, err, spec.ATSSS)
	}

	// The IEs byte for byte, as "type=value" or "type{children}".
	sdf := fmt.Sprintf("23=01000021%x", "permit out 6 from any to assigned")
	for _, tt := range []struct {
		name string
		got  *ie.IE
		want string
	}{
		// Uplink PDR over 3GPP: ID 4, precedence 100, PDI (source
		// interface access, F-TEID 0x100 at 192.0.2.253, UE IP, SDF filter,
		// QFI 9), outer header removal GTP-U/UDP/IPv4, FAR 1, QER 1, URR 1,
		// MTAI for MPTCP.
		{"MPTCP uplink PDR", m.CreatePDR[0], "1{56=0004 29=00000064 2{20=00 21=0100000100c00002fd 93=02cb007101 " + sdf + " 124=09} 95=0000 108=00000001 109=00000001 81=00000001 265=01}"},
		// The uplink PDR of ATSSS-LL traffic has no MTAI.
		{"ATSSS-LL uplink PDR", m.CreatePDR[3], "1{56=0007 29=000000c8 2{20=00 21=0100000100c00002fd 93=02cb007101 124=09} 95=0000 108=00000001 109=00000001 81=00000001}"},
		// Downlink PDR: source interface core, UE IP with S/D, SDF filter;
		// MAR 1 instead of a FAR.
		{"downlink PDR", m.CreatePDR[2], "1{56=0006 29=00000064 2{20=01 93=06cb007101 " + sdf + "} 170=0001 109=00000001 81=00000001}"},
		// Uplink FAR: FORW to the core, 3GPP interface type 17 (N6).
		{"uplink FAR", m.CreateFAR[0], "3{108=00000001 44=02 4{42=01 160=11}}"},
		// Downlink FAR over non-3GPP: FORW, destination access, GTP-U/UDP/IPv4
		// to the N3IWF's TEID 0x2000 at 198.51.100.254, 3GPP interface
		// type 13 (N3 untrusted non-3GPP).
		{"downlink FAR", m.CreateFAR[2], "3{108=00000005 44=02 4{42=00 84=0100000020" + "00c63364fe 160=0d}}"},
		// MAR 1: MPTCP, load balancing, AFAI per access {FAR, weight, URR}, thresholds.
		{"MPTCP MAR", m.CreateMAR[0], "165{170=0001 171=01 172=02 166{108=00000004 173=46 81=00000002} 167{108=00000005 173=1e 81=00000003} 288=03003205}"},
		// MAR 2: ATSSS-LL, active-standby, AFAI {FAR, priority, URR}.
		{"ATSSS-LL MAR", m.CreateMAR[1], "165{170=0002 171=00 172=00 166{108=00000006 174=00 81=00000002} 167{108=00000007 174=01 81=00000003}}"},
		// SRR 1 with Requested Access Availability Information RRCA.
		{"SRR", m.CreateSRR[0], "212{215=01 216{217=01}}"},
		// URR: volume measurement, no reporting trigger. QER: gates open, QFI 9.
		{"URR", m.CreateURR[0], "6{81=00000001 62=02 37=0000}"},
		{"QER", m.CreateQER[0], "7{109=00000001 25=00 124=09}"},
		// MPTCP, ATSSS-LL and PMF control information with PMFI, DRTTI,
		// PQPM and one QFI, 9.
		{"Provide ATSSS Control Information", m.ProvideATSSSControlInformation, "220{222=01 223=01 224=070109}"},
	} {
		if got := FormatIE(tt.got); got != tt.want {
			t.Errorf("%s:\n got %s\nwant %s", tt.name, got, tt.want)
		}
	}
}

func TestEstablishmentWithoutNodeID(t *testing.T) {
	m := roundTrip(t, Establishment(DefaultSpec(), 1))
	if m.NodeID != nil {
		t.Errorf("Node ID %s, want none for a spec without one", FormatIE(m.NodeID))
	}
}

func TestUpdateMAR(t *testing.T) {
	tests := []struct {
		name string
		u    MARUpdate
		want string
	}{
		{
			name: "switch to active-standby",
			u: MARUpdate{ID: 1, Mode: new(atsss.ModeActiveStandby), Legs: [2]LegUpdate{
				{Priority: atsss.OptionalPriority{Value: atsss.PriorityActive, Set: true}},
				{Priority: atsss.OptionalPriority{Value: atsss.PriorityStandby, Set: true}},
			}},
			want: "169{170=0001 172=00 175{174=00} 176{174=01}}",
		},
		{
			name: "new weights",
			u:    MARUpdate{ID: 1, Legs: [2]LegUpdate{{Weight: atsss.OptionalUint8{Value: 50, Set: true}}, {Weight: atsss.OptionalUint8{Value: 50, Set: true}}}},
			want: "169{170=0001 175{173=32} 176{173=32}}",
		},
		{
			name: "remove non-3GPP",
			u:    MARUpdate{ID: 1, Legs: [2]LegUpdate{{Weight: atsss.OptionalUint8{Value: 100, Set: true}}, {Op: LegRemove}}},
			want: "169{170=0001 175{173=64} 176{}}",
		},
		{
			name: "add non-3GPP back",
			u:    MARUpdate{ID: 1, Legs: [2]LegUpdate{{Weight: atsss.OptionalUint8{Value: 70, Set: true}}, {Op: LegAdd, Weight: atsss.OptionalUint8{Value: 30, Set: true}}}},
			want: "169{170=0001 175{173=46} 167{108=00000005 173=1e 81=00000003}}",
		},
		{
			name: "functionality, thresholds, clear SMI",
			u: MARUpdate{ID: 2, Functionality: new(atsss.FunctionalityMPTCP), SMI: &atsss.SteeringModeIndicator{},
				Thresholds: &atsss.Thresholds{PLR: atsss.OptionalUint8{Value: 3, Set: true}}},
			want: "169{170=0002 171=01 288=0203 289=00}",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := roundTrip(t, UpdateMAR(0x8000000000000001, 3, tt.u))
			if m.SEID() != 0x8000000000000001 || m.Sequence() != 3 {
				t.Errorf("header SEID %#x seq %d", m.SEID(), m.Sequence())
			}
			if len(m.UpdateMAR) != 1 || len(m.IEs) != 0 {
				t.Fatalf("%d Update MAR and %d other IEs, want one Update MAR", len(m.UpdateMAR), len(m.IEs))
			}
			if got := FormatIE(m.UpdateMAR[0]); got != tt.want {
				t.Errorf("\n got %s\nwant %s", got, tt.want)
			}
		})
	}
}

// TestAddBackMatchesEstablishment: the AFAI an Update MAR adds back is
// the one the establishment had.
func TestAddBackMatchesEstablishment(t *testing.T) {
	est := roundTrip(t, Establishment(DefaultSpec(), 1))
	upd := roundTrip(t, UpdateMAR(1, 2, MARUpdate{ID: 1, Legs: [2]LegUpdate{1: {Op: LegAdd, Weight: atsss.OptionalUint8{Value: 30, Set: true}}}}))
	created := FormatIE(est.CreateMAR[0].ChildIEs[4])
	added := FormatIE(upd.UpdateMAR[0].ChildIEs[1])
	if created != added {
		t.Errorf("added %s, established %s", added, created)
	}
}

func TestAccessAvailability(t *testing.T) {
	m := roundTrip(t, AccessAvailability(5, 1, atsss.AccessNon3GPP, false))
	if len(m.AccessAvailabilityInformation) != 1 {
		t.Fatalf("%d Access Availability Information, want 1 at the top level", len(m.AccessAvailabilityInformation))
	}
	a, available, err := atsssie.ParseAccessAvailabilityInformation(m.AccessAvailabilityInformation[0])
	if err != nil || a != atsss.AccessNon3GPP || available {
		t.Errorf("got %v available=%v (%v), want non3gpp unavailable", a, available, err)
	}
}

func TestNodeMessages(t *testing.T) {
	recovery := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	setup := roundTrip(t, AssociationSetup("smf.example.net", recovery, 1))
	if id, _ := setup.NodeID.NodeID(); id != "smf.example.net" {
		t.Errorf("setup Node ID %q", id)
	}
	if ts, _ := setup.RecoveryTimeStamp.RecoveryTimeStamp(); !ts.Equal(recovery) {
		t.Errorf("setup recovery %v, want %v", ts, recovery)
	}
	release := roundTrip(t, AssociationRelease("192.0.2.1", 2))
	if id, _ := release.NodeID.NodeID(); id != "192.0.2.1" {
		t.Errorf("release Node ID %q", id)
	}
	if ts, _ := roundTrip(t, HeartbeatRequest(recovery, 3)).RecoveryTimeStamp.RecoveryTimeStamp(); !ts.Equal(recovery) {
		t.Errorf("heartbeat request recovery %v, want %v", ts, recovery)
	}
	if r, err := parseResponse(roundTrip(t, HeartbeatResponse(recovery, 3))); err != nil || !r.Recovery.Equal(recovery) || r.Cause != atsssie.CauseAccepted {
		t.Errorf("heartbeat response: %+v, %v", r, err)
	}
	del := roundTrip(t, Deletion(0x42, 4))
	if del.SEID() != 0x42 || len(del.IEs) != 0 {
		t.Errorf("deletion SEID %#x, %d IEs", del.SEID(), len(del.IEs))
	}
}
