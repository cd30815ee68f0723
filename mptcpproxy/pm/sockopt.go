//go:build linux

package pm

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"runtime"
	"slices"
	"sync"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// notMPTCPError is a sentinel that may wrap a broader one.
type notMPTCPError struct {
	msg    string
	parent error
}

func (e *notMPTCPError) Error() string { return e.msg }
func (e *notMPTCPError) Unwrap() error { return e.parent }

var (
	// ErrNotMPTCP: the socket has no MPTCP state to read. It is a plain TCP
	// socket, or an MPTCP socket whose connection fell back to TCP
	// (ErrFallback, which matches ErrNotMPTCP in errors.Is).
	ErrNotMPTCP error = &notMPTCPError{msg: "not an MPTCP connection"}
	// ErrFallback: the socket was opened as MPTCP but its connection fell
	// back to plain TCP (RFC 8684 §3.7): the peer or a middlebox did not
	// take MP_CAPABLE, or SYN data was not acked. One path only.
	ErrFallback error = &notMPTCPError{msg: "MPTCP connection fell back to TCP", parent: ErrNotMPTCP}
)

// Info is struct mptcp_info: the connection-level MPTCP state of a socket.
// Fields the running kernel does not fill are zero; Size says how much it
// filled (96 bytes on 6.18; 48 on 6.1, which lacks the byte counters and
// everything after them).
type Info struct {
	// Subflows counts the subflows beyond the initial one
	// (mptcpi_subflows); SubflowsTotal counts all of them, the initial one
	// included while it lives (6.5+).
	Subflows      uint8
	SubflowsTotal uint8

	// Path manager counters and limits as the in-kernel PM sees them.
	AddAddrSignal      uint8 // ADD_ADDR sent
	AddAddrAccepted    uint8 // ADD_ADDR from the peer acted on
	SubflowsMax        uint8 // limit of extra subflows
	AddAddrSignalMax   uint8 // Signal endpoints
	AddAddrAcceptedMax uint8 // limit of accepted ADD_ADDR
	LocalAddrUsed      uint8 // local endpoints in use
	LocalAddrMax       uint8 // Subflow endpoints
	EndpLaminarMax     uint8 // Laminar endpoints (6.18)
	EndpFullmeshMax    uint8 // Fullmesh endpoints (6.18)

	// Fallback is MPTCP_INFO_FLAG_FALLBACK. Through getsockopt it stays
	// false: a fallback socket refuses SOL_MPTCP (ErrFallback); only
	// sock_diag sees the flag set. RemoteKeyReceived is
	// MPTCP_INFO_FLAG_REMOTE_KEY_RECEIVED (the peer's key arrived: the
	// MP_CAPABLE handshake completed).
	Fallback          bool
	RemoteKeyReceived bool
	ChecksumEnabled   bool

	// Token is the local connection token (RFC 8684 §3.2), the key of the
	// userspace PM commands and of events.
	Token uint32

	// Data-level sequence numbers (64-bit DSN space).
	WriteSeq uint64
	SndUna   uint64
	RcvNxt   uint64

	// Data-level counters (6.5+): MPTCP-level retransmissions and bytes.
	Retransmits   uint32
	BytesRetrans  uint64
	BytesSent     uint64
	BytesReceived uint64
	BytesAcked    uint64

	// Time since the last data sent, data received and ack received on any
	// subflow (6.10+), millisecond resolution.
	LastDataSent time.Duration
	LastDataRecv time.Duration
	LastAckRecv  time.Duration

	// Size is the number of bytes of struct mptcp_info the kernel wrote.
	Size int
}

