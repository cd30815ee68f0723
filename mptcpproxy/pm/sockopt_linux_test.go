package pm

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"testing"
	"time"
	"unsafe"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"

	"github.com/openatsss/atsss/test/netnstest"
)

// The kernel struct sizes this package relies on.
func TestLayout(t *testing.T) {
	if unix.SizeofTCPInfo != 280 {
		// 6.18's struct tcp_info is 280 bytes with the AccECN counters;
		// a different x/sys layout needs the offsets re-checked.
		t.Errorf("x/sys TCPInfo is %d bytes, want 280", unix.SizeofTCPInfo)
	}
	if sizeofSubflowInfo != 264 || sizeofFullInfo != 136 {
		t.Errorf("subflow_info %d, full_info %d", sizeofSubflowInfo, sizeofFullInfo)
	}
}

// infoBytes lays out a struct mptcp_info as 6.18 does.
func infoBytes() []byte {
	b := make([]byte, sizeofMPTCPInfo)
	ne := binary.NativeEndian
	copy(b, []byte{1, 2, 3, 4, 5, 6})
	ne.PutUint32(b[8:], infoFlagFallback|infoFlagRemoteKeyReceived)
	ne.PutUint32(b[12:], 0xabcdef01)
	ne.PutUint64(b[16:], 100)
	ne.PutUint64(b[24:], 200)
	ne.PutUint64(b[32:], 300)
	b[40], b[41], b[42] = 7, 8, 1
	ne.PutUint32(b[44:], 9)
	ne.PutUint64(b[48:], 10)
	ne.PutUint64(b[56:], 11)
	ne.PutUint64(b[64:], 12)
	ne.PutUint64(b[72:], 13)
	b[80], b[81], b[82] = 14, 15, 16
	ne.PutUint32(b[84:], 17)
	ne.PutUint32(b[88:], 18)
	ne.PutUint32(b[92:], 19)
	return b
}

