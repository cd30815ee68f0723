package test

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/openatsss/atsss/atsss"
	"github.com/openatsss/atsss/mptcpproxy/convert"
	"github.com/openatsss/atsss/test/lab"
	"github.com/openatsss/atsss/test/rig"
	"github.com/openatsss/atsss/test/uesim"
)

// The benchmark's servers: two in the data network, behind the proxy, and
// two MPTCP listeners in upf on the proxy's address, with no relay.
const (
	benchSinkPort   = 5101 // dn: throughput sink and source (benchServeTransfer)
	benchAnswerPort = 5102 // dn: answers a request with one byte
	benchCeilPort   = 5201 // upf: MPTCP sink and source, the ceiling
	benchDirectPort = 5202 // upf: MPTCP accept answering like the converter and dn together
	benchSocatPort  = 5300 // upf: socat relays, one port each from here on
)

const (
	benchChunk   = 64 << 20  // bytes per throughput iteration
	benchBuf     = 256 << 10 // read and write size of the Go ends, as the proxy's copy buffer
	benchRequest = 32        // bytes of a connect or TTFB request
	// benchInFlight is the connect benchmark's concurrency per GOMAXPROCS.
	benchInFlight = 8
)

// benchShaped is the shaped case: the accesses of the continuity test.
var benchShaped = [2]lab.Rate{
	atsss.Access3GPP:    {UpMbit: 100, DownMbit: 100},
	atsss.AccessNon3GPP: {UpMbit: 200, DownMbit: 200},
}

// benchThroughputTFO says whether the throughput connections through the
// proxy carry the Convert message in the SYN, as the UE's 0-RTT dial does.
// They do not: on Linux 6.18 the downlink of an MPTCP connection opened with
// data in the SYN (TFO) stalls once its second subflow carries data. After
// about 8.5 MB the UE drops data outside its MPTCP receive window
// (MPTcpExtNoDSSInWindow), which the sender reinjects only on its MPTCP
// retransmission timer (MPTcpExtMPTCPRetrans): tens of seconds to minutes
// for 64 MiB unshaped. The ceiling's connection stalls the same way when it
// is opened with TFO, and the proxy's does not when the Convert message
// follows the handshake; the relay, the thing measured, is the same either
// way. Set it to see the stall.
const benchThroughputTFO = false

