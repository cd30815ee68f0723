package atsssie

import (
	"github.com/wmnsk/go-pfcp/ie"

	"github.com/openatsss/atsss/atsss"
)

// NewAccessAvailabilityInformation builds an Access Availability Information
// IE (TS 29.244 §8.2.153): the access type in bits 1-2 and the availability
// status, 1 for available, in bits 3-4. go-pfcp encodes it correctly; mind
// that it takes the status first.
func NewAccessAvailabilityInformation(a atsss.AccessType, available bool) *ie.IE {
	var status uint8
	if available {
		status = ie.AvailabilityStatusAccessHasBecomeAvaiable
	}
	return ie.NewAccessAvailabilityInformation(status, uint8(a))
}

// ParseAccessAvailabilityInformation decodes an Access Availability
// Information IE and reports whether the access became available. Spare
// access types and statuses are invalid.
func ParseAccessAvailabilityInformation(i *ie.IE) (atsss.AccessType, bool, error) {
	b, err := octet5(i, ie.AccessAvailabilityInformation, "value")
	if err != nil {
		return 0, false, err
	}
	a, status := atsss.AccessType(b&0x03), b>>2&0x03
	switch {
	case !a.Valid():
		return 0, false, ieErr(ie.AccessAvailabilityInformation, ErrInvalidValue, "spare access type %d", uint8(a))
	case status > 1:
		return 0, false, ieErr(ie.AccessAvailabilityInformation, ErrInvalidValue, "spare availability status %d", status)
	}
	return a, status == 1, nil
}
