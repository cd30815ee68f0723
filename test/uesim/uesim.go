// Package uesim is the UE side of the lab: a kernel-MPTCP client that speaks
// the client side of RFC 8803 to the UPF's MPTCP proxy. It opens the first
// subflow from one link-specific address (initial-path selection), lets the
// kernel path manager join from the other, and sends the Convert header and
// Connect TLV in the SYN with TCP Fast Open. If the first access does not
// answer, it also tries the next one (robust establishment), and the first
// answer wins.
package uesim

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/openatsss/atsss/mptcpproxy/convert"
	"github.com/openatsss/atsss/mptcpproxy/pm"
)

// Dialer opens converted connections. Its fields are read-only once Dial
// is called; it is safe for concurrent use.
type Dialer struct {
	// InNamespace runs fn in the UE's network namespace, on a locked
	// thread (a lab namespace's Do). Required: the UE's sockets must be
	// made there, and a lab UE must never send from the test machine's own
	// namespace.
	InNamespace func(fn func() error) error
	// Proxy is the MPTCP proxy's address and port, as N4 allocated them.
	Proxy netip.AddrPort
	// Sources are the UE's link-specific addresses in the order the
	// initial path is chosen (the MAR's active or high-priority access
	// first).
	Sources []netip.Addr
	// FallbackDelay is how long an attempt may go unanswered before the
	// next source is tried too. Default 500ms: above the SYN-to-answer time
	// of a healthy access, well below the kernel's 1 s SYN retransmission.
	FallbackDelay time.Duration
	// PlainTCP dials without MPTCP, as a UE whose network strips the MPTCP
	// option would appear.
	PlainTCP bool
	// AfterHandshake sends the Convert message after the handshake
	// instead of in the SYN, once BeforeConvert (if set) returned: for
	// tests that need subflows in place before the converter decides.
	AfterHandshake bool
	BeforeConvert  func(c *net.TCPConn) error
	// Payload, if set, is sent instead of a Convert Connect message: for
	// tests of malformed messages.
	Payload []byte
}

// Conn is a converted connection: after Dial returns, its bytes are the
// server's.
type Conn struct {
	*net.TCPConn
	Source netip.Addr      // the address of the first subflow
	Reply  convert.Message // the converter's answer (Extended TCP Header)
}

// RefusedError is a converter's Error TLV.
type RefusedError struct {
	Code  convert.ErrorCode
	Value []byte
}

func (e *RefusedError) Error() string { return fmt.Sprintf("converter refused: %v", e.Code) }

// CheckKernel reports whether this kernel can send data in the SYN of an
// MPTCP connection (TCP Fast Open on MPTCP sockets: Linux ≥ 6.2).
func CheckKernel() error {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return err
	}
	rel := unix.ByteSliceToString(u.Release[:])
	var major, minor int
	parts := strings.SplitN(rel, ".", 3)
	if len(parts) >= 2 {
		major, _ = strconv.Atoi(parts[0])
		minor, _ = strconv.Atoi(strings.TrimFunc(parts[1], func(r rune) bool { return r < '0' || r > '9' }))
	}
	if major < 6 || major == 6 && minor < 2 {
		return fmt.Errorf("kernel %s: RFC 8803 over MPTCP needs TCP Fast Open on MPTCP sockets, which came in Linux 6.2", rel)
	}
	return nil
}