func TestDecodeInfo(t *testing.T) {
	full := Info{
		Subflows: 1, AddAddrSignal: 2, AddAddrAccepted: 3, SubflowsMax: 4,
		AddAddrSignalMax: 5, AddAddrAcceptedMax: 6,
		Fallback: true, RemoteKeyReceived: true,
		Token: 0xabcdef01, WriteSeq: 100, SndUna: 200, RcvNxt: 300,
		LocalAddrUsed: 7, LocalAddrMax: 8, ChecksumEnabled: true,
		Retransmits: 9, BytesRetrans: 10, BytesSent: 11, BytesReceived: 12, BytesAcked: 13,
		SubflowsTotal: 14, EndpLaminarMax: 15, EndpFullmeshMax: 16,
		LastDataSent: 17 * time.Millisecond, LastDataRecv: 18 * time.Millisecond, LastAckRecv: 19 * time.Millisecond,
		Size: 96,
	}
	v61 := full // Linux 6.1 fills 48 bytes: nothing from retransmits on
	v61.Retransmits, v61.BytesRetrans, v61.BytesSent, v61.BytesReceived, v61.BytesAcked = 0, 0, 0, 0, 0
	v61.SubflowsTotal, v61.EndpLaminarMax, v61.EndpFullmeshMax = 0, 0, 0
	v61.LastDataSent, v61.LastDataRecv, v61.LastAckRecv = 0, 0, 0
	v61.Size = 48
	// 6.1's struct ends at byte 43, padded to 48; the kernel zeroes the
	// struct before filling it, so the padding reads as zero.
	b61 := infoBytes()[:48]
	clear(b61[43:])
	tests := []struct {
		name string
		b    []byte
		want Info
	}{
		{"6.18", infoBytes(), full},
		{"6.1", b61, v61},
		{"empty", nil, Info{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, decodeInfo(tt.b)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// sockaddr lays out a sockaddr_storage as the kernel does.
func sockaddr(ap netip.AddrPort) []byte {
	b := make([]byte, sizeofSockaddrStorage)
	binary.BigEndian.PutUint16(b[2:], ap.Port())
	if ap.Addr().Is4() {
		binary.NativeEndian.PutUint16(b, afInet)
		a := ap.Addr().As4()
		copy(b[4:], a[:])
	} else {
		binary.NativeEndian.PutUint16(b, afInet6)
		a := ap.Addr().As16()
		copy(b[8:], a[:])
	}
	return b
}

func TestDecodeSockaddr(t *testing.T) {
	ap := netip.MustParseAddrPort
	tests := []struct {
		name string
		b    []byte
		want netip.AddrPort
	}{
		{"ipv4", sockaddr(ap("192.0.2.1:443")), ap("192.0.2.1:443")},
		{"ipv6", sockaddr(ap("[2001:db8::1]:80")), ap("[2001:db8::1]:80")},
		{"v4-mapped is unmapped", sockaddr(ap("[::ffff:198.51.100.7]:8080")), ap("198.51.100.7:8080")},
		{"unknown family", make([]byte, sizeofSockaddrStorage), netip.AddrPort{}},
		{"short", sockaddr(ap("192.0.2.1:443"))[:20], netip.AddrPort{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := decodeSockaddr(tt.b); got != tt.want {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
	l, r := decodeSubflowAddrs(append(sockaddr(ap("192.0.2.1:1")), sockaddr(ap("198.51.100.1:2"))...))
	if l != ap("192.0.2.1:1") || r != ap("198.51.100.1:2") {
		t.Errorf("subflow addrs %v %v", l, r)
	}
}

func TestDecodeTCPInfo(t *testing.T) {
	ti := unix.TCPInfo{
		State: 1, Snd_mss: 1448, Unacked: 3, Lost: 4, Rtt: 1500, Rttvar: 250,
		Snd_cwnd: 10, Total_retrans: 5, Bytes_acked: 6, Bytes_received: 7,
		Min_rtt: 900, Delivery_rate: 8, Bytes_sent: 9, Bytes_retrans: 10,
		Notsent_bytes: 11,
	}
	b := unsafe.Slice((*byte)(unsafe.Pointer(&ti)), unsafe.Sizeof(ti))
	want := Subflow{
		State: 1, SndMSS: 1448, Unacked: 3, Lost: 4,
		RTT: 1500 * time.Microsecond, RTTVar: 250 * time.Microsecond, MinRTT: 900 * time.Microsecond,
		SndCwnd: 10, TotalRetrans: 5, BytesAcked: 6, BytesReceived: 7, DeliveryRate: 8,
		BytesSent: 9, BytesRetrans: 10, NotSent: 11,
	}
	if diff := cmp.Diff(want, decodeTCPInfo(b), cmpAddrs); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	// A kernel with a shorter tcp_info (stride 104: up to total_retrans)
	// leaves the later fields zero.
	short := decodeTCPInfo(b[:104])
	if short.TotalRetrans != 5 || short.BytesAcked != 0 || short.DeliveryRate != 0 {
		t.Errorf("short tcp_info: %+v", short)
	}
}

func FuzzDecodeSockopt(f *testing.F) {
	f.Add(infoBytes())
	f.Add(sockaddr(netip.MustParseAddrPort("[::ffff:192.0.2.1]:80")))
	f.Fuzz(func(t *testing.T, b []byte) {
		in := decodeInfo(b[:min(len(b), sizeofMPTCPInfo)])
		if in.Size != min(len(b), sizeofMPTCPInfo) {
			t.Errorf("size %d for %d bytes", in.Size, len(b))
		}
		decodeTCPInfo(b)
		decodeSubflowAddrs(b)
		if ap := decodeSockaddr(b); ap.IsValid() && ap.Addr().Is4In6() {
			t.Errorf("v4-mapped address left mapped: %v", ap)
		}
	})
}

func TestErrSentinels(t *testing.T) {
	if !errors.Is(ErrFallback, ErrNotMPTCP) {
		t.Error("ErrFallback does not match ErrNotMPTCP")
	}
	if errors.Is(ErrNotMPTCP, ErrFallback) {
		t.Error("ErrNotMPTCP matches ErrFallback")
	}
}

// BenchmarkReadSubflows reads a two-subflow connection, the proxy's
// per-connection sampling cost.
func BenchmarkReadSubflows(b *testing.B) {
	var p *pair
	netnstest.Run(b, func() error {
		if err := setupLo(false); err != nil {
			return err
		}
		c, err := Open()
		if err != nil {
			return err
		}
		defer c.Close()
		if err := c.AddEndpoint(Endpoint{Addr: addrB, Flags: FlagSubflow}); err != nil {
			return err
		}
		p, err = dialPair(true, true)
		return err
	})
	defer p.Close()
	rc := rawConn(b, p.client)
	waitSubflows(b, rc, 2)

	b.Run("AppendSubflows", func(b *testing.B) {
		b.ReportAllocs()
		var dst []Subflow
		for b.Loop() {
			var err error
			if dst, err = AppendSubflows(dst[:0], rc); err != nil || len(dst) != 2 {
				b.Fatal(len(dst), err)
			}
		}
	})
	b.Run("ReadSubflows", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := ReadSubflows(rc); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("split", func(b *testing.B) { // kernels before 6.5: three getsockopts
		b.ReportAllocs()
		for b.Loop() {
			s := getScratch()
			s.op = opSplit
			if err := s.run(rc); err != nil {
				b.Fatal(err)
			}
			s.dst = s.dst[:0]
			scratchPool.Put(s)
		}
	})
	b.Run("ReadInfo", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := ReadInfo(rc); err != nil {
				b.Fatal(err)
			}
		}
	})
}
