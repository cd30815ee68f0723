package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/timestamppb"
	"gopkg.in/yaml.v3"

	atsssv1 "github.com/openatsss/atsss/api/atsss/v1"
)

// printMessage writes m in the -o format; table writes the table form.
func (a *app) printMessage(m proto.Message, table func(w io.Writer)) error {
	switch a.output {
	case "json":
		b, err := messageJSON(m)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(a.stdout, "%s\n", b)
		return err
	case "yaml":
		b, err := messageYAML(m)
		if err != nil {
			return err
		}
		_, err = a.stdout.Write(b)
		return err
	}
	tw := newTable(a.stdout)
	table(tw)
	return tw.Flush()
}

// messageJSON is m as indented protojson. protojson deliberately varies its
// whitespace between builds; re-indenting with encoding/json makes the
// output stable for scripts and diffs.
func messageJSON(m proto.Message) ([]byte, error) {
	b, err := protojson.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w", m.ProtoReflect().Descriptor().FullName(), err)
	}
	var out bytes.Buffer
	if err := json.Indent(&out, b, "", "  "); err != nil {
		return nil, fmt.Errorf("indent %s: %w", m.ProtoReflect().Descriptor().FullName(), err)
	}
	return out.Bytes(), nil
}

// compactJSON strips the whitespace protojson may add.
func compactJSON(b []byte) []byte {
	var out bytes.Buffer
	if json.Compact(&out, b) != nil {
		return b
	}
	return out.Bytes()
}

