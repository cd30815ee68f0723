package main

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/openatsss/atsss/atsss"
	"github.com/openatsss/atsss/pfcp/atsssie"
	"github.com/openatsss/atsss/pfcp/pfcptest"
)

// printer writes what smfsim learns to stdout, as lines of text or as one
// JSON object per line (-o json); errw takes usage and progress.
type printer struct {
	w, errw io.Writer
	json    bool
}

// outcome is a request and what came of it.
type outcome struct {
	Step        int                `json:"step,omitempty"` // in a scenario, from 1
	Request     string             `json:"request"`
	SEID        atsss.SEID         `json:"seid,omitempty"` // the CP SEID of a session request
	Cause       uint8              `json:"cause"`
	CauseName   string             `json:"cause_name"`
	Expected    uint8              `json:"expected"`
	OK          bool               `json:"ok"` // Cause is as expected
	Latency     time.Duration      `json:"latency_ns"`
	OffendingIE uint16             `json:"offending_ie,omitempty"`
	FailedRule  *failedRule        `json:"failed_rule,omitempty"`
	UPSEID      atsss.SEID         `json:"up_seid,omitempty"`
	ATSSS       *atsss.ATSSSParams `json:"atsss,omitempty"`
	Features    []string           `json:"features,omitempty"`
	Recovery    time.Time          `json:"recovery,omitzero"`
	Error       string             `json:"error,omitempty"`
}

type failedRule struct {
	Type string `json:"type"`
	ID   uint32 `json:"id"`
}

// atsssFeatures are the UP Function Features an association prints.
var atsssFeatures = []atsssie.UPFeature{
	atsssie.FeatureMPTCP, atsssie.FeatureATSSSLL, atsssie.FeatureRTTWP, atsssie.FeatureREDSM,
	atsssie.FeatureMPQUICUDP, atsssie.FeatureMPQUICIP, atsssie.FeatureMPQUICE,
}

// newOutcome records the response r, or the failure err, to a request that
// expected the Cause expect.
func newOutcome(request string, expect pfcptest.Cause, r *pfcptest.Response, err error) outcome {
	o := outcome{Request: request, Expected: uint8(expect)}
	if err != nil {
		o.Error = err.Error()
		return o
	}
	o.Cause, o.CauseName, o.OK = uint8(r.Cause), r.Cause.String(), r.Cause == expect
	o.Latency, o.OffendingIE, o.UPSEID, o.ATSSS, o.Recovery = r.Latency, r.OffendingIE, r.UPSEID, r.ATSSS, r.Recovery
	if f := r.FailedRule; f != nil {
		o.FailedRule = &failedRule{Type: f.Type.String(), ID: f.ID}
	}
	for _, f := range atsssFeatures {
		if r.Features.Has(f) {
			o.Features = append(o.Features, f.String())
		}
	}
	return o
}

// err returns an error when o is not what was expected.
func (o outcome) err() error {
	switch {
	case o.Error != "":
		return fmt.Errorf("%s: %s", o.Request, o.Error)
	case !o.OK:
		return fmt.Errorf("%s: cause %d (%s), expected %d (%s)", o.Request, o.Cause, o.CauseName, o.Expected, pfcptest.Cause(o.Expected))
	}
	return nil
}

// outcome prints o and returns o.err().
func (p *printer) outcome(o outcome) error {
	if p.json {
		p.encode(o)
		return o.err()
	}
	var b strings.Builder
	if o.Step > 0 {
		fmt.Fprintf(&b, "step %d: ", o.Step)
	}
	b.WriteString(o.Request)
	if o.SEID != 0 {
		fmt.Fprintf(&b, " seid=%v", o.SEID)
	}
	if o.Error != "" {
		fmt.Fprintf(&b, ": failed: %s\n", o.Error)
		io.WriteString(p.w, b.String())
		return o.err()
	}
	fmt.Fprintf(&b, ": cause %d (%s) in %v", o.Cause, o.CauseName, o.Latency.Round(time.Microsecond))
	if !o.OK {
		fmt.Fprintf(&b, ", expected %d (%s)", o.Expected, pfcptest.Cause(o.Expected))
	}
	if o.UPSEID != 0 {
		fmt.Fprintf(&b, ", up_seid=%v", o.UPSEID)
	}
	if o.OffendingIE != 0 {
		fmt.Fprintf(&b, ", offending IE %d", o.OffendingIE)
	}
	if f := o.FailedRule; f != nil {
		fmt.Fprintf(&b, ", failed rule %s %d", f.Type, f.ID)
	}
	b.WriteByte('\n')
	if !o.Recovery.IsZero() {
		fmt.Fprintf(&b, "  recovery time stamp %v\n", o.Recovery.UTC().Format(time.RFC3339))
	}
	if o.Request == "associate" {
		fmt.Fprintf(&b, "  ATSSS features: %s\n", cmp.Or(strings.Join(o.Features, " "), "none"))
	}
	if a := o.ATSSS; a != nil {
		writeParams(&b, a)
	}
	io.WriteString(p.w, b.String())
	return o.err()
}

