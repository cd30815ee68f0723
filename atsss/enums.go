package atsss

import "fmt"

// SEID is a PFCP session endpoint identifier (TS 29.244 §8.2.37).
type SEID uint64

func (s SEID) String() string { return fmt.Sprintf("%#x", uint64(s)) }

// AccessType is one of the two accesses of an MA PDU session. The values are
// those of the Access Type field of Access Availability Information
// (TS 29.244 §8.2.153).
type AccessType uint8

const (
	Access3GPP    AccessType = 0
	AccessNon3GPP AccessType = 1
)

// Accesses lists both accesses in a fixed order; index an [2]T by AccessType.
var Accesses = [2]AccessType{Access3GPP, AccessNon3GPP}

func (a AccessType) String() string {
	switch a {
	case Access3GPP:
		return "3gpp"
	case AccessNon3GPP:
		return "non3gpp"
	}
	return fmt.Sprintf("access(%d)", uint8(a))
}

// Valid reports whether a is one of the two defined accesses.
func (a AccessType) Valid() bool { return a <= AccessNon3GPP }

// Other returns the other access of the two.
func (a AccessType) Other() AccessType { return a ^ 1 }

// SteeringFunctionality says how a MAR's traffic is carried over the two
// accesses (TS 29.244 §8.2.124).
type SteeringFunctionality uint8

const (
	FunctionalityATSSSLL   SteeringFunctionality = 0
	FunctionalityMPTCP     SteeringFunctionality = 1
	FunctionalityMPQUICUDP SteeringFunctionality = 2
	FunctionalityMPQUICIP  SteeringFunctionality = 3
	FunctionalityMPQUICE   SteeringFunctionality = 4
)

var functionalityNames = [...]string{"atsss-ll", "mptcp", "mpquic-udp", "mpquic-ip", "mpquic-e"}

func (f SteeringFunctionality) String() string {
	if int(f) < len(functionalityNames) {
		return functionalityNames[f]
	}
	return fmt.Sprintf("functionality(%d)", uint8(f))
}

// Valid reports whether f is a defined value.
func (f SteeringFunctionality) Valid() bool { return int(f) < len(functionalityNames) }

// IsMPQUIC reports whether f is one of the MPQUIC functionalities.
func (f SteeringFunctionality) IsMPQUIC() bool { return f >= FunctionalityMPQUICUDP && f.Valid() }

// SteeringMode is a MAR's steering mode (TS 29.244 §8.2.125, TS 23.501 §5.32.8).
type SteeringMode uint8

const (
	ModeActiveStandby SteeringMode = 0
	ModeSmallestDelay SteeringMode = 1
	ModeLoadBalancing SteeringMode = 2
	ModePriorityBased SteeringMode = 3
	ModeRedundant     SteeringMode = 4 // Rel-18
)

var modeNames = [...]string{"active-standby", "smallest-delay", "load-balancing", "priority-based", "redundant"}

func (m SteeringMode) String() string {
	if int(m) < len(modeNames) {
		return modeNames[m]
	}
	return fmt.Sprintf("mode(%d)", uint8(m))
}

// Valid reports whether m is a defined value.
func (m SteeringMode) Valid() bool { return int(m) < len(modeNames) }

// ParseSteeringMode is the inverse of SteeringMode.String.
func ParseSteeringMode(s string) (SteeringMode, error) {
	for i, n := range modeNames {
		if n == s {
			return SteeringMode(i), nil
		}
	}
	return 0, fmt.Errorf("unknown steering mode %q (want one of %v)", s, modeNames)
}

// ParseSteeringFunctionality is the inverse of SteeringFunctionality.String.
func ParseSteeringFunctionality(s string) (SteeringFunctionality, error) {
	for i, n := range functionalityNames {
		if n == s {
			return SteeringFunctionality(i), nil
		}
	}
	return 0, fmt.Errorf("unknown steering functionality %q (want one of %v)", s, functionalityNames)
}

// Priority is the per-access priority of a MAR leg (TS 29.244 §8.2.127).
type Priority uint8

const (
	PriorityActive    Priority = 0
	PriorityStandby   Priority = 1
	PriorityNoStandby Priority = 2
	PriorityHigh      Priority = 3
	PriorityLow       Priority = 4
	PriorityPrimary   Priority = 5 // Rel-18, Redundant mode
	PrioritySecondary Priority = 6 // Rel-18, Redundant mode
)

var priorityNames = [...]string{"active", "standby", "no-standby", "high", "low", "primary", "secondary"}

func (p Priority) String() string {
	if int(p) < len(priorityNames) {
		return priorityNames[p]
	}
	return fmt.Sprintf("priority(%d)", uint8(p))
}

// Valid reports whether p is a defined value.
func (p Priority) Valid() bool { return int(p) < len(priorityNames) }

