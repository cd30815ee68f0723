package server_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"

	atsssv1 "github.com/openatsss/atsss/api/atsss/v1"
	"github.com/openatsss/atsss/atsss"
)

// The SMF's Active-Standby of activeStandbySession, in the API's terms.
var smfActiveStandby = &atsssv1.SteeringMode{
	SteerModeValue: atsssv1.SteeringModeValue_STEERING_MODE_VALUE_ACTIVE_STANDBY,
	Active:         atsssv1.AccessType_ACCESS_TYPE_3GPP,
	Standby:        atsssv1.AccessType_ACCESS_TYPE_NON_3GPP,
}

// TestEffectiveSteering puts a Load-Balancing 80/20 policy for one
// application over sessions whose SMF chose Active-Standby for it: the
// policy shows as the steering in force where a MAR can carry it, as an
// error where the MAR lacks an access, not at all where the application is
// not the MAR's; deleting it restores the SMF's MAR.
func TestEffectiveSteering(t *testing.T) {
	h := start(t, options{auth: tokenAuth()})
	h.put(t,
		activeStandbySession(0x21, "smf-a.example.net"),
		threeGPPOnlySession(0x22, "smf-a.example.net"),
		lbSession(0x23, "smf-b.example.net"),
	)
	ctx := testCtx(t)
	op := h.dial(t, operatorToken)
	view := h.dial(t, viewerToken)

	get := func(seid uint64) *atsssv1.MultiAccessRule {
		t.Helper()
		resp, err := view.sessions.GetSession(ctx, &atsssv1.GetSessionRequest{Seid: seid})
		if err != nil {
			t.Fatalf("GetSession %#x: %v", seid, err)
		}
		if n := len(resp.GetSession().GetMars()); n != 1 {
			t.Fatalf("session %#x has %d MARs", seid, n)
		}
		return resp.GetSession().GetMars()[0]
	}
	smfOnly := func(t *testing.T, seid uint64, smf *atsssv1.SteeringMode) {
		t.Helper()
		m := get(seid)
		if m.GetEffectiveSource() != atsssv1.SteeringSource_STEERING_SOURCE_SMF_MAR || m.GetPolicy() != "" {
			t.Errorf("session %#x: source %v, policy %q; want the SMF's MAR", seid, m.GetEffectiveSource(), m.GetPolicy())
		}
		if d := cmp.Diff(smf, m.GetSmfSteering(), protocmp.Transform()); d != "" {
			t.Errorf("session %#x smf_steering (-want +got):\n%s", seid, d)
		}
		if d := cmp.Diff(smf, m.GetEffectiveSteeringDl(), protocmp.Transform()); d != "" {
			t.Errorf("session %#x effective_steering_dl (-want +got):\n%s", seid, d)
		}
	}
	smfLB := &atsssv1.SteeringMode{
		SteerModeValue: atsssv1.SteeringModeValue_STEERING_MODE_VALUE_LOAD_BALANCING,
		ThreeGLoad:     u32(70),
		SteerModeInd:   atsssv1.SteeringModeIndicator_STEERING_MODE_INDICATOR_AUTO_LOAD_BALANCE,
	}
	smf3GPPOnly := &atsssv1.SteeringMode{
		SteerModeValue: atsssv1.SteeringModeValue_STEERING_MODE_VALUE_ACTIVE_STANDBY,
		Active:         atsssv1.AccessType_ACCESS_TYPE_3GPP,
	}

	t.Run("before", func(t *testing.T) {
		smfOnly(t, 0x21, smfActiveStandby)
		smfOnly(t, 0x22, smf3GPPOnly)
		smfOnly(t, 0x23, smfLB)
	})

	pol := lbPolicy("policies/video-lb", videoFlow, 80)
	pol.RateCap = &atsssv1.FlowRateCap{DownlinkBps: 10_000_000}
	// The uplink is the UE's: shown, not applied by the UPF.
	ul := &atsssv1.SteeringMode{
		SteerModeValue: atsssv1.SteeringModeValue_STEERING_MODE_VALUE_PRIORITY_BASED,
		PrioAcc:        atsssv1.AccessType_ACCESS_TYPE_NON_3GPP,
	}
	pol.SteerModeUl = ul
	put, err := op.policies.PutPolicy(ctx, &atsssv1.PutPolicyRequest{Policy: pol})
	if err != nil {
		t.Fatal(err)
	}
	if !put.GetCreated() || put.GetPolicy().GetRevision() == 0 {
		t.Errorf("PutPolicy = %v", put)
	}

	t.Run("policy in force", func(t *testing.T) {
		eventually(t, "policy in force for session 0x21", func() bool {
			return get(0x21).GetEffectiveSource() == atsssv1.SteeringSource_STEERING_SOURCE_OPERATOR_POLICY
		})
		m := get(0x21)
		want := &atsssv1.MultiAccessRule{
			MarId:           1,
			SmfSteerFun:     atsssv1.SteeringFunctionality_STEERING_FUNCTIONALITY_MPTCP,
			SmfSteering:     smfActiveStandby,
			FarId_3Gpp:      2,
			FarIdNon_3Gpp:   3,
			EffectiveSource: atsssv1.SteeringSource_STEERING_SOURCE_OPERATOR_POLICY,
			Policy:          "policies/video-lb",
			// Functionality is the UE's choice: a policy never changes it.
			EffectiveSteerFun: atsssv1.SteeringFunctionality_STEERING_FUNCTIONALITY_MPTCP,
			EffectiveSteeringDl: &atsssv1.SteeringMode{
				SteerModeValue: atsssv1.SteeringModeValue_STEERING_MODE_VALUE_LOAD_BALANCING,
				ThreeGLoad:     u32(80),
			},
			EffectiveSteeringUl: ul,
			RateCap:             &atsssv1.FlowRateCap{DownlinkBps: 10_000_000},
		}
		if d := cmp.Diff(want, m, protocmp.Transform()); d != "" {
			t.Errorf("session 0x21 MAR (-want +got):\n%s", d)
		}

		// The MAR has no non-3GPP leg for the policy's 20 %: the SMF's
		// steering stays, and the API says why.
		m = get(0x22)
		if m.GetEffectiveSource() != atsssv1.SteeringSource_STEERING_SOURCE_SMF_MAR {
			t.Errorf("session 0x22: source %v, want SMF_MAR", m.GetEffectiveSource())
		}
		if e := m.GetPolicyError(); !strings.Contains(e, "policies/video-lb") || !strings.Contains(e, "access") {
			t.Errorf("session 0x22: policy_error %q, want the policy and the missing access", e)
		}
		if d := cmp.Diff(smf3GPPOnly, m.GetEffectiveSteeringDl(), protocmp.Transform()); d != "" {
			t.Errorf("session 0x22 effective_steering_dl (-want +got):\n%s", d)
		}
		// Not this application: untouched.
		smfOnly(t, 0x23, smfLB)
	})

	t.Run("ListSessions by effective mode", func(t *testing.T) {
		lb := listAll(t, view, &atsssv1.ListSessionsRequest{SteeringMode: atsssv1.SteeringModeValue_STEERING_MODE_VALUE_LOAD_BALANCING})
		if want := []uint64{0x21, 0x23}; !slices.Equal(lb, want) {
			t.Errorf("LOAD_BALANCING: %#x, want %#x", lb, want)
		}
		as := listAll(t, view, &atsssv1.ListSessionsRequest{SteeringMode: atsssv1.SteeringModeValue_STEERING_MODE_VALUE_ACTIVE_STANDBY})
		if want := []uint64{0x22}; !slices.Equal(as, want) {
			t.Errorf("ACTIVE_STANDBY: %#x, want %#x", as, want)
		}
	})

	t.Run("GetPolicy and ListPolicies", func(t *testing.T) {
		got, err := view.policies.GetPolicy(ctx, &atsssv1.GetPolicyRequest{Name: "policies/video-lb"})
		if err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff(put.GetPolicy(), got.GetPolicy(), protocmp.Transform()); d != "" {
			t.Errorf("GetPolicy (-put +get):\n%s", d)
		}
		list, err := view.policies.ListPolicies(ctx, &atsssv1.ListPoliciesRequest{})
		if err != nil || len(list.GetPolicies()) != 1 || list.GetNextPageToken() != "" {
			t.Errorf("ListPolicies = %v, %v", list, err)
		}
	})

	t.Run("conditional writes", func(t *testing.T) {
		rev := put.GetPolicy().GetRevision()
		_, err := op.policies.PutPolicy(ctx, &atsssv1.PutPolicyRequest{Policy: pol, ExpectedRevision: rev + 1})
		if status.Code(err) != codes.FailedPrecondition {
			t.Errorf("put at a stale revision: %v, want FailedPrecondition", err)
		}
		_, err = op.policies.DeletePolicy(ctx, &atsssv1.DeletePolicyRequest{Name: pol.GetName(), ExpectedRevision: rev + 1})
		if status.Code(err) != codes.FailedPrecondition {
			t.Errorf("delete at a stale revision: %v, want FailedPrecondition", err)
		}
	})

	if _, err := op.policies.DeletePolicy(ctx, &atsssv1.DeletePolicyRequest{Name: "policies/video-lb", ExpectedRevision: put.GetPolicy().GetRevision()}); err != nil {
		t.Fatal(err)
	}
	t.Run("after delete", func(t *testing.T) {
		eventually(t, "SMF's MAR back for session 0x21", func() bool {
			return get(0x21).GetEffectiveSource() == atsssv1.SteeringSource_STEERING_SOURCE_SMF_MAR
		})
		smfOnly(t, 0x21, smfActiveStandby)
		smfOnly(t, 0x22, smf3GPPOnly)
		if e := get(0x22).GetPolicyError(); e != "" {
			t.Errorf("session 0x22: policy_error %q after delete", e)
		}
		_, err := view.policies.GetPolicy(ctx, &atsssv1.GetPolicyRequest{Name: "policies/video-lb"})
		if status.Code(err) != codes.NotFound {
			t.Errorf("GetPolicy after delete: %v, want NotFound", err)
		}
	})
}

