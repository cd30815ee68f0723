package linkemu

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"os"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/openatsss/atsss/test/netnstest"
)

// etherType is the IEEE local experimental EtherType 1, for test frames
// that no stack in the namespace takes.
const etherType = 0x88b5

// rawEnd is a plain packet socket (no virtio_net_hdr) on one end of the
// test topology, sending and reading etherType frames.
type rawEnd struct {
	f       *os.File
	ifindex int
}

func openRaw(name string) (*rawEnd, error) {
	ifi, err := net.InterfaceByName(name)
	if err != nil {
		return nil, err
	}
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_DGRAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, int(htons(etherType)))
	if err != nil {
		return nil, err
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, 8<<20); err != nil {
		unix.Close(fd)
		return nil, err
	}
	if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(etherType), Ifindex: ifi.Index}); err != nil {
		unix.Close(fd)
		return nil, err
	}
	return &rawEnd{f: os.NewFile(uintptr(fd), name), ifindex: ifi.Index}, nil
}

// send sends payload to the broadcast address.
func (e *rawEnd) send(payload []byte) error {
	rc, err := e.f.SyscallConn()
	if err != nil {
		return err
	}
	to := &unix.SockaddrLinklayer{Protocol: htons(etherType), Ifindex: e.ifindex, Halen: 6, Addr: [8]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}}
	var serr error
	if err := rc.Write(func(fd uintptr) bool {
		serr = unix.Sendto(int(fd), payload, 0, to)
		return !errors.Is(serr, unix.EAGAIN)
	}); err != nil {
		return err
	}
	return serr
}

// vethPair makes a veth pair a-b, both up.
func vethPair(a, b string) error {
	if err := netlink.LinkAdd(&netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: a}, PeerName: b}); err != nil {
		return fmt.Errorf("add veth %s-%s: %w", a, b, err)
	}
	for _, n := range []string{a, b} {
		l, err := netlink.LinkByName(n)
		if err == nil {
			err = netlink.LinkSetUp(l)
		}
		if err != nil {
			return fmt.Errorf("%s up: %w", n, err)
		}
	}
	return nil
}

// TestNetnsLink forwards test frames x0 → (x1 ⇄ Link ⇄ y1) → y0 in one
// namespace and checks order, loss, the delay's lower bound and the other
// direction.
func TestNetnsLink(t *testing.T) {
	const (
		n     = 5000
		loss  = 0.2
		delay = 5 * time.Millisecond
	)
	netnstest.Run(t, func() error {
		// IPv6 off, so that no router or neighbour solicitation crosses.
		if err := os.WriteFile("/proc/sys/net/ipv6/conf/default/disable_ipv6", []byte("1"), 0); err != nil {
			return err
		}
		for _, p := range [][2]string{{"x0", "x1"}, {"y0", "y1"}} {
			if err := vethPair(p[0], p[1]); err != nil {
				return err
			}
		}
		if _, err := Open("x1", "nonexistent", Profile{}); err == nil {
			return errors.New("Open took a missing interface")
		}
		if _, err := Open("x1", "y1", Profile{Loss: 2}); err == nil {
			return errors.New("Open took a loss of 2")
		}
		link, err := Open("x1", "y1", Profile{Delay: delay, Loss: loss, Seed: 1})
		if err != nil {
			return err
		}
		defer link.Close()
		x0, err := openRaw("x0")
		if err != nil {
			return err
		}
		defer x0.f.Close()
		y0, err := openRaw("y0")
		if err != nil {
			return err
		}
		defer y0.f.Close()

		start := time.Now()
		for i := range n {
			b := binary.BigEndian.AppendUint32(nil, uint32(i))
			b = binary.BigEndian.AppendUint64(b, uint64(time.Since(start)))
			if err := x0.send(append(b, make([]byte, 100)...)); err != nil {
				return err
			}
			if i%100 == 99 {
				time.Sleep(time.Millisecond) // pacing: only the Link may lose frames
			}
		}
		// The Link loses nothing from now on; its order puts the marker
		// after every test frame.
		if err := link.SetProfile(Profile{Delay: delay}); err != nil {
			return err
		}
		if err := x0.send(binary.BigEndian.AppendUint32(nil, 1<<31)); err != nil {
			return err
		}
		got, last := 0, -1
		buf := make([]byte, 2048)
		y0.f.SetReadDeadline(time.Now().Add(30 * time.Second))
		for {
			m, err := y0.f.Read(buf)
			if err != nil {
				return fmt.Errorf("read y0 after %d frames: %w", got, err)
			}
			seq := int(binary.BigEndian.Uint32(buf))
			if seq == 1<<31 {
				break
			}
			if m < 12 || seq <= last || seq >= n {
				return fmt.Errorf("frame %d (%d bytes) after %d: out of order or not ours", seq, m, last)
			}
			if sent := time.Duration(binary.BigEndian.Uint64(buf[4:])); time.Since(start)-sent < delay {
				return fmt.Errorf("frame %d crossed in %v, less than the delay", seq, time.Since(start)-sent)
			}
			last = seq
			got++
		}
		s := link.Stats()
		t.Logf("received %d of %d; stats %+v", got, n, s)
		if lost := 1 - float64(got)/n; lost < loss-0.03 || lost > loss+0.03 {
			return fmt.Errorf("lost %.3f, want %.2f ± 0.03", lost, loss)
		}
		if s[0].Lost != uint64(n-got) || s[0].Overflow+s[0].KernelDrops+s[0].Errors != 0 {
			return fmt.Errorf("A→B stats %+v: want %d lost and nothing else dropped", s[0], n-got)
		}

		// The other direction.
		if err := y0.send(binary.BigEndian.AppendUint32(nil, 7)); err != nil {
			return err
		}
		x0.f.SetReadDeadline(time.Now().Add(30 * time.Second))
		if _, err := x0.f.Read(buf); err != nil || binary.BigEndian.Uint32(buf) != 7 {
			return fmt.Errorf("B→A: read %x, %v", buf[:4], err)
		}
		if err := link.Close(); err != nil {
			return err
		}
		if err := link.Close(); err != nil {
			return fmt.Errorf("second Close: %w", err)
		}
		return nil
	})
}

