package mptcpproxy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/openatsss/atsss/mptcpproxy/pm"
)

// tfoQueue bounds the connections whose SYN data is accepted before the
// handshake completes (TCP_FASTOPEN on the listener).
const tfoQueue = 4096

// tcpiOptSACK is TCPI_OPT_SACK of struct tcp_info's options
// (include/uapi/linux/tcp.h), which x/sys/unix does not define.
const tcpiOptSACK = 2

// tfoServerEnable is the server bit of net.ipv4.tcp_fastopen
// (Documentation/networking/ip-sysctl.rst).
const tfoServerEnable = 0x2

// listen opens the MPTCP listener on a, with TCP Fast Open accepting
// cookie-less SYN data: RFC 8803 carries the Convert message in the SYN
// (0-RTT). A listener that does not accept it leaves the data unacked, and
// the UE's kernel then falls back to plain TCP: the UE would lose multipath
// silently. tcp4 or tcp6 is explicit: a dual-stack socket would report
// IPv4 UEs as v4-mapped addresses.
func listen(ctx context.Context, a netip.AddrPort) (net.Listener, error) {
	lc := net.ListenConfig{Control: func(_, _ string, rc syscall.RawConn) error {
		var err error
		if cerr := rc.Control(func(fd uintptr) {
			err = unix.SetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_FASTOPEN, tfoQueue)
			if err != nil {
				err = fmt.Errorf("TCP_FASTOPEN: %w (TFO on MPTCP listeners needs Linux ≥ 6.2, this is %s)", err, kernelRelease())
				return
			}
			if err = unix.SetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_FASTOPEN_NO_COOKIE, 1); err != nil {
				err = fmt.Errorf("TCP_FASTOPEN_NO_COOKIE: %w", err)
			}
		}); cerr != nil {
			return cerr
		}
		return err
	}}
	lc.SetMultipathTCP(true)
	network := "tcp4"
	if a.Addr().Is6() {
		network = "tcp6"
	}
	ln, err := lc.Listen(ctx, network, a.String())
	if err != nil {
		return nil, fmt.Errorf("mptcp proxy listen on %v: %w", a, err)
	}
	// Go quietly falls back to a TCP socket when it cannot make an MPTCP
	// one (net.mptcp.enabled=0): the proxy would then convert nothing.
	if proto, err := socketProtocol(ln.(*net.TCPListener)); err != nil || proto != unix.IPPROTO_MPTCP {
		ln.Close()
		return nil, fmt.Errorf("mptcp proxy listen on %v: the socket is not MPTCP (protocol %d, %v); is net.mptcp.enabled 1 in this network namespace?", a, proto, err)
	}
	return ln, nil
}

func socketProtocol(ln *net.TCPListener) (int, error) {
	rc, err := ln.SyscallConn()
	if err != nil {
		return 0, err
	}
	var proto int
	if cerr := rc.Control(func(fd uintptr) { proto, err = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_PROTOCOL) }); cerr != nil {
		return 0, cerr
	}
	return proto, err
}

// applyKernelSettings makes the network namespace atsssd runs in ready for
// the proxy, changing only what is missing and logging each change:
//   - net.mptcp.enabled must be 1 (checked, not changed: an operator who
//     disabled MPTCP should know);
//   - net.ipv4.tcp_fastopen gets the server bit, so the listener accepts
//     data in the SYN;
//   - net.mptcp.allow_join_initial_addr_port is 1, so the UE's second
//     subflow may join to the proxy address, the only one it knows
//     (TS 29.244 Annex E; the proxy announces no other);
//   - the MPTCP subflow limit is at least MaxSubflows;
//   - with Steering, net.mptcp.pm_type is 1 (the userspace path manager,
//     see steerer).
func applyKernelSettings(cfg Config, log *slog.Logger) error {
	if v, err := readSysctl("net/mptcp/enabled"); err != nil {
		return err
	} else if v != 1 {
		return errors.New("net.mptcp.enabled is 0 in atsssd's network namespace: the MPTCP proxy needs it")
	}
	if v, err := readSysctl("net/ipv4/tcp_fastopen"); err != nil {
		return err
	} else if v&tfoServerEnable == 0 {
		if err := writeSysctl("net/ipv4/tcp_fastopen", v|tfoServerEnable, log); err != nil {
			return err
		}
	}
	if v, err := readSysctl("net/mptcp/allow_join_initial_addr_port"); err != nil {
		return err
	} else if v != 1 {
		if err := writeSysctl("net/mptcp/allow_join_initial_addr_port", 1, log); err != nil {
			return err
		}
	}
	if cfg.Steering {
		if v, err := readSysctl("net/mptcp/pm_type"); err != nil {
			return err
		} else if v != 1 {
			if err := writeSysctl("net/mptcp/pm_type", 1, log); err != nil {
				return err
			}
		}
	}
	c, err := pm.Open()
	if err != nil {
		return fmt.Errorf("mptcp path manager: %w", err)
	}
	defer c.Close()
	l, err := c.Limits()
	if err != nil {
		return err
	}
	if l.Subflows < cfg.MaxSubflows {
		old := l.Subflows
		l.Subflows = cfg.MaxSubflows
		if err := c.SetLimits(l); err != nil {
			return err
		}
		log.Info("mptcp subflow limit raised", "from", old, "to", l.Subflows)
	}
	return nil
}

func readSysctl(name string) (int, error) {
	b, err := os.ReadFile("/proc/sys/" + name)
	if err != nil {
		return 0, fmt.Errorf("read %s: %w", strings.ReplaceAll(name, "/", "."), err)
	}
	v, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return 0, fmt.Errorf("read %s: %w", strings.ReplaceAll(name, "/", "."), err)
	}
	return v, nil
}

func writeSysctl(name string, v int, log *slog.Logger) error {
	dotted := strings.ReplaceAll(name, "/", ".")
	if err := os.WriteFile("/proc/sys/"+name, []byte(strconv.Itoa(v)), 0); err != nil {
		return fmt.Errorf("set %s=%d: %w", dotted, v, err)
	}
	log.Info("sysctl set for the mptcp proxy", "name", dotted, "value", v)
	return nil
}

func kernelRelease() string {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return "unknown"
	}
	return unix.ByteSliceToString(u.Release[:])
}

// serverOptions returns the TCP options the server negotiated, for the
// Extended TCP Header TLV (RFC 8803 §4.2.3), as far as TCP_INFO reveals
// them: MSS and SACK permitted. Timestamps are left out, as their values
// belong to the server's connection, not the UE's; so is the window scale,
// which x/sys's TCPInfo does not expose (a bitfield in struct tcp_info).
func serverOptions(server *net.TCPConn) []byte {
	rc, err := server.SyscallConn()
	if err != nil {
		return nil
	}
	var info *unix.TCPInfo
	if cerr := rc.Control(func(fd uintptr) { info, err = unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO) }); cerr != nil || err != nil {
		return nil
	}
	opts := make([]byte, 0, 6)
	if mss := info.Snd_mss; mss > 0 && mss <= 0xffff {
		opts = append(opts, 2, 4, byte(mss>>8), byte(mss)) // MSS, RFC 9293 §3.2
	}
	if info.Options&tcpiOptSACK != 0 {
		opts = append(opts, 4, 2) // SACK permitted, RFC 2018
	}
	return opts
}
