package pfcp_test

import (
	"encoding/binary"
	"net/netip"
	"testing"
	"time"

	"github.com/wmnsk/go-pfcp/ie"
	"github.com/wmnsk/go-pfcp/message"

	"github.com/openatsss/atsss/atsss"
	"github.com/openatsss/atsss/pfcp"
	"github.com/openatsss/atsss/pfcp/atsssie"
	"github.com/openatsss/atsss/pfcp/pfcptest"
)

// rejection is what a response says about a refused request.
type rejection struct {
	cause       pfcp.Cause
	offendingIE uint16
	failedRule  *pfcptest.FailedRule
}

// rebuild returns g with its children passed through edit, which may drop
// (return nil) or replace each one, recursively into grouped children.
func rebuild(g *ie.IE, edit func(*ie.IE) *ie.IE) *ie.IE {
	var kids []*ie.IE
	for _, c := range g.ChildIEs {
		if c.IsGrouped() {
			c = rebuild(c, edit)
		}
		if c = edit(c); c != nil {
			kids = append(kids, c)
		}
	}
	return ie.NewGroupedIE(g.Type, kids...)
}

// editMARs applies edit to the IEs inside every Create MAR.
func editMARs(req *message.SessionEstablishmentRequest, edit func(*ie.IE) *ie.IE) {
	for i, m := range req.CreateMAR {
		req.CreateMAR[i] = rebuild(m, edit)
	}
}