// BenchmarkLinkBusy measures what a Link adds to its Delay when every P
// of the process that runs it is busy (2×GOMAXPROCS goroutines spinning,
// as in a -race test process moving bulk traffic): a frame every 2 ms,
// its crossing time from just before the send to the kernel's receive
// timestamp on the far end. Metrics: the excess over Delay at the median
// and the 90th percentile, in µs. The Ps that Open adds (procsPerLink)
// are what keeps these small.
func BenchmarkLinkBusy(b *testing.B) {
	const delay = time.Millisecond
	netnstest.Run(b, func() error {
		if err := os.WriteFile("/proc/sys/net/ipv6/conf/default/disable_ipv6", []byte("1"), 0); err != nil {
			return err
		}
		for _, p := range [][2]string{{"x0", "x1"}, {"y0", "y1"}} {
			if err := vethPair(p[0], p[1]); err != nil {
				return err
			}
		}
		x0, err := openRaw("x0")
		if err != nil {
			return err
		}
		defer x0.f.Close()
		y0, err := openRaw("y0")
		if err != nil {
			return err
		}
		defer y0.f.Close()
		rc, err := y0.f.SyscallConn()
		if err != nil {
			return err
		}
		var serr error
		if err := rc.Control(func(fd uintptr) {
			serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, 1)
		}); err != nil || serr != nil {
			return errors.Join(err, serr)
		}
		busy := 2 * runtime.GOMAXPROCS(0) // before Open adds its Ps
		link, err := Open("x1", "y1", Profile{Delay: delay})
		if err != nil {
			return err
		}
		defer link.Close()
		stop := make(chan struct{})
		defer close(stop)
		for range busy {
			go func() {
				for n := 0; ; n++ {
					if n%1024 == 0 {
						select {
						case <-stop:
							return
						default:
						}
					}
				}
			}()
		}

		got := make(chan time.Duration, 1024)
		go func() {
			buf, oob := make([]byte, 64), make([]byte, 128)
			for {
				var n, oobn int
				var rerr error
				if err := rc.Read(func(fd uintptr) bool {
					n, oobn, _, _, rerr = unix.Recvmsg(int(fd), buf, oob, 0)
					return !errors.Is(rerr, unix.EAGAIN)
				}); err != nil || rerr != nil || n < 8 {
					close(got)
					return
				}
				got <- kernelStamp(oob[:oobn]) - time.Duration(binary.BigEndian.Uint64(buf))
			}
		}()
		var excess []time.Duration
		b.ResetTimer()
		for range b.N {
			time.Sleep(2 * time.Millisecond)
			sent, err := monotonic()
			if err != nil {
				return err
			}
			if err := x0.send(binary.BigEndian.AppendUint64(nil, uint64(sent))); err != nil {
				return err
			}
			select {
			case d, ok := <-got:
				if !ok {
					return errors.New("receiver failed")
				}
				excess = append(excess, d-delay)
			case <-time.After(5 * time.Second):
				return errors.New("frame lost")
			}
		}
		b.StopTimer()
		slices.Sort(excess)
		b.ReportMetric(float64(excess[len(excess)/2].Microseconds()), "µs-excess-p50")
		b.ReportMetric(float64(excess[len(excess)*9/10].Microseconds()), "µs-excess-p90")
		return nil
	})
}

// kernelStamp returns the SO_TIMESTAMPNS control message's time, which
// is CLOCK_REALTIME, as CLOCK_MONOTONIC; 0 if there is none.
func kernelStamp(oob []byte) time.Duration {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return 0
	}
	for _, m := range msgs {
		if m.Header.Level == unix.SOL_SOCKET && m.Header.Type == unix.SO_TIMESTAMPNS && len(m.Data) >= 16 {
			real := time.Duration(int64(binary.NativeEndian.Uint64(m.Data)))*time.Second + time.Duration(int64(binary.NativeEndian.Uint64(m.Data[8:])))
			var ts unix.Timespec
			if unix.ClockGettime(unix.CLOCK_REALTIME, &ts) != nil {
				return 0
			}
			mono, err := monotonic()
			if err != nil {
				return 0
			}
			return time.Duration(mono) - (time.Duration(ts.Nano()) - real)
		}
	}
	return 0
}
