package main

import (
	"fmt"
	"io"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/durationpb"

	atsssv1 "github.com/openatsss/atsss/api/atsss/v1"
)

func (a *app) sessionsCommand() *cobra.Command {
	return groupCommand("sessions", "List, show and watch multi-access PDU sessions",
		a.sessionsListCommand(), a.sessionsGetCommand(), a.sessionsWatchCommand())
}

func (a *app) sessionsListCommand() *cobra.Command {
	var (
		peer, ueAddress, mode string
		pageSize              int32
	)
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List sessions, ordered by SEID",
		Long: `List sessions, ordered by SEID, fetching every page. The filters combine
with AND. The table has one row per access of a session: its SEID, SMF peer,
UE addresses, then its MARs with the downlink steering in force and where it
comes from ("smf" for the SMF's MAR, "policy <id>" for an operator policy),
and each access's availability, RTT, loss and byte counters.

--mode takes a steering mode by full or short name, in any case and with
"-" for "_": ` + strings.Join(enumNames(atsssv1.SteeringModeValue(0).Descriptor()), ", ") + `
(e.g. load-balancing or STEERING_MODE_VALUE_LOAD_BALANCING).`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			req := &atsssv1.ListSessionsRequest{PageSize: pageSize, Peer: peer}
			if ueAddress != "" {
				ip, err := netip.ParseAddr(ueAddress)
				if err != nil {
					return usageError{fmt.Errorf("--ue-address: %w", err)}
				}
				req.UeAddress = ip.String()
			}
			if mode != "" {
				v, err := parseEnum(atsssv1.SteeringModeValue(0).Descriptor(), mode)
				if err != nil {
					return usageError{fmt.Errorf("--mode: %w", err)}
				}
				req.SteeringMode = atsssv1.SteeringModeValue(v)
			}
			conn, ctx, cancel, err := a.call(cmd.Context())
			if err != nil {
				return err
			}
			defer cancel()
			c := atsssv1.NewSessionServiceClient(conn)
			sessions, err := fetchAll("list sessions", req.PageToken, func(token string) ([]*atsssv1.Session, string, error) {
				req.PageToken = token
				resp, err := c.ListSessions(ctx, req)
				return resp.GetSessions(), resp.GetNextPageToken(), err
			})
			if err != nil {
				return err
			}
			all := &atsssv1.ListSessionsResponse{Sessions: sessions}
			return a.printMessage(all, func(w io.Writer) { sessionsTable(w, all.GetSessions()) })
		},
	}
	f := cmd.Flags()
	f.StringVar(&peer, "peer", "", "only sessions of this SMF (PFCP Node ID)")
	f.StringVar(&ueAddress, "ue-address", "", "only sessions with this UE IP address")
	f.StringVar(&mode, "mode", "", "only sessions with a MAR whose downlink steering in force is this mode")
	f.Int32Var(&pageSize, "page-size", 0, "sessions per call, 0..1000 (0: the server's default)")
	return cmd
}

func (a *app) sessionsGetCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "get SEID",
		Short: "Show one session: rules, steering in force per MAR and per-access state",
		Long: `Show one session by its UPF F-SEID (decimal, or hexadecimal with 0x): its
UE addresses, DNN and slice, its MARs with the SMF's steering and the steering
in force (and whether an operator policy overrides the SMF), each access's
state and the PDRs. NotFound (exit 69) when there is no such session.`,
		Args: usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			seid, err := parseSEID(args[0])
			if err != nil {
				return err
			}
			conn, ctx, cancel, err := a.call(cmd.Context())
			if err != nil {
				return err
			}
			defer cancel()
			resp, err := atsssv1.NewSessionServiceClient(conn).GetSession(ctx, &atsssv1.GetSessionRequest{Seid: seid})
			if err != nil {
				return err
			}
			s := resp.GetSession()
			return a.printMessage(s, func(w io.Writer) { sessionDetail(w, s) })
		},
	}
}