// BenchmarkProxyLab measures the MPTCP proxy in one lab with one UE session
// (issue 3, must show 4); test/bench-proxy.sh runs it and prints the ratios
// to the goals:
//
//   - throughput/{unshaped,shaped}/{up,down}/{proxy,ceiling,socat}: one
//     connection over both accesses (shaped: 3GPP 100, non-3GPP 200 Mbit/s
//     each way) moving 64 MiB per iteration one way, through atsssd to a
//     dn server (proxy; see benchThroughputTFO); to an MPTCP listener in
//     upf with no relay (ceiling); and through `mptcpize run socat` in upf,
//     a child process per connection with socat's default 8 KiB buffer,
//     to the same dn server (socat). Metrics: Mbit/s, the relay's CPU-s/GB
//     (its CPU time over the timed loop per 10^9 bytes) and n3gpp-frac
//     (the non-3GPP access's share of the bytes on the two links).
//   - connect/{proxy,direct}: connections/s with benchInFlight×GOMAXPROCS
//     UEs dialing at once, each sending the Convert message and a request
//     in the SYN (TFO) and reading the converter's answer and one byte from
//     the server: through the converter to dn, and to an MPTCP listener in
//     upf that answers both at once (a direct MPTCP accept). The proxy's
//     also reports atsssd's CPU-µs/conn.
//   - ttfb/{proxy,direct-mptcp,direct}: time from dial to the server's first byte
//     (µs/ttfb) and to the dial's return (µs/dial), one connection at a
//     time: through the converter with the request in the SYN; to the
//     direct MPTCP accept of connect, the same client with nothing behind
//     it (direct-mptcp); and plain TCP from the UE's link-specific address
//     to dn routed through upf, no Fast Open (direct). All dial through the
//     lab's namespace switch (lab.NS.Do).
//
// Unshaped runs are CPU-bound: the UE, the servers (this process), the
// relay and the kernel's softirq work share the machine's cores. Much of
// the softirq work (TCP receive on veth) is charged to whichever process
// happened to run on that CPU, so a relay's CPU-s/GB is an approximation
// and leaves out some of the kernel's work on its behalf.
func BenchmarkProxyLab(b *testing.B) {
	r := newRig(b, rig.Options{})
	ctx := b.Context()
	ue, err := r.Establish(ctx, rig.SessionSpec{Mode: "load-balancing", Weights: "50/50"})
	if err != nil {
		b.Fatal(err)
	}
	// Thousands of connections from two addresses: room for ports.
	if err := r.Lab.UE.Sysctl("net.ipv4.ip_local_port_range", "1024 65535"); err != nil {
		b.Fatal(err)
	}
	atsssd := r.Daemon.PID()
	if err := checkComm(atsssd, "atsssd"); err != nil {
		b.Fatal(err)
	}

	benchServe(b, benchListenDN(b, r, benchSinkPort), benchServeTransfer)
	benchServe(b, benchListenDN(b, r, benchAnswerPort), func(c net.Conn) error {
		if _, err := io.ReadFull(c, make([]byte, benchRequest)); err != nil {
			return err
		}
		_, err := c.Write([]byte{1})
		return err
	})
	benchServe(b, benchListenUPF(b, r, benchCeilPort, false), benchServeTransfer)
	// The UE's SYN data: the Convert message and the request.
	payload, err := convert.AppendMessage(nil, convert.ConnectMessage(dnAddr(benchAnswerPort), nil))
	if err != nil {
		b.Fatal(err)
	}
	payload = append(payload, make([]byte, benchRequest)...)
	// The converter's answer as the proxy sends it (MSS, SACK permitted),
	// then the server's byte.
	answer, err := convert.AppendMessage(nil, convert.ExtendedTCPHeaderMessage([]byte{2, 4, 0x05, 0xb4, 4, 2}))
	if err != nil {
		b.Fatal(err)
	}
	answer = append(answer, 1)
	benchServe(b, benchListenUPF(b, r, benchDirectPort, true), func(c net.Conn) error {
		if _, err := io.ReadFull(c, make([]byte, len(payload))); err != nil {
			return err
		}
		_, err := c.Write(answer)
		return err
	})

	ls := ue.LinkSpecific[atsss.Access3GPP] // every first subflow's source
	socatPort := uint16(benchSocatPort)
	b.Run("throughput", func(b *testing.B) {
		for _, shaping := range []struct {
			name string
			rate [2]lab.Rate
		}{{"unshaped", [2]lab.Rate{}}, {"shaped", benchShaped}} {
			b.Run(shaping.name, func(b *testing.B) {
				for _, a := range atsss.Accesses {
					if err := r.Lab.Shape(a, shaping.rate[a]); err != nil {
						b.Fatal(err)
					}
				}
				b.Cleanup(func() {
					for _, a := range atsss.Accesses {
						if err := r.Lab.Shape(a, lab.Rate{}); err != nil {
							b.Error(err)
						}
					}
				})
				for _, dir := range []string{"up", "down"} {
					up := dir == "up"
					b.Run(dir, func(b *testing.B) {
						b.Run("proxy", func(b *testing.B) {
							d := ue.Dialer(atsss.Access3GPP)
							d.AfterHandshake = !benchThroughputTFO
							c, err := d.Dial(b.Context(), dnAddr(benchSinkPort))
							if err != nil {
								b.Fatal(err)
							}
							defer c.Close()
							benchTransfer(b, r, c.TCPConn, up, atsssd)
						})
						b.Run("ceiling", func(b *testing.B) {
							c := benchDialMPTCP(b, r, ls, netip.AddrPortFrom(lab.ProxyAddr, benchCeilPort))
							benchTransfer(b, r, c, up, 0)
						})
						b.Run("socat", func(b *testing.B) {
							socatPort++
							parent := startSocat(b, r, socatPort)
							c := benchDialMPTCP(b, r, ls, netip.AddrPortFrom(lab.ProxyAddr, socatPort))
							benchTransfer(b, r, c, up, socatChild(b, parent))
						})
					})
				}
			})
		}
	})

	b.Run("connect", func(b *testing.B) {
		converter := ue.Dialer(atsss.Access3GPP)
		converter.Payload = payload
		direct := ue.Dialer(atsss.Access3GPP)
		direct.Proxy = netip.AddrPortFrom(lab.ProxyAddr, benchDirectPort)
		direct.Payload = payload
		for _, tc := range []struct {
			name  string
			d     *uesim.Dialer
			relay int
		}{{"proxy", converter, atsssd}, {"direct", direct, 0}} {
			b.Run(tc.name, func(b *testing.B) {
				ctx := b.Context()
				var cpu0 time.Duration
				if tc.relay != 0 {
					cpu, err := procCPU(tc.relay)
					if err != nil {
						b.Fatal(err)
					}
					cpu0 = cpu
				}
				b.SetParallelism(benchInFlight)
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						if _, _, err := converse(ctx, tc.d); err != nil {
							b.Error(err)
							return
						}
					}
				})
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "conn/s")
				if tc.relay != 0 {
					cpu1, err := procCPU(tc.relay)
					if err != nil {
						b.Fatal(err)
					}
					b.ReportMetric(float64((cpu1-cpu0).Microseconds())/float64(b.N), "CPU-µs/conn")
				}
			})
		}
	})

	b.Run("ttfb", func(b *testing.B) {
		b.Run("proxy", func(b *testing.B) {
			d := ue.Dialer(atsss.Access3GPP)
			d.Payload = payload
			benchTTFB(b, func() (time.Duration, time.Duration, error) { return converse(b.Context(), d) })
		})
		b.Run("direct-mptcp", func(b *testing.B) {
			d := ue.Dialer(atsss.Access3GPP)
			d.Proxy = netip.AddrPortFrom(lab.ProxyAddr, benchDirectPort)
			d.Payload = payload
			benchTTFB(b, func() (time.Duration, time.Duration, error) { return converse(b.Context(), d) })
		})
		b.Run("direct", func(b *testing.B) {
			// upf routes between the UE's link-specific addresses and dn
			// (its links' subnets and N6 are connected; dn's default
			// route is upf) once it forwards.
			if err := r.Lab.UPF.Sysctl("net.ipv4.ip_forward", "1"); err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() {
				if err := r.Lab.UPF.Sysctl("net.ipv4.ip_forward", "0"); err != nil {
					b.Error(err)
				}
			})
			benchTTFB(b, func() (time.Duration, time.Duration, error) { return plainTTFB(b.Context(), r, ls) })
		})
	})
}

