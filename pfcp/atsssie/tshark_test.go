package atsssie

import (
	"bytes"
	"net"
	"net/netip"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wmnsk/go-pfcp/ie"
	"github.com/wmnsk/go-pfcp/message"

	"github.com/openatsss/atsss/atsss"
	"github.com/openatsss/atsss/test/tsharktest"
)

// runTshark runs tshark on a capture and returns its standard output.
func runTshark(t *testing.T, bin string, args ...string) string {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(t.Context(), bin, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("tshark %v: %v\n%s", args, err, stderr.String())
	}
	return stdout.String()
}

// capture writes msgs into a pcap file in a temporary directory.
func capture(t *testing.T, msgs ...message.Message) string {
	t.Helper()
	var frames [][]byte
	for _, m := range msgs {
		b := make([]byte, m.MarshalLen())
		if err := m.MarshalTo(b); err != nil {
			t.Fatalf("marshal %s: %v", m.MessageTypeName(), err)
		}
		frames = append(frames, b)
	}
	path := filepath.Join(t.TempDir(), "atsss.pcap")
	tsharktest.WriteUDP(t, path, netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2"), 8805, frames)
	return path
}

// suspicious returns the frames tshark finds malformed or has any expert
// information about, a Note included: an IE it does not decode whole, such
// as the 12 stray octets of go-pfcp's PMF Address Information, is a Note.
func suspicious(t *testing.T, bin, pcap string) string {
	return runTshark(t, bin, "-r", pcap, "-Y", "_ws.malformed || _ws.expert")
}

// field is a tshark field expected in a frame, with its value as
// "tshark -T fields" prints it: occurrences joined by commas.
type field struct {
	frame int
	name  string
	want  string
}

// TestTshark puts the IEs of this package into PFCP messages built with
// go-pfcp, and checks what tshark, an implementation of TS 29.244 written
// independently of go-pfcp and of this package, decodes from them.
func TestTshark(t *testing.T) {
	bin := tsharktest.Path(t)
	upf, smf := net.IPv4(192, 0, 2, 2), net.IPv4(192, 0, 2, 1)
	afai := func(t uint16, far uint32, ies ...*ie.IE) *ie.IE {
		return ie.NewGroupedIE(t, append([]*ie.IE{ie.NewFARID(far)}, ies...)...)
	}
	msgs := []message.Message{
		message.NewSessionEstablishmentRequest(0, 0, 0, 1, 0,
			ie.NewNodeID(smf.String(), "", ""),
			ie.NewFSEID(1, smf, nil),
			ie.NewCreateMAR(ie.NewMARID(1),
				NewSteeringFunctionality(atsss.FunctionalityMPTCP),
				NewSteeringMode(atsss.ModeLoadBalancing),
				afai(ie.TGPPAccessForwardingActionInformation, 1, ie.NewWeight(70)),
				afai(ie.NonTGPPAccessForwardingActionInformation, 2, ie.NewWeight(30)),
				NewSteeringModeIndicator(atsss.SteeringModeIndicator{AutonomousLoadBalancing: true}),
			),
			ie.NewCreateMAR(ie.NewMARID(2),
				NewSteeringFunctionality(atsss.FunctionalityATSSSLL),
				NewSteeringMode(atsss.ModePriorityBased),
				afai(ie.TGPPAccessForwardingActionInformation, 3, NewPriority(atsss.PriorityHigh)),
				afai(ie.NonTGPPAccessForwardingActionInformation, 4, NewPriority(atsss.PriorityLow)),
				NewThresholds(atsss.Thresholds{RTT: u16(50), PLR: u8(5)}),
			),
			ie.NewCreateMAR(ie.NewMARID(3),
				NewSteeringFunctionality(atsss.FunctionalityMPTCP),
				NewSteeringMode(atsss.ModeRedundant),
				afai(ie.TGPPAccessForwardingActionInformation, 5, NewPriority(atsss.PriorityPrimary)),
				afai(ie.NonTGPPAccessForwardingActionInformation, 6, NewPriority(atsss.PrioritySecondary)),
				NewThresholds(atsss.Thresholds{RTT: u16(120)}),
			),
			NewProvideATSSSControlInformation(atsss.ATSSSRequest{
				MPTCP: true, ATSSSLL: true, PMF: true, DRTTI: true, PQPM: true, QFIs: []uint8{1, 5},
			}),
		),
		message.NewSessionEstablishmentResponse(0, 0, 1, 1, 0,
			ie.NewNodeID(upf.String(), "", ""),
			ie.NewCause(ie.CauseRequestAccepted),
			ie.NewFSEID(2, upf, nil),
			NewATSSSControlParameters(atsss.ATSSSParams{
				MPTCP: mptcpDualStack, ATSSSLL: true, PMF: []atsss.PMFParams{pmfDefault, pmfQFI5},
			}),
		),
		message.NewAssociationSetupResponse(2,
			ie.NewNodeID(upf.String(), "", ""),
			ie.NewCause(ie.CauseRequestAccepted),
			ie.NewRecoveryTimeStamp(time.Unix(1700000000, 0)),
			NewUPFunctionFeatures(FeatureMPTCP, FeatureATSSSLL, FeatureRTTWP),
		),
		message.NewSessionReportRequest(0, 0, 1, 3, 0,
			ie.New(ie.ReportType, []byte{0x20}), // SESR (§8.2.21)
			ie.NewSessionReport(ie.NewSRRID(1),
				ie.NewAccessAvailabilityReport(NewAccessAvailabilityInformation(atsss.Access3GPP, true))),
		),
	}
	// One rejected establishment per rule type, blaming rule ID type+1.
	for rt := range atsss.RuleType(len(ruleIDOctets)) {
		msgs = append(msgs, message.NewSessionEstablishmentResponse(0, 0, 1, uint32(4+rt), 0,
			ie.NewNodeID(upf.String(), "", ""),
			ie.NewCause(ie.CauseRuleCreationModificationFailure),
			NewFailedRuleID(rt, uint32(rt)+1),
		))
	}
	fields := []field{
		// Session Establishment Request: three Create MARs, Provide ATSSS
		// Control Information.
		{1, "pfcp.mar_id", "1,2,3"},
		{1, "pfcp.steering_functionality", "1,0,1"},
		{1, "pfcp.steering_mode", "2,3,4"},
		{1, "pfcp.weight", "70,30"},
		{1, "pfcp.priority", "3,4,5,6"},
		// tshark 4.0 registers the flags of Steering Mode Indicator under
		// L2TP field names: reuia is ALBI, redsa is UEAI.
		{1, "pfcp.l2tp_session_indications.reuia", "1"},
		{1, "pfcp.l2tp_session_indications.redsa", "0"},
		{1, "pfcp.thresholds.flags.rtt", "1,1"},
		{1, "pfcp.thresholds.flags.plr", "1,0"},
		{1, "pfcp.thresholds.rtt", "50,120"},
		{1, "pfcp.thresholds.plr", "5"},
		{1, "pfcp.mptcp_control_information.flags.tci", "1"},
		{1, "pfcp.atsss_ll_control_information.flags.lli", "1"},
		{1, "pfcp.pmf_control_information.flags.pmfi", "1"},
		{1, "pfcp.pmf_control_information.flags.drtti", "1"},
		{1, "pfcp.pmf_control_information.flags.pqpm", "1"},
		{1, "pfcp.pmf_control_information.number_of_qfi", "2"},
		{1, "pfcp.qfi_value", "0x01,0x05"},
		// Session Establishment Response: ATSSS Control Parameters.
		{2, "pfcp.mptcp_ip_address_information.flags.v4", "1"},
		{2, "pfcp.mptcp_ip_address_information.flags.v6", "1"},
		{2, "pfcp.mptcp_proxy.type", "01"},
		{2, "pfcp.mptcp_proxy.port", "7000"},
		{2, "pfcp.mptcp_proxy.ipv4", "192.0.2.10"},
		{2, "pfcp.mptcp_proxy.ipv6", "2001:db8::a"},
		{2, "pfcp.ue_link_specific_ip_address.flags.nv6", "1"},
		{2, "pfcp.ue_link_specific_ip_address.3gpp.ipv4", "10.61.0.1"},
		{2, "pfcp.ue_link_specific_ip_address.3gpp.ipv6", "2001:db8:3d::1"},
		{2, "pfcp.ue_link_specific_ip_address.non3gpp.ipv4", "10.62.0.1"},
		{2, "pfcp.ue_link_specific_ip_address.non3gpp.ipv6", "2001:db8:3e::1"},
		{2, "pfcp.atsss_ll_information.flags.lli", "1"},
		{2, "pfcp.pmf_address_information.flags.v4", "1,0"},
		{2, "pfcp.pmf_address_information.flags.v6", "0,1"},
		{2, "pfcp.pmf_address_information.flags.mac", "0,0"},
		{2, "pfcp.pmf_address_information.ipv4", "192.0.2.20"},
		{2, "pfcp.pmf_address_information.ipv6", "2001:db8::14"},
		{2, "pfcp.pmf_address_information.port_3gpp", "7001,7003"},
		{2, "pfcp.pmf_address_information.port_non3gpp", "7002,7004"},
		{2, "pfcp.qfi_value", "0x05"},
		// Association Setup Response: UP Function Features, with the
		// neighbours of the set bits clear.
		{3, "pfcp.up_function_features.mptcp", "1"},
		{3, "pfcp.up_function_features.tscu", "0"},
		{3, "pfcp.up_function_features.atsss_ll", "1"},
		{3, "pfcp.up_function_features.qfqm", "0"},
		{3, "pfcp.up_function_features.rds", "0"},
		{3, "pfcp.up_function_features.rttwp", "1"},
		{3, "pfcp.up_function_features.quasf", "0"},
		{3, "pfcp.up_function_features.ftup", "0"},
		// Session Report Request: tshark 4.0 shows both fields of Access
		// Availability Information as pfcp.failed_rule_id_type: access
		// type 0 (3GPP), then status 1 (available).
		{4, "pfcp.failed_rule_id_type", "0,1"},
		// Failed Rule ID, one frame per rule type.
		{5, "pfcp.failed_rule_id_type", "0"}, {5, "pfcp.pdr_id", "1"},
		{6, "pfcp.failed_rule_id_type", "1"}, {6, "pfcp.far_id", "2"},
		{7, "pfcp.failed_rule_id_type", "2"}, {7, "pfcp.qer_id", "3"},
		{8, "pfcp.failed_rule_id_type", "3"}, {8, "pfcp.urr_id", "4"},
		{9, "pfcp.failed_rule_id_type", "4"}, {9, "pfcp.bar_id", "5"},
		{10, "pfcp.failed_rule_id_type", "5"}, {10, "pfcp.mar_id", "6"},
		{11, "pfcp.failed_rule_id_type", "6"}, {11, "pfcp.srr_id_value", "7"},
	}

	pcap := capture(t, msgs...)
	if s := suspicious(t, bin, pcap); s != "" {
		t.Errorf("tshark finds frames malformed or worth a note:\n%s\n%s", s, runTshark(t, bin, "-r", pcap, "-q", "-z", "expert"))
	}
	args := []string{"-r", pcap, "-T", "fields", "-E", "separator=/t", "-E", "occurrence=a", "-E", "aggregator=,"}
	column := map[string]int{} // tshark prints a field named twice once
	for _, f := range fields {
		if _, ok := column[f.name]; !ok {
			column[f.name] = len(column)
			args = append(args, "-e", f.name)
		}
	}
	lines := strings.Split(strings.TrimSuffix(runTshark(t, bin, args...), "\n"), "\n")
	if len(lines) != len(msgs) {
		t.Fatalf("tshark decoded %d frames, want %d", len(lines), len(msgs))
	}
	for _, f := range fields {
		if got := strings.Split(lines[f.frame-1], "\t")[column[f.name]]; got != f.want {
			t.Errorf("frame %d: %s = %q, want %q", f.frame, f.name, got, f.want)
		}
	}
}

// TestTsharkCatchesGoPFCPFlaw shows that the check for suspicious frames can
// fail: go-pfcp's PMF Address Information, with its stray MAC octets, is
// flagged.
func TestTsharkCatchesGoPFCPFlaw(t *testing.T) {
	bin := tsharktest.Path(t)
	pmf := ie.NewPMFAddressInformation(net.IPv4(192, 0, 2, 20).To4(), nil, 7001, 7002, nil, nil)
	pcap := capture(t, message.NewSessionEstablishmentResponse(0, 0, 1, 1, 0,
		ie.NewCause(ie.CauseRequestAccepted),
		ie.NewATSSSControlParameters(ie.NewPMFParameters(pmf)),
	))
	if suspicious(t, bin, pcap) == "" {
		t.Error("tshark finds nothing wrong with go-pfcp's PMF Address Information")
	}
}
