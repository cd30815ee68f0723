package atsssie

import (
	"github.com/wmnsk/go-pfcp/ie"

	"github.com/openatsss/atsss/atsss"
)

// Flags of octet 5 of PMF Control Information (TS 29.244 §8.2.156).
const (
	pmfPMFI  = 1 << 0
	pmfDRTTI = 1 << 1
	pmfPQPM  = 1 << 2
)

// qfiMask keeps the 6-bit QFI value of a QFI octet (TS 29.244 §8.2.89).
const qfiMask = 0x3f

// NewProvideATSSSControlInformation builds the Provide ATSSS Control
// Information IE of a Session Establishment or Modification Request
// (TS 29.244 §7.5.2.10): MPTCP Control Information when r.MPTCP, ATSSS-LL
// Control Information when r.ATSSSLL, PMF Control Information when any PMF
// field is set. The first two come from go-pfcp, which gets them right;
// PMF Control Information does not: go-pfcp writes the PMFI bit alone.
func NewProvideATSSSControlInformation(r atsss.ATSSSRequest) *ie.IE {
	var kids []*ie.IE
	if r.MPTCP {
		kids = append(kids, ie.NewMPTCPControlInformation(1)) // TCI, §8.2.154
	}
	if r.ATSSSLL {
		kids = append(kids, ie.NewATSSSLLControlInformation(1)) // LLI, §8.2.155
	}
	if r.PMF || r.DRTTI || r.PQPM {
		kids = append(kids, newPMFControlInformation(r))
	}
	return ie.NewProvideATSSSControlInformation(kids...)
}

// newPMFControlInformation builds PMF Control Information (TS 29.244
// §8.2.156): the flags octet, then with PQPM the number of QFIs and one QFI
// per octet. QFIs are written only with PQPM, and at most 255 of them.
func newPMFControlInformation(r atsss.ATSSSRequest) *ie.IE {
	b := []byte{0}
	if r.PMF {
		b[0] |= pmfPMFI
	}
	if r.DRTTI {
		b[0] |= pmfDRTTI
	}
	if r.PQPM {
		b[0] |= pmfPQPM
		qfis := r.QFIs[:min(len(r.QFIs), 255)]
		b = append(b, byte(len(qfis)))
		for _, q := range qfis {
			b = append(b, q&qfiMask)
		}
	}
	return ie.New(ie.PMFControlInformation, b)
}

// ParseProvideATSSSControlInformation decodes a Provide ATSSS Control
// Information IE. Children it does not know, such as the Rel-18 MPQUIC
// Control Information, are ignored, and of a repeated child only the first
// counts.
func ParseProvideATSSSControlInformation(i *ie.IE) (atsss.ATSSSRequest, error) {
	var req atsss.ATSSSRequest
	kids, err := children(i, ie.ProvideATSSSControlInformation)
	if err != nil {
		return req, err
	}
	if c := first(kids, ie.MPTCPControlInformation); c != nil {
		if req.MPTCP, err = parseFlag(c, ie.MPTCPControlInformation); err != nil {
			return atsss.ATSSSRequest{}, within(ie.ProvideATSSSControlInformation, err)
		}
	}
	if c := first(kids, ie.ATSSSLLControlInformation); c != nil {
		if req.ATSSSLL, err = parseFlag(c, ie.ATSSSLLControlInformation); err != nil {
			return atsss.ATSSSRequest{}, within(ie.ProvideATSSSControlInformation, err)
		}
	}
	if c := first(kids, ie.PMFControlInformation); c != nil {
		if err := parsePMFControlInformation(c, &req); err != nil {
			return atsss.ATSSSRequest{}, within(ie.ProvideATSSSControlInformation, err)
		}
	}
	return req, nil
}

// parsePMFControlInformation decodes PMF Control Information into the PMF
// fields of req.
func parsePMFControlInformation(i *ie.IE, req *atsss.ATSSSRequest) error {
	r, err := open(i, ie.PMFControlInformation)
	if err != nil {
		return err
	}
	flags := r.u8("flags")
	req.PMF = flags&pmfPMFI != 0
	req.DRTTI = flags&pmfDRTTI != 0
	req.PQPM = flags&pmfPQPM != 0
	if req.PQPM {
		n := int(r.u8("number of QFI"))
		if qfis := r.take(n, "QFI values"); len(qfis) > 0 {
			req.QFIs = make([]uint8, len(qfis))
			for k, q := range qfis {
				req.QFIs[k] = q & qfiMask
			}
		}
	}
	return r.err
}

// parseFlag reads the one flag, bit 1 of octet 5, of an IE of type t:
// TCI (§8.2.154) or LLI (§8.2.155, §8.2.160).
func parseFlag(i *ie.IE, t uint16) (bool, error) {
	b, err := octet5(i, t, "flags")
	return b&1 != 0, err
}