func (a *app) sessionsWatchCommand() *cobra.Command {
	var interval time.Duration
	cmd := &cobra.Command{
		Use:   "watch [SEID]",
		Short: "Stream session and path events and per-access throughput",
		Long: `Stream the events of every session, or of one SEID: sessions as they are
when the watch starts, then established, modified and deleted sessions,
accesses becoming (un)available, MPTCP subflows, and a throughput sample per
access every --interval (100ms..1h; 0 for no samples).

On a terminal with -o table, a live per-access table (throughput down/up,
RTT, loss, availability, subflows) is redrawn in place, with the latest
events below it. Otherwise each event or sample is one line with its
timestamp; -o json writes one JSON object per line and -o yaml one YAML
document per event. Ctrl-C ends the watch with exit code 0; so does the
server closing the stream.`,
		Args: usageArgs(cobra.MaximumNArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			req := &atsssv1.WatchSessionsRequest{Initial: true}
			if len(args) == 1 {
				seid, err := parseSEID(args[0])
				if err != nil {
					return err
				}
				req.Seid = seid
			}
			switch {
			case interval == 0:
			case interval < 100*time.Millisecond || interval > time.Hour:
				return usageError{fmt.Errorf("--interval %v: want 0 or 100ms..1h", interval)}
			default:
				req.SampleInterval = durationpb.New(interval)
			}
			return a.watchSessions(cmd.Context(), req)
		},
	}
	cmd.Flags().DurationVar(&interval, "interval", time.Second, "period of the throughput samples")
	return cmd
}

// parseSEID parses a SEID argument: decimal, or hexadecimal with 0x.
func parseSEID(s string) (uint64, error) {
	seid, err := strconv.ParseUint(s, 0, 64)
	if err != nil || seid == 0 {
		return 0, usageError{fmt.Errorf("SEID %q: want a positive integer (decimal or 0x hexadecimal)", s)}
	}
	return seid, nil
}

// parseEnum finds an enum value by its full name or by its name without the
// type prefix, ignoring case and taking "-" for "_".
func parseEnum(ed protoreflect.EnumDescriptor, s string) (protoreflect.EnumNumber, error) {
	want := strings.ToUpper(strings.ReplaceAll(s, "-", "_"))
	prefix := enumPrefix(ed)
	values := ed.Values()
	for i := range values.Len() {
		v := values.Get(i)
		if name := string(v.Name()); v.Number() != 0 && (want == name || prefix+want == name) {
			return v.Number(), nil
		}
	}
	return 0, fmt.Errorf("unknown %s %q, want one of %s", ed.Name(), s, strings.Join(enumNames(ed), ", "))
}

// enumNames lists the short names of an enum's values but the zero value.
func enumNames(ed protoreflect.EnumDescriptor) []string {
	var names []string
	values := ed.Values()
	for i := range values.Len() {
		if v := values.Get(i); v.Number() != 0 {
			names = append(names, strings.TrimPrefix(string(v.Name()), enumPrefix(ed)))
		}
	}
	return names
}

// sessionsTable writes one row per access (or MAR, if more) of each
// session; the session's own columns are on its first row only.
func sessionsTable(w io.Writer, sessions []*atsssv1.Session) {
	row(w, "SEID", "PEER", "UE ADDRESSES", "MAR", "DL STEERING", "SOURCE", "ACCESS", "AVAIL", "RTT", "LOSS", "DL BYTES", "UL BYTES")
	for _, s := range sessions {
		mars, accs := s.GetMars(), s.GetAccesses()
		for i := range max(len(mars), len(accs), 1) {
			cells := make([]string, 12)
			if i == 0 {
				cells[0] = strconv.FormatUint(s.GetSeid(), 10)
				cells[1] = orDash(s.GetPeer())
				cells[2] = orDash(strings.Join(s.GetUeAddresses(), ","))
			}
			if i < len(mars) {
				m := mars[i]
				cells[3] = strconv.FormatUint(uint64(m.GetMarId()), 10)
				cells[4] = steering(m.GetEffectiveSteeringDl())
				cells[5] = source(m)
			}
			if i < len(accs) {
				ac := accs[i]
				cells[6] = enumName(ac.GetAccess())
				cells[7] = available(ac.GetAvailable())
				cells[8] = rtt(ac.RttUs)
				cells[9] = loss(ac.LossPerMille)
				cells[10] = byteCount(ac.GetDownlinkBytes())
				cells[11] = byteCount(ac.GetUplinkBytes())
			}
			row(w, cells...)
		}
	}
}

