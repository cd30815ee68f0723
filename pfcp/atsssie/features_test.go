package atsssie

import (
	"testing"

	"github.com/wmnsk/go-pfcp/ie"
)

// features lists the features of s in increasing order.
func features(s UPFeatureSet) []UPFeature {
	var fs []UPFeature
	for f := range UPFeature(len(s) * 8) {
		if s.Has(f) {
			fs = append(fs, f)
		}
	}
	return fs
}

var featuresSuite = suite[[]UPFeature]{
	typ:        ie.UPFunctionFeatures,
	build:      func(fs []UPFeature) *ie.IE { return NewUPFunctionFeatures(fs...) },
	parse:      func(i *ie.IE) ([]UPFeature, error) { return features(ParseUPFunctionFeatures(i)), nil },
	infallible: true,
	// Table 8.2.25-1: octet 5 is the first value octet; bit 8 is 0x80.
	golden: []row[[]UPFeature]{
		{"none", nil, "002b 0002 0000"},
		{"mptcp: octet 8 bit 8", []UPFeature{FeatureMPTCP}, "002b 0004 0000 0080"},
		{"rel-16 atsss", []UPFeature{FeatureMPTCP, FeatureATSSSLL, FeatureRTTWP}, "002b 0006 0000 0080 0101"},
		{"mpquic-udp: octet 11 bit 8", []UPFeature{FeatureMPQUICUDP}, "002b 0008 0000 0000 0000 8000"},
		{"redsm: octet 12 bit 1", []UPFeature{FeatureREDSM}, "002b 0008 0000 0000 0000 0001"},
		{"mpquic-ip and -e: octet 14 bits 5, 6", []UPFeature{FeatureMPQUICIP, FeatureMPQUICE}, "002b 000a 0000 0000 0000 0000 0030"},
		{
			"all atsss features",
			[]UPFeature{FeatureMPTCP, FeatureATSSSLL, FeatureRTTWP, FeatureMPQUICUDP, FeatureREDSM, FeatureMPQUICIP, FeatureMPQUICE},
			"002b 000a 0000 0080 0101 8001 0030",
		},
	},
	decode: []row[[]UPFeature]{
		{"empty", nil, "002b 0000"},
		{"odd length, ftup", []UPFeature{4, FeatureMPTCP, FeatureATSSSLL}, "002b 0005 1000 0080 01"},
		{"beyond octet 20 ignored", nil, "002b 0011 0000 0000 0000 0000 0000 0000 0000 0000 ff"},
	},
}

func TestUPFunctionFeatures(t *testing.T) { featuresSuite.run(t) }

func TestParseUPFunctionFeaturesOfOtherIE(t *testing.T) {
	for _, i := range []*ie.IE{nil, ie.New(ie.FailedRuleID, []byte{0xff, 0xff, 0xff, 0xff})} {
		if s := ParseUPFunctionFeatures(i); s != (UPFeatureSet{}) {
			t.Errorf("ParseUPFunctionFeatures(%v) = %v, want the empty set", i, s)
		}
	}
}

func TestUPFunctionFeaturesBeyondCapacity(t *testing.T) {
	if got, want := hexOf(t, NewUPFunctionFeatures(UPFeature(len(UPFeatureSet{})*8))), "002b00020000"; got != want {
		t.Errorf("a feature beyond octet 20: got %s, want %s", got, want)
	}
}

func TestUPFeatureString(t *testing.T) {
	for f, want := range map[UPFeature]string{
		FeatureMPTCP: "MPTCP", FeatureATSSSLL: "ATSSS-LL", FeatureRTTWP: "RTTWP", FeatureMPQUICUDP: "MPQUIC-UDP",
		FeatureREDSM: "REDSM", FeatureMPQUICIP: "MPQUIC-IP", FeatureMPQUICE: "MPQUIC-E",
		FeatureFTUP: "FTUP", 5: "feature(5/6)", FeatureMPQUICE + 1: "feature(14/7)",
	} {
		if got := f.String(); got != want {
			t.Errorf("UPFeature(%d).String() = %q, want %q", uint8(f), got, want)
		}
	}
}
