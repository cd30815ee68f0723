package main

import (
	"os"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"

	"github.com/google/go-cmp/cmp"

	atsssv1 "github.com/openatsss/atsss/api/atsss/v1"
)

const exampleFile = "../../deploy/examples/policy-lb-8020.yaml"

// examplePolicy is what deploy/examples/policy-lb-8020.yaml says.
func examplePolicy() *atsssv1.Policy {
	return &atsssv1.Policy{
		Name:       "policies/lb-8020",
		Precedence: 10,
		Match: &atsssv1.PolicyMatch{Key: &atsssv1.PolicyMatch_Application{Application: &atsssv1.Application{
			Selector: &atsssv1.Application_FlowDescription{FlowDescription: "permit out ip from 203.0.113.128/25 to assigned"},
		}}},
		SteerFun: atsssv1.SteeringFunctionality_STEERING_FUNCTIONALITY_MPTCP,
		SteerModeDl: &atsssv1.SteeringMode{
			SteerModeValue: atsssv1.SteeringModeValue_STEERING_MODE_VALUE_LOAD_BALANCING,
			ThreeGLoad:     u32(80),
			NonThreeGLoad:  u32(20),
		},
	}
}

func TestPolicyApplyExample(t *testing.T) {
	srv := startServer(t)
	r := srv.plain(t, "policy", "apply", "-f", exampleFile)
	r.want(t, exitOK)
	if want := "policies/lb-8020 created (revision 1)\n"; r.stdout != want {
		t.Errorf("stdout %q, want %q", r.stdout, want)
	}
	puts := srv.api.gotPuts()
	if len(puts) != 1 {
		t.Fatalf("server got %d puts, want 1", len(puts))
	}
	if got := puts[0]; !proto.Equal(got, examplePolicy()) {
		t.Errorf("server got another policy (-got +want):\n%s", cmp.Diff(got, examplePolicy(), protocmp.Transform()))
	}

	// Applying again replaces it.
	r = srv.plain(t, "policy", "apply", "-f", exampleFile)
	r.want(t, exitOK)
	if want := "policies/lb-8020 configured (revision 2)\n"; r.stdout != want {
		t.Errorf("stdout %q, want %q", r.stdout, want)
	}
}

func TestPolicyApplyStdinSeveral(t *testing.T) {
	srv := startServer(t)
	in := `
name: a
match: {dnn: internet}
rate_cap: {downlink_bps: 10000000}
---
name: policies/b
match: {ue_prefix: 198.51.100.0/24}
path_preference: PREFER_3GPP
`
	r := cli(t, nil, in, "--plaintext", "--addr", srv.addr, "policy", "apply", "-f", "-")
	r.want(t, exitOK)
	want := []*atsssv1.Policy{
		{Name: "policies/a", Match: &atsssv1.PolicyMatch{Key: &atsssv1.PolicyMatch_Dnn{Dnn: "internet"}},
			RateCap: &atsssv1.FlowRateCap{DownlinkBps: 10_000_000}},
		{Name: "policies/b", Match: &atsssv1.PolicyMatch{Key: &atsssv1.PolicyMatch_UePrefix{UePrefix: "198.51.100.0/24"}},
			PathPreference: atsssv1.PathPreference_PATH_PREFERENCE_PREFER_3GPP},
	}
	if d := cmp.Diff(want, srv.api.gotPuts(), protocmp.Transform()); d != "" {
		t.Errorf("puts (-want +got):\n%s", d)
	}
}

func TestPolicyApplyErrors(t *testing.T) {
	srv := startServer(t)
	t.Run("unknown field", func(t *testing.T) {
		in := "name: a\nmatch: {dnn: x}\nsteerModeDl:\n  steerModeValue: LOAD_BALANCING\n  threeGLoad: 80\n  weight: 3\n"
		r := cli(t, nil, in, "--plaintext", "--addr", srv.addr, "policy", "apply", "-f", "-")
		r.want(t, exitLocal)
		if want := `atsssctl: stdin:6: unknown field "weight" in atsss.v1.SteeringMode`; !strings.Contains(r.stderr, want) {
			t.Errorf("stderr %q does not contain %q", r.stderr, want)
		}
	})
	t.Run("missing file", func(t *testing.T) {
		r := srv.plain(t, "policy", "apply", "-f", t.TempDir()+"/none.yaml")
		r.want(t, exitLocal)
	})
	t.Run("no -f", func(t *testing.T) {
		srv.plain(t, "policy", "apply").want(t, exitUsage)
	})
	t.Run("field violation", func(t *testing.T) {
		in := "name: a\nmatch: {dnn: x}\nsteerModeDl: {steerModeValue: LOAD_BALANCING, threeGLoad: 120}\n"
		r := cli(t, nil, in, "--plaintext", "--addr", srv.addr, "policy", "apply", "-f", "-")
		r.want(t, exitStatusBase+3)
		want := "atsssctl: InvalidArgument: invalid policy\n  policy.steer_mode_dl.three_g_load: value must be less than or equal to 100 [uint32.lte]\n"
		if r.stderr != want {
			t.Errorf("stderr %q, want %q", r.stderr, want)
		}
	})
	t.Run("second of two refused", func(t *testing.T) {
		in := "name: ok\nmatch: {dnn: x}\npathPreference: LOWEST_LATENCY\n---\nname: Bad_Name\nmatch: {dnn: x}\npathPreference: LOWEST_LATENCY\n"
		r := cli(t, nil, in, "--plaintext", "--addr", srv.addr, "policy", "apply", "-f", "-")
		r.want(t, exitStatusBase+3)
		if want := "policies/ok created (revision 1)\n"; r.stdout != want {
			t.Errorf("stdout %q, want %q", r.stdout, want)
		}
		for _, want := range []string{
			"atsssctl: InvalidArgument: policies/Bad_Name: validation error",
			`  name: value "policies/Bad_Name" does not match regex pattern [string.pattern]`,
		} {
			if !strings.Contains(r.stderr, want) {
				t.Errorf("stderr %q does not contain %q", r.stderr, want)
			}
		}
	})
}

