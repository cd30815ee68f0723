package pfcp_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/openatsss/atsss/atsss"
	"github.com/openatsss/atsss/pfcp"
	"github.com/openatsss/atsss/pfcp/atsssie"
	"github.com/openatsss/atsss/pfcp/pfcptest"
)

// TestDNNAndSNSSAI: the APN/DNN and S-NSSAI of an establishment are stored
// with the session, as received, and a modification leaves them alone.
// Malformed ones are in TestCauses.
func TestDNNAndSNSSAI(t *testing.T) {
	h := start(t, nil)
	c := h.dial(t, "127.0.0.1:0", true)
	tests := []struct {
		name       string
		dnn        string
		snssai     *pfcptest.SNSSAI
		wantSNSSAI *atsss.SNSSAI
	}{
		{name: "absent"},
		{name: "dnn and slice with SD", dnn: "internet", snssai: &pfcptest.SNSSAI{SST: 1, SD: 0x010203, SDSet: true},
			wantSNSSAI: &atsss.SNSSAI{SST: 1, SD: 0x010203, SDSet: true}},
		// The reserved SD FFFFFF on the wire is a slice without SD.
		{name: "slice without SD", snssai: &pfcptest.SNSSAI{SST: 2}, wantSNSSAI: &atsss.SNSSAI{SST: 2}},
		// Case is kept; policies compare case-insensitively.
		{name: "dnn with operator identifier", dnn: "Internet.MNC001.mcc001.gprs"},
	}
	for k, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := maSpec(atsss.SEID(0x5000 + k))
			spec.DNN, spec.SNSSAI = tt.dnn, tt.snssai
			r, err := c.Establish(t.Context(), spec)
			if err != nil || r.Cause != pfcp.CauseAccepted {
				t.Fatalf("establish: %v %v", r, err)
			}
			// The test pool has addresses for two sessions.
			defer func() {
				if r, err := c.Do(t.Context(), pfcptest.Deletion(r.UPSEID, 0)); err != nil || r.Cause != pfcp.CauseAccepted {
					t.Errorf("delete: %v %v", r, err)
				}
			}()
			s, ok := h.store.Get(r.UPSEID)
			if !ok {
				t.Fatal("no session stored")
			}
			if s.DNN != tt.dnn || !cmp.Equal(s.SNSSAI, tt.wantSNSSAI) {
				t.Errorf("stored DNN %q, S-NSSAI %+v; want %q, %+v", s.DNN, s.SNSSAI, tt.dnn, tt.wantSNSSAI)
			}

			// go-pfcp reads an S-NSSAI in a modification request too; the
			// server leaves the session's own.
			mod := pfcptest.AccessAvailability(r.UPSEID, 0, atsss.AccessNon3GPP, false)
			mod.SNSSAI = atsssie.NewSNSSAI(atsss.SNSSAI{SST: 9, SD: 9, SDSet: true})
			mr, err := c.Do(t.Context(), mod)
			if err != nil || mr.Cause != pfcp.CauseAccepted {
				t.Fatalf("modify: %v %v", mr, err)
			}
			s, _ = h.store.Get(r.UPSEID)
			if !s.Unavailable[atsss.AccessNon3GPP] {
				t.Fatal("the modification was not applied")
			}
			if s.DNN != tt.dnn || !cmp.Equal(s.SNSSAI, tt.wantSNSSAI) {
				t.Errorf("after a modification: DNN %q, S-NSSAI %+v; want %q, %+v", s.DNN, s.SNSSAI, tt.dnn, tt.wantSNSSAI)
			}
		})
	}
}
