package atsssie

import (
	"testing"

	"github.com/wmnsk/go-pfcp/ie"

	"github.com/openatsss/atsss/atsss"
)

var snssaiSuite = suite[atsss.SNSSAI]{
	typ:   ie.SNSSAI,
	build: NewSNSSAI,
	parse: ParseSNSSAI,
	golden: []row[atsss.SNSSAI]{
		// type 257 = 0x0101; SST, then SD in three octets
		{"sst and sd", atsss.SNSSAI{SST: 1, SD: 0x010203, SDSet: true}, "0101 0004 01 010203"},
		{"no sd", atsss.SNSSAI{SST: 1}, "0101 0004 01 ffffff"},
		{"sd 0", atsss.SNSSAI{SST: 255, SDSet: true}, "0101 0004 ff 000000"},
		{"largest sd", atsss.SNSSAI{SST: 128, SD: 0xfffffe, SDSet: true}, "0101 0004 80 fffffe"},
	},
	decode: []row[atsss.SNSSAI]{
		{"trailing octet", atsss.SNSSAI{SST: 1, SD: 0x010203, SDSet: true}, "0101 0005 01 010203 ee"},
	},
	bad: []badRow{
		{"empty", "0101 0000", ie.SNSSAI, ErrInvalidLength},
		{"sst only", "0101 0001 01", ie.SNSSAI, ErrInvalidLength},
		{"short sd", "0101 0003 01 0102", ie.SNSSAI, ErrInvalidLength},
	},
}

func TestSNSSAI(t *testing.T) { snssaiSuite.run(t) }

// TestParseSNSSAIValid: every S-NSSAI the parser returns is in the form
// atsss.SNSSAI.Validate wants, so that == compares slices.
func TestParseSNSSAIValid(t *testing.T) {
	for _, r := range append(snssaiSuite.golden, snssaiSuite.decode...) {
		n, err := ParseSNSSAI(parseHex(t, r.hex))
		if err != nil {
			t.Fatalf("%s: %v", r.name, err)
		}
		if err := n.Validate(); err != nil {
			t.Errorf("%s: %v", r.name, err)
		}
	}
}

func FuzzParseSNSSAI(f *testing.F) { snssaiSuite.fuzz(f) }
