package pfcptest

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/openatsss/atsss/atsss"
)

func TestSNSSAIText(t *testing.T) {
	for _, tt := range []struct {
		text string
		want atsss.SNSSAI
	}{
		{"1", atsss.SNSSAI{SST: 1}},
		{"255", atsss.SNSSAI{SST: 255}},
		{"1-010203", atsss.SNSSAI{SST: 1, SD: 0x010203, SDSet: true}},
		{"128-00000a", atsss.SNSSAI{SST: 128, SD: 0xa, SDSet: true}},
		{"2-000000", atsss.SNSSAI{SST: 2, SDSet: true}},
	} {
		t.Run(tt.text, func(t *testing.T) {
			var n SNSSAI
			if err := n.UnmarshalText([]byte(tt.text)); err != nil {
				t.Fatal(err)
			}
			if atsss.SNSSAI(n) != tt.want {
				t.Errorf("UnmarshalText(%q) = %+v, want %+v", tt.text, n, tt.want)
			}
			if got := n.String(); got != strings.ToLower(tt.text) {
				t.Errorf("String() = %q, want %q", got, tt.text)
			}
		})
	}
	for _, bad := range []string{"", "-010203", "256", "1-", "1-0102", "1-01020304", "1-ffffff", "1-0x0102", "x", "1-01020g", "1-+10203"} {
		var n SNSSAI
		if err := n.UnmarshalText([]byte(bad)); err == nil {
			t.Errorf("UnmarshalText(%q) = %+v, want an error", bad, n)
		}
	}
}

func TestEstablishmentDNNAndSNSSAI(t *testing.T) {
	m := roundTrip(t, Establishment(DefaultSpec(), 1))
	if m.APNDNN != nil || m.SNSSAI != nil {
		t.Errorf("the default spec sends APN/DNN %v and S-NSSAI %v, want neither", m.APNDNN, m.SNSSAI)
	}

	for _, tt := range []struct {
		name      string
		dnn       string
		snssai    *SNSSAI
		wantIEs   []string
		wantSlice *atsss.SNSSAI
	}{
		{"dnn and slice with SD", "internet", &SNSSAI{SST: 1, SD: 0x010203, SDSet: true},
			[]string{"159=08696e7465726e6574", "257=01010203"}, &atsss.SNSSAI{SST: 1, SD: 0x010203, SDSet: true}},
		// An S-NSSAI without SD carries the reserved SD FFFFFF.
		{"slice without SD", "", &SNSSAI{SST: 2}, []string{"257=02ffffff"}, &atsss.SNSSAI{SST: 2}},
		{"dnn with operator identifier", "ims.mnc001.mcc001.gprs", nil,
			[]string{"159=03696d73066d6e63303031066d636330303104" + "67707273"}, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			spec := DefaultSpec()
			spec.DNN, spec.SNSSAI = tt.dnn, tt.snssai
			m := roundTrip(t, Establishment(spec, 1))
			var got []string
			if m.APNDNN != nil {
				got = append(got, FormatIE(m.APNDNN))
			}
			if m.SNSSAI != nil {
				got = append(got, FormatIE(m.SNSSAI))
			}
			if diff := cmp.Diff(tt.wantIEs, got); diff != "" {
				t.Errorf("IEs (-want +got):\n%s", diff)
			}
			s := spec.Session()
			if s.DNN != tt.dnn || !cmp.Equal(s.SNSSAI, tt.wantSlice) {
				t.Errorf("Session: DNN %q, S-NSSAI %+v; want %q, %+v", s.DNN, s.SNSSAI, tt.dnn, tt.wantSlice)
			}
		})
	}
}

func TestSpecYAMLDNNAndSNSSAI(t *testing.T) {
	var got SessionSpec
	src := specYAML + "dnn: internet\nsnssai: 1-010203\n"
	if err := decodeStrict(src, &got); err != nil {
		t.Fatal(err)
	}
	if got.DNN != "internet" || got.SNSSAI == nil || *got.SNSSAI != (SNSSAI{SST: 1, SD: 0x010203, SDSet: true}) {
		t.Errorf("DNN %q, S-NSSAI %v", got.DNN, got.SNSSAI)
	}
	err := decodeStrict(specYAML+"snssai: 1-ffffff\n", new(SessionSpec))
	if err == nil || !strings.Contains(err.Error(), "reserved value for no SD") {
		t.Errorf("S-NSSAI 1-ffffff: error %v, want the reserved SD refused", err)
	}
}