// Subflow is one subflow of an MPTCP connection: its addresses and the
// fields of its tcp_info that steering uses.
type Subflow struct {
	// ID is the kernel's subflow id (MPTCP_FULL_INFO only, 1 for the
	// initial subflow); 0 when the kernel cannot report it.
	ID uint32
	// Local and Remote are the subflow's ends, v4-mapped addresses
	// unmapped.
	Local  netip.AddrPort
	Remote netip.AddrPort
	// State is tcpi_state, a TCP_* value (1 is ESTABLISHED).
	State uint8
	// RTT and RTTVar are the smoothed RTT and its variation; meaningful on
	// the side that sends data. MinRTT is the lowest RTT seen.
	RTT    time.Duration
	RTTVar time.Duration
	MinRTT time.Duration
	// SndCwnd is the congestion window in segments, SndMSS the segment size.
	SndCwnd uint32
	SndMSS  uint32
	// Unacked and Lost are segments in flight and segments judged lost.
	Unacked uint32
	Lost    uint32
	// TotalRetrans counts retransmitted segments over the subflow's life.
	TotalRetrans uint32
	// Bytes counters of the subflow (RFC 4898 tcpEStatsAppHCThruOctets*).
	BytesSent     uint64
	BytesAcked    uint64
	BytesReceived uint64
	BytesRetrans  uint64
	// DeliveryRate is the most recent delivery rate sample, bytes per second.
	DeliveryRate uint64
	// NotSent is what the subflow holds that it has not sent yet
	// (tcpi_notsent_bytes): data MPTCP gave it beyond what its congestion
	// window lets out. It stays high while the path limits the sender and
	// near 0 while the application does not fill it.
	NotSent uint32
}

// ReadInfo reads MPTCP_INFO from the socket behind rc (from
// (*net.TCPConn).SyscallConn, or any MPTCP socket). It fails with
// ErrFallback or ErrNotMPTCP (matched by errors.Is) when the socket has no
// MPTCP state. Safe for concurrent use.
func ReadInfo(rc syscall.RawConn) (Info, error) {
	s := getScratch()
	defer scratchPool.Put(s)
	s.op = opInfo
	if err := s.run(rc); err != nil {
		return Info{}, err
	}
	return s.info, nil
}

// ReadSubflows returns the subflows of the MPTCP socket behind rc. See
// AppendSubflows.
func ReadSubflows(rc syscall.RawConn) ([]Subflow, error) {
	return AppendSubflows(nil, rc)
}

// AppendSubflows appends the subflows of the MPTCP socket behind rc to dst
// and returns the extended slice; with a dst of enough capacity it does not
// allocate. The subflows come from one snapshot (MPTCP_FULL_INFO, one
// getsockopt) in the kernel's list order, the initial subflow first while
// it lives. On kernels before 6.5 it zips MPTCP_SUBFLOW_ADDRS with
// MPTCP_TCPINFO, retrying if the subflow count changes between the two.
// Errors are as for ReadInfo. Safe for concurrent use.
func AppendSubflows(dst []Subflow, rc syscall.RawConn) ([]Subflow, error) {
	_, dst, err := AppendSnapshot(dst, rc)
	return dst, err
}

// AppendSnapshot is AppendSubflows that also returns the connection's Info
// from the same snapshot (on kernels before 6.5, from a separate read).
func AppendSnapshot(dst []Subflow, rc syscall.RawConn) (Info, []Subflow, error) {
	s := getScratch()
	defer scratchPool.Put(s)
	s.op = opFull
	s.dst = dst
	err := s.run(rc)
	out := s.dst
	s.dst = nil
	if err != nil {
		return Info{}, dst, err
	}
	return s.info, out, nil
}

// What a scratch runs inside rc.Control.
const (
	opInfo  = iota // MPTCP_INFO
	opFull         // MPTCP_FULL_INFO, or the split fallback
	opSplit        // MPTCP_SUBFLOW_ADDRS + MPTCP_TCPINFO (tests force it)
)

// scratch holds the buffers of one reading. Scratches are pooled, so a
// steady caller allocates nothing: the buffers keep the size of the largest
// connection read, and control is bound once (a method value passed to
// rc.Control would escape and allocate on every call).
type scratch struct {
	op  int
	dst []Subflow

	// Results.
	info Info
	err  error

	full    [sizeofFullInfo]byte
	infoBuf [sizeofMPTCPInfo]byte
	sfinfo  []byte // n × struct mptcp_subflow_info
	tcpinfo []byte // n × tcp_info; also the split path's MPTCP_TCPINFO buffer
	addrs   []byte // split path: header + n × struct mptcp_subflow_addrs
	n       int    // capacity in subflows of the arrays
	optlen  uint32
	pin     runtime.Pinner
	control func(fd uintptr)
}