// benchTransfer moves benchChunk bytes one way per iteration over c, which
// must have its two subflows (or get them soon), and reports Mbit/s, the
// share of the non-3GPP access and, if relay is a pid, its CPU-s/GB.
func benchTransfer(b *testing.B, r *rig.Rig, c *net.TCPConn, up bool, relay int) {
	ctx, cancel := context.WithTimeout(b.Context(), 10*time.Second)
	defer cancel()
	if err := uesim.WaitSubflows(ctx, c, 2); err != nil {
		b.Fatalf("the connection did not get its second subflow: %v", err)
	}
	before, err := accessBytes(r, up)
	if err != nil {
		b.Fatal(err)
	}
	var cpu0 time.Duration
	if relay != 0 {
		if cpu0, err = procCPU(relay); err != nil {
			b.Fatal(err)
		}
	}
	buf := make([]byte, benchBuf)
	b.SetBytes(benchChunk)
	for b.Loop() {
		// A bound on a stall, not a timing assertion.
		c.SetDeadline(time.Now().Add(time.Minute))
		if up {
			err = benchUpload(c, buf)
		} else {
			err = benchDownload(c, buf)
		}
		if err != nil {
			b.Fatal(err)
		}
	}
	elapsed := b.Elapsed()
	bytes := float64(b.N) * benchChunk
	if relay != 0 {
		cpu1, err := procCPU(relay)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric((cpu1-cpu0).Seconds()/(bytes/1e9), "CPU-s/GB")
	}
	after, err := accessBytes(r, up)
	if err != nil {
		b.Fatal(err)
	}
	d3, dn := after[atsss.Access3GPP]-before[atsss.Access3GPP], after[atsss.AccessNon3GPP]-before[atsss.AccessNon3GPP]
	b.ReportMetric(float64(dn)/float64(d3+dn), "n3gpp-frac")
	b.ReportMetric(bytes*8/elapsed.Seconds()/1e6, "Mbit/s")
}

// accessBytes reads upf's link counters the transfer's way: received from
// the UE (up) or sent to it, frames included.
func accessBytes(r *rig.Rig, up bool) ([2]uint64, error) {
	var out [2]uint64
	for _, a := range atsss.Accesses {
		c, err := r.Lab.AccessCounters(a)
		if err != nil {
			return out, err
		}
		out[a] = c.TxBytes
		if up {
			out[a] = c.RxBytes
		}
	}
	return out, nil
}

