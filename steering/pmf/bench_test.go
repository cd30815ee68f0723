package pmf

import (
	"testing"

	"github.com/openatsss/atsss/atsss"
)

func BenchmarkParseAppend(b *testing.B) {
	wire := mustHex("08 000a 01 000003e8")
	buf := make([]byte, 0, maxMessageOctets)
	b.ReportAllocs()
	for b.Loop() {
		m, err := Parse(wire)
		if err != nil {
			b.Fatal(err)
		}
		if buf, err = m.Append(buf[:0]); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEchoAnswer is the UPF answering a UE's echo on a learned path:
// the per-message work under the Server's lock, without the sockets.
func BenchmarkEchoAnswer(b *testing.B) {
	c := newTestCore(Config{})
	m := Message{Type: TypeEchoRequest, Seq: 1, Timestamp: 2}
	c.receive(t0, int(atsss.Access3GPP), ue3GPP, m)
	c.out, c.events = c.out[:0], c.events[:0]
	b.ReportAllocs()
	for b.Loop() {
		c.receive(t0, int(atsss.Access3GPP), ue3GPP, m)
		c.out = c.out[:0]
	}
}
