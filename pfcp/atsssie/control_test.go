package atsssie

import (
	"testing"

	"github.com/wmnsk/go-pfcp/ie"

	"github.com/openatsss/atsss/atsss"
)

var requestSuite = suite[atsss.ATSSSRequest]{
	typ:   ie.ProvideATSSSControlInformation,
	build: NewProvideATSSSControlInformation,
	parse: ParseProvideATSSSControlInformation,
	// Children: MPTCP Control Information 222 (00de, TCI bit 1), ATSSS-LL
	// Control Information 223 (00df, LLI bit 1), PMF Control Information
	// 224 (00e0: PMFI bit 1, DRTTI bit 2, PQPM bit 3; with PQPM the number
	// of QFIs, then the QFIs).
	golden: []row[atsss.ATSSSRequest]{
		{"nothing", atsss.ATSSSRequest{}, "00dc 0000"},
		{"mptcp", atsss.ATSSSRequest{MPTCP: true}, "00dc 0005 00de 0001 01"},
		{"atsss-ll", atsss.ATSSSRequest{ATSSSLL: true}, "00dc 0005 00df 0001 01"},
		{
			"mptcp, atsss-ll, pmf", atsss.ATSSSRequest{MPTCP: true, ATSSSLL: true, PMF: true},
			"00dc 000f 00de 0001 01 00df 0001 01 00e0 0001 01",
		},
		{"drtti alone", atsss.ATSSSRequest{DRTTI: true}, "00dc 0005 00e0 0001 02"},
		{
			"per qos flow", atsss.ATSSSRequest{PMF: true, DRTTI: true, PQPM: true, QFIs: []uint8{1, 5}},
			"00dc 0008 00e0 0004 07 02 01 05",
		},
		{"pqpm without qfis", atsss.ATSSSRequest{PQPM: true}, "00dc 0006 00e0 0002 04 00"},
	},
	decode: []row[atsss.ATSSSRequest]{
		{"tci clear", atsss.ATSSSRequest{}, "00dc 0005 00de 0001 00"},
		{"spare bits", atsss.ATSSSRequest{MPTCP: true, ATSSSLL: true}, "00dc 000a 00de 0001 fd 00df 0001 f3"},
		{"unknown child: mpquic control information 330", atsss.ATSSSRequest{MPTCP: true}, "00dc 000a 014a 0001 01 00de 0001 01"},
		{"repeated child: first counts", atsss.ATSSSRequest{MPTCP: true}, "00dc 000a 00de 0001 01 00de 0001 00"},
		{"qfi spare bits", atsss.ATSSSRequest{PQPM: true, QFIs: []uint8{5}}, "00dc 0007 00e0 0003 04 01 c5"},
		{"qfi list without pqpm ignored", atsss.ATSSSRequest{PMF: true}, "00dc 0007 00e0 0003 01 01 05"},
	},
	bad: []badRow{
		{"truncated child header", "00dc 0003 00de 00", ie.ProvideATSSSControlInformation, ErrInvalidLength},
		{"child longer than parent", "00dc 0004 00de 0001", ie.ProvideATSSSControlInformation, ErrInvalidLength},
		{"empty tci", "00dc 0004 00de 0000", ie.MPTCPControlInformation, ErrInvalidLength},
		{"empty lli", "00dc 0004 00df 0000", ie.ATSSSLLControlInformation, ErrInvalidLength},
		{"pqpm without number of qfi", "00dc 0005 00e0 0001 04", ie.PMFControlInformation, ErrInvalidLength},
		{"fewer qfis than counted", "00dc 0007 00e0 0003 04 03 01", ie.PMFControlInformation, ErrInvalidLength},
	},
}

func TestProvideATSSSControlInformation(t *testing.T) { requestSuite.run(t) }

// TestQFISpareBitsNotWritten checks that a QFI is written in 6 bits
// (TS 29.244 §8.2.89), its spare bits clear, whatever the value holds.
func TestQFISpareBitsNotWritten(t *testing.T) {
	got := hexOf(t, NewProvideATSSSControlInformation(atsss.ATSSSRequest{PQPM: true, QFIs: []uint8{0xc5}}))
	if want := compact("00dc 0007 00e0 0003 04 01 05"); got != want {
		t.Errorf("PMF Control Information with QFI 0xc5: got %s, want %s", got, want)
	}
	pmf := pmfDefault
	pmf.QFI = 0xc5
	got = hexOf(t, NewATSSSControlParameters(atsss.ATSSSParams{PMF: []atsss.PMFParams{pmf}}))
	if want := compact("00dd 0016 00e3 0012 00e6 0009 01 c0000214 1b59 1b5a 007c 0001 05"); got != want {
		t.Errorf("PMF Parameters with QFI 0xc5: got %s, want %s", got, want)
	}
}