// ParsePriority is the inverse of Priority.String.
func ParsePriority(s string) (Priority, error) {
	for i, n := range priorityNames {
		if n == s {
			return Priority(i), nil
		}
	}
	return 0, fmt.Errorf("unknown priority %q (want one of %v)", s, priorityNames)
}

// Interface is a Source or Destination Interface value (TS 29.244 §8.2.2, §8.2.24).
type Interface uint8

const (
	InterfaceAccess       Interface = 0
	InterfaceCore         Interface = 1
	InterfaceSGiLAN       Interface = 2 // SGi-LAN / N6-LAN
	InterfaceCPFunction   Interface = 3
	InterfaceLI           Interface = 4 // destination only
	Interface5GVNInternal Interface = 5
)

var interfaceNames = [...]string{"access", "core", "sgi-lan", "cp-function", "li", "5g-vn-internal"}

func (i Interface) String() string {
	if int(i) < len(interfaceNames) {
		return interfaceNames[i]
	}
	return fmt.Sprintf("interface(%d)", uint8(i))
}

// Valid reports whether i is a defined value.
func (i Interface) Valid() bool { return int(i) < len(interfaceNames) }

// InterfaceType is the 3GPP Interface Type (TS 29.244 §8.2.118). Only the
// values atsss reasons about are named; the others are carried as numbers.
type InterfaceType uint8

const (
	InterfaceTypeS1U                InterfaceType = 0
	InterfaceTypeN3Access3GPP       InterfaceType = 11
	InterfaceTypeN3TrustedNon3GPP   InterfaceType = 12
	InterfaceTypeN3UntrustedNon3GPP InterfaceType = 13
	InterfaceTypeN3DataForwarding   InterfaceType = 14
	InterfaceTypeN9                 InterfaceType = 15
	InterfaceTypeSGi                InterfaceType = 16
	InterfaceTypeN6                 InterfaceType = 17
)

func (t InterfaceType) String() string {
	switch t {
	case InterfaceTypeS1U:
		return "s1-u"
	case InterfaceTypeN3Access3GPP:
		return "n3-3gpp"
	case InterfaceTypeN3TrustedNon3GPP:
		return "n3-trusted-non3gpp"
	case InterfaceTypeN3UntrustedNon3GPP:
		return "n3-untrusted-non3gpp"
	case InterfaceTypeN3DataForwarding:
		return "n3-data-forwarding"
	case InterfaceTypeN9:
		return "n9"
	case InterfaceTypeSGi:
		return "sgi"
	case InterfaceTypeN6:
		return "n6"
	}
	return fmt.Sprintf("interface-type(%d)", uint8(t))
}

// Access reports which access a FAR with this interface type forwards to,
// when the type names an access network at all (N3 toward a gNB or an
// N3IWF/TNGF). N9 and the other types say nothing about the access.
func (t InterfaceType) Access() (AccessType, bool) {
	switch t {
	case InterfaceTypeN3Access3GPP, InterfaceTypeS1U:
		return Access3GPP, true
	case InterfaceTypeN3TrustedNon3GPP, InterfaceTypeN3UntrustedNon3GPP:
		return AccessNon3GPP, true
	}
	return 0, false
}

// ApplyAction is the Apply Action bit set of a FAR (TS 29.244 §8.2.26),
// octet 5 in the low byte and octet 6 in the high byte.
type ApplyAction uint16

const (
	ActionDrop ApplyAction = 1 << 0
	ActionForw ApplyAction = 1 << 1
	ActionBuff ApplyAction = 1 << 2
	ActionNocp ApplyAction = 1 << 3
	ActionDupl ApplyAction = 1 << 4
)

func (a ApplyAction) String() string {
	names := []struct {
		bit  ApplyAction
		name string
	}{{ActionDrop, "DROP"}, {ActionForw, "FORW"}, {ActionBuff, "BUFF"}, {ActionNocp, "NOCP"}, {ActionDupl, "DUPL"}}
	s := ""
	for _, n := range names {
		if a&n.bit != 0 {
			if s != "" {
				s += "|"
			}
			s += n.name
		}
	}
	if rest := a &^ (ActionDrop | ActionForw | ActionBuff | ActionNocp | ActionDupl); rest != 0 {
		if s != "" {
			s += "|"
		}
		s += fmt.Sprintf("%#x", uint16(rest))
	}
	if s == "" {
		return "none"
	}
	return s
}

// GateStatus is the UL or DL gate of a QER (TS 29.244 §8.2.7).
type GateStatus uint8

const (
	GateOpen   GateStatus = 0
	GateClosed GateStatus = 1
)

func (g GateStatus) String() string {
	if g == GateOpen {
		return "open"
	}
	return "closed"
}