// Dial opens a converted connection to dst through the proxy.
func (d *Dialer) Dial(ctx context.Context, dst netip.AddrPort) (*Conn, error) {
	if len(d.Sources) == 0 {
		return nil, errors.New("uesim: no source address")
	}
	if d.InNamespace == nil {
		return nil, errors.New("uesim: no UE namespace (Dialer.InNamespace)")
	}
	if !d.PlainTCP {
		if err := CheckKernel(); err != nil {
			return nil, err
		}
	}
	delay := d.FallbackDelay
	if delay == 0 {
		delay = 500 * time.Millisecond
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type result struct {
		c   *Conn
		err error
	}
	results := make(chan result, len(d.Sources))
	start := func(src netip.Addr) {
		go func() {
			c, err := d.attempt(ctx, src, dst)
			results <- result{c, err}
		}()
	}
	start(d.Sources[0])
	next, pending := 1, 1
	timer := time.NewTimer(delay)
	defer timer.Stop()
	var errs []error
	for pending > 0 {
		select {
		case r := <-results:
			pending--
			var refused *RefusedError
			switch {
			case r.err == nil:
				cancel() // the slower attempts close their connections
				go drain(results, pending)
				return r.c, nil
			case errors.As(r.err, &refused):
				// The converter answered: another access would get the same.
				cancel()
				go drain(results, pending)
				return nil, r.err
			}
			errs = append(errs, r.err)
			if next < len(d.Sources) { // this access failed outright: try the next now
				start(d.Sources[next])
				next, pending = next+1, pending+1
				timer.Reset(delay)
			}
		case <-timer.C:
			if next < len(d.Sources) {
				start(d.Sources[next])
				next, pending = next+1, pending+1
				timer.Reset(delay)
			}
		case <-ctx.Done():
			go drain(results, pending)
			return nil, ctx.Err()
		}
	}
	return nil, fmt.Errorf("uesim: dial %v via %v: %w", dst, d.Proxy, errors.Join(errs...))
}

func drain[T any](ch <-chan T, n int) {
	for range n {
		<-ch // a late winner's Conn was closed by its attempt when ctx ended
	}
}

// attempt opens one connection from src. With Fast Open the Convert
// message goes in the SYN: TCP_FASTOPEN_CONNECT defers the SYN to the
// first write (so Go's dialer and poller work unchanged), and
// TCP_FASTOPEN_NO_COOKIE sends the data without a cookie (RFC 8803 §4.1).
func (d *Dialer) attempt(ctx context.Context, src netip.Addr, dst netip.AddrPort) (*Conn, error) {
	nd := net.Dialer{LocalAddr: net.TCPAddrFromAddrPort(netip.AddrPortFrom(src, 0))}
	nd.SetMultipathTCP(!d.PlainTCP)
	if !d.AfterHandshake {
		nd.Control = func(_, _ string, rc syscall.RawConn) error {
			var err error
			if cerr := rc.Control(func(fd uintptr) {
				if err = unix.SetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_FASTOPEN_CONNECT, 1); err == nil {
					err = unix.SetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_FASTOPEN_NO_COOKIE, 1)
				}
			}); cerr != nil {
				return cerr
			}
			return err
		}
	}
	network := "tcp4"
	if d.Proxy.Addr().Is6() {
		network = "tcp6"
	}
	var nc net.Conn
	err := d.InNamespace(func() error {
		var err error
		nc, err = nd.DialContext(ctx, network, d.Proxy.String())
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("from %v: %w", src, err)
	}
	c := nc.(*net.TCPConn)
	// Closing the socket is how a losing or cancelled attempt stops.
	stop := context.AfterFunc(ctx, func() { c.Close() })
	fail := func(err error) (*Conn, error) {
		stop()
		c.Close()
		return nil, fmt.Errorf("from %v: %w", src, err)
	}
	msg := d.Payload
	if msg == nil {
		if msg, err = convert.AppendMessage(nil, convert.ConnectMessage(dst, nil)); err != nil {
			return fail(err)
		}
	}
	if d.AfterHandshake && d.BeforeConvert != nil && len(msg) > 1 {
		// An MPTCP client is fully established, and may join subflows,
		// only once the server acknowledged data (RFC 8684 §3.1): send one
		// byte of the message first.
		if _, err := c.Write(msg[:1]); err != nil {
			return fail(err)
		}
		msg = msg[1:]
		if err := d.BeforeConvert(c); err != nil {
			return fail(err)
		}
	}
	if _, err := c.Write(msg); err != nil {
		return fail(err)
	}
	reply, err := convert.ReadMessage(c)
	if err != nil {
		return fail(fmt.Errorf("read converter reply: %w", err))
	}
	if mptcp, _ := c.MultipathTCP(); !mptcp && !d.PlainTCP {
		// The converter did not take the SYN data, or the MPTCP option was
		// stripped: the kernel fell back to TCP, and the UE would lose
		// multipath without noticing.
		return fail(errors.New("the connection fell back to plain TCP"))
	}
	if e, ok := reply.Error(); ok {
		stop()
		c.Close()
		return nil, &RefusedError{Code: e.Code, Value: e.Value}
	}
	if !stop() { // ctx ended meanwhile: the connection is already closed
		return nil, ctx.Err()
	}
	return &Conn{TCPConn: c, Source: src, Reply: reply}, nil
}

// WaitSubflows waits until c has at least n subflows.
func WaitSubflows(ctx context.Context, c *net.TCPConn, n int) error {
	return waitSubflows(ctx, c, fmt.Sprintf("%d subflows", n), func(subs []pm.Subflow) bool { return len(subs) >= n })
}

// WaitSubflowFrom waits until c has a subflow from local address a.
func WaitSubflowFrom(ctx context.Context, c *net.TCPConn, a netip.Addr) error {
	return waitSubflows(ctx, c, "a subflow from "+a.String(), func(subs []pm.Subflow) bool {
		return slices.ContainsFunc(subs, func(s pm.Subflow) bool { return s.Local.Addr() == a })
	})
}

// waitSubflows polls c's subflows until ok says they are what the caller
// waits for (what, in errors).
func waitSubflows(ctx context.Context, c *net.TCPConn, what string, ok func([]pm.Subflow) bool) error {
	rc, err := c.SyscallConn()
	if err != nil {
		return err
	}
	t := time.NewTicker(5 * time.Millisecond)
	defer t.Stop()
	for {
		subs, err := pm.ReadSubflows(rc)
		if err != nil {
			return fmt.Errorf("wait for %s: %w", what, err)
		}
		if ok(subs) {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for %s (have %d subflows): %w", what, len(subs), ctx.Err())
		case <-t.C:
		}
	}
}
