package linkemu

import (
	"errors"
	"fmt"
	"net"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// vnetHdrLen is the size of struct virtio_net_hdr, which PACKET_VNET_HDR
// puts in front of every frame read and expects in front of every frame
// written (packet(7)).
const vnetHdrLen = 10

// sockBuf is the receive and send buffer of each packet socket: 20 ms at
// 6 Gbit/s, for when the reader is not scheduled (GC, a busy CPU). The
// default (212992 bytes) holds only three 64 KiB GSO frames, and a frame
// that does not fit is dropped by the kernel, outside the emulated loss
// (Stats.KernelDrops). The kernel charges only what is queued.
const sockBuf = 16 << 20

// packetSocket is an AF_PACKET socket bound to one interface, in the
// network namespace of the thread that opened it. Reads and writes go
// through the runtime's poller, so closing it wakes a blocked reader.
//
// The socket reads and writes frames with a virtio_net_hdr in front
// (PACKET_VNET_HDR), which carries the GSO type and size and the checksum
// offload state. Veths hand over TCP bursts of up to 64 KiB as one GSO
// frame with a partial checksum; passing them through whole, header and
// all, keeps the kernel's segmentation offload working end to end (one
// read and one write per burst) and the checksums right. The alternative,
// turning TSO/GSO off on the UE's and UPF's ends (the middle ends cannot
// help: it is the sender's features that decide the frame size), would
// change the lab's ends and cost a syscall per 1500-byte frame.
type packetSocket struct {
	f  *os.File
	rc syscall.RawConn
}

// openPacket opens a packet socket that sees every frame (ETH_P_ALL) that
// arrives on the interface named name, but not those it sends.
func openPacket(name string) (*packetSocket, error) {
	ifi, err := net.InterfaceByName(name)
	if err != nil {
		return nil, fmt.Errorf("packet socket on %s: %w", name, err)
	}
	// Protocol 0: the socket receives nothing until bind names the
	// interface, so no frame of another interface slips in.
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("packet socket on %s: %w", name, err)
	}
	opts := []struct {
		level, opt, v int
		name          string
	}{
		{unix.SOL_PACKET, unix.PACKET_VNET_HDR, 1, "PACKET_VNET_HDR"},
		// Without it, an ETH_P_ALL socket also reads the frames it (or
		// anything else) sends out of the interface: the forwarder would
		// send each frame back where it came from.
		{unix.SOL_PACKET, unix.PACKET_IGNORE_OUTGOING, 1, "PACKET_IGNORE_OUTGOING"},
		{unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, sockBuf, "SO_RCVBUFFORCE"},
		{unix.SOL_SOCKET, unix.SO_SNDBUFFORCE, sockBuf, "SO_SNDBUFFORCE"},
	}
	for _, o := range opts {
		if err := unix.SetsockoptInt(fd, o.level, o.opt, o.v); err != nil {
			unix.Close(fd)
			return nil, fmt.Errorf("packet socket on %s: %s: %w", name, o.name, err)
		}
	}
	sa := &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL), Ifindex: ifi.Index}
	if err := unix.Bind(fd, sa); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("packet socket on %s: bind: %w", name, err)
	}
	f := os.NewFile(uintptr(fd), "packet:"+name)
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("packet socket on %s: %w", name, err)
	}
	return &packetSocket{f: f, rc: rc}, nil
}

// read reads one frame, virtio_net_hdr first, into b. A frame longer
// than b is cut to len(b).
func (s *packetSocket) read(b []byte) (int, error) {
	var n int
	var err error
	if cerr := s.rc.Read(func(fd uintptr) bool {
		n, err = unix.Read(int(fd), b)
		return !errors.Is(err, unix.EAGAIN)
	}); cerr != nil {
		return 0, cerr
	}
	return n, err
}

// write sends one frame, virtio_net_hdr first.
func (s *packetSocket) write(b []byte) error {
	var err error
	if cerr := s.rc.Write(func(fd uintptr) bool {
		_, err = unix.Write(int(fd), b)
		return !errors.Is(err, unix.EAGAIN)
	}); cerr != nil {
		return cerr
	}
	return err
}

// drops returns the frames the kernel dropped because the socket's receive
// buffer was full, since the last call (PACKET_STATISTICS resets on read).
func (s *packetSocket) drops() (uint64, error) {
	var st *unix.TpacketStats
	var err error
	if cerr := s.rc.Control(func(fd uintptr) {
		st, err = unix.GetsockoptTpacketStats(int(fd), unix.SOL_PACKET, unix.PACKET_STATISTICS)
	}); cerr != nil {
		return 0, cerr
	}
	if err != nil {
		return 0, err
	}
	return uint64(st.Drops), nil
}

func (s *packetSocket) close() error { return s.f.Close() }

func htons(v uint16) uint16 { return v<<8 | v>>8 }

// timer wakes a goroutine at an absolute CLOCK_MONOTONIC time through a
// timerfd in the runtime's poller. Go's own timers are too coarse for a
// delay line: the poller sleeps in whole milliseconds, so a wait shorter
// than 1 ms takes about 1 ms (measured here: a 100 µs time.Timer fired
// 990 µs late at the median), which would add up to a millisecond to
// every frame that waits behind another. A timerfd is an hrtimer: its
// wake-up is precise to the scheduler's latency.
type timer struct {
	f  *os.File
	rc syscall.RawConn
}

func newTimer() (*timer, error) {
	fd, err := unix.TimerfdCreate(unix.CLOCK_MONOTONIC, unix.TFD_NONBLOCK|unix.TFD_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("timerfd: %w", err)
	}
	f := os.NewFile(uintptr(fd), "timerfd")
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("timerfd: %w", err)
	}
	return &timer{f: f, rc: rc}, nil
}

// waitUntil blocks until CLOCK_MONOTONIC reaches mono (nanoseconds), or
// returns an error once the timer is closed.
func (t *timer) waitUntil(mono int64) error {
	spec := unix.ItimerSpec{Value: unix.NsecToTimespec(max(mono, 1))} // 0 would disarm
	var err error
	if cerr := t.rc.Control(func(fd uintptr) {
		err = unix.TimerfdSettime(int(fd), unix.TFD_TIMER_ABSTIME, &spec, nil)
	}); cerr != nil {
		return cerr
	}
	if err != nil {
		return fmt.Errorf("timerfd settime: %w", err)
	}
	var buf [8]byte // the number of expirations
	if cerr := t.rc.Read(func(fd uintptr) bool {
		_, err = unix.Read(int(fd), buf[:])
		return !errors.Is(err, unix.EAGAIN)
	}); cerr != nil {
		return cerr
	}
	return err
}

func (t *timer) close() error { return t.f.Close() }

// monotonic reads CLOCK_MONOTONIC in nanoseconds.
func monotonic() (int64, error) {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		return 0, fmt.Errorf("clock_gettime: %w", err)
	}
	return ts.Nano(), nil
}
