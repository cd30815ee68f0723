package pfcp

import (
	"errors"
	"net/netip"
	"testing"
	"time"

	"github.com/wmnsk/go-pfcp/message"

	"github.com/openatsss/atsss/atsss"
	"github.com/openatsss/atsss/pfcp/pfcptest"
)

// seedSpec is a valid MA PDU session: MPTCP Load-Balancing 70/30 and
// ATSSS-LL Active-Standby, with MPTCP, ATSSS-LL and PMF asked for, a DNN
// and a slice.
func seedSpec() pfcptest.SessionSpec {
	w := func(v uint8) atsss.OptionalUint8 { return atsss.OptionalUint8{Value: v, Set: true} }
	p := func(v atsss.Priority) atsss.OptionalPriority { return atsss.OptionalPriority{Value: v, Set: true} }
	tunnel := func(up, an string, teid uint32) *pfcptest.Tunnel {
		return &pfcptest.Tunnel{UPF: pfcptest.Endpoint{Addr: netip.MustParseAddr(up), TEID: teid}, AN: pfcptest.Endpoint{Addr: netip.MustParseAddr(an), TEID: teid + 1}}
	}
	return pfcptest.SessionSpec{
		SEID: 1, NodeID: "smf.test", CPAddr: netip.MustParseAddr("192.0.2.1"), UEIP: netip.MustParseAddr("192.0.2.100"),
		GNB: tunnel("203.0.113.10", "203.0.113.20", 0x100), N3IWF: tunnel("203.0.113.10", "203.0.113.30", 0x200),
		MARs: []pfcptest.MARSpec{
			{ID: 1, Functionality: atsss.FunctionalityMPTCP, Mode: atsss.ModeLoadBalancing, SDF: "permit out 6 from any to assigned",
				Thresholds: &atsss.Thresholds{RTT: atsss.OptionalUint16{Value: 50, Set: true}},
				Legs:       [2]pfcptest.LegSpec{{Present: true, Weight: w(70)}, {Present: true, Weight: w(30)}}},
			{ID: 2, Functionality: atsss.FunctionalityATSSSLL, Mode: atsss.ModeActiveStandby,
				Legs: [2]pfcptest.LegSpec{{Present: true, Priority: p(atsss.PriorityActive)}, {Present: true, Priority: p(atsss.PriorityStandby)}}},
		},
		ATSSS:              atsss.ATSSSRequest{MPTCP: true, ATSSSLL: true, PMF: true, PQPM: true, QFIs: []uint8{5}},
		ReportAvailability: true,
		DNN:                "internet.mnc001.mcc001.gprs",
		SNSSAI:             &pfcptest.SNSSAI{SST: 1, SD: 0x010203, SDSet: true},
	}
}

// seedMessages are golden requests of every kind the server handles.
func seedMessages(t testing.TB) [][]byte {
	mode := atsss.ModePriorityBased
	msgs := []message.Message{
		pfcptest.Establishment(seedSpec(), 1),
		pfcptest.UpdateMAR(1, 2, pfcptest.MARUpdate{ID: 1, Legs: [2]pfcptest.LegUpdate{{Weight: atsss.OptionalUint8{Value: 100, Set: true}}, {Op: pfcptest.LegRemove}}}),
		pfcptest.UpdateMAR(1, 3, pfcptest.MARUpdate{ID: 1, Mode: &mode, Legs: [2]pfcptest.LegUpdate{
			{Priority: atsss.OptionalPriority{Value: atsss.PriorityHigh, Set: true}},
			{Op: pfcptest.LegAdd, Priority: atsss.OptionalPriority{Value: atsss.PriorityLow, Set: true}}}}),
		pfcptest.AccessAvailability(1, 4, atsss.AccessNon3GPP, false),
		pfcptest.Deletion(1, 5),
		pfcptest.AssociationSetup("smf.test", time.Unix(1700000000, 0), 6),
		pfcptest.HeartbeatRequest(time.Unix(1700000000, 0), 7),
	}
	var out [][]byte
	for _, m := range msgs {
		b := make([]byte, m.MarshalLen())
		if err := m.MarshalTo(b); err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

// FuzzDecodeRequest feeds arbitrary datagrams through everything the server
// does with a request short of the socket: the header reader, go-pfcp's
// parser, the offending-IE walk, the translation of session messages into
// sessions, validation and the mapping to a Cause. None may panic, and a
// failure must map to a rejection with a defined Cause.
func FuzzDecodeRequest(f *testing.F) {
	for _, b := range seedMessages(f) {
		f.Add(b)
	}
	base := seedSpec().Session()
	base.LocalSEID = 1
	f.Fuzz(func(t *testing.T, b []byte) {
		hdr, err := readHeader(b)
		if err != nil {
			return
		}
		m, err := parseMessage(b)
		if err != nil {
			if rej := malformed(hdr, b, err); rej.Cause != CauseInvalidLength && rej.Cause != CauseMandatoryIEIncorrect {
				t.Fatalf("malformed message mapped to %v", rej.Cause)
			}
			return
		}
		var sess *atsss.Session
		switch m := m.(type) {
		case *message.SessionEstablishmentRequest:
			est, err := decodeEstablishment(m)
			if err != nil {
				checkRejection(t, err)
				return
			}
			sess = est.session
			// Policies compare slices with ==: only the one form will do.
			if sess.SNSSAI != nil {
				if err := sess.SNSSAI.Validate(); err != nil {
					t.Fatalf("decoded S-NSSAI: %v", err)
				}
			}
		case *message.SessionModificationRequest:
			mod, err := decodeModification(base, m)
			if err != nil {
				checkRejection(t, err)
				return
			}
			sess = mod.session
		default:
			return
		}
		if err := sess.Validate(); err != nil {
			var ruleErr *atsss.RuleError
			if !errors.As(err, &ruleErr) {
				t.Fatalf("Validate returned %T, want *atsss.RuleError", err)
			}
			checkRejection(t, err)
		}
	})
}

func checkRejection(t *testing.T, err error) {
	t.Helper()
	rej := asRejection(err)
	if !rej.Cause.Defined() || rej.Cause == CauseAccepted || rej.Cause == CauseSystemFailure {
		t.Fatalf("error %v mapped to cause %v", err, rej.Cause)
	}
	if rej.Cause == CauseRuleCreationFailure && rej.FailedRule == nil {
		t.Fatalf("cause 73 without a failed rule: %v", err)
	}
}

func TestSeedMessagesDecode(t *testing.T) {
	seeds := seedMessages(t)
	m, err := message.Parse(seeds[0])
	if err != nil {
		t.Fatal(err)
	}
	est, err := decodeEstablishment(m.(*message.SessionEstablishmentRequest))
	if err != nil {
		t.Fatal(err)
	}
	if err := est.session.Validate(); err != nil {
		t.Fatalf("the golden establishment does not validate: %v", err)
	}
	if want := seedSpec().Session(); est.session.DNN != want.DNN || *est.session.SNSSAI != *want.SNSSAI {
		t.Errorf("DNN %q, S-NSSAI %+v; want %q, %+v", est.session.DNN, est.session.SNSSAI, want.DNN, want.SNSSAI)
	}
}
