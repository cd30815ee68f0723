package atsssie

import (
	"github.com/wmnsk/go-pfcp/ie"

	"github.com/openatsss/atsss/atsss"
)

// ruleIDOctets is the size of the Rule ID value per Rule ID Type
// (TS 29.244 §8.2.80): the size of the ID IE of each kind of rule.
var ruleIDOctets = [...]int{
	atsss.RulePDR: 2,
	atsss.RuleFAR: 4,
	atsss.RuleQER: 4,
	atsss.RuleURR: 4,
	atsss.RuleBAR: 1,
	atsss.RuleMAR: 2,
	atsss.RuleSRR: 1,
}

// NewFailedRuleID builds a Failed Rule ID IE (TS 29.244 §8.2.80): the Rule
// ID Type in the low 5 bits of octet 5, then the rule ID in as many octets as
// that kind of ID has; id is truncated to them. For a type atsss does not
// define only the type octet is written. go-pfcp's NewFailedRuleID has no
// MAR or SRR: it writes the type octet alone for them.
func NewFailedRuleID(t atsss.RuleType, id uint32) *ie.IE {
	b := []byte{byte(t) & 0x1f}
	if int(t) < len(ruleIDOctets) {
		b = appendUint(b, id, ruleIDOctets[t])
	}
	return ie.New(ie.FailedRuleID, b)
}

// ParseFailedRuleID decodes a Failed Rule ID IE and rejects Rule ID Types
// atsss does not define.
func ParseFailedRuleID(i *ie.IE) (atsss.RuleType, uint32, error) {
	r, err := open(i, ie.FailedRuleID)
	if err != nil {
		return 0, 0, err
	}
	t := atsss.RuleType(r.u8("rule ID type") & 0x1f)
	if r.err != nil {
		return 0, 0, r.err
	}
	if int(t) >= len(ruleIDOctets) {
		return 0, 0, ieErr(ie.FailedRuleID, ErrInvalidValue, "spare rule ID type %d", uint8(t))
	}
	id := r.uint(ruleIDOctets[t], "rule ID")
	if r.err != nil {
		return 0, 0, r.err
	}
	return t, id, nil
}