func TestCauses(t *testing.T) {
	h := start(t, nil)
	h.dial(t, "127.0.0.1:0", true) // associates 127.0.0.1
	r := rawConn(t, h)
	weight := func(w uint8) func(*ie.IE) *ie.IE {
		return func(i *ie.IE) *ie.IE {
			if i.Type == ie.Weight {
				if v, _ := i.Weight(); v == 30 {
					return ie.NewWeight(w)
				}
			}
			return i
		}
	}
	// Each request takes its own sequence number: a repeated one would be
	// answered from the response cache.
	seq := uint32(100)
	establishment := func(edit func(*message.SessionEstablishmentRequest)) func() []byte {
		return func() []byte {
			seq++
			spec := maSpec(0x77)
			spec.CPAddr = netip.MustParseAddr("127.0.0.1")
			req := pfcptest.Establishment(spec, seq)
			req.NodeID = ie.NewNodeID("", "", "smf.test")
			if edit != nil {
				edit(req)
			}
			b, err := req.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			return b
		}
	}
	ruleMAR := func(id uint32) *pfcptest.FailedRule { return &pfcptest.FailedRule{Type: atsss.RuleMAR, ID: id} }

	tests := []struct {
		name    string
		request func() []byte
		want    rejection
	}{
		{"missing mandatory IE: CP F-SEID", establishment(func(m *message.SessionEstablishmentRequest) { m.CPFSEID = nil }),
			rejection{cause: pfcp.CauseMandatoryIEMissing, offendingIE: ie.FSEID}},
		{"missing mandatory IE inside Create MAR: steering mode", establishment(func(m *message.SessionEstablishmentRequest) {
			editMARs(m, func(i *ie.IE) *ie.IE {
				if i.Type == ie.SteeringMode {
					return nil
				}
				return i
			})
		}), rejection{cause: pfcp.CauseMandatoryIEMissing, offendingIE: ie.SteeringMode}},
		{"invalid length inside a grouped IE", func() []byte {
			b := establishment(nil)()
			// Grow the length of the first Create MAR's first child past
			// its parent: TS 29.244 §7.6.2, Cause 68 naming that IE.
			off := findIE(t, b[16:], ie.CreateMAR) + 16
			child := off + 4
			n := binary.BigEndian.Uint16(b[child+2:])
			binary.BigEndian.PutUint16(b[child+2:], n+200)
			return b
		}, rejection{cause: pfcp.CauseInvalidLength, offendingIE: ie.MARID}},
		{"header length disagrees with the datagram", func() []byte {
			b := establishment(nil)()
			return append(b, 0, 0, 0, 0)
		}, rejection{cause: pfcp.CauseInvalidLength}},
		{"unknown SEID", func() []byte {
			b, _ := pfcptest.Deletion(0xdead, 2).Marshal()
			return b
		}, rejection{cause: pfcp.CauseSessionNotFound}},
		{"MAR weights 60/30", establishment(func(m *message.SessionEstablishmentRequest) {
			editMARs(m, func(i *ie.IE) *ie.IE {
				if i.Type == ie.Weight {
					if v, _ := i.Weight(); v == 70 {
						return ie.NewWeight(60)
					}
				}
				return i
			})
		}), rejection{cause: pfcp.CauseRuleCreationFailure, failedRule: ruleMAR(1)}},
		{"weight above 100 counts as 0", establishment(func(m *message.SessionEstablishmentRequest) { editMARs(m, weight(200)) }),
			rejection{cause: pfcp.CauseRuleCreationFailure, failedRule: ruleMAR(1)}},
		{"redundant with ATSSS-LL", establishment(func(m *message.SessionEstablishmentRequest) {
			editMARs(m, func(i *ie.IE) *ie.IE {
				if i.Type == ie.SteeringMode {
					if v, _ := i.SteeringMode(); v == uint8(atsss.ModeActiveStandby) {
						return atsssie.NewSteeringMode(atsss.ModeRedundant)
					}
				}
				return i
			})
		}), rejection{cause: pfcp.CauseRuleCreationFailure, failedRule: ruleMAR(2)}},
		{"PDR naming an unknown MAR", establishment(func(m *message.SessionEstablishmentRequest) {
			for k, p := range m.CreatePDR {
				m.CreatePDR[k] = rebuild(p, func(i *ie.IE) *ie.IE {
					if i.Type == ie.MARID {
						if v, _ := i.MARID(); v == 2 {
							return ie.NewMARID(9)
						}
					}
					return i
				})
			}
		}), rejection{cause: pfcp.CauseRuleCreationFailure, failedRule: &pfcptest.FailedRule{Type: atsss.RulePDR, ID: 9}}},
		{"FAR of a MAR without 3GPP interface type", establishment(func(m *message.SessionEstablishmentRequest) {
			for k, f := range m.CreateFAR {
				m.CreateFAR[k] = rebuild(f, func(i *ie.IE) *ie.IE {
					if i.Type == ie.TGPPInterfaceType {
						if v, _ := i.TGPPInterfaceType(); v&0x3f == uint8(atsss.InterfaceTypeN3UntrustedNon3GPP) {
							return nil
						}
					}
					return i
				})
			}
		}), rejection{cause: pfcp.CauseRuleCreationFailure, failedRule: ruleMAR(1)}},
		{"thresholds with steering mode indicator", establishment(func(m *message.SessionEstablishmentRequest) {
			for k := range m.CreateMAR {
				m.CreateMAR[k].Add(atsssie.NewThresholds(atsss.Thresholds{RTT: atsss.OptionalUint16{Value: 50, Set: true}}),
					atsssie.NewSteeringModeIndicator(atsss.SteeringModeIndicator{AutonomousLoadBalancing: true}))
			}
		}), rejection{cause: pfcp.CauseRuleCreationFailure, failedRule: ruleMAR(1)}},
		{"MPQUIC is not offered", establishment(func(m *message.SessionEstablishmentRequest) {
			editMARs(m, func(i *ie.IE) *ie.IE {
				if i.Type == ie.SteeringFunctionality {
					if v, _ := i.SteeringFunctionality(); v == uint8(atsss.FunctionalityMPTCP) {
						return atsssie.NewSteeringFunctionality(atsss.FunctionalityMPQUICUDP)
					}
				}
				return i
			})
		}), rejection{cause: pfcp.CauseRuleCreationFailure, failedRule: ruleMAR(1)}},
		// APN/DNN and S-NSSAI are optional, but a malformed one is refused,
		// naming it, not dropped: a session without them would escape the
		// policies that match on them.
		{"APN/DNN with a dot inside a label", establishment(func(m *message.SessionEstablishmentRequest) {
			m.APNDNN = ie.New(ie.APNDNN, []byte{3, 'a', '.', 'b'})
		}), rejection{cause: pfcp.CauseMandatoryIEIncorrect, offendingIE: ie.APNDNN}},
		{"APN/DNN ending in a zero length", establishment(func(m *message.SessionEstablishmentRequest) {
			m.APNDNN = ie.New(ie.APNDNN, []byte{3, 'i', 'm', 's', 0})
		}), rejection{cause: pfcp.CauseMandatoryIEIncorrect, offendingIE: ie.APNDNN}},
		{"APN/DNN label past its end", establishment(func(m *message.SessionEstablishmentRequest) {
			m.APNDNN = ie.New(ie.APNDNN, []byte{8, 'i', 'n', 't'})
		}), rejection{cause: pfcp.CauseInvalidLength, offendingIE: ie.APNDNN}},
		{"S-NSSAI without SD octets", establishment(func(m *message.SessionEstablishmentRequest) {
			m.SNSSAI = ie.New(ie.SNSSAI, []byte{1})
		}), rejection{cause: pfcp.CauseInvalidLength, offendingIE: ie.SNSSAI}},
		{"F-TEID CHOOSE without FTUP", establishment(func(m *message.SessionEstablishmentRequest) {
			for k, p := range m.CreatePDR {
				m.CreatePDR[k] = rebuild(p, func(i *ie.IE) *ie.IE {
					if i.Type == ie.FTEID {
						return ie.NewFTEID(0x04, 0, nil, nil, 0) // CH=1
					}
					return i
				})
			}
		}), rejection{cause: pfcp.CauseInvalidFTEIDAllocation, offendingIE: ie.FTEID}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := readRejection(t, r.roundTrip(t, tc.request()))
			if got.cause != tc.want.cause || got.offendingIE != tc.want.offendingIE || !sameRule(got.failedRule, tc.want.failedRule) {
				t.Errorf("got cause %v offending IE %d failed rule %v; want %v %d %v",
					got.cause, got.offendingIE, got.failedRule, tc.want.cause, tc.want.offendingIE, tc.want.failedRule)
			}
			if h.store.Len() != 0 {
				t.Errorf("a rejected request left %d sessions", h.store.Len())
			}
		})
	}
}

