package atsssie

import (
	"bytes"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/wmnsk/go-pfcp/ie"
)

// fuzz checks the parser of s on arbitrary values, seeded from its tables:
//   - it never panics, and every error is an *IEError naming an IE;
//   - what it accepts survives a round trip: parse(build(v)) == v;
//   - build(v) is the canonical encoding of everything that parses to v:
//     build(parse(build(v))) == build(v).
func (s suite[T]) fuzz(f *testing.F) {
	for _, p := range s.payloads(f) {
		f.Add(p)
	}
	f.Fuzz(func(t *testing.T, value []byte) {
		v, err := s.parse(ie.New(s.typ, value))
		if err != nil {
			var e *IEError
			if !errors.As(err, &e) || e.Type == 0 {
				t.Fatalf("parse(%x): error %v is not an *IEError naming an IE", value, err)
			}
			return
		}
		b := marshal(t, s.build(v))
		i, err := ie.Parse(b)
		if err != nil {
			t.Fatalf("go-pfcp cannot parse build(%+v) = %x: %v", v, b, err)
		}
		v2, err := s.parse(i)
		if err != nil {
			t.Fatalf("parse(build(%+v)) = parse(%x): %v", v, b, err)
		}
		if diff := cmp.Diff(v, v2, cmpOpts); diff != "" {
			t.Fatalf("parse(build(v)) != v for value %x (-v +parse(build(v))):\n%s", value, diff)
		}
		if b2 := marshal(t, s.build(v2)); !bytes.Equal(b, b2) {
			t.Fatalf("build is not stable for value %x: %x then %x", value, b, b2)
		}
	})
}

func FuzzParseThresholds(f *testing.F)                     { thresholdsSuite.fuzz(f) }
func FuzzParseSteeringModeIndicator(f *testing.F)          { smiSuite.fuzz(f) }
func FuzzParseSteeringFunctionality(f *testing.F)          { functionalitySuite.fuzz(f) }
func FuzzParseSteeringMode(f *testing.F)                   { modeSuite.fuzz(f) }
func FuzzParsePriority(f *testing.F)                       { prioritySuite.fuzz(f) }
func FuzzParseFailedRuleID(f *testing.F)                   { failedRuleSuite.fuzz(f) }
func FuzzParseAccessAvailabilityInformation(f *testing.F)  { availabilitySuite.fuzz(f) }
func FuzzParseUPFunctionFeatures(f *testing.F)             { featuresSuite.fuzz(f) }
func FuzzParsePMFAddressInformation(f *testing.F)          { pmfAddressSuite.fuzz(f) }
func FuzzParseProvideATSSSControlInformation(f *testing.F) { requestSuite.fuzz(f) }
func FuzzParseATSSSControlParameters(f *testing.F)         { paramsSuite.fuzz(f) }
