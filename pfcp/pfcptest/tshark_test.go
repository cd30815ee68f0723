package pfcptest

import (
	"net/netip"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/wmnsk/go-pfcp/message"

	"github.com/openatsss/atsss/test/tsharktest"
)

// TestTsharkDNNAndSNSSAI checks, with tshark's PFCP dissector, written
// independently of go-pfcp and of this package, the APN/DNN and S-NSSAI
// IEs of the establishments smfsim sends: with an SD, without one, and
// none at all.
func TestTsharkDNNAndSNSSAI(t *testing.T) {
	bin := tsharktest.Path(t)
	specs := []func(*SessionSpec){
		func(s *SessionSpec) { s.DNN, s.SNSSAI = "internet", &SNSSAI{SST: 1, SD: 0x010203, SDSet: true} },
		func(s *SessionSpec) { s.DNN, s.SNSSAI = "ims.mnc001.mcc001.gprs", &SNSSAI{SST: 2} },
		func(*SessionSpec) {},
	}
	var frames [][]byte
	for k, edit := range specs {
		spec := testSpec() // with the CP F-SEID address Client.Establish fills in
		edit(&spec)
		var m message.Message = Establishment(spec, uint32(k+1))
		b := make([]byte, m.MarshalLen())
		if err := m.MarshalTo(b); err != nil {
			t.Fatal(err)
		}
		frames = append(frames, b)
	}
	pcap := filepath.Join(t.TempDir(), "dnn.pcap")
	tsharktest.WriteUDP(t, pcap, netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2"), 8805, frames)

	r := tsharktest.Reader{Bin: bin, PCAP: pcap}
	if s, err := r.Suspicious(t.Context()); err != nil || s != "" {
		expert, _ := r.Expert(t.Context())
		t.Errorf("tshark finds frames malformed (%v):\n%s\n%s", err, s, expert)
	}
	got, err := r.Fields(t.Context(), "", "pfcp.apn_dnn", "pfcp.s_nssai_sst.sst", "pfcp.s_nssai_sst.sd")
	if err != nil {
		t.Fatal(err)
	}
	want := []tsharktest.Frame{
		{"pfcp.apn_dnn": "internet", "pfcp.s_nssai_sst.sst": "01", "pfcp.s_nssai_sst.sd": "010203"},
		{"pfcp.apn_dnn": "ims.mnc001.mcc001.gprs", "pfcp.s_nssai_sst.sst": "02", "pfcp.s_nssai_sst.sd": "ffffff"},
		{"pfcp.apn_dnn": "", "pfcp.s_nssai_sst.sst": "", "pfcp.s_nssai_sst.sd": ""},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("tshark fields (-want +got):\n%s", diff)
	}
}
