package steering

import "github.com/openatsss/atsss/atsss"

// PolicyRule returns the Rule of MAR mar of session s with operator policy
// pol's downlink steering in place of the SMF's (atsss.Policy.SteerMAR),
// checked as NewRule checks a MAR. An error means the policy cannot steer
// this MAR (it needs an access the MAR has no leg for, or the result fails
// the MAR checks): the caller keeps the MAR's own rule and may log why.
// Both data planes (the MPTCP proxy and ATSSS-LL) compile policies with it,
// so that a policy steers a MAR alike in both. Safe for concurrent use; it
// keeps neither pol, s nor mar.
func PolicyRule(pol *atsss.Policy, s *atsss.Session, mar atsss.MAR) (Rule, error) {
	m, err := pol.SteerMAR(s, mar)
	if err != nil {
		return Rule{}, err
	}
	return NewRule(&m)
}