func TestPolicyDryRun(t *testing.T) {
	// No server: --dry-run must not dial.
	r := cli(t, nil, "", "--plaintext", "--addr", "127.0.0.1:1", "-o", "json", "policy", "apply", "--dry-run", "-f", exampleFile)
	r.want(t, exitOK)
	got := &atsssv1.Policy{}
	if err := protojson.Unmarshal([]byte(r.stdout), got); err != nil {
		t.Fatalf("dry-run JSON: %v\n%s", err, r.stdout)
	}
	if !proto.Equal(got, examplePolicy()) {
		t.Errorf("dry run printed another policy (-got +want):\n%s", cmp.Diff(got, examplePolicy(), protocmp.Transform()))
	}
}

func TestPolicyGetListDelete(t *testing.T) {
	srv := startServer(t)
	srv.plain(t, "policy", "apply", "-f", exampleFile).want(t, exitOK)
	stored := srv.api.policy("policies/lb-8020")

	t.Run("get both name forms", func(t *testing.T) {
		for _, name := range []string{"lb-8020", "policies/lb-8020"} {
			r := srv.plain(t, "-o", "json", "policy", "get", name)
			r.want(t, exitOK)
			got := &atsssv1.Policy{}
			if err := protojson.Unmarshal([]byte(r.stdout), got); err != nil {
				t.Fatal(err)
			}
			if !proto.Equal(got, stored) {
				t.Errorf("get %s: %v, want %v", name, got, stored)
			}
		}
	})
	t.Run("get table", func(t *testing.T) {
		r := srv.plain(t, "policy", "get", "lb-8020")
		r.want(t, exitOK)
		for _, want := range []string{
			"Name:             policies/lb-8020\n",
			"DL steering:      LOAD_BALANCING 80/20\n",
			"Match:            flow=permit out ip from 203.0.113.128/25 to assigned\n",
			"Revision:         1\n",
		} {
			if !strings.Contains(r.stdout, want) {
				t.Errorf("table lacks %q:\n%s", want, r.stdout)
			}
		}
	})
	t.Run("get yaml applies back", func(t *testing.T) {
		r := srv.plain(t, "-o", "yaml", "policy", "get", "lb-8020")
		r.want(t, exitOK)
		if !strings.Contains(r.stdout, "\nsteerModeDl:\n  steerModeValue: STEERING_MODE_VALUE_LOAD_BALANCING\n  threeGLoad: 80\n") {
			t.Errorf("yaml:\n%s", r.stdout)
		}
		in := r.stdout
		r = cli(t, nil, in, "--plaintext", "--addr", srv.addr, "policy", "apply", "-f", "-")
		r.want(t, exitOK)
		if puts := srv.api.gotPuts(); !proto.Equal(puts[len(puts)-1], stored) {
			t.Errorf("re-applied %v, want %v", puts[len(puts)-1], stored)
		}
	})
	t.Run("list", func(t *testing.T) {
		in := "name: dnn-cap\nprecedence: 5\nmatch: {dnn: internet}\nrateCap: {downlinkBps: 10000000}\n"
		cli(t, nil, in, "--plaintext", "--addr", srv.addr, "policy", "apply", "-f", "-").want(t, exitOK)

		r := srv.plain(t, "policy", "list")
		r.want(t, exitOK)
		lines := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
		if len(lines) != 3 {
			t.Fatalf("want a header and 2 rows:\n%s", r.stdout)
		}
		col := strings.Index(lines[0], "MATCH")
		if !strings.HasPrefix(lines[1][col:], "dnn=internet") || !strings.HasPrefix(lines[2][col:], "flow=permit out") {
			t.Errorf("MATCH column not aligned:\n%s", r.stdout)
		}
		if !strings.Contains(lines[1], "dl 10.0 Mbit/s ul -") {
			t.Errorf("no rate cap in %q", lines[1])
		}

		r = srv.plain(t, "-o", "yaml", "policy", "list")
		r.want(t, exitOK)
		if !strings.HasPrefix(r.stdout, "policies:\n  - name: policies/dnn-cap\n") {
			t.Errorf("yaml:\n%s", r.stdout)
		}
		r = srv.plain(t, "-o", "json", "policy", "list")
		r.want(t, exitOK)
		list := &atsssv1.ListPoliciesResponse{}
		if err := protojson.Unmarshal([]byte(r.stdout), list); err != nil || len(list.GetPolicies()) != 2 {
			t.Errorf("json list %v (%v):\n%s", list, err, r.stdout)
		}
	})
	t.Run("delete", func(t *testing.T) {
		r := srv.plain(t, "policy", "delete", "lb-8020")
		r.want(t, exitOK)
		if r.stdout != "policies/lb-8020 deleted\n" {
			t.Errorf("stdout %q", r.stdout)
		}
		r = srv.plain(t, "policy", "delete", "lb-8020")
		r.want(t, exitStatusBase+5)
		if r.stderr != "atsssctl: NotFound: policy policies/lb-8020 not found\n" {
			t.Errorf("stderr %q", r.stderr)
		}
	})
}

// TestExampleFileParses keeps deploy/examples/policy-lb-8020.yaml in step
// with the API.
func TestExampleFileParses(t *testing.T) {
	f, err := os.Open(exampleFile)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	got, err := decodePolicies(f, exampleFile)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || !proto.Equal(got[0], examplePolicy()) {
		t.Errorf("example file: %v, want %v", got, examplePolicy())
	}
}
