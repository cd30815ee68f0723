package atsssie

import (
	"fmt"
	"strconv"
)

// Cause is the value of a Cause IE (TS 29.244 §8.2.1, Table 8.2.1-1),
// typed and named for both ends of N4: go-pfcp has untyped constants only.
type Cause uint8

const (
	CauseAccepted                 Cause = 1
	CauseRejected                 Cause = 64
	CauseSessionNotFound          Cause = 65
	CauseMandatoryIEMissing       Cause = 66
	CauseConditionalIEMissing     Cause = 67
	CauseInvalidLength            Cause = 68
	CauseMandatoryIEIncorrect     Cause = 69
	CauseInvalidForwardingPolicy  Cause = 70
	CauseInvalidFTEIDAllocation   Cause = 71
	CauseNoEstablishedAssociation Cause = 72
	CauseRuleCreationFailure      Cause = 73
	CauseCongestion               Cause = 74
	CauseNoResources              Cause = 75
	CauseServiceNotSupported      Cause = 76
	CauseSystemFailure            Cause = 77
)

var causeNames = map[Cause]string{
	1:  "accepted",
	2:  "more_usage_report_to_send",
	3:  "partially_accepted",
	64: "rejected",
	65: "session_not_found",
	66: "mandatory_ie_missing",
	67: "conditional_ie_missing",
	68: "invalid_length",
	69: "mandatory_ie_incorrect",
	70: "invalid_forwarding_policy",
	71: "invalid_fteid_allocation",
	72: "no_established_association",
	73: "rule_creation_failure",
	74: "congestion",
	75: "no_resources",
	76: "service_not_supported",
	77: "system_failure",
	78: "redirection_requested",
	79: "all_dynamic_addresses_occupied",
	80: "unknown_predefined_rule",
	81: "unknown_application_id",
}

func (c Cause) String() string {
	if n, ok := causeNames[c]; ok {
		return n
	}
	return "cause_" + strconv.Itoa(int(c))
}

// Defined reports whether c has a name in Table 8.2.1-1.
func (c Cause) Defined() bool {
	_, ok := causeNames[c]
	return ok
}

// Accepted reports whether c is one of the acceptance values, 1 to 63.
func (c Cause) Accepted() bool { return c >= 1 && c < 64 }

// MarshalText writes the name of c.
func (c Cause) MarshalText() ([]byte, error) { return []byte(c.String()), nil }

// UnmarshalText reads a Cause by number or by name.
func (c *Cause) UnmarshalText(b []byte) error {
	s := string(b)
	if n, err := strconv.ParseUint(s, 10, 8); err == nil {
		*c = Cause(n)
		return nil
	}
	for v, name := range causeNames {
		if name == s {
			*c = v
			return nil
		}
	}
	return fmt.Errorf("unknown cause %q", s)
}
