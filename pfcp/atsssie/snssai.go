package atsssie

import (
	"github.com/wmnsk/go-pfcp/ie"

	"github.com/openatsss/atsss/atsss"
)

// NewSNSSAI builds an S-NSSAI IE (TS 29.244 §8.2.176): the SST in octet 5,
// the SD in octets 6 to 8, atsss.NoSD for a slice without one. go-pfcp
// encodes it correctly.
func NewSNSSAI(n atsss.SNSSAI) *ie.IE {
	sd := uint32(atsss.NoSD)
	if n.SDSet {
		sd = n.SD
	}
	return ie.NewSNSSAI(n.SST, sd)
}

// ParseSNSSAI decodes an S-NSSAI IE. The SD field is always there; its
// reserved value atsss.NoSD means the slice has none (TS 23.003 §28.4.2),
// which the result says with SDSet false, so that every result is valid
// (atsss.SNSSAI.Validate). A value shorter than 4 octets is ErrInvalidLength.
func ParseSNSSAI(i *ie.IE) (atsss.SNSSAI, error) {
	r, err := open(i, ie.SNSSAI)
	if err != nil {
		return atsss.SNSSAI{}, err
	}
	sst := r.u8("SST")
	sd := r.uint(3, "SD")
	if r.err != nil {
		return atsss.SNSSAI{}, r.err
	}
	n := atsss.SNSSAI{SST: sst}
	if sd != atsss.NoSD {
		n.SD, n.SDSet = sd, true
	}
	return n, nil
}
