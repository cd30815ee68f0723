// Package traffic moves checked bytes between the lab's UE and a server in
// the data network: a transfer of a given size each way, with every byte
// verified against a pattern that depends on its position, so a byte lost,
// repeated, reordered or corrupted anywhere in the path is found, at any
// size, without keeping the bytes.
//
// Protocol: the client sends a 32-byte request (upload size, download
// size, seed, flags; big endian), then the upload; the server verifies the
// upload while it sends the download (or, with Sequential, after it), then
// half-closes. Each side reports what it got.
package traffic

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
)

// Pattern is the byte stream of a transfer: byte i is a function of i and
// the seed (splitmix64 of the 8-byte word index), so any window of it can
// be produced or checked without the bytes before it.
type Pattern struct {
	Seed uint64
	off  uint64
}

func mix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// Read fills b with the next bytes of the pattern. It never fails.
func (p *Pattern) Read(b []byte) (int, error) {
	n := len(b)
	for i := 0; i < n; {
		word := mix(p.Seed ^ (p.off >> 3))
		shift := p.off & 7
		var w [8]byte
		binary.LittleEndian.PutUint64(w[:], word)
		c := copy(b[i:], w[shift:])
		i += c
		p.off += uint64(c)
	}
	return n, nil
}

// Verifier is an io.Writer that checks what is written against a Pattern.
type Verifier struct {
	want Pattern
	buf  []byte
	n    atomic.Uint64
	bad  error
}

// NewVerifier checks a stream made by Pattern{Seed: seed}.
func NewVerifier(seed uint64) *Verifier { return &Verifier{want: Pattern{Seed: seed}} }

// Write checks b; the first mismatch is kept and reported by Err.
func (v *Verifier) Write(b []byte) (int, error) {
	if v.bad != nil {
		return 0, v.bad
	}
	if cap(v.buf) < len(b) {
		v.buf = make([]byte, len(b))
	}
	want := v.buf[:len(b)]
	off := v.want.off
	v.want.Read(want)
	for i := range b {
		if b[i] != want[i] {
			v.bad = fmt.Errorf("byte %d: got %#02x, want %#02x", off+uint64(i), b[i], want[i])
			return i, v.bad
		}
	}
	v.n.Add(uint64(len(b)))
	return len(b), nil
}

// Bytes returns the bytes verified so far; safe to call from any goroutine.
func (v *Verifier) Bytes() uint64 { return v.n.Load() }

// Err returns the first mismatch, if any.
func (v *Verifier) Err() error { return v.bad }

// Counter counts bytes passing through for a live timeline; safe for
// concurrent use.
type Counter struct{ n atomic.Uint64 }

// Read returns the count (it has the shape of timeline.Source.Read).
func (c *Counter) Read() (uint64, error) { return c.n.Load(), nil }

type countingWriter struct {
	w io.Writer
	c *Counter
}

func (cw countingWriter) Write(b []byte) (int, error) {
	n, err := cw.w.Write(b)
	cw.c.n.Add(uint64(n))
	return n, err
}

// Request is what a client asks of the server.
type Request struct {
	Up, Down uint64 // bytes each way
	Seed     uint64 // upload uses Seed, download Seed+1
	// Sequential: the server sends the download only after the whole
	// upload arrived, so one direction runs at a time.
	Sequential bool
	// KeepWriteOpen: the client does not half-close after its upload; it
	// closes when both directions are done. An MPTCP client that sent its
	// DATA_FIN opens no new subflows, so a UE that must rejoin a restored
	// access keeps its write side open. Sequential implies it.
	KeepWriteOpen bool
}

const requestLen = 32

// Result is one side's view of a transfer.
type Result struct {
	Sent, Received uint64
	Err            error // a mismatch, a short transfer or a connection error
}

