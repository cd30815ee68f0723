package pfcp_test

import (
	"net/netip"
	"slices"
	"testing"

	"github.com/wmnsk/go-pfcp/ie"
	"github.com/wmnsk/go-pfcp/message"

	"github.com/openatsss/atsss/pfcp"
	"github.com/openatsss/atsss/pfcp/atsssie"
	"github.com/openatsss/atsss/pfcp/pfcptest"
)

// TestFTEIDChosenByUPF: with an N3 address the UPF advertises FTUP and
// allocates the F-TEIDs that PDRs ask it to choose (TS 29.244 §5.5.3),
// one per PDR, or one per CHOOSE ID, and reports them in Created PDR.
func TestFTEIDChosenByUPF(t *testing.T) {
	n3 := netip.MustParseAddr("203.0.113.10")
	h := start(t, func(c *pfcp.Config) { c.N3.Address4 = n3 })
	c := h.dial(t, "127.0.0.1:0", false)
	r, err := c.Associate(t.Context())
	accepted(t, "associate", r, err)
	if !r.Features.Has(atsssie.FeatureFTUP) {
		t.Errorf("FTUP not advertised with an N3 address")
	}

	for _, tc := range []struct {
		name      string
		fteid     *ie.IE // the F-TEID of every uplink PDR
		sameTEIDs bool
	}{
		{"one F-TEID per PDR", ie.NewFTEID(0x05, 0, nil, nil, 0), false},      // CH, V4
		{"one F-TEID per CHOOSE ID", ie.NewFTEID(0x0d, 0, nil, nil, 7), true}, // CH, CHID, V4
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := pfcptest.Establishment(maSpec(0x500), 0)
			req.NodeID = ie.NewNodeID("", "", "smf.test")
			for k, p := range req.CreatePDR {
				req.CreatePDR[k] = rebuild(p, func(i *ie.IE) *ie.IE {
					if i.Type == ie.FTEID {
						return tc.fteid
					}
					return i
				})
			}
			r, err := c.Do(t.Context(), req)
			accepted(t, "establish", r, err)
			created := map[uint16]uint32{}
			for _, g := range r.Message.(*message.SessionEstablishmentResponse).CreatedPDR {
				id, _ := g.PDRID()
				f, err := g.FTEID()
				if err != nil || !addrOfIP(f.IPv4Address).IsValid() || addrOfIP(f.IPv4Address) != n3 {
					t.Fatalf("Created PDR %d: F-TEID %+v, %v; want one on %v", id, f, err, n3)
				}
				created[id] = f.TEID
			}
			sess, _ := h.store.Get(r.UPSEID)
			var teids []uint32
			for _, p := range sess.PDRs {
				if p.Uplink() {
					f := p.PDI.FTEID
					if f == nil || !f.Chosen || f.TEID == 0 || f.IPv4 != n3 || created[p.ID] != f.TEID {
						t.Errorf("PDR %d: stored F-TEID %+v, created %#x", p.ID, f, created[p.ID])
						continue
					}
					teids = append(teids, f.TEID)
				}
			}
			// maSpec has an uplink PDR per MAR and access: four.
			distinct := len(slices.Compact(slices.Sorted(slices.Values(teids))))
			if want := map[bool]int{false: 4, true: 1}[tc.sameTEIDs]; len(teids) != 4 || distinct != want {
				t.Errorf("uplink TEIDs %v; want 4 PDRs with %d distinct TEIDs", teids, want)
			}
			dr, err := c.Do(t.Context(), pfcptest.Deletion(r.UPSEID, 0))
			accepted(t, "delete", dr, err)
		})
	}
}

func addrOfIP(ip []byte) netip.Addr {
	a, _ := netip.AddrFromSlice(ip)
	return a.Unmap()
}