// sessionDetail writes one session: its fields, then tables of MARs,
// accesses and PDRs.
func sessionDetail(w io.Writer, s *atsssv1.Session) {
	row(w, "SEID:", strconv.FormatUint(s.GetSeid(), 10))
	row(w, "Peer:", orDash(s.GetPeer()))
	row(w, "CP SEID:", strconv.FormatUint(s.GetCpSeid(), 10))
	row(w, "UE addresses:", orDash(strings.Join(s.GetUeAddresses(), ", ")))
	row(w, "DNN:", orDash(s.GetDnn()))
	row(w, "S-NSSAI:", snssai(s.GetSnssai()))
	row(w, "Created:", timestamp(s.GetCreateTime()))
	row(w)
	row(w, "MAR", "SOURCE", "FUNCTION", "DL STEERING", "UL STEERING", "SMF STEERING", "RATE CAP", "PATH PREFERENCE", "FAR 3GPP", "FAR NON-3GPP")
	for _, m := range s.GetMars() {
		row(w, strconv.FormatUint(uint64(m.GetMarId()), 10), source(m),
			enumName(m.GetEffectiveSteerFun()), steering(m.GetEffectiveSteeringDl()), steering(m.GetEffectiveSteeringUl()),
			enumName(m.GetSmfSteerFun())+" "+steering(m.GetSmfSteering()),
			rateCap(m.GetRateCap()), enumName(m.GetPathPreference()),
			ruleID(m.GetFarId_3Gpp()), ruleID(m.GetFarIdNon_3Gpp()))
	}
	for _, m := range s.GetMars() {
		if e := m.GetPolicyError(); e != "" {
			fmt.Fprintf(w, "MAR %d: policy not applied: %s\n", m.GetMarId(), e)
		}
	}
	row(w)
	row(w, "ACCESS", "AVAIL", "SINCE", "UE ADDRESS", "RTT", "LOSS", "DL BYTES", "UL BYTES", "SUBFLOWS")
	for _, ac := range s.GetAccesses() {
		row(w, enumName(ac.GetAccess()), available(ac.GetAvailable()), timestamp(ac.GetChangeTime()),
			orDash(ac.GetUeAddress()), rtt(ac.RttUs), loss(ac.LossPerMille),
			byteCount(ac.GetDownlinkBytes()), byteCount(ac.GetUplinkBytes()), strconv.FormatUint(uint64(ac.GetSubflows()), 10))
	}
	row(w)
	row(w, "PDR", "PRECEDENCE", "SOURCE", "MAR", "FAR", "MPTCP", "APP ID", "SDF FILTERS")
	for _, p := range s.GetPdrs() {
		mptcp := "no"
		if p.GetMptcpApplicable() {
			mptcp = "yes"
		}
		row(w, strconv.FormatUint(uint64(p.GetPdrId()), 10), strconv.FormatUint(uint64(p.GetPrecedence()), 10),
			orDash(p.GetSourceInterface()), ruleID(p.GetMarId()), ruleID(p.GetFarId()),
			mptcp, orDash(p.GetAppId()), orDash(strings.Join(p.GetSdfFilters(), "; ")))
	}
}

// ruleID formats an N4 rule ID, 0 meaning none.
func ruleID(id uint32) string {
	if id == 0 {
		return "-"
	}
	return strconv.FormatUint(uint64(id), 10)
}
