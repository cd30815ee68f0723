package pfcptest

import (
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/openatsss/atsss/atsss"
)

// MARText is a MAR as people write it, in YAML scenarios and on smfsim's
// command line: enumerations by name, per-access values as a
// "3GPP/non-3GPP" pair. The same text describes a MAR to create (Spec) or a
// change to one (Update). Empty fields are not set.
type MARText struct {
	ID            uint16 `yaml:"id"`
	Functionality string `yaml:"functionality"` // atsss-ll, mptcp, mpquic-udp, mpquic-ip, mpquic-e
	Mode          string `yaml:"mode"`          // active-standby, smallest-delay, load-balancing, priority-based, redundant
	Weights       string `yaml:"weights"`       // "70/30"; "-" sets none for that access: "100/-"
	Priorities    string `yaml:"priorities"`    // "active/standby", "primary/-"
	Thresholds    string `yaml:"thresholds"`    // "rtt=50ms,plr=5": RTT in whole milliseconds, PLR in percent
	SMI           string `yaml:"smi"`           // albi, ueai, or none (clears both flags in a change)

	// For a MAR to create only.
	Accesses string `yaml:"accesses"` // the accesses with an AFAI: 3gpp,non3gpp (the default), 3gpp or non3gpp
	SDF      string `yaml:"sdf"`      // flow description of the MAR's PDRs

	// For a change only: an access whose AFAI to remove, or to add back.
	Remove string `yaml:"remove"`
	Add    string `yaml:"add"`
}

// steering is what a MARSpec and a MARUpdate share, parsed from text;
// nil pointers and unset optionals were not given.
type steering struct {
	functionality *atsss.SteeringFunctionality
	mode          *atsss.SteeringMode
	weights       [2]atsss.OptionalUint8
	priorities    [2]atsss.OptionalPriority
	thresholds    *atsss.Thresholds
	smi           *atsss.SteeringModeIndicator
}

func (t MARText) steering() (s steering, err error) {
	if s.functionality, err = optional(t.Functionality, atsss.ParseSteeringFunctionality); err != nil {
		return s, err
	}
	if s.mode, err = optional(t.Mode, atsss.ParseSteeringMode); err != nil {
		return s, err
	}
	if s.weights, err = parsePair(t.Weights, "weights", parseWeight); err != nil {
		return s, err
	}
	if s.priorities, err = parsePair(t.Priorities, "priorities", parsePriority); err != nil {
		return s, err
	}
	if s.thresholds, err = optional(t.Thresholds, parseThresholds); err != nil {
		return s, err
	}
	s.smi, err = optional(t.SMI, parseSMI)
	return s, err
}

// optional parses s, unless it is empty.
func optional[T any](s string, parse func(string) (T, error)) (*T, error) {
	if s == "" {
		return nil, nil
	}
	v, err := parse(s)
	if err != nil {
		return nil, err
	}
	return &v, nil
}

// Spec returns the MAR to create that t describes. Functionality and mode
// are required; without Accesses both accesses get an AFAI.
func (t MARText) Spec() (MARSpec, error) {
	switch {
	case t.Remove != "" || t.Add != "":
		return MARSpec{}, errors.New("remove and add change an existing MAR; a new one lists its accesses")
	case t.Functionality == "":
		return MARSpec{}, errors.New("functionality missing")
	case t.Mode == "":
		return MARSpec{}, errors.New("mode missing")
	}
	s, err := t.steering()
	if err != nil {
		return MARSpec{}, err
	}
	present := [2]bool{true, true}
	if t.Accesses != "" {
		present = [2]bool{}
		for name := range strings.SplitSeq(t.Accesses, ",") {
			a, err := ParseAccess(name)
			if err != nil {
				return MARSpec{}, fmt.Errorf("accesses: %w", err)
			}
			present[a] = true
		}
	}
	m := MARSpec{ID: t.ID, Functionality: *s.functionality, Mode: *s.mode, Thresholds: s.thresholds, SMI: s.smi, SDF: t.SDF}
	// The SMI's zero value clears flags in a change; in a new MAR it is
	// the absence of the IE.
	if m.SMI != nil && *m.SMI == (atsss.SteeringModeIndicator{}) {
		m.SMI = nil
	}
	for _, a := range atsss.Accesses {
		m.Legs[a] = LegSpec{Present: present[a], Weight: s.weights[a], Priority: s.priorities[a]}
	}
	return m, nil
}

// Update returns the change to MAR t.ID that t describes.
func (t MARText) Update() (MARUpdate, error) {
	if t.Accesses != "" || t.SDF != "" {
		return MARUpdate{}, errors.New("accesses and sdf are set when a MAR is created; a change uses remove and add")
	}
	s, err := t.steering()
	if err != nil {
		return MARUpdate{}, err
	}
	u := MARUpdate{ID: t.ID, Functionality: s.functionality, Mode: s.mode, Thresholds: s.thresholds, SMI: s.smi}
	for _, a := range atsss.Accesses {
		u.Legs[a] = LegUpdate{Weight: s.weights[a], Priority: s.priorities[a]}
	}
	for _, op := range []struct {
		name, access string
		op           LegOp
	}{{"remove", t.Remove, LegRemove}, {"add", t.Add, LegAdd}} {
		if op.access == "" {
			continue
		}
		a, err := ParseAccess(op.access)
		if err != nil {
			return MARUpdate{}, fmt.Errorf("%s: %w", op.name, err)
		}
		if u.Legs[a].Op != LegChange {
			return MARUpdate{}, fmt.Errorf("%s: access %v is removed and added at once", op.name, a)
		}
		u.Legs[a].Op = op.op
	}
	return u, nil
}