// Serve answers clients on ln until it is closed: each connection is
// verified and answered on its own goroutine. up and down, if not nil,
// count the bytes the server receives and sends. Serve returns the results
// of finished transfers on the channel it returns (buffered; excess
// results are dropped) and closes it when ln is closed and every
// transfer has ended.
func Serve(ln net.Listener, up, down *Counter) <-chan Result {
	out := make(chan Result, 1024)
	go func() {
		var wg sync.WaitGroup
		defer func() { wg.Wait(); close(out) }()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				r := serveOne(c, up, down)
				select {
				case out <- r:
				default:
				}
			})
		}
	}()
	return out
}

func serveOne(c net.Conn, up, down *Counter) Result {
	defer c.Close()
	var hdr [requestLen]byte
	if _, err := io.ReadFull(c, hdr[:]); err != nil {
		return Result{Err: fmt.Errorf("read request: %w", err)}
	}
	req := Request{Up: binary.BigEndian.Uint64(hdr[0:]), Down: binary.BigEndian.Uint64(hdr[8:]), Seed: binary.BigEndian.Uint64(hdr[16:]), Sequential: hdr[31]&1 != 0}
	if req.Sequential {
		v := NewVerifier(req.Seed)
		n, err := io.CopyBuffer(countingWriter{v, orNew(up)}, io.LimitReader(c, int64(req.Up)), make([]byte, 256<<10))
		if err == nil && uint64(n) < req.Up {
			err = io.ErrUnexpectedEOF
		}
		if err != nil {
			return Result{Received: uint64(n), Err: fmt.Errorf("receive after %d bytes: %w", n, err)}
		}
		r := exchange(c, req.Down, req.Seed+1, 0, 0, down, nil, true)
		r.Received = uint64(n)
		return r
	}
	return exchange(c, req.Down, req.Seed+1, req.Up, req.Seed, down, up, true)
}

// Run performs req over c as the client: it sends the request and the
// upload and verifies the download. up and down, if not nil, count the
// bytes sent and received.
func Run(ctx context.Context, c net.Conn, req Request, up, down *Counter) Result {
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	var hdr [requestLen]byte
	binary.BigEndian.PutUint64(hdr[0:], req.Up)
	binary.BigEndian.PutUint64(hdr[8:], req.Down)
	binary.BigEndian.PutUint64(hdr[16:], req.Seed)
	if req.Sequential {
		hdr[31] = 1
	}
	if _, err := c.Write(hdr[:]); err != nil {
		return Result{Err: fmt.Errorf("write request: %w", err)}
	}
	r := exchange(c, req.Up, req.Seed, req.Down, req.Seed+1, up, down, !req.Sequential && !req.KeepWriteOpen)
	if r.Err == nil && ctx.Err() != nil {
		r.Err = ctx.Err()
	}
	return r
}

// exchange sends send bytes of pattern sendSeed while verifying recv bytes
// of pattern recvSeed, half-closing after the send if halfClose.
func exchange(c net.Conn, send, sendSeed, recv, recvSeed uint64, sent, got *Counter, halfClose bool) Result {
	sent, got = orNew(sent), orNew(got)
	var res Result
	var wg sync.WaitGroup
	var sendErr error
	wg.Go(func() {
		n, err := io.CopyBuffer(countingWriter{c, sent}, io.LimitReader(&Pattern{Seed: sendSeed}, int64(send)), make([]byte, 256<<10))
		res.Sent = uint64(n)
		if err != nil {
			sendErr = fmt.Errorf("send: %w", err)
			return
		}
		if cw, ok := c.(interface{ CloseWrite() error }); ok && halfClose {
			cw.CloseWrite()
		}
	})
	v := NewVerifier(recvSeed)
	n, err := io.CopyBuffer(countingWriter{v, got}, io.LimitReader(c, int64(recv)), make([]byte, 256<<10))
	res.Received = uint64(n)
	if err != nil {
		err = fmt.Errorf("receive after %d bytes: %w", n, err)
	} else if uint64(n) < recv {
		err = fmt.Errorf("receive: %d of %d bytes: %w", n, recv, io.ErrUnexpectedEOF)
	}
	wg.Wait()
	res.Err = errors.Join(err, sendErr)
	return res
}

func orNew(c *Counter) *Counter {
	if c == nil {
		return &Counter{}
	}
	return c
}