// TestPolicyPrecedence checks which of several matching policies is in
// force: the lowest precedence, then the smallest name; a session-wide
// key and an application key compete alike.
func TestPolicyPrecedence(t *testing.T) {
	h := start(t, options{auth: tokenAuth()})
	h.put(t, activeStandbySession(0x31, "smf-a.example.net"))
	op := h.dial(t, operatorToken)
	ctx := testCtx(t)
	byPrefix := &atsssv1.Policy{
		Name:           "policies/by-prefix",
		Precedence:     10,
		Match:          &atsssv1.PolicyMatch{Key: &atsssv1.PolicyMatch_UePrefix{UePrefix: "203.0.113.0/24"}},
		PathPreference: atsssv1.PathPreference_PATH_PREFERENCE_LOWEST_LATENCY,
	}
	app := lbPolicy("policies/app", videoFlow, 60)
	app.Precedence = 20
	for _, p := range []*atsssv1.Policy{app, byPrefix} {
		if _, err := op.policies.PutPolicy(ctx, &atsssv1.PutPolicyRequest{Policy: p}); err != nil {
			t.Fatal(err)
		}
	}
	in := func(name string, mode atsssv1.SteeringModeValue) func() bool {
		return func() bool {
			r, err := op.sessions.GetSession(ctx, &atsssv1.GetSessionRequest{Seid: 0x31})
			if err != nil {
				t.Fatal(err)
			}
			m := r.GetSession().GetMars()[0]
			return m.GetPolicy() == name && m.GetEffectiveSteeringDl().GetSteerModeValue() == mode
		}
	}
	eventually(t, "by-prefix (precedence 10) in force", in("policies/by-prefix", atsssv1.SteeringModeValue_STEERING_MODE_VALUE_SMALLEST_DELAY))
	// Same precedence: the smaller name wins.
	app.Precedence = 10
	if _, err := op.policies.PutPolicy(ctx, &atsssv1.PutPolicyRequest{Policy: app}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "app (same precedence, smaller name) in force", in("policies/app", atsssv1.SteeringModeValue_STEERING_MODE_VALUE_LOAD_BALANCING))
	r, err := op.sessions.GetSession(ctx, &atsssv1.GetSessionRequest{Seid: 0x31})
	if err != nil {
		t.Fatal(err)
	}
	if pp := r.GetSession().GetMars()[0].GetPathPreference(); pp != atsssv1.PathPreference_PATH_PREFERENCE_UNSPECIFIED {
		t.Errorf("path_preference %v of the policy not in force is shown", pp)
	}
}

