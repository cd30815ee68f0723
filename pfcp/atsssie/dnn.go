package atsssie

import (
	"errors"
	"fmt"
	"strings"

	"github.com/wmnsk/go-pfcp/ie"
)

// maxAPNLength is the longest APN, once encoded (TS 23.003 §9.1).
const maxAPNLength = 100

// ParseAPNDNN decodes an APN/DNN IE (TS 29.244 §8.2.117) into its text: the
// labels as received, joined by dots. The value is a sequence of labels,
// each a length octet and that many characters, with no terminating zero
// length (TS 23.003 §9.1). go-pfcp's ie.NewAPNDNN encodes it correctly from
// such text; its decoder is not used because it never fails: it drops a
// label that runs past the end and keeps any octet, a dot included, which
// would make the text ambiguous.
//
// An empty value, a label running past the end and a value longer than 100
// octets are ErrInvalidLength. An empty label, a label longer than 63
// octets (RFC 1035 §2.3.4), and a label of other characters than letters,
// digits and hyphens or with a hyphen at either end (TS 23.003 §9.1, after
// RFC 1035 and RFC 1123) are ErrInvalidValue.
func ParseAPNDNN(i *ie.IE) (string, error) {
	r, err := open(i, ie.APNDNN)
	if err != nil {
		return "", err
	}
	switch {
	case len(r.b) == 0:
		return "", ieErr(ie.APNDNN, ErrInvalidLength, "empty APN/DNN")
	case len(r.b) > maxAPNLength:
		return "", ieErr(ie.APNDNN, ErrInvalidLength, "%d octets, longer than %d", len(r.b), maxAPNLength)
	}
	var b strings.Builder
	b.Grow(len(r.b))
	for k := 0; len(r.b) > 0; k++ {
		n := int(r.u8("label length"))
		label := r.take(n, "label")
		if r.err != nil {
			return "", r.err
		}
		if err := checkLabel(label); err != nil {
			return "", ieErr(ie.APNDNN, ErrInvalidValue, "label %d: %v", k+1, err)
		}
		if k > 0 {
			b.WriteByte('.')
		}
		b.Write(label)
	}
	return b.String(), nil
}

// checkLabel says why label cannot be a label of an APN.
func checkLabel(label []byte) error {
	switch n := len(label); {
	case n == 0:
		return errors.New("empty (an APN has no terminating zero length)")
	case n > 63:
		return fmt.Errorf("%d octets, longer than 63", n)
	case label[0] == '-' || label[n-1] == '-':
		return fmt.Errorf("%q begins or ends with a hyphen", label)
	}
	for _, c := range label {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-') {
			return fmt.Errorf("%q: %q is not a letter, digit or hyphen", label, []byte{c})
		}
	}
	return nil
}
