//go:build !linux

package ll

import (
	"errors"
	"net/netip"
	"os"
)

// openTUN: the Forwarder's TUN device is Linux only.
func openTUN(string, int, []netip.Prefix) (*os.File, error) {
	return nil, errors.New("atsss-ll needs Linux (TUN device)")
}
