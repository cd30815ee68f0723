// Package pm owns the kernel interface of MPTCP: the path manager over
// generic netlink (family mptcp_pm) and the SOL_MPTCP socket options.
//
// Path manager. A Client sends commands: for the in-kernel path manager,
// the namespace-wide limits and endpoints (what ip-mptcp(8) does); for the
// userspace path manager, per-connection announcements, subflow creation
// and removal and the backup bit (MP_PRIO, RFC 8684 §3.3.8). Events, on its
// own connection, delivers the mptcp_pm_events notifications that the
// userspace path manager needs to know connections and subflows. Both are
// bound to the network namespace of the thread that opens them.
//
// Socket options. ReadInfo reads struct mptcp_info of a connection;
// ReadSubflows / AppendSubflows read each subflow's addresses and tcp_info
// in one MPTCP_FULL_INFO call. A socket that is not MPTCP, or that fell
// back to TCP, fails with ErrNotMPTCP / ErrFallback.
//
// The command, attribute, flag and struct layout numbers live in uapi.go,
// taken from the 6.18 uapi headers; Debian 12's header is 6.1 and too old.
//
// This package imports only golang.org/x/sys and the netlink libraries
// (mdlayher/genetlink, mdlayher/netlink), and no package of this project:
// it translates the kernel's interface and decides nothing.
package pm