// writeParams writes ATSSS Control Parameters (TS 29.244 §7.5.3.7).
func writeParams(b *strings.Builder, a *atsss.ATSSSParams) {
	if m := a.MPTCP; m != nil {
		fmt.Fprintf(b, "  mptcp proxy %s port %d, type %d; link-specific addresses", addrs(atsss.AddrPair{IPv4: m.ProxyIPv4, IPv6: m.ProxyIPv6}), m.ProxyPort, m.ProxyType)
		for _, acc := range atsss.Accesses {
			fmt.Fprintf(b, " %v %s", acc, addrs(m.LinkSpecific[acc]))
		}
		b.WriteByte('\n')
	}
	if a.ATSSSLL {
		b.WriteString("  atsss-ll resources allocated\n")
	}
	for _, p := range a.PMF {
		b.WriteString("  pmf")
		if p.QFI != 0 {
			fmt.Fprintf(b, " qfi %d", p.QFI)
		}
		fmt.Fprintf(b, " %s ports %v %d, %v %d\n", addrs(p.Addr), atsss.Access3GPP, p.Ports[atsss.Access3GPP], atsss.AccessNon3GPP, p.Ports[atsss.AccessNon3GPP])
	}
}

func addrs(p atsss.AddrPair) string {
	s := make([]string, 0, 2)
	for _, a := range p.Addrs() {
		s = append(s, a.String())
	}
	return cmp.Or(strings.Join(s, ","), "none")
}

// reportLine is a Session Report Request as -o json prints it.
type reportLine struct {
	Report    string     `json:"report"` // "session"
	SEID      atsss.SEID `json:"seid"`
	Type      uint8      `json:"report_type"`
	SRRID     uint8      `json:"srr_id,omitempty"`
	Access    string     `json:"access,omitempty"`
	Available *bool      `json:"available,omitempty"`
	Answer    uint8      `json:"answer"` // the Cause smfsim answered with
	Error     string     `json:"error,omitempty"`
}

// report prints a Session Report Request, a line per Session Report.
func (p *printer) report(r pfcptest.Report) {
	if len(r.Sessions) == 0 {
		p.reportLine(r, pfcptest.SessionReport{})
	}
	for _, s := range r.Sessions {
		p.reportLine(r, s)
	}
}

func (p *printer) reportLine(r pfcptest.Report, s pfcptest.SessionReport) {
	if p.json {
		l := reportLine{Report: "session", SEID: r.SEID, Type: r.Type, SRRID: s.SRRID, Answer: uint8(r.Cause)}
		if a := s.Availability; a != nil {
			l.Access, l.Available = a.Access.String(), &a.Available
		}
		if r.Err != nil {
			l.Error = r.Err.Error()
		}
		p.encode(l)
		return
	}
	fmt.Fprintf(p.w, "session report seid=%v type %#02x", r.SEID, r.Type)
	if s.SRRID != 0 {
		fmt.Fprintf(p.w, ": srr %d", s.SRRID)
	}
	if s.Availability != nil {
		fmt.Fprintf(p.w, ", %v", *s.Availability)
	}
	if r.Err != nil {
		fmt.Fprintf(p.w, ", malformed: %v", r.Err)
	}
	fmt.Fprintf(p.w, " (answered %d %s)\n", r.Cause, r.Cause)
}

func (p *printer) encode(v any) {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // the types printed are all plain data
	}
	p.w.Write(append(b, '\n'))
}
