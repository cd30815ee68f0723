package atsssv1_test

import (
	"errors"
	"strings"
	"testing"

	"buf.build/go/protovalidate"
	"google.golang.org/protobuf/proto"

	atsssv1 "github.com/openatsss/atsss/api/atsss/v1"
)

func u32(v uint32) *uint32 { return &v }

// lb8020 is a valid Load-Balancing 80/20 policy for one application.
func lb8020() *atsssv1.Policy {
	return &atsssv1.Policy{
		Name: "policies/video-lb",
		Match: &atsssv1.PolicyMatch{Key: &atsssv1.PolicyMatch_Application{Application: &atsssv1.Application{
			Selector: &atsssv1.Application_FlowDescription{FlowDescription: "permit out ip from 198.51.100.0/24 to assigned"},
		}}},
		SteerFun: atsssv1.SteeringFunctionality_STEERING_FUNCTIONALITY_MPTCP,
		SteerModeDl: &atsssv1.SteeringMode{
			SteerModeValue: atsssv1.SteeringModeValue_STEERING_MODE_VALUE_LOAD_BALANCING,
			ThreeGLoad:     u32(80),
			NonThreeGLoad:  u32(20),
		},
	}
}

// TestValidate checks that the protovalidate rules in the .proto files
// accept good requests and reject the bad ones of issue 5 naming the field
// or rule at fault.
func TestValidate(t *testing.T) {
	v, err := protovalidate.New()
	if err != nil {
		t.Fatal(err)
	}
	put := func(edit func(p *atsssv1.Policy)) proto.Message {
		p := lb8020()
		edit(p)
		return &atsssv1.PutPolicyRequest{Policy: p}
	}
	tests := []struct {
		name string
		msg  proto.Message
		want string // substring of the error; empty means valid
	}{
		{"lb 80/20", put(func(*atsssv1.Policy) {}), ""},
		{"weights 90/30", put(func(p *atsssv1.Policy) { p.SteerModeDl.ThreeGLoad = u32(90); p.SteerModeDl.NonThreeGLoad = u32(30) }), "steering_mode.weights_sum"},
		{"3gLoad over 100", put(func(p *atsssv1.Policy) { p.SteerModeDl.ThreeGLoad = u32(101); p.SteerModeDl.NonThreeGLoad = nil }), "three_g_load"},
		{"lb without load", put(func(p *atsssv1.Policy) { p.SteerModeDl.ThreeGLoad = nil; p.SteerModeDl.NonThreeGLoad = nil }), "steering_mode.load_balancing"},
		{"lb with auto indicator", put(func(p *atsssv1.Policy) {
			p.SteerModeDl.SteerModeInd = atsssv1.SteeringModeIndicator_STEERING_MODE_INDICATOR_AUTO_LOAD_BALANCE
		}), ""},
		{"lb with indicator, no weights", put(func(p *atsssv1.Policy) {
			p.SteerModeDl.ThreeGLoad, p.SteerModeDl.NonThreeGLoad = nil, nil
			p.SteerModeDl.SteerModeInd = atsssv1.SteeringModeIndicator_STEERING_MODE_INDICATOR_AUTO_LOAD_BALANCE
		}), "steering_mode.load_balancing"},
		{"redundant by policy", put(func(p *atsssv1.Policy) {
			p.SteerModeDl = &atsssv1.SteeringMode{SteerModeValue: atsssv1.SteeringModeValue_STEERING_MODE_VALUE_REDUNDANT}
		}), "policy.redundant"},
		{"path preference with downlink mode", put(func(p *atsssv1.Policy) {
			p.PathPreference = atsssv1.PathPreference_PATH_PREFERENCE_3GPP_ONLY
		}), "policy.path_preference"},
		{"thresholds with SMI", put(func(p *atsssv1.Policy) {
			p.SteerModeDl.SteerModeInd = atsssv1.SteeringModeIndicator_STEERING_MODE_INDICATOR_UE_ASSISTANCE
			p.SteerModeDl.ThresValue = &atsssv1.ThresholdValue{RttMs: u32(50)}
		}), "steering_mode.indicator_thresholds"},
		{"PLR 100.0 %", put(func(p *atsssv1.Policy) { p.SteerModeDl.ThresValue = &atsssv1.ThresholdValue{PlrPerMille: u32(1000)} }), ""},
		{"PLR over 1000", put(func(p *atsssv1.Policy) { p.SteerModeDl.ThresValue = &atsssv1.ThresholdValue{PlrPerMille: u32(1001)} }), "plr_per_mille"},
		{"unknown access", put(func(p *atsssv1.Policy) {
			p.SteerModeDl = &atsssv1.SteeringMode{
				SteerModeValue: atsssv1.SteeringModeValue_STEERING_MODE_VALUE_ACTIVE_STANDBY,
				Active:         atsssv1.AccessType(7),
			}
		}), "active"},
		{"standby equals active", put(func(p *atsssv1.Policy) {
			p.SteerModeDl = &atsssv1.SteeringMode{
				SteerModeValue: atsssv1.SteeringModeValue_STEERING_MODE_VALUE_ACTIVE_STANDBY,
				Active:         atsssv1.AccessType_ACCESS_TYPE_3GPP,
				Standby:        atsssv1.AccessType_ACCESS_TYPE_3GPP,
			}
		}), "steering_mode.active_standby"},
		{"missing match key", put(func(p *atsssv1.Policy) { p.Match = &atsssv1.PolicyMatch{} }), "key"},
		{"missing match", put(func(p *atsssv1.Policy) { p.Match = nil }), "match"},
		{"ue prefix", put(func(p *atsssv1.Policy) {
			p.Match = &atsssv1.PolicyMatch{Key: &atsssv1.PolicyMatch_UePrefix{UePrefix: "2001:db8::/32"}}
		}), ""},
		{"ue prefix host bits", put(func(p *atsssv1.Policy) {
			p.Match = &atsssv1.PolicyMatch{Key: &atsssv1.PolicyMatch_UePrefix{UePrefix: "198.51.100.1/24"}}
		}), "ue_prefix"},
		{"no effect", put(func(p *atsssv1.Policy) { p.SteerModeDl = nil }), "policy.effect"},
		{"rate cap only", put(func(p *atsssv1.Policy) {
			p.SteerModeDl = nil
			p.RateCap = &atsssv1.FlowRateCap{DownlinkBps: 10_000_000}
		}), ""},
		{"bad name", put(func(p *atsssv1.Policy) { p.Name = "video" }), "name"},
		{"list page size", &atsssv1.ListSessionsRequest{PageSize: 1001}, "page_size"},
		{"list bad ue address", &atsssv1.ListSessionsRequest{UeAddress: "not-an-ip"}, "ue_address"},
		{"list all", &atsssv1.ListSessionsRequest{}, ""},
		{"get seid 0", &atsssv1.GetSessionRequest{}, "seid"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := v.Validate(tt.msg)
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("Validate: %v, want nil", err)
			case tt.want != "" && err == nil:
				t.Errorf("Validate: nil, want an error about %q", tt.want)
			case tt.want != "" && !strings.Contains(violations(t, err), tt.want):
				t.Errorf("Validate: %v, want it to name %q", violations(t, err), tt.want)
			}
		})
	}
}

// violations lists err's violations as "field.path rule_id: message" lines,
// the form a server's InvalidArgument status would carry.
func violations(t *testing.T, err error) string {
	t.Helper()
	var ve *protovalidate.ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("Validate: %v is not a *protovalidate.ValidationError", err)
	}
	var b strings.Builder
	for _, v := range ve.Violations {
		b.WriteString(protovalidate.FieldPathString(v.Proto.GetField()) + " " + v.Proto.GetRuleId() + ": " + v.Proto.GetMessage() + "\n")
	}
	return b.String()
}
