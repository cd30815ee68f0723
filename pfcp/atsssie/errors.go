package atsssie

import (
	"errors"
	"fmt"

	"github.com/wmnsk/go-pfcp/ie"
)

// Sentinels that IEError wraps. The first three match the PFCP Causes an N4
// server answers with (TS 29.244 §7.6, Table 8.2.1-1).
var (
	ErrMissingIE     = errors.New("mandatory IE missing") // Cause 66
	ErrInvalidLength = errors.New("invalid length")       // Cause 68
	ErrInvalidValue  = errors.New("invalid value")        // Cause 69
	// ErrUnexpectedIE: a parser was handed an IE of another type, a bug of
	// the caller rather than of the peer.
	ErrUnexpectedIE = errors.New("unexpected IE type")
)

// IEError is the error of every parser of this package: Type is the IE to
// blame, the innermost one for grouped IEs, so that an N4 server can answer
// with it as the Offending IE. Err wraps one of the sentinels above.
type IEError struct {
	Type uint16
	Err  error
}

func (e *IEError) Error() string { return fmt.Sprintf("%s (%d): %v", ieName(e.Type), e.Type, e.Err) }

func (e *IEError) Unwrap() error { return e.Err }

func ieErr(t uint16, sentinel error, format string, args ...any) *IEError {
	return &IEError{Type: t, Err: fmt.Errorf("%w: "+format, append([]any{sentinel}, args...)...)}
}

// ieName names the IEs this package reads, for error messages.
func ieName(t uint16) string {
	switch t {
	case ie.UPFunctionFeatures:
		return "UP Function Features"
	case ie.FailedRuleID:
		return "Failed Rule ID"
	case ie.QFI:
		return "QFI"
	case ie.SteeringFunctionality:
		return "Steering Functionality"
	case ie.SteeringMode:
		return "Steering Mode"
	case ie.Priority:
		return "Priority"
	case ie.AccessAvailabilityInformation:
		return "Access Availability Information"
	case ie.ProvideATSSSControlInformation:
		return "Provide ATSSS Control Information"
	case ie.ATSSSControlParameters:
		return "ATSSS Control Parameters"
	case ie.MPTCPControlInformation:
		return "MPTCP Control Information"
	case ie.ATSSSLLControlInformation:
		return "ATSSS-LL Control Information"
	case ie.PMFControlInformation:
		return "PMF Control Information"
	case ie.MPTCPParameters:
		return "MPTCP Parameters"
	case ie.ATSSSLLParameters:
		return "ATSSS-LL Parameters"
	case ie.PMFParameters:
		return "PMF Parameters"
	case ie.MPTCPAddressInformation:
		return "MPTCP Address Information"
	case ie.UELinkSpecificIPAddress:
		return "Link-Specific Multipath IP Address"
	case ie.PMFAddressInformation:
		return "PMF Address Information"
	case ie.ATSSSLLInformation:
		return "ATSSS-LL Information"
	case ie.APNDNN:
		return "APN/DNN"
	case ie.SNSSAI:
		return "S-NSSAI"
	case Thresholds:
		return "Thresholds"
	case SteeringModeIndicator:
		return "Steering Mode Indicator"
	}
	return "IE"
}
