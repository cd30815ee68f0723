package gtpu

import (
	"bytes"
	"net/netip"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/openatsss/atsss/test/tsharktest"
)

// TestTshark checks the octets Put and the Append functions write against
// tshark's GTP-U dissector, a decoder written independently of this one:
// every message is found well formed, with the fields we meant.
func TestTshark(t *testing.T) {
	bin := tsharktest.Path(t)
	inner := []byte{0x45, 0, 0, 20, 0, 0, 0x40, 0, 64, 17, 0, 0, 203, 0, 113, 130, 203, 0, 113, 40}
	msgs := [][]byte{
		AppendGPDU(nil, 0x1000, PDUTypeDownlink, 9, inner),
		AppendGPDU(nil, 0x100, PDUTypeUplink, 63, inner),
		AppendGPDU(nil, 0xfedcba98, PDUTypeDownlink, -1, inner),
		AppendEchoRequest(nil, 0x1234),
		AppendEchoResponse(nil, Header{Type: TypeEchoRequest, Seq: 0x1234, HasSeq: true}),
	}
	pcap := filepath.Join(t.TempDir(), "gtpu.pcap")
	tsharktest.WriteUDP(t, pcap, netip.MustParseAddr("192.0.2.254"), netip.MustParseAddr("192.0.2.200"), Port, msgs)

	run := func(args ...string) string {
		t.Helper()
		var out, errb bytes.Buffer
		cmd := exec.CommandContext(t.Context(), bin, append([]string{"-r", pcap}, args...)...)
		cmd.Stdout, cmd.Stderr = &out, &errb
		if err := cmd.Run(); err != nil {
			t.Fatalf("tshark %v: %v\n%s", args, err, errb.String())
		}
		return out.String()
	}
	if bad := run("-Y", "_ws.malformed || _ws.expert.severity >= warning"); bad != "" {
		t.Errorf("tshark finds problems:\n%s", bad)
	}
	got := run("-T", "fields", "-E", "separator=;", "-e", "gtp.message", "-e", "gtp.teid", "-e", "gtp.length",
		"-e", "gtp.seq_number", "-e", "gtp.ext_hdr.pdu_ses_con.pdu_type", "-e", "gtp.ext_hdr.pdu_ses_con.qos_flow_id",
		"-e", "gtp.recovery", "-e", "ip.dst")
	want := []string{
		"0xff;0x00001000;28;;0;9;;192.0.2.200,203.0.113.40",
		"0xff;0x00000100;28;;1;63;;192.0.2.200,203.0.113.40",
		"0xff;0xfedcba98;20;;;;;192.0.2.200,203.0.113.40",
		"0x01;0x00000000;4;0x1234;;;;192.0.2.200",
		"0x02;0x00000000;6;0x1234;;;0;192.0.2.200",
	}
	if d := cmp.Diff(want, strings.Split(strings.TrimSpace(got), "\n")); d != "" {
		t.Errorf("tshark fields message;teid;length;seq;pdu_type;qfi;recovery;ip.dst (-want +got):\n%s", d)
	}
}