func sameRule(a, b *pfcptest.FailedRule) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

// findIE returns the offset of the first top-level IE of type t in payload.
func findIE(t *testing.T, payload []byte, typ uint16) int {
	t.Helper()
	for off := 0; off+4 <= len(payload); {
		if binary.BigEndian.Uint16(payload[off:]) == typ {
			return off
		}
		off += 4 + int(binary.BigEndian.Uint16(payload[off+2:]))
	}
	t.Fatalf("no IE %d", typ)
	return 0
}

func readRejection(t *testing.T, b []byte) rejection {
	t.Helper()
	var cause, offending, failed *ie.IE
	switch m := parse(t, b).(type) {
	case *message.SessionEstablishmentResponse:
		cause, offending, failed = m.Cause, m.OffendingIE, m.FailedRuleID
	case *message.SessionModificationResponse:
		cause, offending, failed = m.Cause, m.OffendingIE, m.FailedRuleID
	case *message.SessionDeletionResponse:
		cause, offending = m.Cause, m.OffendingIE
	default:
		t.Fatalf("unexpected response %s", m.MessageTypeName())
	}
	var out rejection
	c, err := cause.Cause()
	if err != nil {
		t.Fatal(err)
	}
	out.cause = pfcp.Cause(c)
	if offending != nil {
		out.offendingIE, _ = offending.OffendingIE()
	}
	if failed != nil {
		typ, id, err := atsssie.ParseFailedRuleID(failed)
		if err != nil {
			t.Fatal(err)
		}
		out.failedRule = &pfcptest.FailedRule{Type: typ, ID: id}
	}
	return out
}

func TestNoAssociation(t *testing.T) {
	h := start(t, nil)
	c := h.dial(t, "127.0.0.2:0", false)
	resp, err := c.Establish(t.Context(), maSpec(1))
	if err != nil || resp.Cause != pfcp.CauseNoEstablishedAssociation {
		t.Fatalf("establishment without association: %v %v, want cause 72", resp, err)
	}
}

func TestWrongVersionAndUnknownType(t *testing.T) {
	h := start(t, nil)
	r := rawConn(t, h)
	hb, _ := pfcptest.HeartbeatRequest(time.Now(), 3).Marshal()
	hb[0] = hb[0]&0x1f | 2<<5 // version 2
	resp := parse(t, r.roundTrip(t, hb))
	if resp.MessageType() != message.MsgTypeVersionNotSupportedResponse || resp.Sequence() != 3 {
		t.Errorf("version 2: got %s seq %d, want Version Not Supported seq 3", resp.MessageTypeName(), resp.Sequence())
	}
	hb, _ = pfcptest.HeartbeatRequest(time.Now(), 4).Marshal()
	hb[1] = 99 // no such message type: dropped (TS 29.244 §7.6.1)
	if b, ok := r.exchange(t, hb, 300*time.Millisecond); ok {
		t.Errorf("unknown message type answered with %x", b)
	}
}

func TestPeerNotAllowedIsDropped(t *testing.T) {
	h := start(t, func(c *pfcp.Config) {
		c.AllowedPeers = []netip.Prefix{netip.MustParsePrefix("127.0.0.2/32")}
	})
	r := rawConn(t, h) // from 127.0.0.1
	hb, _ := pfcptest.HeartbeatRequest(time.Now(), 1).Marshal()
	if b, ok := r.exchange(t, hb, 300*time.Millisecond); ok {
		t.Errorf("a peer outside allowed_peers got an answer: %x", b)
	}
}
