package test

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"gopkg.in/yaml.v3"

	"github.com/openatsss/atsss/atsss"
	"github.com/openatsss/atsss/pfcp/atsssie"
	"github.com/openatsss/atsss/pfcp/pfcptest"
	"github.com/openatsss/atsss/test/daemontest"
	"github.com/openatsss/atsss/test/smfsimtest"
	"github.com/openatsss/atsss/test/tsharktest"
)

// The addresses atsssd hands out in TestN4EndToEnd (documentation ranges).
var (
	n4ProxyAddr = netip.MustParseAddr(daemontest.ProxyAddr) // MPTCP proxy and PMF
	n4Pools     = [2]netip.Prefix{                          // link-specific addresses, by access
		netip.MustParsePrefix("192.0.2.0/24"),
		netip.MustParsePrefix("198.51.100.0/24"),
	}
)

// n4CmpOpts compares sessions as /sessions gives them: JSON leaves no
// empty slice.
var n4CmpOpts = cmp.Options{cmpopts.EquateEmpty(), cmpopts.EquateComparable(netip.Addr{})}

const (
	n4ProxyPort = daemontest.ProxyPort
	// n4PMFPortBase is the PMF port of the 3GPP access; non-3GPP has the
	// next one. Every session gets the same pair (pfcp.PMFConfig).
	n4PMFPortBase = daemontest.PMFPort
	// n4PoolHosts is how many addresses each /24 pool hands out.
	n4PoolHosts = 254
)

// n4SessionA is the MA PDU session the test follows step by step, as the
// establish step of an smfsim scenario: TCP split 70/30 over MPTCP (load
// balancing), the rest over ATSSS-LL with 3GPP active and non-3GPP on
// standby; MPTCP, ATSSS-LL and PMF asked for.
const n4SessionA = `
seid: 0xa1
ue_ip: 203.0.113.10
qfi: 9
gnb:   {upf: {addr: 192.0.2.253, teid: 0x100}, an: {addr: 192.0.2.254, teid: 0x1000}}
n3iwf: {upf: {addr: 198.51.100.253, teid: 0x200}, an: {addr: 198.51.100.254, teid: 0x2000}}
mars:
  - {id: 1, functionality: mptcp, mode: load-balancing, weights: 70/30, sdf: permit out 6 from any to assigned}
  - {id: 2, functionality: atsss-ll, mode: active-standby, priorities: active/standby}
atsss: {mptcp: true, atsssll: true, pmf: true}
report_availability: true
`