var scratchPool = sync.Pool{New: func() any {
	s := new(scratch)
	s.control = s.do
	s.grow(4)
	return s
}}

func getScratch() *scratch {
	s := scratchPool.Get().(*scratch)
	s.info, s.err = Info{}, nil
	return s
}

// grow sizes the arrays for n subflows.
func (s *scratch) grow(n int) {
	s.n = n
	s.sfinfo = make([]byte, n*sizeofSubflowInfo)
	s.tcpinfo = make([]byte, sizeofSubflowData+n*unix.SizeofTCPInfo)
	s.addrs = make([]byte, sizeofSubflowData+n*sizeofSubflowAddrs)
}

// run executes s.op on the socket and classifies errors.
func (s *scratch) run(rc syscall.RawConn) error {
	if err := rc.Control(s.control); err != nil {
		return fmt.Errorf("mptcp sockopt: %w", err)
	}
	return s.err
}

// do runs inside rc.Control, with the descriptor held open.
func (s *scratch) do(fd uintptr) {
	switch s.op {
	case opInfo:
		s.err = s.readInfo(fd)
	case opFull:
		err := s.readFull(fd)
		if errors.Is(err, errNoFullInfo) {
			err = s.readSplit(fd)
		}
		s.err = err
	case opSplit:
		s.err = s.readSplit(fd)
	}
}

// errNoFullInfo: the kernel predates MPTCP_FULL_INFO (6.5) on an MPTCP
// socket; the split path applies.
var errNoFullInfo = errors.New("MPTCP_FULL_INFO not supported")

// maxAttempts bounds the retries when the subflow count outgrows the
// buffers between two calls (a connection has at most 8 extra subflows
// under the in-kernel PM, more under a userspace PM).
const maxAttempts = 4

func (s *scratch) readInfo(fd uintptr) error {
	s.optlen = uint32(len(s.infoBuf))
	if errno := getsockopt(fd, optInfo, unsafe.Pointer(&s.infoBuf[0]), &s.optlen); errno != 0 {
		return classify(fd, "MPTCP_INFO", errno)
	}
	s.info = decodeInfo(s.infoBuf[:min(int(s.optlen), len(s.infoBuf))])
	return nil
}

func (s *scratch) readFull(fd uintptr) error {
	ne := binary.NativeEndian
	for range maxAttempts {
		// The kernel writes through the two pointers in the header, which
		// the Go runtime cannot see: pin the arrays for the call.
		s.pin.Pin(&s.sfinfo[0])
		s.pin.Pin(&s.tcpinfo[0])
		clear(s.full[:])
		ne.PutUint32(s.full[4:], unix.SizeofTCPInfo) // size_tcpinfo_user
		ne.PutUint32(s.full[12:], sizeofSubflowInfo) // size_sfinfo_user
		ne.PutUint32(s.full[20:], uint32(s.n))       // size_arrays_user
		ne.PutUint64(s.full[24:], addr(s.sfinfo))    // subflow_info
		ne.PutUint64(s.full[32:], addr(s.tcpinfo))   // tcp_info
		s.optlen = sizeofFullInfo
		errno := getsockopt(fd, optFullInfo, unsafe.Pointer(&s.full[0]), &s.optlen)
		s.pin.Unpin()
		if errno != 0 {
			if errno == unix.EOPNOTSUPP && isMPTCPSocket(fd) && s.infoWorks(fd) {
				return errNoFullInfo
			}
			return classify(fd, "MPTCP_FULL_INFO", errno)
		}
		num := int(ne.Uint32(s.full[16:]))
		if num > s.n {
			s.grow(num + 2)
			continue
		}
		tcpStride := int(ne.Uint32(s.full[4:]))
		sfStride := int(ne.Uint32(s.full[12:]))
		if tcpStride > unix.SizeofTCPInfo || sfStride > sizeofSubflowInfo {
			return fmt.Errorf("MPTCP_FULL_INFO: kernel strides %d/%d exceed the buffers", tcpStride, sfStride)
		}
		if n := int(s.optlen) - sizeofFullInfoHeader; n > 0 {
			s.info = decodeInfo(s.full[sizeofFullInfoHeader : sizeofFullInfoHeader+min(n, sizeofMPTCPInfo)])
		}
		s.dst = slices.Grow(s.dst, num)
		for i := range num {
			sf := decodeTCPInfo(s.tcpinfo[i*tcpStride : (i+1)*tcpStride])
			b := s.sfinfo[i*sfStride : (i+1)*sfStride]
			if len(b) >= 4 {
				sf.ID = ne.Uint32(b)
			}
			if len(b) >= sizeofSubflowInfo {
				sf.Local, sf.Remote = decodeSubflowAddrs(b[subflowInfoAddrsOff:])
			}
			s.dst = append(s.dst, sf)
		}
		return nil
	}
	return fmt.Errorf("MPTCP_FULL_INFO: subflow count still growing after %d attempts", maxAttempts)
}