// The throughput protocol: a 9-byte request, an operation and a big-endian
// size. 'u': the client sends size bytes and the server answers with the
// count it read (8 bytes); 'd': the server sends size bytes; 'p': the
// server answers one byte.
const benchHeaderLen = 9

func benchHeader(op byte, n uint64) []byte {
	h := make([]byte, benchHeaderLen)
	h[0] = op
	binary.BigEndian.PutUint64(h[1:], n)
	return h
}

func benchUpload(c net.Conn, buf []byte) error {
	if _, err := c.Write(benchHeader('u', benchChunk)); err != nil {
		return err
	}
	if err := writeN(c, buf, benchChunk); err != nil {
		return fmt.Errorf("upload: %w", err)
	}
	var got [8]byte
	if _, err := io.ReadFull(c, got[:]); err != nil {
		return fmt.Errorf("upload: server's count: %w", err)
	}
	if n := binary.BigEndian.Uint64(got[:]); n != benchChunk {
		return fmt.Errorf("upload: the server read %d bytes, sent %d", n, benchChunk)
	}
	return nil
}

func benchDownload(c net.Conn, buf []byte) error {
	if _, err := c.Write(benchHeader('d', benchChunk)); err != nil {
		return err
	}
	if n, err := readN(c, buf, benchChunk); err != nil {
		return fmt.Errorf("download: %d of %d bytes: %w", n, benchChunk, err)
	}
	return nil
}

// benchServeTransfer is the server side of the throughput protocol.
func benchServeTransfer(c net.Conn) error {
	buf := make([]byte, benchBuf)
	hdr := make([]byte, benchHeaderLen)
	for {
		if _, err := io.ReadFull(c, hdr); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		n := binary.BigEndian.Uint64(hdr[1:])
		var err error
		switch hdr[0] {
		case 'p':
			_, err = c.Write([]byte{1})
		case 'u':
			var got uint64
			got, err = readN(c, buf, n)
			if err == nil {
				_, err = c.Write(binary.BigEndian.AppendUint64(nil, got))
			}
		case 'd':
			err = writeN(c, buf, n)
		default:
			err = fmt.Errorf("unknown operation %q", hdr[0])
		}
		if err != nil {
			return err
		}
	}
}

// readN and writeN move n bytes through buf. io.Copy is avoided: it would
// splice or read through io.Discard's 8 KiB buffer.
func readN(c net.Conn, buf []byte, n uint64) (uint64, error) {
	var got uint64
	for got < n {
		k, err := c.Read(buf[:min(uint64(len(buf)), n-got)])
		got += uint64(k)
		if err != nil {
			return got, err
		}
	}
	return got, nil
}

func writeN(c net.Conn, buf []byte, n uint64) error {
	for n > 0 {
		k, err := c.Write(buf[:min(uint64(len(buf)), n)])
		n -= uint64(k)
		if err != nil {
			return err
		}
	}
	return nil
}

// converse is one connect iteration: dial with d (the request in the SYN),
// read the server's byte, then its close. It returns the times from the
// start to the dial's return (the converter's answer read) and to that
// byte. The server closes first, so no TIME_WAIT stays on the UE's ports.
func converse(ctx context.Context, d *uesim.Dialer) (dial, ttfb time.Duration, err error) {
	start := time.Now()
	c, err := d.Dial(ctx, dnAddr(benchAnswerPort))
	if err != nil {
		return 0, 0, err
	}
	dial = time.Since(start)
	defer c.Close()
	ttfb, err = readAnswer(c.TCPConn, start)
	return dial, ttfb, err
}

// plainTTFB is a TTFB iteration without the proxy: plain TCP from the UE's
// link-specific address src to dn, no Fast Open, then the request.
func plainTTFB(ctx context.Context, r *rig.Rig, src netip.Addr) (dial, ttfb time.Duration, err error) {
	start := time.Now()
	nd := net.Dialer{LocalAddr: net.TCPAddrFromAddrPort(netip.AddrPortFrom(src, 0))}
	nd.SetMultipathTCP(false)
	var nc net.Conn
	err = r.Lab.UE.Do(func() error {
		var err error
		nc, err = nd.DialContext(ctx, "tcp4", dnAddr(benchAnswerPort).String())
		return err
	})
	if err != nil {
		return 0, 0, err
	}
	dial = time.Since(start)
	c := nc.(*net.TCPConn)
	defer c.Close()
	if _, err := c.Write(make([]byte, benchRequest)); err != nil {
		return 0, 0, err
	}
	ttfb, err = readAnswer(c, start)
	return dial, ttfb, err
}

