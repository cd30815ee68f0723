package atsssie

import (
	"testing"

	"github.com/wmnsk/go-pfcp/ie"

	"github.com/openatsss/atsss/atsss"
)

// failedRule is what a Failed Rule ID IE carries.
type failedRule struct {
	Type atsss.RuleType
	ID   uint32
}

var failedRuleSuite = suite[failedRule]{
	typ:   ie.FailedRuleID,
	build: func(r failedRule) *ie.IE { return NewFailedRuleID(r.Type, r.ID) },
	parse: func(i *ie.IE) (failedRule, error) {
		t, id, err := ParseFailedRuleID(i)
		return failedRule{t, id}, err
	},
	// TS 29.244 §8.2.80: Rule ID Type in bits 1-5, then an ID of the size
	// of PDR ID (2), FAR/QER/URR ID (4), BAR ID (1), MAR ID (2), SRR ID (1).
	golden: []row[failedRule]{
		{"pdr", failedRule{atsss.RulePDR, 9}, "0072 0003 00 0009"},
		{"far", failedRule{atsss.RuleFAR, 0x01020304}, "0072 0005 01 01020304"},
		{"qer", failedRule{atsss.RuleQER, 7}, "0072 0005 02 00000007"},
		{"urr", failedRule{atsss.RuleURR, 65536}, "0072 0005 03 00010000"},
		{"bar", failedRule{atsss.RuleBAR, 3}, "0072 0002 04 03"},
		{"mar", failedRule{atsss.RuleMAR, 513}, "0072 0003 05 0201"},
		{"srr", failedRule{atsss.RuleSRR, 255}, "0072 0002 06 ff"},
	},
	decode: []row[failedRule]{
		{"spare bits", failedRule{atsss.RuleMAR, 513}, "0072 0003 e5 0201"},
		{"trailing octet", failedRule{atsss.RuleSRR, 1}, "0072 0003 06 01 00"},
	},
	bad: []badRow{
		{"spare type", "0072 0002 07 01", ie.FailedRuleID, ErrInvalidValue},
		{"largest spare type", "0072 0005 1f 00000001", ie.FailedRuleID, ErrInvalidValue},
		{"short mar id", "0072 0002 05 02", ie.FailedRuleID, ErrInvalidLength},
		{"short far id", "0072 0004 01 000001", ie.FailedRuleID, ErrInvalidLength},
		{"empty", "0072 0000", ie.FailedRuleID, ErrInvalidLength},
	},
}

func TestFailedRuleID(t *testing.T) { failedRuleSuite.run(t) }
