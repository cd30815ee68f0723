package pfcptest

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/wmnsk/go-pfcp/ie"
	"github.com/wmnsk/go-pfcp/message"

	"github.com/openatsss/atsss/atsss"
	"github.com/openatsss/atsss/pfcp/atsssie"
)

// Cause is a PFCP Cause value; its constants are atsssie's.
type Cause = atsssie.Cause

// Response is a UPF's answer to a request, with what an SMF acts on read
// out of it. Fields a message type does not carry are zero.
type Response struct {
	Message message.Message // as go-pfcp parsed it
	// Latency is the time from the first transmission of the request to
	// the response.
	Latency time.Duration
	// Cause is the response's Cause; a Heartbeat Response, which has none,
	// counts as accepted.
	Cause Cause
	// OffendingIE is the IE type of the Offending IE, which comes with
	// Causes 66 to 69 (TS 29.244 §7.6); 0 when absent.
	OffendingIE uint16
	// FailedRule is the Failed Rule ID, which comes with Cause 73.
	FailedRule *FailedRule
	// UPSEID is the UP F-SEID's SEID of an establishment: the SEID the
	// later requests of the session carry in their header.
	UPSEID atsss.SEID
	// ATSSS holds the ATSSS Control Parameters of an establishment or
	// modification, when the UPF sent them.
	ATSSS *atsss.ATSSSParams
	// Recovery is the UPF's Recovery Time Stamp (association, heartbeat).
	Recovery time.Time
	// Features are the UPF's UP Function Features (association).
	Features atsssie.UPFeatureSet
}

// FailedRule is a Failed Rule ID (TS 29.244 §8.2.80).
type FailedRule struct {
	Type atsss.RuleType
	ID   uint32
}

func (f FailedRule) String() string { return fmt.Sprintf("%v %d", f.Type, f.ID) }

var (
	// ErrVersionNotSupported: the UPF answered with Version Not Supported.
	ErrVersionNotSupported = errors.New("PFCP version not supported by the peer")
	// ErrMalformedResponse wraps what is wrong with a response.
	ErrMalformedResponse = errors.New("malformed response")
)

// parseResponse reads a response message into a Response.
func parseResponse(m message.Message) (*Response, error) {
	r := &Response{Message: m}
	var cause, offending, failedRule, fseid, params *ie.IE
	switch m := m.(type) {
	case *message.HeartbeatResponse:
		r.Cause = atsssie.CauseAccepted
		return r, readRecovery(m.RecoveryTimeStamp, r)
	case *message.AssociationSetupResponse:
		cause = m.Cause
		r.Features = atsssie.ParseUPFunctionFeatures(m.UPFunctionFeatures)
		if err := readRecovery(m.RecoveryTimeStamp, r); err != nil {
			return nil, err
		}
	case *message.AssociationReleaseResponse:
		cause = m.Cause
	case *message.SessionEstablishmentResponse:
		cause, offending, failedRule, fseid, params = m.Cause, m.OffendingIE, m.FailedRuleID, m.UPFSEID, m.ATSSSControlParameters
	case *message.SessionModificationResponse:
		cause, offending, failedRule, params = m.Cause, m.OffendingIE, m.FailedRuleID, m.ATSSSControlParameters
	case *message.SessionDeletionResponse:
		cause, offending = m.Cause, m.OffendingIE
	case *message.VersionNotSupportedResponse:
		return nil, ErrVersionNotSupported
	default:
		return nil, fmt.Errorf("%w: unexpected %s", ErrMalformedResponse, m.MessageTypeName())
	}
	if cause == nil {
		return nil, fmt.Errorf("%w: %s without Cause", ErrMalformedResponse, m.MessageTypeName())
	}
	c, err := cause.Cause()
	if err != nil {
		return nil, fmt.Errorf("%w: Cause: %v", ErrMalformedResponse, err)
	}
	r.Cause = Cause(c)
	if offending != nil {
		if r.OffendingIE, err = offending.OffendingIE(); err != nil {
			return nil, fmt.Errorf("%w: Offending IE: %v", ErrMalformedResponse, err)
		}
	}
	if failedRule != nil {
		t, id, err := atsssie.ParseFailedRuleID(failedRule)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrMalformedResponse, err)
		}
		r.FailedRule = &FailedRule{Type: t, ID: id}
	}
	if fseid != nil {
		f, err := fseid.FSEID()
		if err != nil {
			return nil, fmt.Errorf("%w: UP F-SEID: %v", ErrMalformedResponse, err)
		}
		r.UPSEID = atsss.SEID(f.SEID)
	}
	if params != nil {
		p, err := atsssie.ParseATSSSControlParameters(params)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrMalformedResponse, err)
		}
		r.ATSSS = &p
	}
	return r, nil
}

func readRecovery(i *ie.IE, r *Response) error {
	if i == nil {
		return nil
	}
	t, err := i.RecoveryTimeStamp()
	if err != nil {
		return fmt.Errorf("%w: Recovery Time Stamp: %v", ErrMalformedResponse, err)
	}
	r.Recovery = t
	return nil
}

// FormatIE writes an IE compactly, as type=value in hex or, for a grouped
// IE, type{children}: for test failures, and for tests that spell out the
// IEs they expect.
func FormatIE(i *ie.IE) string {
	if !i.IsGrouped() {
		return fmt.Sprintf("%d=%x", i.Type, i.Payload)
	}
	kids := make([]string, len(i.ChildIEs))
	for k, c := range i.ChildIEs {
		kids[k] = FormatIE(c)
	}
	return fmt.Sprintf("%d{%s}", i.Type, strings.Join(kids, " "))
}
