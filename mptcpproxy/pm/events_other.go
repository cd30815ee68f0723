//go:build !linux

package pm

import (
	"syscall"

	"github.com/mdlayher/genetlink"
)

// queueEmpty has nothing to peek at where generic netlink does not exist.
func queueEmpty(syscall.RawConn) bool { return true }

func setReadBuffer(c *genetlink.Conn, n int) { _ = c.SetReadBuffer(n) }
