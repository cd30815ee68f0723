package atsssie

import (
	"fmt"
	"strings"
	"testing"

	"github.com/wmnsk/go-pfcp/ie"
)

// apnHex is the hex of an APN/DNN IE (type 159 = 0x009f) of value v.
func apnHex(v string) string { return fmt.Sprintf("009f %04x %s", len(compact(v))/2, v) }

var dnnSuite = suite[string]{
	typ:   ie.APNDNN,
	build: ie.NewAPNDNN,
	parse: ParseAPNDNN,
	golden: []row[string]{
		{"one label", "internet", apnHex("08 696e7465726e6574")},
		{"network and operator identifiers", "internet.mnc001.mcc001.gprs",
			apnHex("08 696e7465726e6574 06 6d6e63303031 06 6d6363303031 04 67707273")},
		{"case kept", "IMS", apnHex("03 494d53")},
		{"hyphen and digits", "dn-1.example", apnHex("04 646e2d31 07 6578616d706c65")},
		{"63-octet label", strings.Repeat("a", 63), apnHex("3f" + strings.Repeat("61", 63))},
		{"100 octets", strings.Repeat("a", 48) + "." + strings.Repeat("b", 50),
			apnHex("30" + strings.Repeat("61", 48) + "32" + strings.Repeat("62", 50))},
	},
	bad: []badRow{
		{"empty", apnHex(""), ie.APNDNN, ErrInvalidLength},
		{"label past the end", apnHex("05 6162"), ie.APNDNN, ErrInvalidLength},
		{"101 octets", apnHex("30" + strings.Repeat("61", 48) + "33" + strings.Repeat("62", 51)), ie.APNDNN, ErrInvalidLength},
		{"terminating zero length", apnHex("03 696d73 00"), ie.APNDNN, ErrInvalidValue},
		{"empty label first", apnHex("00 03 696d73"), ie.APNDNN, ErrInvalidValue},
		{"64-octet label", apnHex("40" + strings.Repeat("61", 64)), ie.APNDNN, ErrInvalidValue},
		{"dot in a label", apnHex("03 612e62"), ie.APNDNN, ErrInvalidValue},
		{"space", apnHex("03 612062"), ie.APNDNN, ErrInvalidValue},
		{"underscore", apnHex("03 615f62"), ie.APNDNN, ErrInvalidValue},
		{"octet above ASCII", apnHex("02 61ff"), ie.APNDNN, ErrInvalidValue},
		{"leading hyphen", apnHex("02 2d61"), ie.APNDNN, ErrInvalidValue},
		{"trailing hyphen", apnHex("02 612d"), ie.APNDNN, ErrInvalidValue},
	},
}

func TestAPNDNN(t *testing.T) { dnnSuite.run(t) }

// TestGoPFCPAPNDNNAcceptsMalformed shows why ParseAPNDNN does not call
// go-pfcp's decoder: it returns text, and no error, for values the tests
// above reject.
func TestGoPFCPAPNDNNAcceptsMalformed(t *testing.T) {
	for _, r := range dnnSuite.bad {
		if r.name == "empty" {
			continue
		}
		if _, err := rawIE(t, r.hex).APNDNN(); err != nil {
			t.Errorf("%s: go-pfcp rejects it now (%v): ParseAPNDNN's doc comment is out of date", r.name, err)
		}
	}
}

func FuzzParseAPNDNN(f *testing.F) { dnnSuite.fuzz(f) }