// TestN4EndToEnd runs atsssd and smfsim as processes talking PFCP over
// UDP on loopback, captured by tshark: an MA PDU session is established,
// loses and regains its non-3GPP MPTCP leg, and is deleted, with the
// daemon's store checked after each step; its link-specific addresses are
// then shown to be free again by filling the pools. tshark, a decoder
// independent of go-pfcp and atsss, must read the values sent and
// received from the capture and find nothing malformed.
func TestN4EndToEnd(t *testing.T) {
	tshark := tsharktest.Path(t)
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	dir := t.TempDir()

	bins, err := daemontest.Build(ctx, dir, "atsssd", "smfsim")
	if err != nil {
		t.Fatal(err)
	}
	n4, metrics, err := daemontest.Ports()
	if err != nil {
		t.Fatal(err)
	}
	d, err := daemontest.Start(ctx, bins["atsssd"], dir, n4Config(dir, n4, metrics), n4, metrics)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		d.Kill()
		if t.Failed() {
			t.Logf("atsssd log:\n%s", d.Log())
		}
	})

	pcap := filepath.Join(dir, "n4.pcap")
	capture, err := tsharktest.Start(ctx, tshark, "lo", fmt.Sprintf("udp port %d", n4.Port()), pcap)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(capture.Kill)

	// Two SMFs: smf plays the steps of session A, filler fills the pools.
	// Each command is its own smfsim process; they keep the same address
	// and Recovery Time Stamp, so the UPF sees one SMF each.
	var smf, filler smfsimtest.SMF
	for i, s := range []*smfsimtest.SMF{&smf, &filler} {
		local, err := smfsimtest.FreeAddr(netip.AddrFrom4([4]byte{127, 0, 0, byte(2 + i)}))
		if err != nil {
			t.Fatal(err)
		}
		*s = smfsimtest.SMF{Bin: bins["smfsim"], UPF: n4, Local: local}
	}

	// Association.
	assoc := n4Step(ctx, t, smf, "associate")
	for _, f := range []string{"MPTCP", "ATSSS-LL"} {
		if !slices.Contains(assoc.Features, f) {
			t.Errorf("association: UP Function Features %v, want %s among them", assoc.Features, f)
		}
	}

	// Establishment.
	var spec pfcptest.SessionSpec
	if err := yaml.Unmarshal([]byte(n4SessionA), &spec); err != nil {
		t.Fatalf("session A: %v", err)
	}
	est := n4Step(ctx, t, smf, "establish", "-scenario", n4WriteScenario(t, dir, "establish.yaml", n4SessionA))
	upSEID := est.UPSEID
	if upSEID == 0 {
		t.Fatalf("establishment: no UP SEID in %+v", est)
	}
	params := n4CheckParams(t, est.ATSSS)
	established := n4OneSession(ctx, t, d)
	want := spec.Session()
	want.LocalSEID, want.PeerNodeID, want.PeerAddr = upSEID, smf.Local.Addr().String(), smf.Local.Addr()
	want.ATSSS.Params = params
	n4CheckMARs(t, established, n4MPTCPLB(70, 30), n4LLAS())
	if diff := cmp.Diff(want, established, n4CmpOpts); diff != "" {
		t.Errorf("stored session differs from the one sent (-sent +stored):\n%s", diff)
	}
	for _, a := range atsss.Accesses {
		if got, want := established.LinkSpecificAddrs(a), params.MPTCP.LinkSpecific[a].Addrs(); !slices.Equal(got, want) {
			t.Errorf("stored %v link-specific addresses %v, the response gave %v", a, got, want)
		}
	}

	// The UE leaves the Wi-Fi: MAR 1 stops using non-3GPP.
	up := strconv.FormatUint(uint64(upSEID), 10)
	n4Step(ctx, t, smf, "modify", "-up-seid", up, "-mar", "1", "-remove", "non3gpp", "-weights", "100/-")
	removed := n4OneSession(ctx, t, d)
	mptcpOn3GPP := n4MPTCPLB(70, 30)
	mptcpOn3GPP.Legs[atsss.Access3GPP].Weight.Value = 100
	mptcpOn3GPP.Legs[atsss.AccessNon3GPP] = atsss.Leg{}
	n4CheckMARs(t, removed, mptcpOn3GPP, n4LLAS())
	if removed.FAR(n4MPTCPLB(70, 30).Legs[atsss.AccessNon3GPP].FARID) == nil {
		t.Error("removing the leg removed its FAR, which the SMF did not ask for")
	}

	// It comes back: the leg is added again with its FAR, and the session
	// is as established.
	n4Step(ctx, t, smf, "modify", "-up-seid", up, "-mar", "1", "-add", "non3gpp", "-weights", "70/30")
	readded := n4OneSession(ctx, t, d)
	n4CheckMARs(t, readded, n4MPTCPLB(70, 30), n4LLAS())
	if diff := cmp.Diff(established, readded, n4CmpOpts); diff != "" {
		t.Errorf("session with the leg back differs from the established one (-established +now):\n%s", diff)
	}

	// Deletion.
	n4Step(ctx, t, smf, "delete", "-up-seid", up)
	if got := n4Sessions(ctx, t, d); len(got) != 0 {
		t.Fatalf("after deletion /sessions holds %d sessions, want none", len(got))
	}

	// A second session gets addresses from the pools again.
	b := n4Step(ctx, t, smf, "establish", "-associate=false", "-seid", "0xb2")
	n4CheckParams(t, b.ATSSS)

	// Fill both pools: session B and the filler's sessions take all their
	// addresses, so A's must have been freed and handed out again; one
	// session more finds the pools exhausted (Cause 75).
	load := n4Step(ctx, t, filler, "load", "-sessions", strconv.Itoa(n4PoolHosts-1), "-keep")
	if load.Causes[uint8(atsssie.CauseAccepted)] != n4PoolHosts-1 || load.Failed != 0 {
		t.Fatalf("filling the pools: causes %v, %d failed (%s), want %d accepted", load.Causes, load.Failed, load.Error, n4PoolHosts-1)
	}
	all := n4Sessions(ctx, t, d)
	if len(all) != n4PoolHosts {
		t.Errorf("/sessions holds %d sessions, want %d", len(all), n4PoolHosts)
	}
	for _, a := range atsss.Accesses {
		held := map[netip.Addr]atsss.SEID{}
		for _, s := range all {
			for _, addr := range s.LinkSpecificAddrs(a) {
				if other, dup := held[addr]; dup {
					t.Errorf("%v link-specific address %v held by sessions %v and %v", a, addr, other, s.LocalSEID)
				}
				held[addr] = s.LocalSEID
			}
		}
		if len(held) != n4PoolHosts {
			t.Errorf("%v: %d link-specific addresses held, want the pool's %d", a, len(held), n4PoolHosts)
		}
		for _, addr := range params.MPTCP.LinkSpecific[a].Addrs() {
			if _, ok := held[addr]; !ok {
				t.Errorf("%v link-specific address %v of the deleted session A is held by no session: not freed", a, addr)
			}
		}
	}
	n4Step(ctx, t, filler, "establish", "-associate=false", "-seid", "0xc3", "-expect", "no_resources")

	// What tshark makes of it.
	if err := capture.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	// tshark decodes PFCP on port 8805 only, unless told.
	r := tsharktest.Reader{Bin: tshark, PCAP: pcap, Args: []string{"-d", fmt.Sprintf("udp.port==%d,pfcp", n4.Port())}}
	n4CheckCapture(ctx, t, r, smf.Local.Addr(), params, *b.ATSSS)
}

