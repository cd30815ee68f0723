package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"buf.build/gen/go/bufbuild/protovalidate/protocolbuffers/go/buf/validate"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	atsssv1 "github.com/openatsss/atsss/api/atsss/v1"
)

// fakeAPI is a minimal SessionService and PolicyService: enough behaviour
// for the CLI (pagination, NotFound, InvalidArgument with details, a
// watch stream) and a record of what it received.
type fakeAPI struct {
	atsssv1.UnimplementedSessionServiceServer
	atsssv1.UnimplementedPolicyServiceServer

	// watch is sent by WatchSessions; then the stream ends, or waits for
	// the client to cancel when watchUntilCancel is set. Set before use.
	watch            []*atsssv1.WatchSessionsResponse
	watchUntilCancel bool

	mu        sync.Mutex // guards the fields below
	sessions  []*atsssv1.Session
	policies  map[string]*atsssv1.Policy
	puts      []*atsssv1.Policy
	listReqs  []*atsssv1.ListSessionsRequest
	watchReqs []*atsssv1.WatchSessionsRequest
	md        []metadata.MD
	peers     []*peer.Peer
}

var namePattern = regexp.MustCompile(`^policies/[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)

func (f *fakeAPI) record(ctx context.Context) {
	f.mu.Lock()
	defer f.mu.Unlock()
	md, _ := metadata.FromIncomingContext(ctx)
	f.md = append(f.md, md)
	p, _ := peer.FromContext(ctx)
	f.peers = append(f.peers, p)
}

func (f *fakeAPI) lastMD() metadata.MD {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.md) == 0 {
		return nil
	}
	return f.md[len(f.md)-1]
}

func (f *fakeAPI) gotPuts() []*atsssv1.Policy {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.puts)
}

func (f *fakeAPI) policy(name string) *atsssv1.Policy {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.policies[name]
}

func (f *fakeAPI) gotWatchReqs() []*atsssv1.WatchSessionsRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.watchReqs)
}

func (f *fakeAPI) lastPeer() *peer.Peer {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.peers) == 0 {
		return nil
	}
	return f.peers[len(f.peers)-1]
}

// ListSessions serves one session per page unless asked for more, so that
// the CLI's page loop is exercised.
func (f *fakeAPI) ListSessions(_ context.Context, req *atsssv1.ListSessionsRequest) (*atsssv1.ListSessionsResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.listReqs = append(f.listReqs, req)
	var match []*atsssv1.Session
	for _, s := range f.sessions {
		if (req.GetPeer() == "" || s.GetPeer() == req.GetPeer()) &&
			(req.GetUeAddress() == "" || slices.Contains(s.GetUeAddresses(), req.GetUeAddress())) {
			match = append(match, s)
		}
	}
	start := 0
	if req.GetPageToken() != "" {
		var err error
		if start, err = strconv.Atoi(req.GetPageToken()); err != nil || start > len(match) {
			return nil, status.Error(codes.InvalidArgument, "bad page token")
		}
	}
	size := max(int(req.GetPageSize()), 1)
	end := min(start+size, len(match))
	resp := &atsssv1.ListSessionsResponse{Sessions: match[start:end]}
	if end < len(match) {
		resp.NextPageToken = strconv.Itoa(end)
	}
	return resp, nil
}

func (f *fakeAPI) GetSession(_ context.Context, req *atsssv1.GetSessionRequest) (*atsssv1.GetSessionResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, s := range f.sessions {
		if s.GetSeid() == req.GetSeid() {
			return &atsssv1.GetSessionResponse{Session: s}, nil
		}
	}
	return nil, status.Errorf(codes.NotFound, "session %d not found", req.GetSeid())
}

func (f *fakeAPI) WatchSessions(req *atsssv1.WatchSessionsRequest, stream atsssv1.SessionService_WatchSessionsServer) error {
	f.mu.Lock()
	f.watchReqs = append(f.watchReqs, req)
	f.mu.Unlock()
	for _, m := range f.watch {
		if err := stream.Send(m); err != nil {
			return err
		}
	}
	if f.watchUntilCancel {
		<-stream.Context().Done()
	}
	return nil
}

// invalidName is the status a protovalidate-checking server returns for a
// bad policy name, with buf.validate.Violations details.
func invalidName(name string) error {
	st, err := status.New(codes.InvalidArgument, "validation error: name: value does not match regex pattern").WithDetails(
		validate.Violations_builder{Violations: []*validate.Violation{validate.Violation_builder{
			Field: validate.FieldPath_builder{Elements: []*validate.FieldPathElement{
				validate.FieldPathElement_builder{FieldName: proto.String("name")}.Build(),
			}}.Build(),
			RuleId:  proto.String("string.pattern"),
			Message: proto.String(fmt.Sprintf("value %q does not match regex pattern", name)),
		}.Build()}}.Build())
	if err != nil {
		panic(err)
	}
	return st.Err()
}

func (f *fakeAPI) PutPolicy(_ context.Context, req *atsssv1.PutPolicyRequest) (*atsssv1.PutPolicyResponse, error) {
	p := req.GetPolicy()
	if !namePattern.MatchString(p.GetName()) {
		return nil, invalidName(p.GetName())
	}
	if p.GetSteerModeDl().GetThreeGLoad() > 100 {
		st, err := status.New(codes.InvalidArgument, "invalid policy").WithDetails(&errdetails.BadRequest{
			FieldViolations: []*errdetails.BadRequest_FieldViolation{{
				Field:       "policy.steer_mode_dl.three_g_load",
				Description: "value must be less than or equal to 100",
				Reason:      "uint32.lte",
			}},
		})
		if err != nil {
			panic(err)
		}
		return nil, st.Err()
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.puts = append(f.puts, proto.Clone(p).(*atsssv1.Policy))
	stored := proto.Clone(p).(*atsssv1.Policy)
	old, exists := f.policies[p.GetName()]
	stored.Revision = old.GetRevision() + 1
	stored.UpdateTime = timestamppb.New(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	f.policies[p.GetName()] = stored
	return &atsssv1.PutPolicyResponse{Policy: stored, Created: !exists}, nil
}

func (f *fakeAPI) GetPolicy(_ context.Context, req *atsssv1.GetPolicyRequest) (*atsssv1.GetPolicyResponse, error) {
	if !namePattern.MatchString(req.GetName()) {
		return nil, invalidName(req.GetName())
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	p, ok := f.policies[req.GetName()]
	if !ok {
		return nil, status.Errorf(codes.NotFound, "policy %s not found", req.GetName())
	}
	return &atsssv1.GetPolicyResponse{Policy: p}, nil
}

func (f *fakeAPI) ListPolicies(context.Context, *atsssv1.ListPoliciesRequest) (*atsssv1.ListPoliciesResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	resp := &atsssv1.ListPoliciesResponse{}
	for _, p := range f.policies {
		resp.Policies = append(resp.Policies, p)
	}
	slices.SortFunc(resp.Policies, func(a, b *atsssv1.Policy) int { return strings.Compare(a.GetName(), b.GetName()) })
	return resp, nil
}

func (f *fakeAPI) DeletePolicy(_ context.Context, req *atsssv1.DeletePolicyRequest) (*atsssv1.DeletePolicyResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.policies[req.GetName()]; !ok {
		return nil, status.Errorf(codes.NotFound, "policy %s not found", req.GetName())
	}
	delete(f.policies, req.GetName())
	return &atsssv1.DeletePolicyResponse{}, nil
}

func u32(v uint32) *uint32 { return &v }

// testSessions are two sessions: the first with a policy in force on its
// MAR and two accesses, the second bare.
func testSessions() []*atsssv1.Session {
	return []*atsssv1.Session{
		{
			Seid: 1, Peer: "smf-1", CpSeid: 100, UeAddresses: []string{"198.51.100.7", "2001:db8::7"}, Dnn: "internet",
			Snssai: &atsssv1.Snssai{Sst: 1, Sd: "010203"},
			Pdrs: []*atsssv1.PacketDetectionRule{{
				PdrId: 1, Precedence: 100, SourceInterface: "CORE", MarId: 1, MptcpApplicable: true,
				SdfFilters: []string{"permit out ip from 203.0.113.128/25 to assigned"},
			}},
			Mars: []*atsssv1.MultiAccessRule{{
				MarId: 1, SmfSteerFun: atsssv1.SteeringFunctionality_STEERING_FUNCTIONALITY_MPTCP,
				SmfSteering: &atsssv1.SteeringMode{
					SteerModeValue: atsssv1.SteeringModeValue_STEERING_MODE_VALUE_ACTIVE_STANDBY,
					Active:         atsssv1.AccessType_ACCESS_TYPE_3GPP, Standby: atsssv1.AccessType_ACCESS_TYPE_NON_3GPP,
				},
				FarId_3Gpp: 1, FarIdNon_3Gpp: 2,
				EffectiveSource:   atsssv1.SteeringSource_STEERING_SOURCE_OPERATOR_POLICY,
				Policy:            "policies/lb-8020",
				EffectiveSteerFun: atsssv1.SteeringFunctionality_STEERING_FUNCTIONALITY_MPTCP,
				EffectiveSteeringDl: &atsssv1.SteeringMode{
					SteerModeValue: atsssv1.SteeringModeValue_STEERING_MODE_VALUE_LOAD_BALANCING, ThreeGLoad: u32(80),
				},
			}},
			Accesses: []*atsssv1.AccessState{
				{Access: atsssv1.AccessType_ACCESS_TYPE_3GPP, Available: true, RttUs: u32(12345), LossPerMille: u32(5),
					DownlinkBytes: 1_234_567, UplinkBytes: 3_400, Subflows: 1},
				{Access: atsssv1.AccessType_ACCESS_TYPE_NON_3GPP, Available: false},
			},
			CreateTime: timestamppb.New(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)),
		},
		{Seid: 2, Peer: "smf-2", UeAddresses: []string{"198.51.100.8"}},
	}
}

// testWatch is what the fake's WatchSessions sends: a new session, an
// access going down and a sample.
func testWatch() []*atsssv1.WatchSessionsResponse {
	at := func(s int) *timestamppb.Timestamp {
		return timestamppb.New(time.Date(2026, 1, 2, 3, 4, s, 0, time.UTC))
	}
	return []*atsssv1.WatchSessionsResponse{
		{Time: at(1), Event: &atsssv1.WatchSessionsResponse_SessionEvent{SessionEvent: &atsssv1.SessionEvent{
			Type: atsssv1.SessionEventType_SESSION_EVENT_TYPE_ESTABLISHED, Session: testSessions()[0],
		}}},
		{Time: at(2), Event: &atsssv1.WatchSessionsResponse_PathEvent{PathEvent: &atsssv1.PathEvent{
			Seid: 1, Type: atsssv1.PathEventType_PATH_EVENT_TYPE_UNAVAILABLE,
			State: &atsssv1.AccessState{Access: atsssv1.AccessType_ACCESS_TYPE_NON_3GPP, Available: false},
		}}},
		{Time: at(3), Event: &atsssv1.WatchSessionsResponse_ThroughputSample{ThroughputSample: &atsssv1.ThroughputSample{
			Seid: 1, Access: atsssv1.AccessType_ACCESS_TYPE_3GPP, Interval: durationpb.New(time.Second),
			DownlinkBps: 12_000_000, UplinkBps: 1_500_000, RttUs: u32(20000), LossPerMille: u32(1),
		}}},
	}
}

// testServer is a grpc server on 127.0.0.1:0 with the fake API and a
// health server.
type testServer struct {
	api    *fakeAPI
	health *health.Server
	addr   string
}

func startServer(t *testing.T, opts ...grpc.ServerOption) *testServer {
	t.Helper()
	api := &fakeAPI{sessions: testSessions(), policies: make(map[string]*atsssv1.Policy), watch: testWatch()}
	opts = append(opts,
		grpc.ChainUnaryInterceptor(func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
			api.record(ctx)
			return h(ctx, req)
		}),
		grpc.ChainStreamInterceptor(func(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, h grpc.StreamHandler) error {
			api.record(ss.Context())
			return h(srv, ss)
		}))
	s := grpc.NewServer(opts...)
	atsssv1.RegisterSessionServiceServer(s, api)
	atsssv1.RegisterPolicyServiceServer(s, api)
	hs := health.NewServer()
	hs.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	healthpb.RegisterHealthServer(s, hs)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go s.Serve(lis)
	t.Cleanup(s.Stop)
	return &testServer{api: api, health: hs, addr: lis.Addr().String()}
}

// result is one in-process run of atsssctl.
type result struct {
	code           int
	stdout, stderr string
}

// cli runs atsssctl in-process with args; env is its whole environment.
func cli(t *testing.T, env map[string]string, stdin string, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(t.Context(), args, strings.NewReader(stdin), &out, &errb, func(k string) string { return env[k] })
	return result{code, out.String(), errb.String()}
}

// plain runs atsssctl over plaintext against srv.
func (srv *testServer) plain(t *testing.T, args ...string) result {
	t.Helper()
	return cli(t, nil, "", append([]string{"--plaintext", "--addr", srv.addr}, args...)...)
}

func (r result) want(t *testing.T, code int) {
	t.Helper()
	if r.code != code {
		t.Fatalf("exit code %d, want %d\nstdout:\n%s\nstderr:\n%s", r.code, code, r.stdout, r.stderr)
	}
}
