package pfcp

import (
	"errors"
	"fmt"
	"io"

	"github.com/wmnsk/go-pfcp/ie"

	"github.com/openatsss/atsss/atsss"
	"github.com/openatsss/atsss/pfcp/atsssie"
)

// Cause is a PFCP Cause value (TS 29.244 §8.2.1).
type Cause = atsssie.Cause

// The Causes this server answers with.
const (
	CauseAccepted                 = atsssie.CauseAccepted
	CauseSessionNotFound          = atsssie.CauseSessionNotFound
	CauseMandatoryIEMissing       = atsssie.CauseMandatoryIEMissing
	CauseInvalidLength            = atsssie.CauseInvalidLength
	CauseMandatoryIEIncorrect     = atsssie.CauseMandatoryIEIncorrect
	CauseInvalidFTEIDAllocation   = atsssie.CauseInvalidFTEIDAllocation
	CauseNoEstablishedAssociation = atsssie.CauseNoEstablishedAssociation
	CauseRuleCreationFailure      = atsssie.CauseRuleCreationFailure
	CauseCongestion               = atsssie.CauseCongestion
	CauseNoResources              = atsssie.CauseNoResources
	CauseSystemFailure            = atsssie.CauseSystemFailure
)

// Rejection is why a request was refused: the Cause to answer with and, as
// TS 29.244 §7.6 asks, the IE (with Causes 66–69) or the rule (with Cause 73)
// to blame. It is the one place where errors become Causes.
type Rejection struct {
	Cause       Cause
	OffendingIE uint16           // 0: none
	FailedRule  *atsss.RuleError // with CauseRuleCreationFailure
	Err         error
}

func (r *Rejection) Error() string {
	switch {
	case r.OffendingIE != 0:
		return fmt.Sprintf("%v (offending IE %d): %v", r.Cause, r.OffendingIE, r.Err)
	default:
		return fmt.Sprintf("%v: %v", r.Cause, r.Err)
	}
}

func (r *Rejection) Unwrap() error { return r.Err }

// reject builds a Rejection without an IE or rule to blame.
func reject(c Cause, format string, args ...any) *Rejection {
	return &Rejection{Cause: c, Err: fmt.Errorf(format, args...)}
}

// missingIE is Cause 66: a mandatory IE is absent.
func missingIE(t uint16, where string) *Rejection {
	return &Rejection{Cause: CauseMandatoryIEMissing, OffendingIE: t, Err: fmt.Errorf("%s: IE %d missing", where, t)}
}

// badIE turns a decode error of IE t into Cause 68 (the IE is too short or
// its length fields disagree) or 69 (its content is wrong).
// Errors of atsssie name the innermost IE to blame, which wins over t.
func badIE(t uint16, where string, err error) *Rejection {
	var ieErr *atsssie.IEError
	if errors.As(err, &ieErr) {
		t = ieErr.Type
	}
	c := CauseMandatoryIEIncorrect
	switch {
	case errors.Is(err, atsssie.ErrMissingIE):
		c = CauseMandatoryIEMissing
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, ie.ErrInvalidLength),
		errors.Is(err, errShortIE), errors.Is(err, errGoPFCPPanic), errors.Is(err, atsssie.ErrInvalidLength):
		c = CauseInvalidLength
	}
	return &Rejection{Cause: c, OffendingIE: t, Err: fmt.Errorf("%s: IE %d: %w", where, t, err)}
}

// errShortIE marks an IE whose value is shorter than its fields need.
var errShortIE = errors.New("IE value too short")

// asRejection maps any error of request handling to a Rejection.
func asRejection(err error) *Rejection {
	var rej *Rejection
	if errors.As(err, &rej) {
		return rej
	}
	var ruleErr *atsss.RuleError
	if errors.As(err, &ruleErr) {
		return &Rejection{Cause: CauseRuleCreationFailure, FailedRule: ruleErr, Err: err}
	}
	if errors.Is(err, errPoolExhausted) {
		return &Rejection{Cause: CauseNoResources, Err: err}
	}
	return &Rejection{Cause: CauseSystemFailure, Err: err}
}