// n4Config is atsssd's configuration for TestN4EndToEnd: the /24 pools,
// and a durable store in dir.
func n4Config(dir string, n4, metrics netip.AddrPort) map[string]any {
	cfg := daemontest.Config(n4, metrics, [2]string{n4Pools[0].String(), n4Pools[1].String()})
	cfg["store_path"] = filepath.Join(dir, "sessions.db")
	return cfg
}

// n4WriteScenario writes an smfsim scenario whose one step establishes the
// session described in YAML by session.
func n4WriteScenario(t *testing.T, dir, name, session string) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("steps:\n  - establish:\n")
	for line := range strings.Lines(strings.TrimPrefix(session, "\n")) {
		b.WriteString("      " + line)
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// n4Step runs an smfsim command as smf and returns the outcome of its
// last request; every response must have had the Cause expected.
func n4Step(ctx context.Context, t *testing.T, smf smfsimtest.SMF, cmd string, args ...string) smfsimtest.Outcome {
	t.Helper()
	out, err := smf.Run(ctx, cmd, args...)
	if err != nil {
		t.Fatal(err)
	}
	return out[len(out)-1]
}

// n4CheckParams checks the ATSSS Control Parameters of an establishment: the
// MPTCP proxy, a link-specific IPv4 address per access from its pool, the
// PMF address and ports. It returns them.
func n4CheckParams(t *testing.T, p *atsss.ATSSSParams) atsss.ATSSSParams {
	t.Helper()
	if p == nil || p.MPTCP == nil {
		t.Fatalf("establishment: no MPTCP parameters in ATSSS Control Parameters %+v", p)
	}
	m := p.MPTCP
	if m.ProxyType != 1 || m.ProxyIPv4 != n4ProxyAddr || m.ProxyPort != n4ProxyPort || m.ProxyIPv6.IsValid() {
		t.Errorf("MPTCP proxy type %d %v %v port %d, want type 1 (RFC 8803) %v port %d", m.ProxyType, m.ProxyIPv4, m.ProxyIPv6, m.ProxyPort, n4ProxyAddr, n4ProxyPort)
	}
	for _, a := range atsss.Accesses {
		ls := m.LinkSpecific[a]
		if !ls.IPv4.IsValid() || !n4Pools[a].Contains(ls.IPv4) || ls.IPv6.IsValid() {
			t.Errorf("%v link-specific address %v, want one IPv4 address from %v", a, ls.Addrs(), n4Pools[a])
		}
	}
	wantPMF := []atsss.PMFParams{{Addr: atsss.AddrPair{IPv4: n4ProxyAddr}, Ports: [2]uint16{n4PMFPortBase, n4PMFPortBase + 1}}}
	if diff := cmp.Diff(wantPMF, p.PMF, n4CmpOpts); diff != "" {
		t.Errorf("PMF parameters (-want +got):\n%s", diff)
	}
	return *p
}

// n4Sessions returns the sessions of atsssd's /sessions.
func n4Sessions(ctx context.Context, t *testing.T, d *daemontest.Daemon) []*atsss.Session {
	t.Helper()
	s, err := d.Sessions(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// n4OneSession returns the only session atsssd holds.
func n4OneSession(ctx context.Context, t *testing.T, d *daemontest.Daemon) *atsss.Session {
	t.Helper()
	s := n4Sessions(ctx, t, d)
	if len(s) != 1 {
		t.Fatalf("/sessions holds %d sessions, want 1", len(s))
	}
	return s[0]
}

// n4MPTCPLB is MAR 1 of session A: MPTCP load balancing with weights w3 and
// wn. Its FARs and URRs are those pfcptest.SessionSpec numbers: FAR
// 2m+2+a and URR 2+a for MAR m and access a.
func n4MPTCPLB(w3, wn uint8) atsss.MAR {
	return atsss.MAR{ID: 1, Functionality: atsss.FunctionalityMPTCP, Mode: atsss.ModeLoadBalancing, Legs: [2]atsss.Leg{
		{Present: true, FARID: 4, Weight: atsss.OptionalUint8{Value: w3, Set: true}, URRIDs: []uint32{2}},
		{Present: true, FARID: 5, Weight: atsss.OptionalUint8{Value: wn, Set: true}, URRIDs: []uint32{3}},
	}}
}

// n4LLAS is MAR 2 of session A: ATSSS-LL active-standby, 3GPP active.
func n4LLAS() atsss.MAR {
	return atsss.MAR{ID: 2, Functionality: atsss.FunctionalityATSSSLL, Mode: atsss.ModeActiveStandby, Legs: [2]atsss.Leg{
		{Present: true, FARID: 6, Priority: atsss.OptionalPriority{Value: atsss.PriorityActive, Set: true}, URRIDs: []uint32{2}},
		{Present: true, FARID: 7, Priority: atsss.OptionalPriority{Value: atsss.PriorityStandby, Set: true}, URRIDs: []uint32{3}},
	}}
}

// n4CheckMARs checks the MARs of s, and that each present leg's FAR exists.
func n4CheckMARs(t *testing.T, s *atsss.Session, want ...atsss.MAR) {
	t.Helper()
	if diff := cmp.Diff(want, s.MARs, n4CmpOpts); diff != "" {
		t.Errorf("stored MARs (-want +got):\n%s", diff)
	}
	for _, m := range s.MARs {
		for a, leg := range m.Legs {
			if leg.Present && s.FAR(leg.FARID) == nil {
				t.Errorf("MAR %d %v leg: FAR %d not in the session", m.ID, atsss.AccessType(a), leg.FARID)
			}
		}
	}
}

// PFCP message types (TS 29.244 §7.3).
const (
	n4MsgAssociationSetupRequest  = "5"
	n4MsgAssociationSetupResponse = "6"
	n4MsgEstablishmentRequest     = "50"
	n4MsgEstablishmentResponse    = "51"
	n4MsgModificationRequest      = "52"
	n4MsgModificationResponse     = "53"
	n4MsgDeletionRequest          = "54"
	n4MsgDeletionResponse         = "55"
)

// n4CaptureFields are the fields n4CheckCapture reads.
var n4CaptureFields = []string{
	"ip.src", "pfcp.msg_type", "pfcp.seqno", "pfcp.cause", "pfcp.ie_type",
	"pfcp.up_function_features.mptcp", "pfcp.up_function_features.atsss_ll",
	"pfcp.mar_id", "pfcp.steering_functionality", "pfcp.steering_mode", "pfcp.weight", "pfcp.priority", "pfcp.far_id",
	"pfcp.mptcp_control_information.flags.tci", "pfcp.atsss_ll_control_information.flags.lli", "pfcp.pmf_control_information.flags.pmfi",
	"pfcp.mptcp_proxy.type", "pfcp.mptcp_proxy.port", "pfcp.mptcp_proxy.ipv4",
	"pfcp.ue_link_specific_ip_address.3gpp.ipv4", "pfcp.ue_link_specific_ip_address.non3gpp.ipv4",
	"pfcp.atsss_ll_information.flags.lli",
	"pfcp.pmf_address_information.ipv4", "pfcp.pmf_address_information.port_3gpp", "pfcp.pmf_address_information.port_non3gpp",
}

// IE layouts as tshark lists their IE types (pfcp.ie_type, depth first),
// TS 29.244 Table 8.1.2-1.
const (
	// Create MAR 1 {MAR ID, Steering Functionality, Steering Mode,
	// 3GPP AFAI {FAR ID, Weight, URR ID}, non-3GPP AFAI {...}}, then
	// Create MAR 2 with Priority (174) in place of Weight (173).
	n4CreateMARs = "165,170,171,172,166,108,173,81,167,108,173,81,165,170,171,172,166,108,174,81,167,108,174,81"
	// Provide ATSSS Control Information {MPTCP, ATSSS-LL, PMF Control
	// Information}.
	n4ProvideATSSS = "220,222,223,224"
	// ATSSS Control Parameters {MPTCP Parameters {MPTCP Address
	// Information, UE Link-Specific IP Address}, ATSSS-LL Parameters
	// {ATSSS-LL Information}, PMF Parameters {PMF Address Information}}.
	n4ATSSSParams = "221,225,228,229,226,231,227,230"
	// Update MAR {MAR ID, Update 3GPP AFAI {Weight}, Update non-3GPP AFAI
	// with nothing in it: the leg is removed (§7.5.4.16)}.
	n4RemoveLeg = "169,170,175,173,176"
	// Update MAR {MAR ID, Update 3GPP AFAI {Weight}, non-3GPP AFAI {FAR
	// ID, Weight, URR ID}: the leg is back}.
	n4AddLeg = "169,170,175,173,167,108,173,81"
)

// n4CheckCapture checks what tshark decodes from the capture: nothing
// malformed or worth a warning in any frame, and, between smf and atsssd,
// each step once, in order, with the values sent and received: a and b are
// the ATSSS Control Parameters smfsim read for sessions A and B.
func n4CheckCapture(ctx context.Context, t *testing.T, r tsharktest.Reader, smf netip.Addr, a, b atsss.ATSSSParams) {
	t.Helper()
	if s, err := r.Suspicious(ctx); err != nil {
		t.Fatal(err)
	} else if s != "" {
		expert, _ := r.Expert(ctx)
		t.Errorf("tshark finds frames malformed or worth a warning:\n%s\n%s", s, expert)
	}
	frames, err := r.Fields(ctx, "ip.addr == "+smf.String(), n4CaptureFields...)
	if err != nil {
		t.Fatal(err)
	}
	// A retransmission repeats the sequence number: keep the first.
	type key struct{ src, typ, seq string }
	seen := map[key]bool{}
	frames = slices.DeleteFunc(frames, func(f tsharktest.Frame) bool {
		k := key{f["ip.src"], f["pfcp.msg_type"], f["pfcp.seqno"]}
		dup := seen[k]
		seen[k] = true
		return dup
	})
	var types []string
	for _, f := range frames {
		types = append(types, f["pfcp.msg_type"])
	}
	wantTypes := []string{
		n4MsgAssociationSetupRequest, n4MsgAssociationSetupResponse,
		n4MsgEstablishmentRequest, n4MsgEstablishmentResponse, // A
		n4MsgModificationRequest, n4MsgModificationResponse, // leg removed
		n4MsgModificationRequest, n4MsgModificationResponse, // leg back
		n4MsgDeletionRequest, n4MsgDeletionResponse,
		n4MsgEstablishmentRequest, n4MsgEstablishmentResponse, // B
	}
	if !slices.Equal(types, wantTypes) {
		t.Fatalf("PFCP messages between %v and atsssd: types %v, want %v", smf, types, wantTypes)
	}
	linkSpecific := func(p atsss.ATSSSParams, acc atsss.AccessType) string {
		return p.MPTCP.LinkSpecific[acc].IPv4.String()
	}
	checks := []struct {
		msg   int // index in wantTypes
		field string
		want  string // "...x": the field contains x
	}{
		{1, "pfcp.cause", "1"},
		{1, "pfcp.up_function_features.mptcp", "1"},
		{1, "pfcp.up_function_features.atsss_ll", "1"},

		// Establishment Request of A. The downlink PDRs name MARs 1 and
		// 2 before the Create MARs do; then MPTCP (1) load balancing (2)
		// 70/30, ATSSS-LL (0) active-standby (0) with 3GPP active (0)
		// and non-3GPP standby (1). The MARs' legs use FARs 4 to 7.
		{2, "pfcp.ie_type", "..." + n4CreateMARs},
		{2, "pfcp.mar_id", "1,2,1,2"},
		{2, "pfcp.steering_functionality", "1,0"},
		{2, "pfcp.steering_mode", "2,0"},
		{2, "pfcp.weight", "70,30"},
		{2, "pfcp.priority", "0,1"},
		{2, "pfcp.far_id", "...4,5,6,7"},
		{2, "pfcp.ie_type", "..." + n4ProvideATSSS},
		{2, "pfcp.mptcp_control_information.flags.tci", "1"},
		{2, "pfcp.atsss_ll_control_information.flags.lli", "1"},
		{2, "pfcp.pmf_control_information.flags.pmfi", "1"},

		// Its response: ATSSS Control Parameters.
		{3, "pfcp.cause", "1"},
		{3, "pfcp.ie_type", "..." + n4ATSSSParams},
		{3, "pfcp.mptcp_proxy.type", "01"},
		{3, "pfcp.mptcp_proxy.port", strconv.Itoa(n4ProxyPort)},
		{3, "pfcp.mptcp_proxy.ipv4", n4ProxyAddr.String()},
		{3, "pfcp.ue_link_specific_ip_address.3gpp.ipv4", linkSpecific(a, atsss.Access3GPP)},
		{3, "pfcp.ue_link_specific_ip_address.non3gpp.ipv4", linkSpecific(a, atsss.AccessNon3GPP)},
		{3, "pfcp.atsss_ll_information.flags.lli", "1"},
		{3, "pfcp.pmf_address_information.ipv4", n4ProxyAddr.String()},
		{3, "pfcp.pmf_address_information.port_3gpp", strconv.Itoa(n4PMFPortBase)},
		{3, "pfcp.pmf_address_information.port_non3gpp", strconv.Itoa(n4PMFPortBase + 1)},

		// MAR 1 loses its non-3GPP leg, 3GPP takes all.
		{4, "pfcp.ie_type", n4RemoveLeg},
		{4, "pfcp.mar_id", "1"},
		{4, "pfcp.weight", "100"},
		{5, "pfcp.cause", "1"},

		// The leg is back with FAR 5, and the weights.
		{6, "pfcp.ie_type", n4AddLeg},
		{6, "pfcp.mar_id", "1"},
		{6, "pfcp.weight", "70,30"},
		{6, "pfcp.far_id", "5"},
		{7, "pfcp.cause", "1"},

		{9, "pfcp.cause", "1"}, // deletion

		// Session B.
		{11, "pfcp.cause", "1"},
		{11, "pfcp.ue_link_specific_ip_address.3gpp.ipv4", linkSpecific(b, atsss.Access3GPP)},
		{11, "pfcp.ue_link_specific_ip_address.non3gpp.ipv4", linkSpecific(b, atsss.AccessNon3GPP)},
	}
	for _, c := range checks {
		got := frames[c.msg][c.field]
		if suffix, ok := strings.CutPrefix(c.want, "..."); ok && strings.Contains(got, suffix) || got == c.want {
			continue
		}
		t.Errorf("message %d (type %s): %s = %q, want %q", c.msg+1, wantTypes[c.msg], c.field, got, c.want)
	}
}
