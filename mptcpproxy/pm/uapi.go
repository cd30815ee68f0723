package pm

import "strconv"

// The kernel's MPTCP interface numbers, defined once here.
//
// Sources (Linux uapi, mainline as of 6.18):
//   - include/uapi/linux/mptcp_pm.h (generated from
//     Documentation/netlink/specs/mptcp_pm.yaml): family name, commands,
//     attributes, event types.
//   - include/uapi/linux/mptcp.h: endpoint and event flags, struct
//     mptcp_info, struct mptcp_subflow_data, struct mptcp_subflow_addrs,
//     struct mptcp_full_info, socket option names.
//
// Debian 12's /usr/include/linux/mptcp.h is the 6.1 one: it lacks
// MPTCP_FULL_INFO, the LISTENER_* events, the laminar flag and the tail of
// struct mptcp_info. The numbers below are append-only in the kernel, so
// values from a newer header stay valid on older kernels that know them.

// Generic netlink family (mptcp_pm.h MPTCP_PM_NAME, MPTCP_PM_VER; mptcp.h
// MPTCP_PM_CMD_GRP_NAME, MPTCP_PM_EV_GRP_NAME).
const (
	familyName  = "mptcp_pm"
	familyVer   = 1
	eventsGroup = "mptcp_pm_events"
)

// command is a MPTCP_PM_CMD_* value (mptcp_pm.h, enum without a name).
type command uint8

const (
	cmdAddAddr        command = 1  // MPTCP_PM_CMD_ADD_ADDR: add an endpoint (in-kernel PM)
	cmdDelAddr        command = 2  // MPTCP_PM_CMD_DEL_ADDR
	cmdGetAddr        command = 3  // MPTCP_PM_CMD_GET_ADDR (do by id, or dump)
	cmdFlushAddrs     command = 4  // MPTCP_PM_CMD_FLUSH_ADDRS
	cmdSetLimits      command = 5  // MPTCP_PM_CMD_SET_LIMITS
	cmdGetLimits      command = 6  // MPTCP_PM_CMD_GET_LIMITS
	cmdSetFlags       command = 7  // MPTCP_PM_CMD_SET_FLAGS: endpoint, or per connection with a token
	cmdAnnounce       command = 8  // MPTCP_PM_CMD_ANNOUNCE (userspace PM)
	cmdRemove         command = 9  // MPTCP_PM_CMD_REMOVE (userspace PM)
	cmdSubflowCreate  command = 10 // MPTCP_PM_CMD_SUBFLOW_CREATE (userspace PM)
	cmdSubflowDestroy command = 11 // MPTCP_PM_CMD_SUBFLOW_DESTROY (userspace PM)
)

// String returns the command's name as the kernel spells it, lower case;
// it prefixes every error of this package.
func (c command) String() string {
	switch c {
	case cmdAddAddr:
		return "add_addr"
	case cmdDelAddr:
		return "del_addr"
	case cmdGetAddr:
		return "get_addr"
	case cmdFlushAddrs:
		return "flush_addrs"
	case cmdSetLimits:
		return "set_limits"
	case cmdGetLimits:
		return "get_limits"
	case cmdSetFlags:
		return "set_flags"
	case cmdAnnounce:
		return "announce"
	case cmdRemove:
		return "remove"
	case cmdSubflowCreate:
		return "subflow_create"
	case cmdSubflowDestroy:
		return "subflow_destroy"
	}
	return "cmd_" + strconv.Itoa(int(c))
}

// Top-level command attributes, MPTCP_PM_ATTR_* (mptcp_pm.h). The in-kernel
// PM calls attribute 1 MPTCP_PM_ENDPOINT_ADDR; it is the same number.
const (
	attrAddr        uint16 = 1 // MPTCP_PM_ATTR_ADDR: nested address (attrAddr*)
	attrRcvAddAddrs uint16 = 2 // MPTCP_PM_ATTR_RCV_ADD_ADDRS: u32
	attrSubflows    uint16 = 3 // MPTCP_PM_ATTR_SUBFLOWS: u32
	attrToken       uint16 = 4 // MPTCP_PM_ATTR_TOKEN: u32
	attrLocID       uint16 = 5 // MPTCP_PM_ATTR_LOC_ID: u8
	attrAddrRemote  uint16 = 6 // MPTCP_PM_ATTR_ADDR_REMOTE: nested address
)

// Nested address attributes, MPTCP_PM_ADDR_ATTR_* (mptcp_pm.h). Unlike the
// event attributes, the port here is in host byte order (the kernel fills
// it with nla_put_u16(ntohs(port))); the IPv4 address is network order.
const (
	addrAttrFamily  uint16 = 1 // u16: AF_INET or AF_INET6
	addrAttrID      uint16 = 2 // u8
	addrAttrAddr4   uint16 = 3 // struct in_addr (4 bytes, network order)
	addrAttrAddr6   uint16 = 4 // struct in6_addr (16 bytes)
	addrAttrPort    uint16 = 5 // u16, host order
	addrAttrFlags   uint16 = 6 // u32: MPTCP_PM_ADDR_FLAG_*
	addrAttrIfIndex uint16 = 7 // s32
)