// UnmarshalYAML decodes a MAR written as MARText and rejects keys MARText
// does not have: yaml.v3 does not carry a decoder's KnownFields over to
// Node.Decode, the only decoding a custom unmarshaler has.
func (m *MARSpec) UnmarshalYAML(n *yaml.Node) error {
	var t MARText
	if err := n.Decode(&t); err != nil {
		return err
	}
	if err := knownFields(n, reflect.TypeFor[MARText]()); err != nil {
		return err
	}
	spec, err := t.Spec()
	if err != nil {
		return fmt.Errorf("line %d: MAR %d: %w", n.Line, t.ID, err)
	}
	*m = spec
	return nil
}

// knownFields fails, the way yaml.v3's KnownFields does, on a key of the
// mapping n that no field of struct type t is tagged with.
func knownFields(n *yaml.Node, t reflect.Type) error {
	for i := 0; i+1 < len(n.Content); i += 2 {
		key := n.Content[i]
		known := false
		for f := range t.Fields() {
			if name, _, _ := strings.Cut(f.Tag.Get("yaml"), ","); name == key.Value {
				known = true
				break
			}
		}
		if !known {
			return fmt.Errorf("line %d: field %s not found in type %v", key.Line, key.Value, t)
		}
	}
	return nil
}

// ParseAccess is the inverse of atsss.AccessType.String.
func ParseAccess(s string) (atsss.AccessType, error) {
	for _, a := range atsss.Accesses {
		if a.String() == s {
			return a, nil
		}
	}
	return 0, fmt.Errorf("unknown access %q (want %v or %v)", s, atsss.Access3GPP, atsss.AccessNon3GPP)
}

// parsePair parses "x/y", a value for the 3GPP and for the non-3GPP access,
// where "-" sets none. The empty string sets neither.
func parsePair[T any](s, what string, parse func(string) (T, error)) ([2]T, error) {
	var out [2]T
	if s == "" {
		return out, nil
	}
	a, b, ok := strings.Cut(s, "/")
	if !ok {
		return out, fmt.Errorf("%s %q: want 3GPP/non-3GPP, such as 70/30", what, s)
	}
	for i, v := range [2]string{a, b} {
		if v == "-" {
			continue
		}
		var err error
		if out[i], err = parse(v); err != nil {
			return out, fmt.Errorf("%s %q: %w", what, s, err)
		}
	}
	return out, nil
}

func parseWeight(s string) (atsss.OptionalUint8, error) {
	w, err := strconv.ParseUint(s, 10, 8)
	if err != nil {
		return atsss.OptionalUint8{}, fmt.Errorf("weight %q is not a number from 0 to 255", s)
	}
	return atsss.OptionalUint8{Value: uint8(w), Set: true}, nil
}

func parsePriority(s string) (atsss.OptionalPriority, error) {
	p, err := atsss.ParsePriority(s)
	return atsss.OptionalPriority{Value: p, Set: err == nil}, err
}

// parseThresholds parses "rtt=50ms,plr=5" (either may be left out): the RTT
// as a duration of whole milliseconds, the packet loss rate in percent, an
// optional "%" after it. Values are not checked against the limits of
// TS 29.244 §8.2.196, so tests can send wrong ones.
func parseThresholds(s string) (atsss.Thresholds, error) {
	var t atsss.Thresholds
	for kv := range strings.SplitSeq(s, ",") {
		k, v, _ := strings.Cut(kv, "=")
		switch k {
		case "rtt":
			d, err := time.ParseDuration(v)
			if err != nil || d < 0 || d%time.Millisecond != 0 || d/time.Millisecond > 0xffff {
				return t, fmt.Errorf("thresholds: rtt %q is not a duration of 0 to 65535 whole milliseconds", v)
			}
			t.RTT = atsss.OptionalUint16{Value: uint16(d / time.Millisecond), Set: true}
		case "plr":
			p, err := strconv.ParseUint(strings.TrimSuffix(v, "%"), 10, 8)
			if err != nil {
				return t, fmt.Errorf("thresholds: plr %q is not a percentage from 0 to 255", v)
			}
			t.PLR = atsss.OptionalUint8{Value: uint8(p), Set: true}
		default:
			return t, fmt.Errorf("thresholds: %q is not rtt=DURATION or plr=PERCENT", kv)
		}
	}
	return t, nil
}

// parseSMI parses a steering mode indicator: "albi", "ueai", both joined by
// a comma (which TS 29.244 §8.2.197 forbids, for tests), or "none".
func parseSMI(s string) (atsss.SteeringModeIndicator, error) {
	var smi atsss.SteeringModeIndicator
	if s == "none" {
		return smi, nil
	}
	for flag := range strings.SplitSeq(s, ",") {
		switch flag {
		case "albi":
			smi.AutonomousLoadBalancing = true
		case "ueai":
			smi.UEAssistance = true
		default:
			return smi, fmt.Errorf("smi %q: want albi, ueai or none", s)
		}
	}
	return smi, nil
}
