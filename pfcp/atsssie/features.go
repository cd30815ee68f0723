package atsssie

import (
	"fmt"

	"github.com/wmnsk/go-pfcp/ie"
)

// UPFeature is one feature bit of the UP Function Features IE
// (TS 29.244 §8.2.25, Table 8.2.25-1). The table counts octets from 5 and
// bits from 1, the least significant: feature o/b is UPFeature((o-5)*8 + b-1).
type UPFeature uint8

// The features of Table 8.2.25-1 atsss uses, by octet/bit.
const (
	FeatureFTUP      UPFeature = 0*8 + 4 // 5/5: F-TEID allocation by the UP function
	FeatureMPTCP     UPFeature = 3*8 + 7 // 8/8: MPTCP steering functionality
	FeatureATSSSLL   UPFeature = 4*8 + 0 // 9/1: ATSSS-LL steering functionality
	FeatureRTTWP     UPFeature = 5*8 + 0 // 10/1: RTT measurement without PMF
	FeatureMPQUICUDP UPFeature = 6*8 + 7 // 11/8: MPQUIC-UDP steering functionality (Rel-18)
	FeatureREDSM     UPFeature = 7*8 + 0 // 12/1: Redundant steering mode (Rel-18)
	FeatureMPQUICIP  UPFeature = 9*8 + 4 // 14/5: MPQUIC-IP steering functionality (Rel-18)
	FeatureMPQUICE   UPFeature = 9*8 + 5 // 14/6: MPQUIC-E steering functionality (Rel-18)
)

func (f UPFeature) String() string {
	switch f {
	case FeatureFTUP:
		return "FTUP"
	case FeatureMPTCP:
		return "MPTCP"
	case FeatureATSSSLL:
		return "ATSSS-LL"
	case FeatureRTTWP:
		return "RTTWP"
	case FeatureMPQUICUDP:
		return "MPQUIC-UDP"
	case FeatureREDSM:
		return "REDSM"
	case FeatureMPQUICIP:
		return "MPQUIC-IP"
	case FeatureMPQUICE:
		return "MPQUIC-E"
	}
	return fmt.Sprintf("feature(%d/%d)", f/8+5, f%8+1)
}

// UPFeatureSet is the feature bitmask of a UP Function Features IE, octet 5
// first. It holds octets 5 to 20, beyond the last one Rel-18 defines; the
// zero value is the empty set.
type UPFeatureSet [16]byte

// Has reports whether f is in s.
func (s UPFeatureSet) Has(f UPFeature) bool {
	return int(f/8) < len(s) && s[f/8]&(1<<(f%8)) != 0
}

// NewUPFunctionFeatures builds a UP Function Features IE advertising fs.
// Features beyond the capacity of UPFeatureSet are left out.
//
// Figure 8.2.25-1 lays the bitmask out as 2-octet fields: Supported-Features
// (octets 5-6), then Additional Supported-Features 1, 2, 3... So the IE
// carries octets 5-6 always, and each further field up to the last one that
// holds a feature of fs: the shortest form that splits no field. Nothing in
// §8.2.25 asks for more: a receiver reads absent octets as features not
// supported, as it must for peers of earlier releases. go-pfcp's
// NewUPFunctionFeatures cannot be used: it keeps at most 4 octets, dropping
// every ATSSS feature but MPTCP.
func NewUPFunctionFeatures(fs ...UPFeature) *ie.IE {
	var s UPFeatureSet
	n := 2
	for _, f := range fs {
		if int(f/8) >= len(s) {
			continue
		}
		s[f/8] |= 1 << (f % 8)
		n = max(n, int(f/8)+1)
	}
	n += n % 2
	return ie.New(ie.UPFunctionFeatures, s[:n])
}

// ParseUPFunctionFeatures returns the features of a UP Function Features IE.
// Every length is valid: absent octets are features not supported, spare bits
// are ignored (§8.2.25). It returns the empty set when i is nil or not a UP
// Function Features IE.
func ParseUPFunctionFeatures(i *ie.IE) UPFeatureSet {
	var s UPFeatureSet
	if i != nil && i.Type == ie.UPFunctionFeatures {
		copy(s[:], i.Payload)
	}
	return s
}
