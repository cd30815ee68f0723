package server_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"buf.build/gen/go/bufbuild/protovalidate/protocolbuffers/go/buf/validate"
	"buf.build/go/protovalidate"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	atsssv1 "github.com/openatsss/atsss/api/atsss/v1"
)

// violations returns the fields an INVALID_ARGUMENT names in its details
// (protovalidate's Violations or the server's own BadRequest) and the
// rule IDs of the protovalidate violations.
func violations(st *status.Status) (fields, rules []string) {
	for _, d := range st.Details() {
		switch d := d.(type) {
		case *validate.Violations:
			for _, v := range d.GetViolations() {
				fields = append(fields, protovalidate.FieldPathString(v.GetField()))
				rules = append(rules, v.GetRuleId())
			}
		case *errdetails.BadRequest:
			for _, v := range d.GetFieldViolations() {
				fields = append(fields, v.GetField())
			}
		}
	}
	return fields, rules
}

// TestInvalidArgument sends requests the API must refuse: each returns
// INVALID_ARGUMENT whose message and details name the field at fault, both
// for protovalidate's rules (the .proto) and for the server's own (what
// the UPF cannot carry out), and nothing is stored.
func TestInvalidArgument(t *testing.T) {
	h := start(t, options{auth: tokenAuth()})
	c := h.dial(t, operatorToken)
	ctx := testCtx(t)

	valid := func() *atsssv1.Policy { return lbPolicy("policies/video", videoFlow, 80) }
	for _, tc := range []struct {
		name   string
		policy func(p *atsssv1.Policy)
		field  string // in the message and the details
		rule   string // protovalidate rule ID; "" for the server's own rules
		text   string // also in the message
	}{
		{
			name: "weights 90/30",
			policy: func(p *atsssv1.Policy) {
				p.SteerModeDl.ThreeGLoad, p.SteerModeDl.NonThreeGLoad = u32(90), u32(30)
			},
			field: "policy.steer_mode_dl", rule: "steering_mode.weights_sum", text: "three_g_load + non_three_g_load must equal 100",
		},
		{
			name: "three_g_load over 100",
			policy: func(p *atsssv1.Policy) {
				p.SteerModeDl.ThreeGLoad, p.SteerModeDl.NonThreeGLoad = u32(101), nil
			},
			field: "policy.steer_mode_dl.three_g_load", rule: "uint32.lte",
		},
		{
			name: "unknown access",
			policy: func(p *atsssv1.Policy) {
				p.SteerModeDl = &atsssv1.SteeringMode{
					SteerModeValue: atsssv1.SteeringModeValue_STEERING_MODE_VALUE_ACTIVE_STANDBY,
					Active:         atsssv1.AccessType(7),
				}
			},
			field: "policy.steer_mode_dl.active", rule: "enum.defined_only",
		},
		{
			name: "active-standby without active",
			policy: func(p *atsssv1.Policy) {
				p.SteerModeDl = &atsssv1.SteeringMode{
					SteerModeValue: atsssv1.SteeringModeValue_STEERING_MODE_VALUE_ACTIVE_STANDBY,
					Standby:        atsssv1.AccessType_ACCESS_TYPE_NON_3GPP,
				}
			},
			field: "policy.steer_mode_dl", rule: "steering_mode.active_standby",
		},
		{
			name: "thresholds with steer_mode_ind",
			policy: func(p *atsssv1.Policy) {
				p.SteerModeDl.SteerModeInd = atsssv1.SteeringModeIndicator_STEERING_MODE_INDICATOR_AUTO_LOAD_BALANCE
				p.SteerModeDl.ThresValue = &atsssv1.ThresholdValue{RttMs: u32(50)}
			},
			field: "policy.steer_mode_dl", rule: "steering_mode.indicator_thresholds", text: "thres_value and steer_mode_ind are mutually exclusive",
		},
		{
			name:   "missing match",
			policy: func(p *atsssv1.Policy) { p.Match = nil },
			field:  "policy.match", rule: "required",
		},
		{
			name:   "match without key",
			policy: func(p *atsssv1.Policy) { p.Match = &atsssv1.PolicyMatch{} },
			field:  "policy.match.key", rule: "required",
		},
		{
			name: "application without selector",
			policy: func(p *atsssv1.Policy) {
				p.Match = &atsssv1.PolicyMatch{Key: &atsssv1.PolicyMatch_Application{Application: &atsssv1.Application{}}}
			},
			field: "policy.match.application.selector", rule: "required",
		},
		{
			name: "PLR 15 per mille",
			policy: func(p *atsssv1.Policy) {
				p.SteerModeDl.ThresValue = &atsssv1.ThresholdValue{PlrPerMille: u32(15)}
			},
			field: "policy.steer_mode_dl.thres_value.plr_per_mille", text: "whole percent",
		},
		{
			name: "PLR over 1000 per mille",
			policy: func(p *atsssv1.Policy) {
				p.SteerModeDl.ThresValue = &atsssv1.ThresholdValue{PlrPerMille: u32(1010)}
			},
			field: "policy.steer_mode_dl.thres_value.plr_per_mille", rule: "uint32.lte",
		},
		{
			name: "ue_prefix with host bits",
			policy: func(p *atsssv1.Policy) {
				p.Match = &atsssv1.PolicyMatch{Key: &atsssv1.PolicyMatch_UePrefix{UePrefix: "203.0.113.7/24"}}
			},
			field: "policy.match.ue_prefix",
		},
		{
			name: "ue_prefix not a prefix",
			policy: func(p *atsssv1.Policy) {
				p.Match = &atsssv1.PolicyMatch{Key: &atsssv1.PolicyMatch_UePrefix{UePrefix: "203.0.113.7"}}
			},
			field: "policy.match.ue_prefix", rule: "string.ip_prefix",
		},
		{
			name: "flow description that does not parse",
			policy: func(p *atsssv1.Policy) {
				p.Match.GetApplication().Selector = &atsssv1.Application_FlowDescription{FlowDescription: "permit out tcp from any to assigned"}
			},
			field: "policy.match.application.flow_description", text: "tcp",
		},
		{
			name:   "bad name",
			policy: func(p *atsssv1.Policy) { p.Name = "Video" },
			field:  "policy.name", rule: "string.pattern",
		},
		{
			name: "no effect",
			policy: func(p *atsssv1.Policy) {
				p.SteerModeDl = nil
			},
			field: "policy", rule: "policy.effect",
		},
		{
			name: "path preference with steer_mode_dl",
			policy: func(p *atsssv1.Policy) {
				p.PathPreference = atsssv1.PathPreference_PATH_PREFERENCE_LOWEST_LATENCY
			},
			field: "policy", rule: "policy.path_preference",
		},
		{
			name: "redundant by policy",
			policy: func(p *atsssv1.Policy) {
				p.SteerModeDl = &atsssv1.SteeringMode{SteerModeValue: atsssv1.SteeringModeValue_STEERING_MODE_VALUE_REDUNDANT}
			},
			field: "policy", rule: "policy.redundant",
		},
		{
			name: "empty rate cap",
			policy: func(p *atsssv1.Policy) {
				p.RateCap = &atsssv1.FlowRateCap{}
			},
			field: "policy.rate_cap", rule: "flow_rate_cap.not_empty",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := valid()
			tc.policy(p)
			_, err := c.policies.PutPolicy(ctx, &atsssv1.PutPolicyRequest{Policy: p})
			checkInvalid(t, err, tc.field, tc.rule, tc.text)
		})
	}
	if resp, err := c.policies.ListPolicies(ctx, &atsssv1.ListPoliciesRequest{}); err != nil || len(resp.GetPolicies()) != 0 {
		t.Errorf("after refused puts: ListPolicies = %v, %v; want none stored", resp.GetPolicies(), err)
	}

	// The refusal is the validation's, not the store's: the valid policy
	// is stored.
	if _, err := c.policies.PutPolicy(ctx, &atsssv1.PutPolicyRequest{Policy: valid()}); err != nil {
		t.Fatalf("valid policy: %v", err)
	}

	t.Run("SessionService", func(t *testing.T) {
		_, err := c.sessions.GetSession(ctx, &atsssv1.GetSessionRequest{})
		checkInvalid(t, err, "seid", "uint64.gt", "")
		_, err = c.sessions.ListSessions(ctx, &atsssv1.ListSessionsRequest{UeAddress: "203.0.113.300"})
		checkInvalid(t, err, "ue_address", "string.ip", "")
		_, err = c.sessions.ListSessions(ctx, &atsssv1.ListSessionsRequest{PageSize: 1001})
		checkInvalid(t, err, "page_size", "int32.gte_lte", "")
		_, err = c.sessions.ListSessions(ctx, &atsssv1.ListSessionsRequest{PageToken: "not a token"})
		checkInvalid(t, err, "page_token", "", "")
		_, err = c.policies.ListPolicies(ctx, &atsssv1.ListPoliciesRequest{PageToken: "!!"})
		checkInvalid(t, err, "page_token", "", "")
		_, err = c.sessions.ListSessions(ctx, &atsssv1.ListSessionsRequest{SteeringMode: atsssv1.SteeringModeValue(9)})
		checkInvalid(t, err, "steering_mode", "enum.defined_only", "")
		// A stream's request is checked when the server reads it: the
		// refusal ends the stream.
		wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		stream, err := c.sessions.WatchSessions(wctx, &atsssv1.WatchSessionsRequest{SampleInterval: durationpb.New(10 * time.Millisecond)})
		if err == nil {
			_, err = stream.Recv()
		}
		checkInvalid(t, err, "sample_interval", "duration.gte_lte", "")
	})
}

func checkInvalid(t *testing.T, err error, field, rule, text string) {
	t.Helper()
	st := status.Convert(err)
	if st.Code() != codes.InvalidArgument {
		t.Fatalf("got %v, want InvalidArgument", err)
	}
	t.Logf("%v", st.Message())
	if !strings.Contains(st.Message(), field) {
		t.Errorf("message %q does not name %s", st.Message(), field)
	}
	if text != "" && !strings.Contains(st.Message(), text) {
		t.Errorf("message %q does not say %q", st.Message(), text)
	}
	fields, rules := violations(st)
	if !slices.Contains(fields, field) {
		t.Errorf("details name fields %q, want %s", fields, field)
	}
	if rule != "" && !slices.Contains(rules, rule) {
		t.Errorf("details have rules %q, want %s", rules, rule)
	}
}