// listAll walks every page of req and returns the seids in order.
func listAll(t *testing.T, c *client, req *atsssv1.ListSessionsRequest) []uint64 {
	t.Helper()
	req = proto.CloneOf(req)
	var out []uint64
	for pages := 0; ; pages++ {
		if pages > 1000 {
			t.Fatal("ListSessions: more than 1000 pages")
		}
		resp, err := c.sessions.ListSessions(context.Background(), req)
		if err != nil {
			t.Fatalf("ListSessions %v: %v", req, err)
		}
		if req.GetPageSize() > 0 && len(resp.GetSessions()) > int(req.GetPageSize()) {
			t.Fatalf("page of %d sessions, page_size %d", len(resp.GetSessions()), req.GetPageSize())
		}
		out = append(out, seids(resp.GetSessions())...)
		if resp.GetNextPageToken() == "" {
			return out
		}
		if len(resp.GetSessions()) == 0 {
			t.Fatal("empty page with a next_page_token")
		}
		req.PageToken = resp.GetNextPageToken()
	}
}

// TestListSessions checks the filters (combined with AND) and pagination.
func TestListSessions(t *testing.T) {
	h := start(t, options{auth: tokenAuth()})
	// Stored out of order: the API orders by seid.
	h.put(t,
		lbSession(0x45, "smf-b.example.net"),
		activeStandbySession(0x41, "smf-a.example.net"),
		threeGPPOnlySession(0x43, "smf-a.example.net"),
		lbSession(0x42, "smf-a.example.net"),
		activeStandbySession(0x44, "203.0.113.250"),
	)
	c := h.dial(t, viewerToken)
	s43, _ := h.sessions.Get(0x43)
	ls3GPP := s43.LinkSpecificAddrs(atsss.Access3GPP)[0]
	all := []uint64{0x41, 0x42, 0x43, 0x44, 0x45}
	for _, tc := range []struct {
		name string
		req  *atsssv1.ListSessionsRequest
		want []uint64
	}{
		{"all", &atsssv1.ListSessionsRequest{}, all},
		{"peer node id", &atsssv1.ListSessionsRequest{Peer: "smf-a.example.net"}, []uint64{0x41, 0x42, 0x43}},
		// Every atssstest session's PFCP peer address is 203.0.113.250.
		{"peer address", &atsssv1.ListSessionsRequest{Peer: "203.0.113.250"}, all},
		{"unknown peer", &atsssv1.ListSessionsRequest{Peer: "smf-z.example.net"}, nil},
		{"ue ipv4", &atsssv1.ListSessionsRequest{UeAddress: "203.0.113.68"}, []uint64{0x43}}, // 1 + 0x43 % 200
		{"ue ipv6", &atsssv1.ListSessionsRequest{UeAddress: "2001:db8:1::42"}, []uint64{0x42}},
		{"ue link-specific", &atsssv1.ListSessionsRequest{UeAddress: ls3GPP.String()}, []uint64{0x43}},
		{"load-balancing", &atsssv1.ListSessionsRequest{SteeringMode: atsssv1.SteeringModeValue_STEERING_MODE_VALUE_LOAD_BALANCING}, []uint64{0x42, 0x45}},
		{"active-standby of smf-a", &atsssv1.ListSessionsRequest{
			Peer:         "smf-a.example.net",
			SteeringMode: atsssv1.SteeringModeValue_STEERING_MODE_VALUE_ACTIVE_STANDBY,
		}, []uint64{0x41, 0x43}},
		{"no match", &atsssv1.ListSessionsRequest{Peer: "smf-b.example.net", SteeringMode: atsssv1.SteeringModeValue_STEERING_MODE_VALUE_PRIORITY_BASED}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, size := range []int32{0, 1, 2, 3, 5, 1000} {
				req := proto.CloneOf(tc.req)
				req.PageSize = size
				if got := listAll(t, c, req); !slices.Equal(got, tc.want) {
					t.Errorf("page_size %d: %#x, want %#x", size, got, tc.want)
				}
			}
		})
	}

	t.Run("pages", func(t *testing.T) {
		// page_size 2 over 5: 2, 2, 1 and no token after the last; over 4
		// (a filter), 2 and 2 and no empty third page.
		resp, err := c.sessions.ListSessions(context.Background(), &atsssv1.ListSessionsRequest{PageSize: 2, Peer: "203.0.113.250"})
		if err != nil {
			t.Fatal(err)
		}
		var sizes []int
		for {
			sizes = append(sizes, len(resp.GetSessions()))
			if resp.GetNextPageToken() == "" {
				break
			}
			resp, err = c.sessions.ListSessions(context.Background(), &atsssv1.ListSessionsRequest{PageSize: 2, Peer: "203.0.113.250", PageToken: resp.GetNextPageToken()})
			if err != nil {
				t.Fatal(err)
			}
		}
		if want := []int{2, 2, 1}; !slices.Equal(sizes, want) {
			t.Errorf("page sizes %v, want %v", sizes, want)
		}
		if err := h.sessions.Delete(context.Background(), 0x45); err != nil {
			t.Fatal(err)
		}
		resp, err = c.sessions.ListSessions(context.Background(), &atsssv1.ListSessionsRequest{PageSize: 2})
		if err != nil {
			t.Fatal(err)
		}
		resp, err = c.sessions.ListSessions(context.Background(), &atsssv1.ListSessionsRequest{PageSize: 2, PageToken: resp.GetNextPageToken()})
		if err != nil {
			t.Fatal(err)
		}
		if resp.GetNextPageToken() != "" {
			t.Errorf("last full page has a next_page_token")
		}
	})

	t.Run("session deleted between pages", func(t *testing.T) {
		// The token is a position, not a session: the walk goes on.
		resp, err := c.sessions.ListSessions(context.Background(), &atsssv1.ListSessionsRequest{PageSize: 1})
		if err != nil {
			t.Fatal(err)
		}
		if err := h.sessions.Delete(context.Background(), 0x41); err != nil {
			t.Fatal(err)
		}
		resp, err = c.sessions.ListSessions(context.Background(), &atsssv1.ListSessionsRequest{PageSize: 1, PageToken: resp.GetNextPageToken()})
		if err != nil || !slices.Equal(seids(resp.GetSessions()), []uint64{0x42}) {
			t.Errorf("next page after deleting the previous one: %v, %v", seids(resp.GetSessions()), err)
		}
	})

	t.Run("GetSession", func(t *testing.T) {
		r, err := c.sessions.GetSession(context.Background(), &atsssv1.GetSessionRequest{Seid: 0x43})
		if err != nil {
			t.Fatal(err)
		}
		s := r.GetSession()
		if s.GetSeid() != 0x43 || s.GetCpSeid() != 0x43|1<<63 || s.GetPeer() != "smf-a.example.net" {
			t.Errorf("ids: %v", s)
		}
		if want := []string{"203.0.113.68", "2001:db8:1::43"}; !slices.Equal(s.GetUeAddresses(), want) {
			t.Errorf("ue_addresses %q, want %q", s.GetUeAddresses(), want)
		}
		if len(s.GetPdrs()) != 3 || !slices.Equal(s.GetPdrs()[2].GetSdfFilters(), []string{videoFlow}) || s.GetPdrs()[2].GetMarId() != 1 {
			t.Errorf("pdrs: %v", s.GetPdrs())
		}
		if len(s.GetAccesses()) != 2 || s.GetAccesses()[0].GetUeAddress() != ls3GPP.String() {
			t.Errorf("accesses: %v", s.GetAccesses())
		}
		_, err = c.sessions.GetSession(context.Background(), &atsssv1.GetSessionRequest{Seid: 0x99})
		if status.Code(err) != codes.NotFound {
			t.Errorf("GetSession unknown: %v, want NotFound", err)
		}
	})
}