// infoWorks tells a kernel without MPTCP_FULL_INFO from a fallback socket,
// which refuses every SOL_MPTCP option.
func (s *scratch) infoWorks(fd uintptr) bool {
	s.optlen = uint32(len(s.infoBuf))
	return getsockopt(fd, optInfo, unsafe.Pointer(&s.infoBuf[0]), &s.optlen) == 0
}

// readSplit zips MPTCP_SUBFLOW_ADDRS with MPTCP_TCPINFO (kernels before
// 6.5). The kernel walks the same list for both, so the orders agree unless
// a subflow came or went in between, which a changed count reveals.
func (s *scratch) readSplit(fd uintptr) error {
	if err := s.readInfo(fd); err != nil {
		return err
	}
	for range maxAttempts {
		na, addrStride, errno := s.subflowData(fd, optSubflowAddrs, s.addrs, sizeofSubflowAddrs)
		if errno != 0 {
			return classify(fd, "MPTCP_SUBFLOW_ADDRS", errno)
		}
		nt, tcpStride, errno := s.subflowData(fd, optTCPInfo, s.tcpinfo, unix.SizeofTCPInfo)
		if errno != 0 {
			return classify(fd, "MPTCP_TCPINFO", errno)
		}
		if na > s.n || nt > s.n {
			s.grow(max(na, nt) + 2)
			continue
		}
		if na != nt {
			continue
		}
		s.dst = slices.Grow(s.dst, na)
		for i := range na {
			off := sizeofSubflowData
			sf := decodeTCPInfo(s.tcpinfo[off+i*tcpStride : off+(i+1)*tcpStride])
			if addrStride >= sizeofSubflowAddrs {
				sf.Local, sf.Remote = decodeSubflowAddrs(s.addrs[off+i*addrStride:])
			}
			s.dst = append(s.dst, sf)
		}
		return nil
	}
	return fmt.Errorf("MPTCP_SUBFLOW_ADDRS: subflows kept changing after %d attempts", maxAttempts)
}

// subflowData runs one getsockopt that answers with struct
// mptcp_subflow_data and an array of elem-sized elements. It returns the
// kernel's subflow count (all of them, also those that did not fit) and the
// stride it used (elem clamped to the kernel's element size).
func (s *scratch) subflowData(fd uintptr, opt int, buf []byte, elem int) (n, stride int, errno syscall.Errno) {
	ne := binary.NativeEndian
	clear(buf[:sizeofSubflowData])
	ne.PutUint32(buf[0:], sizeofSubflowData) // size_subflow_data
	ne.PutUint32(buf[12:], uint32(elem))     // size_user
	s.optlen = uint32(sizeofSubflowData + s.n*elem)
	if errno := getsockopt(fd, opt, unsafe.Pointer(&buf[0]), &s.optlen); errno != 0 {
		return 0, 0, errno
	}
	return int(ne.Uint32(buf[4:])), int(ne.Uint32(buf[12:])), 0
}

