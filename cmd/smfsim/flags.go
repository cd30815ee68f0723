package main

import (
	"flag"
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/openatsss/atsss/atsss"
	"github.com/openatsss/atsss/pfcp/pfcptest"
)

// sessionFlags shape the session that establish sets up, and the first of
// those load does: pfcptest.DefaultSpec with one MAR made of the flags.
type sessionFlags struct {
	seid               uint64
	ue                 netip.Addr
	gnb, n3iwf         netip.Addr
	mar                pfcptest.MARText
	atsss              string
	reportAvailability bool
	dnn                string
	snssai             *pfcptest.SNSSAI // nil: none sent
}

func (f *sessionFlags) register(fs *flag.FlagSet) {
	def := pfcptest.DefaultSpec()
	fs.Uint64Var(&f.seid, "seid", uint64(def.SEID), "the CP SEID of the session")
	fs.TextVar(&f.ue, "ue", def.UEIP, "the UE's IPv4 `address` (the MA PDU session's)")
	fs.TextVar(&f.gnb, "gnb", def.GNB.AN.Addr, "`address` of the gNB, the 3GPP access's end of N3; empty: the UE is not on 3GPP")
	fs.TextVar(&f.n3iwf, "n3iwf", def.N3IWF.AN.Addr, "`address` of the N3IWF, the untrusted non-3GPP access's end of N3; empty: the UE is not on non-3GPP")
	fs.StringVar(&f.atsss, "atsss", "", "what to ask for in Provide ATSSS Control Information: a `list` of mptcp, atsss-ll, pmf, drtti, pqpm (PMF per QoS flow, for QFI 9), or none (default: the MAR's functionality, and pmf)")
	fs.BoolVar(&f.reportAvailability, "report-availability", true, "create an SRR asking for access availability reports")
	fs.StringVar(&f.dnn, "dnn", "", "the session's data network `name`, sent as APN/DNN, such as internet (default: none sent)")
	fs.Func("snssai", "the session's `slice`, sent as S-NSSAI: the SST, and for a slice with an SD a hyphen and six hex digits, such as 1 or 1-010203 (default: none sent)", func(s string) error {
		n := new(pfcptest.SNSSAI)
		if err := n.UnmarshalText([]byte(s)); err != nil {
			return err
		}
		f.snssai = n
		return nil
	})
	f.mar = pfcptest.MARText{ID: 1, Functionality: "mptcp", Mode: "load-balancing", Weights: "70/30"}
	marFlags(fs, &f.mar, true)
}

// spec returns the session the flags describe.
func (f *sessionFlags) spec() (pfcptest.SessionSpec, error) {
	s := pfcptest.DefaultSpec()
	s.SEID = atsss.SEID(f.seid)
	if !f.ue.Is4() {
		return s, usageError{fmt.Errorf("-ue %v: want an IPv4 address", f.ue)}
	}
	s.UEIP = f.ue
	s.ReportAvailability = f.reportAvailability
	s.DNN, s.SNSSAI = f.dnn, f.snssai
	s.GNB.AN.Addr, s.N3IWF.AN.Addr = f.gnb, f.n3iwf
	if !f.gnb.IsValid() {
		s.GNB = nil
	}
	if !f.n3iwf.IsValid() {
		s.N3IWF = nil
	}
	t := f.mar
	if t.Accesses == "" {
		// The MAR uses the accesses the UE is on, unless told otherwise.
		var on []string
		for a, tunnel := range [2]*pfcptest.Tunnel{s.GNB, s.N3IWF} {
			if tunnel != nil {
				on = append(on, atsss.AccessType(a).String())
			}
		}
		t.Accesses = strings.Join(on, ",")
	}
	mar, err := t.Spec()
	if err != nil {
		return s, usageError{err}
	}
	s.MARs = []pfcptest.MARSpec{mar}
	if s.ATSSS, err = parseATSSS(f.atsss, mar.Functionality, s.QFI); err != nil {
		return s, usageError{err}
	}
	return s, nil
}

// marFlags binds the flags of one MAR, to create (establish, load) or to
// change (modify); the values t holds are the defaults.
func marFlags(fs *flag.FlagSet, t *pfcptest.MARText, create bool) {
	fs.Func("mar", fmt.Sprintf("the MAR `ID` (default %d)", t.ID), func(s string) error {
		id, err := strconv.ParseUint(s, 10, 16)
		t.ID = uint16(id)
		return err
	})
	fs.StringVar(&t.Functionality, "functionality", t.Functionality, "steering functionality: atsss-ll, mptcp, mpquic-udp, mpquic-ip or mpquic-e")
	fs.StringVar(&t.Mode, "mode", t.Mode, "steering mode: active-standby, smallest-delay, load-balancing, priority-based or redundant")
	fs.StringVar(&t.Weights, "weights", t.Weights, "weights `3GPP/non-3GPP` in percent, such as 70/30; - for none")
	fs.StringVar(&t.Priorities, "priorities", t.Priorities, "priorities `3GPP/non-3GPP`: active, standby, no-standby, high, low, primary or secondary; - for none")
	fs.StringVar(&t.Thresholds, "thresholds", t.Thresholds, "RTT and packet loss `thresholds`, such as rtt=50ms,plr=5")
	if create {
		fs.StringVar(&t.SMI, "smi", t.SMI, "steering mode indicator: albi or ueai")
		fs.StringVar(&t.Accesses, "accesses", t.Accesses, "the accesses the MAR uses: 3gpp,non3gpp, 3gpp or non3gpp (default: those the UE is on)")
		fs.StringVar(&t.SDF, "sdf", t.SDF, "flow description of the MAR's PDRs, such as 'permit out 6 from any to assigned' (default: all traffic)")
		return
	}
	fs.StringVar(&t.SMI, "smi", t.SMI, "steering mode indicator: albi, ueai, or none to clear it")
	fs.StringVar(&t.Remove, "remove", t.Remove, "`access` the MAR stops using: 3gpp or non3gpp")
	fs.StringVar(&t.Add, "add", t.Add, "`access` the MAR uses again: 3gpp or non3gpp")
}

// parseATSSS parses -atsss. Its default asks for the control information
// the functionality f needs, and PMF; pqpm asks for measurements of qfi.
func parseATSSS(s string, f atsss.SteeringFunctionality, qfi uint8) (atsss.ATSSSRequest, error) {
	var r atsss.ATSSSRequest
	switch s {
	case "":
		return atsss.ATSSSRequest{MPTCP: f == atsss.FunctionalityMPTCP, ATSSSLL: f == atsss.FunctionalityATSSSLL, PMF: true}, nil
	case "none":
		return r, nil
	}
	for name := range strings.SplitSeq(s, ",") {
		switch name {
		case "mptcp":
			r.MPTCP = true
		case "atsss-ll":
			r.ATSSSLL = true
		case "pmf":
			r.PMF = true
		case "drtti":
			r.DRTTI = true
		case "pqpm":
			r.PQPM, r.QFIs = true, []uint8{qfi}
		default:
			return r, fmt.Errorf("-atsss: unknown %q (want mptcp, atsss-ll, pmf, drtti, pqpm or none)", name)
		}
	}
	return r, nil
}