// TestListPolicies walks the policies by name, page by page.
func TestListPolicies(t *testing.T) {
	h := start(t, options{auth: tokenAuth()})
	names := []string{"policies/a", "policies/b", "policies/b-2", "policies/c"}
	for _, n := range []string{names[2], names[0], names[3], names[1]} {
		h.seed(t, lbPolicy(n, videoFlow, 50))
	}
	c := h.dial(t, viewerToken)
	for _, size := range []int32{0, 1, 2, 3, 4, 5} {
		var got []string
		req := &atsssv1.ListPoliciesRequest{PageSize: size}
		for pages := 0; ; pages++ {
			if pages > 10 {
				t.Fatal("more than 10 pages")
			}
			resp, err := c.policies.ListPolicies(context.Background(), req)
			if err != nil {
				t.Fatal(err)
			}
			if size > 0 && len(resp.GetPolicies()) > int(size) {
				t.Fatalf("page_size %d: page of %d", size, len(resp.GetPolicies()))
			}
			for _, p := range resp.GetPolicies() {
				got = append(got, p.GetName())
			}
			if resp.GetNextPageToken() == "" {
				break
			}
			req.PageToken = resp.GetNextPageToken()
		}
		if !slices.Equal(got, names) {
			t.Errorf("page_size %d: %q, want %q", size, got, names)
		}
	}
}