// Event attributes, MPTCP_ATTR_* (mptcp_pm.h enum mptcp_event_attr). Ports
// here are big endian (nla_put_be16), addresses network order.
const (
	evAttrToken       uint16 = 1  // u32
	evAttrFamily      uint16 = 2  // u16
	evAttrLocID       uint16 = 3  // u8
	evAttrRemID       uint16 = 4  // u8
	evAttrSaddr4      uint16 = 5  // be32
	evAttrSaddr6      uint16 = 6  // struct in6_addr
	evAttrDaddr4      uint16 = 7  // be32
	evAttrDaddr6      uint16 = 8  // struct in6_addr
	evAttrSport       uint16 = 9  // be16
	evAttrDport       uint16 = 10 // be16
	evAttrBackup      uint16 = 11 // u8
	evAttrError       uint16 = 12 // u8
	evAttrFlags       uint16 = 13 // u16: MPTCP_PM_EV_FLAG_*
	evAttrTimeout     uint16 = 14 // u32
	evAttrIfIndex     uint16 = 15 // s32
	evAttrResetReason uint16 = 16 // u32
	evAttrResetFlags  uint16 = 17 // u32
	evAttrServerSide  uint16 = 18 // u8 (kept by 6.18, superseded by evFlagServerSide)
)

// Event flags, MPTCP_PM_EV_FLAG_* (mptcp.h).
const (
	evFlagDenyJoinID0 = 1 << 0
	evFlagServerSide  = 1 << 1
)

// Address families as the kernel encodes them in netlink attributes and
// sockaddrs (linux/socket.h). Spelled out so that the decoders build on
// every GOOS and fuzz anywhere.
const (
	afInet  = 2
	afInet6 = 10
)

// Socket options at level SOL_MPTCP (mptcp.h).
const (
	optInfo         = 1 // MPTCP_INFO: struct mptcp_info
	optTCPInfo      = 2 // MPTCP_TCPINFO: mptcp_subflow_data + tcp_info[]
	optSubflowAddrs = 3 // MPTCP_SUBFLOW_ADDRS: mptcp_subflow_data + mptcp_subflow_addrs[]
	optFullInfo     = 4 // MPTCP_FULL_INFO (6.5+): struct mptcp_full_info
)

// MPTCP_INFO_FLAG_* (mptcp.h), in mptcp_info.mptcpi_flags.
const (
	infoFlagFallback          = 1 << 0
	infoFlagRemoteKeyReceived = 1 << 1
)

// Layout of struct mptcp_info on 6.18 (mptcp.h), 96 bytes:
//
//	off size field
//	  0  1   subflows (extra subflows, the initial one not counted)
//	  1  1   add_addr_signal
//	  2  1   add_addr_accepted
//	  3  1   subflows_max (limit_extra_subflows)
//	  4  1   add_addr_signal_max (endp_signal_max)
//	  5  1   add_addr_accepted_max (limit_add_addr_accepted)
//	  6  2   hole
//	  8  4   flags
//	 12  4   token
//	 16  8   write_seq
//	 24  8   snd_una
//	 32  8   rcv_nxt
//	 40  1   local_addr_used
//	 41  1   local_addr_max (endp_subflow_max)
//	 42  1   csum_enabled
//	 43  1   hole
//	 44  4   retransmits            (6.5+)
//	 48  8   bytes_retrans          (6.5+)
//	 56  8   bytes_sent             (6.5+)
//	 64  8   bytes_received         (6.5+)
//	 72  8   bytes_acked            (6.5+)
//	 80  1   subflows_total         (6.5+)
//	 81  1   endp_laminar_max       (6.18)
//	 82  1   endp_fullmesh_max      (6.18)
//	 83  1   reserved
//	 84  4   last_data_sent (ms)    (6.10+)
//	 88  4   last_data_recv (ms)    (6.10+)
//	 92  4   last_ack_recv (ms)     (6.10+)
//
// The kernel copies min(optlen, sizeof) and reports the length it wrote, so
// fields past that length are absent (older kernel), not zero.
const sizeofMPTCPInfo = 96

// struct mptcp_subflow_data (mptcp.h), the 16-byte header in front of the
// arrays returned by MPTCP_TCPINFO and MPTCP_SUBFLOW_ADDRS. The user sets
// size_subflow_data and size_user; the kernel sets num_subflows (all of
// them, even those that did not fit) and size_kernel, and writes back
// size_user clamped to size_kernel.
const sizeofSubflowData = 16

// struct mptcp_subflow_addrs is two unions each as wide as
// __kernel_sockaddr_storage (128 bytes): local, then remote.
const (
	sizeofSockaddrStorage = 128
	sizeofSubflowAddrs    = 2 * sizeofSockaddrStorage
)

// struct mptcp_subflow_info (6.5+): u32 id, then (after 4 bytes of padding
// to align the sockaddr_storage unions to 8) struct mptcp_subflow_addrs.
const (
	sizeofSubflowInfo   = 8 + sizeofSubflowAddrs
	subflowInfoAddrsOff = 8
)

// struct mptcp_full_info (6.5+): a 40-byte header followed by struct
// mptcp_info. The two arrays live in user memory pointed to by the header.
//
//	off field
//	  0 size_tcpinfo_kernel (kernel writes)
//	  4 size_tcpinfo_user   (user writes; kernel clamps)
//	  8 size_sfinfo_kernel  (kernel writes)
//	 12 size_sfinfo_user    (user writes; kernel clamps)
//	 16 num_subflows        (kernel writes: all subflows)
//	 20 size_arrays_user    (user writes: capacity of both arrays)
//	 24 subflow_info        (u64 user pointer)
//	 32 tcp_info            (u64 user pointer)
//	 40 struct mptcp_info
const (
	sizeofFullInfoHeader = 40
	sizeofFullInfo       = sizeofFullInfoHeader + sizeofMPTCPInfo
)