// getsockopt is getsockopt(2) at level SOL_MPTCP into a caller buffer; x/sys
// has no byte-buffer variant that does not allocate.
func getsockopt(fd uintptr, opt int, buf unsafe.Pointer, optlen *uint32) syscall.Errno {
	_, _, errno := unix.Syscall6(unix.SYS_GETSOCKOPT, fd, unix.SOL_MPTCP, uintptr(opt),
		uintptr(buf), uintptr(unsafe.Pointer(optlen)), 0)
	return errno
}

// classify turns a SOL_MPTCP getsockopt failure into ErrFallback or
// ErrNotMPTCP where it means that, keeping the errno matchable too.
//
// Measured on 6.18: a fallback socket and a plain TCP socket both answer
// EOPNOTSUPP (the kernel hands a fallback socket's options to TCP, which
// knows no SOL_MPTCP); older kernels said ENOPROTOOPT. SO_PROTOCOL tells
// them apart: it stays IPPROTO_MPTCP after a fallback.
func classify(fd uintptr, opt string, errno syscall.Errno) error {
	if errno == unix.EOPNOTSUPP || errno == unix.ENOPROTOOPT {
		sentinel := ErrNotMPTCP
		if isMPTCPSocket(fd) {
			sentinel = ErrFallback
		}
		return fmt.Errorf("getsockopt %s: %w (%w)", opt, sentinel, errno)
	}
	return fmt.Errorf("getsockopt %s: %w", opt, errno)
}

func isMPTCPSocket(fd uintptr) bool {
	p, err := unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_PROTOCOL)
	return err == nil && p == unix.IPPROTO_MPTCP
}

func addr(b []byte) uint64 { return uint64(uintptr(unsafe.Pointer(&b[0]))) }

// decodeInfo reads struct mptcp_info; b is what the kernel wrote, so a
// field is present only if b covers it (see the layout in uapi.go).
func decodeInfo(b []byte) Info {
	ne := binary.NativeEndian
	in := Info{Size: len(b)}
	u8 := func(off int) uint8 {
		if off < len(b) {
			return b[off]
		}
		return 0
	}
	u32 := func(off int) uint32 {
		if off+4 <= len(b) {
			return ne.Uint32(b[off:])
		}
		return 0
	}
	u64 := func(off int) uint64 {
		if off+8 <= len(b) {
			return ne.Uint64(b[off:])
		}
		return 0
	}
	in.Subflows = u8(0)
	in.AddAddrSignal = u8(1)
	in.AddAddrAccepted = u8(2)
	in.SubflowsMax = u8(3)
	in.AddAddrSignalMax = u8(4)
	in.AddAddrAcceptedMax = u8(5)
	flags := u32(8)
	in.Fallback = flags&infoFlagFallback != 0
	in.RemoteKeyReceived = flags&infoFlagRemoteKeyReceived != 0
	in.Token = u32(12)
	in.WriteSeq = u64(16)
	in.SndUna = u64(24)
	in.RcvNxt = u64(32)
	in.LocalAddrUsed = u8(40)
	in.LocalAddrMax = u8(41)
	in.ChecksumEnabled = u8(42) != 0
	in.Retransmits = u32(44)
	in.BytesRetrans = u64(48)
	in.BytesSent = u64(56)
	in.BytesReceived = u64(64)
	in.BytesAcked = u64(72)
	in.SubflowsTotal = u8(80)
	in.EndpLaminarMax = u8(81)
	in.EndpFullmeshMax = u8(82)
	in.LastDataSent = time.Duration(u32(84)) * time.Millisecond
	in.LastDataRecv = time.Duration(u32(88)) * time.Millisecond
	in.LastAckRecv = time.Duration(u32(92)) * time.Millisecond
	return in
}