func readAnswer(c *net.TCPConn, start time.Time) (time.Duration, error) {
	c.SetDeadline(time.Now().Add(30 * time.Second))
	var one [1]byte
	if _, err := io.ReadFull(c, one[:]); err != nil {
		return 0, fmt.Errorf("read the answer: %w", err)
	}
	ttfb := time.Since(start)
	if n, err := c.Read(one[:]); n != 0 || !errors.Is(err, io.EOF) {
		return 0, fmt.Errorf("after the answer: %d bytes, %v; want EOF", n, err)
	}
	return ttfb, nil
}

// benchTTFB runs conn serially and reports its mean times to first byte
// and to the dial's return.
func benchTTFB(b *testing.B, conn func() (dial, ttfb time.Duration, err error)) {
	var dials, ttfbs time.Duration
	for b.Loop() {
		dial, ttfb, err := conn()
		if err != nil {
			b.Fatal(err)
		}
		dials += dial
		ttfbs += ttfb
	}
	b.ReportMetric(dials.Seconds()*1e6/float64(b.N), "µs/dial")
	b.ReportMetric(ttfbs.Seconds()*1e6/float64(b.N), "µs/ttfb")
}

// benchDialMPTCP opens an MPTCP connection from the UE's address src to dst
// (a throughput server), exchanges a byte so that it is fully established
// and the UE's path manager joins the other access, and closes it when b
// ends.
func benchDialMPTCP(b *testing.B, r *rig.Rig, src netip.Addr, dst netip.AddrPort) *net.TCPConn {
	b.Helper()
	nd := net.Dialer{LocalAddr: net.TCPAddrFromAddrPort(netip.AddrPortFrom(src, 0)), Timeout: 10 * time.Second}
	nd.SetMultipathTCP(true)
	var nc net.Conn
	if err := r.Lab.UE.Do(func() error {
		var err error
		nc, err = nd.DialContext(b.Context(), "tcp4", dst.String())
		return err
	}); err != nil {
		b.Fatal(err)
	}
	c := nc.(*net.TCPConn)
	b.Cleanup(func() { c.Close() })
	if mptcp, err := c.MultipathTCP(); !mptcp {
		b.Fatalf("connection to %v is not MPTCP (%v): did the listener fall back to TCP?", dst, err)
	}
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Write(benchHeader('p', 0)); err != nil {
		b.Fatal(err)
	}
	if _, err := io.ReadFull(c, make([]byte, 1)); err != nil {
		b.Fatalf("first byte from %v: %v", dst, err)
	}
	return c
}

func benchListenDN(b *testing.B, r *rig.Rig, port uint16) net.Listener {
	b.Helper()
	ln, err := r.ListenDN(port)
	if err != nil {
		b.Fatal(err)
	}
	return ln
}

// benchListenUPF opens an MPTCP listener on the proxy's address in upf;
// with tfo it takes data in the SYN without a cookie, as the proxy does.
func benchListenUPF(b *testing.B, r *rig.Rig, port uint16, tfo bool) net.Listener {
	b.Helper()
	lc := net.ListenConfig{}
	lc.SetMultipathTCP(true)
	if tfo {
		lc.Control = func(_, _ string, rc syscall.RawConn) error {
			var err error
			if cerr := rc.Control(func(fd uintptr) {
				if err = unix.SetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_FASTOPEN, 4096); err == nil {
					err = unix.SetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_FASTOPEN_NO_COOKIE, 1)
				}
			}); cerr != nil {
				return cerr
			}
			return err
		}
	}
	var ln net.Listener
	if err := r.Lab.UPF.Do(func() error {
		var err error
		ln, err = lc.Listen(context.Background(), "tcp4", netip.AddrPortFrom(lab.ProxyAddr, port).String())
		return err
	}); err != nil {
		b.Fatal(err)
	}
	return ln
}

