package atsssie

import (
	"errors"
	"io"
	"net"
	"testing"

	"github.com/wmnsk/go-pfcp/ie"
)

// TestGoPFCPFlaws pins the flaws of go-pfcp v0.0.24 that this package works
// around, with the bytes it writes. When one of these fails, go-pfcp has
// changed: check whether the workaround can go.
func TestGoPFCPFlaws(t *testing.T) {
	t.Run("PMF Address Information writes MAC fields with the MAC flag clear", func(t *testing.T) {
		got := hexOf(t, ie.NewPMFAddressInformation(net.IPv4(10, 0, 0, 10).To4(), nil, 7001, 7002, nil, nil))
		// Spec (§8.2.159): 00e6 0009 01 0a00000a 1b59 1b5a.
		if want := "00e60015" + "01" + "0a00000a" + "1b59" + "1b5a" + "000000000000" + "000000000000"; got != want {
			t.Errorf("got %s, want go-pfcp's flawed %s", got, want)
		}
	})
	t.Run("PMF Address Information parser requires MAC fields", func(t *testing.T) {
		_, err := rawIE(t, "00e6 0009 01 0a00000a 1b59 1b5a").PMFAddressInformation()
		if !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Errorf("parsing a spec-correct IP-only IE: got %v, want go-pfcp's io.ErrUnexpectedEOF", err)
		}
	})
	t.Run("PMF Address Information parser requires ports with MAC only", func(t *testing.T) {
		_, err := rawIE(t, "00e6 000d 04 020000000001 020000000002").PMFAddressInformation()
		if !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Errorf("parsing a spec-correct MAC-only IE: got %v, want go-pfcp's io.ErrUnexpectedEOF", err)
		}
	})
	t.Run("PMF Address Information parser drops MAC addresses", func(t *testing.T) {
		f, err := rawIE(t, "00e6 0015 05 0a00000a 1b59 1b5a 020000000001 020000000002").PMFAddressInformation()
		if err != nil || f.PMFMACAddressFor3GPPAccess != nil {
			t.Errorf("got %+v, %v; want go-pfcp's nil MAC (copied into a nil slice)", f, err)
		}
	})
	t.Run("UP Function Features keeps at most 4 octets", func(t *testing.T) {
		// MPTCP (8/8), ATSSS-LL (9/1), RTTWP (10/1): 002b 0006 00000080 0101.
		if got, want := hexOf(t, ie.NewUPFunctionFeatures(0, 0, 0, 0x80, 0x01, 0x01)), "002b000400000080"; got != want {
			t.Errorf("got %s, want go-pfcp's truncated %s", got, want)
		}
	})
	t.Run("PMF Control Information keeps PMFI only", func(t *testing.T) {
		// PMFI, DRTTI, PQPM with no QFI: 00e0 0002 07 00.
		if got, want := hexOf(t, ie.NewPMFControlInformation(0x07)), "00e0000101"; got != want {
			t.Errorf("got %s, want go-pfcp's %s", got, want)
		}
	})
	t.Run("Failed Rule ID has no MAR or SRR ID", func(t *testing.T) {
		// MAR 7: 0072 0003 05 0007. SRR 9: 0072 0002 06 09.
		for typ, want := range map[uint8]string{5: "0072000105", 6: "0072000106"} {
			if got := hexOf(t, ie.NewFailedRuleID(typ, 7)); got != want {
				t.Errorf("rule type %d: got %s, want go-pfcp's %s", typ, got, want)
			}
		}
	})
	t.Run("ParseMultiIEs accepts a child cut short", func(t *testing.T) {
		// MPTCP Parameters claiming 16 octets of value, with none.
		ies, err := ie.ParseMultiIEs([]byte{0x00, 0xe1, 0x00, 0x10})
		if err != nil || len(ies) != 1 || len(ies[0].Payload) != 0 {
			t.Errorf("got %v, %v; want go-pfcp's one IE with an empty value", ies, err)
		}
	})
	t.Run("QFI of Downlink Data Service Information panics on 2 octets", func(t *testing.T) {
		// Not an ATSSS IE, but network input that reaches a panic: the N4
		// server must not call (*ie.IE).QFI on it.
		defer func() {
			if recover() == nil {
				t.Error("no panic: go-pfcp fixed the index check")
			}
		}()
		_, _ = ie.New(ie.DownlinkDataServiceInformation, []byte{0x02, 0x05}).QFI()
	})
}
