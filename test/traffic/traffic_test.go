package traffic

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"testing"
)

func TestPatternWindows(t *testing.T) {
	whole := make([]byte, 1000)
	(&Pattern{Seed: 7}).Read(whole)
	// Reading in odd pieces gives the same stream.
	var got bytes.Buffer
	p := &Pattern{Seed: 7}
	for _, n := range []int{1, 3, 8, 13, 200, 775} {
		b := make([]byte, n)
		p.Read(b)
		got.Write(b)
	}
	if !bytes.Equal(got.Bytes(), whole) {
		t.Fatal("pattern depends on how it is read")
	}
	other := make([]byte, 1000)
	(&Pattern{Seed: 8}).Read(other)
	if bytes.Equal(other, whole) {
		t.Fatal("seeds give the same stream")
	}
}

func TestVerifierFindsDamage(t *testing.T) {
	stream := make([]byte, 4096)
	(&Pattern{Seed: 1}).Read(stream)
	for name, damage := range map[string]func([]byte) []byte{
		"flipped byte": func(b []byte) []byte { b[2000] ^= 1; return b },
		"lost byte":    func(b []byte) []byte { return append(b[:100:100], b[101:]...) },
		"repeated":     func(b []byte) []byte { return append(b[:300:300], b[200:]...) },
		"swapped":      func(b []byte) []byte { b[10], b[11] = b[11], b[10]; return b },
	} {
		t.Run(name, func(t *testing.T) {
			v := NewVerifier(1)
			io.Copy(v, bytes.NewReader(damage(bytes.Clone(stream))))
			if v.Err() == nil {
				t.Fatal("damage not found")
			}
		})
	}
	v := NewVerifier(1)
	if _, err := io.Copy(v, bytes.NewReader(stream)); err != nil || v.Bytes() != 4096 {
		t.Fatalf("intact stream: %v, %d bytes", err, v.Bytes())
	}
}

func TestTransferOverLoopback(t *testing.T) {
	for _, req := range []Request{{}, {Sequential: true}, {KeepWriteOpen: true}} {
		t.Run(fmt.Sprintf("sequential=%v,keep-open=%v", req.Sequential, req.KeepWriteOpen), func(t *testing.T) { testTransfer(t, req) })
	}
}

func testTransfer(t *testing.T, req Request) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var srvUp, srvDown Counter
	results := Serve(ln, &srvUp, &srvDown)
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	req.Up, req.Down, req.Seed = 3<<20, 5<<20, 42
	r := Run(context.Background(), c, req, nil, nil)
	if r.Err != nil || r.Sent != 3<<20 || r.Received != 5<<20 {
		t.Fatalf("client: %+v", r)
	}
	// A half-closed client can write no more; one that kept its write
	// side open can (the bytes go to its socket buffer).
	_, err = c.Write([]byte{1})
	if open := req.Sequential || req.KeepWriteOpen; open != (err == nil) {
		t.Errorf("write after the transfer: %v; want the write side open: %v", err, open)
	}
	ln.Close()
	s := <-results
	if s.Err != nil || s.Received != 3<<20 || s.Sent != 5<<20 {
		t.Fatalf("server: %+v", s)
	}
	if srvUp.n.Load() != 3<<20 || srvDown.n.Load() != 5<<20 {
		t.Fatalf("server counters: %d up, %d down", srvUp.n.Load(), srvDown.n.Load())
	}
}

func BenchmarkVerify(b *testing.B) {
	buf := make([]byte, 256<<10)
	p := &Pattern{Seed: 3}
	v := NewVerifier(3)
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		p.Read(buf)
		v.Write(buf)
	}
}
