package main

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/known/timestamppb"

	atsssv1 "github.com/openatsss/atsss/api/atsss/v1"
)

func TestDecodePolicies(t *testing.T) {
	dnn := func(name, d string) *atsssv1.Policy {
		return &atsssv1.Policy{Name: name, Match: &atsssv1.PolicyMatch{Key: &atsssv1.PolicyMatch_Dnn{Dnn: d}}}
	}
	with := func(p *atsssv1.Policy, edit func(*atsssv1.Policy)) *atsssv1.Policy { edit(p); return p }
	tests := []struct {
		name string
		in   string
		want []*atsssv1.Policy
		err  string // substring of the error; empty means success
	}{
		{"lowerCamel full enums", "name: a\nmatch: {dnn: x}\nsteerModeDl: {steerModeValue: STEERING_MODE_VALUE_PRIORITY_BASED, prioAcc: ACCESS_TYPE_NON_3GPP}\n",
			[]*atsssv1.Policy{with(dnn("policies/a", "x"), func(p *atsssv1.Policy) {
				p.SteerModeDl = &atsssv1.SteeringMode{SteerModeValue: atsssv1.SteeringModeValue_STEERING_MODE_VALUE_PRIORITY_BASED,
					PrioAcc: atsssv1.AccessType_ACCESS_TYPE_NON_3GPP}
			})}, ""},
		{"snake_case short enums", "name: a\nmatch: {dnn: x}\nsteer_fun: ATSSS_LL\nsteer_mode_ul:\n  steer_mode_value: LOAD_BALANCING\n  steer_mode_ind: AUTO_LOAD_BALANCE\n",
			[]*atsssv1.Policy{with(dnn("policies/a", "x"), func(p *atsssv1.Policy) {
				p.SteerFun = atsssv1.SteeringFunctionality_STEERING_FUNCTIONALITY_ATSSS_LL
				p.SteerModeUl = &atsssv1.SteeringMode{SteerModeValue: atsssv1.SteeringModeValue_STEERING_MODE_VALUE_LOAD_BALANCING,
					SteerModeInd: atsssv1.SteeringModeIndicator_STEERING_MODE_INDICATOR_AUTO_LOAD_BALANCE}
			})}, ""},
		{"numbers-looking strings stay strings", "name: a\nmatch:\n  snssai: {sst: 1, sd: 000001}\n---\nname: b\nmatch: {dnn: 1234}\n",
			[]*atsssv1.Policy{
				{Name: "policies/a", Match: &atsssv1.PolicyMatch{Key: &atsssv1.PolicyMatch_Snssai{Snssai: &atsssv1.Snssai{Sst: 1, Sd: "000001"}}}},
				dnn("policies/b", "1234"),
			}, ""},
		{"thresholds, app id, 64-bit", "name: a\nmatch: {application: {appId: video}}\nrateCap: {uplinkBps: 18446744073709551615}\nsteerModeDl:\n  steerModeValue: SMALLEST_DELAY\n  thresValue: {rttMs: 50, plrPerMille: 5}\n",
			[]*atsssv1.Policy{{Name: "policies/a",
				Match:   &atsssv1.PolicyMatch{Key: &atsssv1.PolicyMatch_Application{Application: &atsssv1.Application{Selector: &atsssv1.Application_AppId{AppId: "video"}}}},
				RateCap: &atsssv1.FlowRateCap{UplinkBps: 18446744073709551615},
				SteerModeDl: &atsssv1.SteeringMode{SteerModeValue: atsssv1.SteeringModeValue_STEERING_MODE_VALUE_SMALLEST_DELAY,
					ThresValue: &atsssv1.ThresholdValue{RttMs: u32(50), PlrPerMille: u32(5)}},
			}}, ""},
		{"output-only fields, anchors, nulls, empty documents", "---\nname: a\nmatch: &m {dnn: x}\nrevision: 7\nupdateTime: 2026-01-02T03:04:05Z\nsteerModeUl: null\n---\n---\nname: b\nmatch: *m\n",
			[]*atsssv1.Policy{
				with(dnn("policies/a", "x"), func(p *atsssv1.Policy) {
					p.Revision = 7
					p.UpdateTime = timestamppb.New(mustTime(t, "2026-01-02T03:04:05Z"))
				}),
				dnn("policies/b", "x"),
			}, ""},

		{"unknown top-level field", "name: a\nmatch: {dnn: x}\nprecendence: 3\n", nil, `t.yaml:3: unknown field "precendence" in atsss.v1.Policy`},
		{"unknown nested field", "name: a\nmatch:\n  dnn: x\n  slice: 1\n", nil, `t.yaml:4: unknown field "slice" in atsss.v1.PolicyMatch`},
		{"case typo suggests", "name: a\nmatch: {dnn: x}\nsteermodedl: {}\n", nil, `(did you mean "steerModeDl"?)`},
		{"repeated field", "name: a\nmatch: {dnn: x}\nsteer_fun: MPTCP\nsteerFun: MPTCP\n", nil, `field "steerFun" repeats "steer_fun"`},
		{"two match keys", "name: a\nmatch: {dnn: x, ue_prefix: 198.51.100.0/24}\n", nil, `fields "dnn" and "ue_prefix" of atsss.v1.PolicyMatch are alternatives`},
		{"unknown enum", "name: a\nmatch: {dnn: x}\npathPreference: FASTEST\n", nil, `unknown atsss.v1.PathPreference "FASTEST", want one of 3GPP_ONLY, NON_3GPP_ONLY`},
		{"enum by number", "name: a\nmatch: {dnn: x}\npathPreference: 1\n", nil, `unknown atsss.v1.PathPreference "1"`},
		{"negative uint", "name: a\nmatch: {dnn: x}\nprecedence: -3\n", nil, `t.yaml:3: field precedence: want a decimal uint32, got "-3"`},
		{"uint32 overflow", "name: a\nmatch: {dnn: x}\nprecedence: 4294967296\n", nil, "want a decimal uint32"},
		{"list for message", "name: a\nmatch: [dnn]\n", nil, "atsss.v1.PolicyMatch: want a mapping of fields, got a list"},
		{"mapping for string", "name: {a: b}\nmatch: {dnn: x}\n", nil, "field name: want a single value, got a mapping"},
		{"bad timestamp", "name: a\nmatch: {dnn: x}\nupdateTime: yesterday\n", nil, "updateTime"},
		{"no name", "match: {dnn: x}\n", nil, "t.yaml:1: policy without a name"},
		{"same name twice", "name: a\nmatch: {dnn: x}\n---\nname: policies/a\nmatch: {dnn: y}\n", nil, "policy policies/a is already in the file at line 1"},
		{"not a mapping", "- a\n", nil, "want a mapping of fields, got a list"},
		{"empty", "# nothing\n", nil, "t.yaml: no policy in the file"},
		{"bad yaml", "name: a\n  match: : x\n", nil, "t.yaml: document 1: yaml: line 2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := decodePolicies(strings.NewReader(tt.in), "t.yaml")
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error %v, want one containing %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tt.want, got, protocmp.Transform()); d != "" {
				t.Errorf("(-want +got):\n%s", d)
			}
		})
	}
}

func mustTime(t *testing.T, s string) time.Time {
	t.Helper()
	tm, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatal(err)
	}
	return tm
}

// FuzzDecodePolicies checks that no input makes the decoder panic and that
// whatever it accepts has a resource name. Seeded with the example file and
// the table above.
func FuzzDecodePolicies(f *testing.F) {
	if b, err := os.ReadFile(exampleFile); err == nil {
		f.Add(string(b))
	}
	for _, s := range []string{
		"name: a\nmatch: {dnn: x}\nsteerModeDl: {steerModeValue: LOAD_BALANCING, threeGLoad: 80}\n",
		"name: a\nmatch: &m {snssai: {sst: 1, sd: 000001}}\n---\nname: b\nmatch: *m\nrateCap: {downlinkBps: 1}\n",
		"a: &a [*a]\n",
		"name: a\nmatch: {dnn: x, ue_prefix: y}\n",
		"name: [\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		ps, err := decodePolicies(strings.NewReader(in), "fuzz")
		if err != nil {
			return
		}
		for _, p := range ps {
			if !strings.HasPrefix(p.GetName(), policyPrefix) {
				t.Errorf("accepted policy without resource name: %v", p)
			}
		}
	})
}