// tcp_info field offsets, from x/sys's unix.TCPInfo (whose layout is the
// kernel's struct tcp_info through 6.18's AccECN counters).
var (
	tiState         = unsafe.Offsetof(unix.TCPInfo{}.State)
	tiSndMSS        = unsafe.Offsetof(unix.TCPInfo{}.Snd_mss)
	tiUnacked       = unsafe.Offsetof(unix.TCPInfo{}.Unacked)
	tiLost          = unsafe.Offsetof(unix.TCPInfo{}.Lost)
	tiRTT           = unsafe.Offsetof(unix.TCPInfo{}.Rtt)
	tiRTTVar        = unsafe.Offsetof(unix.TCPInfo{}.Rttvar)
	tiSndCwnd       = unsafe.Offsetof(unix.TCPInfo{}.Snd_cwnd)
	tiTotalRetrans  = unsafe.Offsetof(unix.TCPInfo{}.Total_retrans)
	tiBytesAcked    = unsafe.Offsetof(unix.TCPInfo{}.Bytes_acked)
	tiBytesReceived = unsafe.Offsetof(unix.TCPInfo{}.Bytes_received)
	tiMinRTT        = unsafe.Offsetof(unix.TCPInfo{}.Min_rtt)
	tiDeliveryRate  = unsafe.Offsetof(unix.TCPInfo{}.Delivery_rate)
	tiBytesSent     = unsafe.Offsetof(unix.TCPInfo{}.Bytes_sent)
	tiBytesRetrans  = unsafe.Offsetof(unix.TCPInfo{}.Bytes_retrans)
	tiNotSent       = unsafe.Offsetof(unix.TCPInfo{}.Notsent_bytes)
)

// decodeTCPInfo reads the fields of Subflow from one tcp_info element as
// wide as the kernel wrote it; fields past its end stay zero.
func decodeTCPInfo(b []byte) Subflow {
	ne := binary.NativeEndian
	u32 := func(off uintptr) uint32 {
		if int(off)+4 <= len(b) {
			return ne.Uint32(b[off:])
		}
		return 0
	}
	u64 := func(off uintptr) uint64 {
		if int(off)+8 <= len(b) {
			return ne.Uint64(b[off:])
		}
		return 0
	}
	var sf Subflow
	if len(b) > int(tiState) {
		sf.State = b[tiState]
	}
	sf.SndMSS = u32(tiSndMSS)
	sf.Unacked = u32(tiUnacked)
	sf.Lost = u32(tiLost)
	sf.RTT = time.Duration(u32(tiRTT)) * time.Microsecond
	sf.RTTVar = time.Duration(u32(tiRTTVar)) * time.Microsecond
	sf.MinRTT = time.Duration(u32(tiMinRTT)) * time.Microsecond
	sf.SndCwnd = u32(tiSndCwnd)
	sf.TotalRetrans = u32(tiTotalRetrans)
	sf.BytesAcked = u64(tiBytesAcked)
	sf.BytesReceived = u64(tiBytesReceived)
	sf.BytesSent = u64(tiBytesSent)
	sf.BytesRetrans = u64(tiBytesRetrans)
	sf.DeliveryRate = u64(tiDeliveryRate)
	sf.NotSent = u32(tiNotSent)
	return sf
}

// decodeSubflowAddrs reads struct mptcp_subflow_addrs: two 128-byte
// sockaddr_storage unions, local then remote.
func decodeSubflowAddrs(b []byte) (local, remote netip.AddrPort) {
	if len(b) < sizeofSubflowAddrs {
		return
	}
	return decodeSockaddr(b[:sizeofSockaddrStorage]), decodeSockaddr(b[sizeofSockaddrStorage:sizeofSubflowAddrs])
}

// decodeSockaddr reads a sockaddr_in or sockaddr_in6 (family in host order,
// port in network order) and unmaps v4-mapped addresses. Other families
// give the zero AddrPort.
func decodeSockaddr(b []byte) netip.AddrPort {
	if len(b) < 28 {
		return netip.AddrPort{}
	}
	port := binary.BigEndian.Uint16(b[2:])
	switch binary.NativeEndian.Uint16(b) {
	case afInet:
		return netip.AddrPortFrom(netip.AddrFrom4([4]byte(b[4:8])), port)
	case afInet6:
		return netip.AddrPortFrom(netip.AddrFrom16([16]byte(b[8:24])).Unmap(), port)
	}
	return netip.AddrPort{}
}
