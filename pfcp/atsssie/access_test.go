package atsssie

import (
	"testing"

	"github.com/wmnsk/go-pfcp/ie"

	"github.com/openatsss/atsss/atsss"
)

// availability is what an Access Availability Information IE carries.
type availability struct {
	Access    atsss.AccessType
	Available bool
}

var availabilitySuite = suite[availability]{
	typ:   ie.AccessAvailabilityInformation,
	build: func(a availability) *ie.IE { return NewAccessAvailabilityInformation(a.Access, a.Available) },
	parse: func(i *ie.IE) (availability, error) {
		a, ok, err := ParseAccessAvailabilityInformation(i)
		return availability{a, ok}, err
	},
	// TS 29.244 §8.2.153: access type in bits 1-2, status in bits 3-4.
	golden: []row[availability]{
		{"3gpp unavailable", availability{atsss.Access3GPP, false}, "00db 0001 00"},
		{"3gpp available", availability{atsss.Access3GPP, true}, "00db 0001 04"},
		{"non-3gpp unavailable", availability{atsss.AccessNon3GPP, false}, "00db 0001 01"},
		{"non-3gpp available", availability{atsss.AccessNon3GPP, true}, "00db 0001 05"},
	},
	decode: []row[availability]{
		{"spare bits", availability{atsss.AccessNon3GPP, true}, "00db 0001 f5"},
	},
	bad: []badRow{
		{"spare access type", "00db 0001 06", ie.AccessAvailabilityInformation, ErrInvalidValue},
		{"spare status", "00db 0001 08", ie.AccessAvailabilityInformation, ErrInvalidValue},
		{"empty", "00db 0000", ie.AccessAvailabilityInformation, ErrInvalidLength},
	},
}

func TestAccessAvailabilityInformation(t *testing.T) { availabilitySuite.run(t) }