// messageYAML is m's protojson document written as block-style YAML, field
// order kept. JSON is YAML, so yaml.v3 parses protojson's output into a
// node tree; clearing the flow and quoting styles makes it block YAML, and
// the encoder quotes again only where a plain scalar would change type
// (e.g. the 64-bit integers protojson writes as strings).
func messageYAML(m proto.Message) ([]byte, error) {
	b, err := protojson.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w", m.ProtoReflect().Descriptor().FullName(), err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("convert %s to YAML: %w", m.ProtoReflect().Descriptor().FullName(), err)
	}
	clearStyle(&doc)
	var out bytes.Buffer
	enc := yaml.NewEncoder(&out)
	enc.SetIndent(2)
	if err := enc.Encode(&doc); err != nil {
		return nil, fmt.Errorf("convert %s to YAML: %w", m.ProtoReflect().Descriptor().FullName(), err)
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

func clearStyle(n *yaml.Node) {
	n.Style = 0
	for _, c := range n.Content {
		clearStyle(c)
	}
}

func newTable(w io.Writer) *tabwriter.Writer {
	return tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
}

// row writes one tab-separated table row. Empty cells at the end are
// dropped so that tabwriter does not pad the line with spaces.
func row(w io.Writer, cells ...string) {
	for len(cells) > 0 && cells[len(cells)-1] == "" {
		cells = cells[:len(cells)-1]
	}
	fmt.Fprintln(w, strings.Join(cells, "\t"))
}

// enumName is an enum value's name without its type prefix
// ("LOAD_BALANCING" for STEERING_MODE_VALUE_LOAD_BALANCING), "-" for the
// zero value and the number for values this build does not know.
func enumName(e protoreflect.Enum) string {
	n := e.Number()
	if n == 0 {
		return "-"
	}
	vd := e.Descriptor().Values().ByNumber(n)
	if vd == nil {
		return strconv.Itoa(int(n))
	}
	return strings.TrimPrefix(string(vd.Name()), enumPrefix(e.Descriptor()))
}

// enumPrefix is the prefix every value of an enum carries by the buf
// STANDARD lint rule: the zero value's name without "UNSPECIFIED".
func enumPrefix(ed protoreflect.EnumDescriptor) string {
	zero := ed.Values().ByNumber(0)
	if zero == nil {
		return ""
	}
	name := string(zero.Name())
	if !strings.HasSuffix(name, "_UNSPECIFIED") {
		return ""
	}
	return strings.TrimSuffix(name, "UNSPECIFIED")
}

// steering is a steering mode in one line, e.g. "LOAD_BALANCING 80/20",
// "ACTIVE_STANDBY 3GPP>NON_3GPP rtt<=50ms".
func steering(m *atsssv1.SteeringMode) string {
	if m == nil {
		return "-"
	}
	parts := []string{enumName(m.GetSteerModeValue())}
	switch m.GetSteerModeValue() {
	case atsssv1.SteeringModeValue_STEERING_MODE_VALUE_ACTIVE_STANDBY:
		s := enumName(m.GetActive())
		if m.GetStandby() != atsssv1.AccessType_ACCESS_TYPE_UNSPECIFIED {
			s += ">" + enumName(m.GetStandby())
		}
		parts = append(parts, s)
	case atsssv1.SteeringModeValue_STEERING_MODE_VALUE_LOAD_BALANCING:
		if m.ThreeGLoad != nil {
			parts = append(parts, fmt.Sprintf("%d/%d", m.GetThreeGLoad(), 100-min(m.GetThreeGLoad(), 100)))
		}
	case atsssv1.SteeringModeValue_STEERING_MODE_VALUE_PRIORITY_BASED:
		parts = append(parts, "prio="+enumName(m.GetPrioAcc()))
	}
	if m.GetSteerModeInd() != atsssv1.SteeringModeIndicator_STEERING_MODE_INDICATOR_UNSPECIFIED {
		parts = append(parts, enumName(m.GetSteerModeInd()))
	}
	if t := m.GetThresValue(); t != nil {
		if t.RttMs != nil {
			parts = append(parts, fmt.Sprintf("rtt<=%dms", t.GetRttMs()))
		}
		if t.PlrPerMille != nil {
			parts = append(parts, "plr<="+perMille(t.GetPlrPerMille()))
		}
	}
	return strings.Join(parts, " ")
}

// source is where a MAR's steering comes from: "smf" or "policy <id>".
func source(m *atsssv1.MultiAccessRule) string {
	switch m.GetEffectiveSource() {
	case atsssv1.SteeringSource_STEERING_SOURCE_SMF_MAR:
		if m.GetPolicyError() != "" {
			return "smf (policy error)"
		}
		return "smf"
	case atsssv1.SteeringSource_STEERING_SOURCE_OPERATOR_POLICY:
		return "policy " + strings.TrimPrefix(m.GetPolicy(), policyPrefix)
	}
	return enumName(m.GetEffectiveSource())
}

func match(m *atsssv1.PolicyMatch) string {
	switch k := m.GetKey().(type) {
	case *atsssv1.PolicyMatch_Dnn:
		return "dnn=" + k.Dnn
	case *atsssv1.PolicyMatch_Snssai:
		return "snssai=" + snssai(k.Snssai)
	case *atsssv1.PolicyMatch_UePrefix:
		return "ue-prefix=" + k.UePrefix
	case *atsssv1.PolicyMatch_Application:
		switch s := k.Application.GetSelector().(type) {
		case *atsssv1.Application_AppId:
			return "app-id=" + s.AppId
		case *atsssv1.Application_FlowDescription:
			return "flow=" + s.FlowDescription
		}
	}
	return "-"
}

func snssai(s *atsssv1.Snssai) string {
	if s == nil {
		return "-"
	}
	if s.GetSd() == "" {
		return strconv.FormatUint(uint64(s.GetSst()), 10)
	}
	return fmt.Sprintf("%d/%s", s.GetSst(), s.GetSd())
}

func rateCap(c *atsssv1.FlowRateCap) string {
	if c == nil {
		return "-"
	}
	dir := func(bps uint64) string {
		if bps == 0 {
			return "-"
		}
		return bitRate(bps)
	}
	return "dl " + dir(c.GetDownlinkBps()) + " ul " + dir(c.GetUplinkBps())
}

func available(ok bool) string {
	if ok {
		return "up"
	}
	return "down"
}

// rtt formats an optional RTT in microseconds.
func rtt(us *uint32) string {
	if us == nil {
		return "-"
	}
	d := time.Duration(*us) * time.Microsecond
	if d >= time.Millisecond {
		d = d.Round(10 * time.Microsecond)
	}
	return d.String()
}

// loss formats an optional loss rate in tenths of a percent.
func loss(pm *uint32) string {
	if pm == nil {
		return "-"
	}
	return perMille(*pm)
}

func perMille(pm uint32) string {
	return fmt.Sprintf("%d.%d%%", pm/10, pm%10)
}

// byteCount formats a byte counter in SI units.
func byteCount(n uint64) string {
	return si(float64(n), "B")
}

// bitRate formats bits per second in SI units.
func bitRate(bps uint64) string {
	return si(float64(bps), "bit/s")
}

func si(v float64, unit string) string {
	const prefixes = "kMGTPE"
	if v < 1000 {
		return fmt.Sprintf("%.0f %s", v, unit)
	}
	i := -1
	for v >= 1000 && i < len(prefixes)-1 {
		v /= 1000
		i++
	}
	return fmt.Sprintf("%.1f %c%s", v, prefixes[i], unit)
}

func timestamp(t *timestamppb.Timestamp) string {
	if t == nil {
		return "-"
	}
	return t.AsTime().UTC().Format(time.RFC3339)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
