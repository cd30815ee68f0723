package pm

import (
	"syscall"

	"github.com/mdlayher/genetlink"
	"golang.org/x/sys/unix"
)

// queueEmpty reports whether the socket has nothing to read, peeking
// without blocking. An empty queue after an overflow means the kernel has
// cleared its congestion flag (netlink_rcv_wake) and delivers again. A
// peek that fails otherwise (a new ENOBUFS, which it consumes) counts as
// not empty: still lost.
func queueEmpty(rc syscall.RawConn) bool {
	empty := false
	err := rc.Control(func(fd uintptr) {
		var b [1]byte
		_, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		empty = err == syscall.EAGAIN
	})
	return err == nil && empty
}

// setReadBuffer sizes the receive buffer with SO_RCVBUFFORCE, which a
// process with CAP_NET_ADMIN (as a path manager has) may use beyond
// net.core.rmem_max; without it, SO_RCVBUF, capped at rmem_max. Best
// effort: a smaller buffer only makes EventLost likelier.
func setReadBuffer(c *genetlink.Conn, n int) {
	rc, err := c.SyscallConn()
	if err != nil {
		return
	}
	_ = rc.Control(func(fd uintptr) {
		if unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, n) != nil {
			_ = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF, n)
		}
	})
}