// benchServe runs handle on each connection of ln, each on its own
// goroutine, until b ends; then it closes ln and every connection and
// waits for the handlers. A handler's error other than a closed
// connection fails b.
func benchServe(b *testing.B, ln net.Listener, handle func(net.Conn) error) {
	var wg sync.WaitGroup
	ctx := b.Context()
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer c.Close()
				stop := context.AfterFunc(ctx, func() { c.Close() })
				defer stop()
				err := handle(c)
				// A reset or a closed pipe is the UE going away, which
				// fails the UE's side if it matters.
				if err != nil && ctx.Err() == nil && !errors.Is(err, net.ErrClosed) &&
					!errors.Is(err, syscall.ECONNRESET) && !errors.Is(err, syscall.EPIPE) {
					b.Errorf("server on %v: %v", ln.Addr(), err)
				}
			})
		}
	})
	b.Cleanup(func() {
		ln.Close()
		wg.Wait()
	})
}

// startSocat runs `mptcpize run socat` in upf, relaying MPTCP connections
// on the proxy's address and port to the dn sink, and returns its pid once
// it listens. It is killed, with its children, when b ends.
func startSocat(b *testing.B, r *rig.Rig, port uint16) int {
	b.Helper()
	for _, name := range []string{"mptcpize", "socat"} {
		if _, err := exec.LookPath(name); err != nil {
			b.Fatalf("%s not found (%v): the socat peer needs the Debian packages mptcpize and socat", name, err)
		}
	}
	// With fork, a child relays each connection while the parent keeps
	// listening: without it socat closes its listener once it accepted,
	// and the UE's MP_JOIN to the same port is then reset. nsenter and
	// mptcpize both exec, so the pid is socat's.
	cmd := r.Lab.UPF.Command(b.Context(), "mptcpize", "run", "socat", "-d", "-d",
		fmt.Sprintf("TCP4-LISTEN:%d,bind=%v,reuseaddr,fork", port, lab.ProxyAddr),
		fmt.Sprintf("TCP4:%v", dnAddr(benchSinkPort)))
	stderr, err := cmd.StderrPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatalf("start socat: %v", err)
	}
	listening := make(chan struct{})
	done := make(chan struct{})
	var log strings.Builder // written before done is closed
	go func() {
		defer close(done)
		sc := bufio.NewScanner(stderr)
		once := sync.Once{}
		for sc.Scan() {
			log.WriteString(sc.Text() + "\n")
			if strings.Contains(sc.Text(), "listening on") {
				once.Do(func() { close(listening) })
			}
		}
		cmd.Wait()
	}()
	b.Cleanup(func() {
		// The children go with the lab if not before: they hold the
		// relayed connection, which b closed.
		cmd.Process.Kill()
		<-done
	})
	select {
	case <-listening:
	case <-done:
		b.Fatalf("socat exited before listening:\n%s", log.String())
	case <-time.After(10 * time.Second):
		b.Fatal("socat did not listen within 10 s")
	}
	if err := checkComm(cmd.Process.Pid, "socat"); err != nil {
		b.Fatal(err)
	}
	return cmd.Process.Pid
}

// socatChild returns the pid of the one child of the socat parent, which
// relays the connection just accepted.
func socatChild(b *testing.B, parent int) int {
	b.Helper()
	s, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", parent, parent))
	if err != nil {
		b.Fatal(err)
	}
	f := strings.Fields(string(s))
	if len(f) != 1 {
		b.Fatalf("socat %d has children %q, want one", parent, f)
	}
	pid, err := strconv.Atoi(f[0])
	if err != nil {
		b.Fatal(err)
	}
	if err := checkComm(pid, "socat"); err != nil {
		b.Fatal(err)
	}
	return pid
}

// checkComm makes sure pid runs name, so that its CPU is the one meant.
func checkComm(pid int, name string) error {
	comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
	if err != nil {
		return err
	}
	if got := strings.TrimSpace(string(comm)); got != name {
		return fmt.Errorf("pid %d runs %q, want %q", pid, got, name)
	}
	return nil
}

// procCPU returns the CPU time of process pid: all its threads, those
// that ended included. It reads the process's CPU-time clock
// (clock_getcpuclockid(3)), the sum that utime+stime of /proc/<pid>/stat
// add up to, in ns rather than that file's 10 ms ticks: a shaped 64 MiB
// costs the proxy only a few ticks.
func procCPU(pid int) (time.Duration, error) {
	// MAKE_PROCESS_CPUCLOCK(pid, CPUCLOCK_SCHED) of the kernel's and
	// glibc's posix-timers.h, which x/sys/unix does not define.
	clock := int32(^pid<<3 | 2)
	var ts unix.Timespec
	if err := unix.ClockGettime(clock, &ts); err != nil {
		return 0, fmt.Errorf("cpu clock of process %d: %w", pid, err)
	}
	return time.Duration(ts.Nano()), nil
}
