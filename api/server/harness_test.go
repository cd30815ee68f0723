package server_test

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"

	atsssv1 "github.com/openatsss/atsss/api/atsss/v1"
	"github.com/openatsss/atsss/api/policystore"
	"github.com/openatsss/atsss/api/server"
	"github.com/openatsss/atsss/atsss"
	"github.com/openatsss/atsss/atsss/atssstest"
)

// Tokens of the tests' two callers.
const (
	viewerToken   = "viewer-0f3a9c"
	operatorToken = "operator-7d21e4"
)

// tokenAuth knows the two test tokens.
func tokenAuth() server.Auth {
	return server.Auth{Tokens: map[string]server.Role{viewerToken: server.RoleViewer, operatorToken: server.RoleOperator}}
}

// options say how start builds an API server.
type options struct {
	auth   server.Auth
	access atsss.AccessReporter
	// policyStore is where policies live; nil: a Bolt store in a fresh
	// bbolt file, as atsssd's default.
	policyStore policystore.Store
	// sessions, when not nil, is served instead of a fresh empty store.
	sessions   *atsss.Store
	serverOpts []grpc.ServerOption
	// notServing leaves health NOT_SERVING (the caller calls SetServing).
	notServing bool
	pathPoll   time.Duration
}

// harness is one API server on 127.0.0.1 with its own session store,
// policy store and policy holder, run the way atsssd runs it: Serve plus
// SyncPolicies, SERVING once the stored policies are in force.
type harness struct {
	srv         *server.Server
	addr        string
	sessions    *atsss.Store
	policies    *atsss.Policies
	policyStore policystore.Store
}

func start(t testing.TB, o options) *harness {
	t.Helper()
	h := &harness{sessions: o.sessions, policies: atsss.NewPolicies(), policyStore: o.policyStore}
	if h.sessions == nil {
		st, err := atsss.NewStore(nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		h.sessions = st
	}
	if h.policyStore == nil {
		h.policyStore = newBoltStore(t)
	}
	srv, err := server.New(server.Config{
		Sessions:         h.sessions,
		PolicyStore:      h.policyStore,
		Policies:         h.policies,
		Access:           o.access,
		Auth:             o.auth,
		Reflection:       true,
		PathPollInterval: o.pathPoll,
		Log:              slog.New(slog.DiscardHandler),
	}, o.serverOpts...)
	if err != nil {
		t.Fatal(err)
	}
	h.srv = srv
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h.addr = lis.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		if err := srv.Serve(lis); err != nil && !errors.Is(err, grpc.ErrServerStopped) {
			t.Errorf("serve: %v", err)
		}
	}()
	go func() {
		defer wg.Done()
		if err := srv.SyncPolicies(ctx); err != nil {
			t.Errorf("sync policies: %v", err)
		}
	}()
	t.Cleanup(func() {
		cancel()
		srv.Stop()
		wg.Wait()
	})
	select {
	case <-srv.Synced():
	case <-time.After(10 * time.Second):
		t.Fatal("stored policies not in force after 10 s")
	}
	if !o.notServing {
		srv.SetServing()
	}
	return h
}

// newBoltStore returns a policy store in a fresh bbolt file, closed with t.
func newBoltStore(t testing.TB) *policystore.Bolt {
	t.Helper()
	db, err := bolt.Open(filepath.Join(t.TempDir(), "atsss.db"), 0o600, &bolt.Options{Timeout: time.Second, NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	ps, err := policystore.NewBolt(db, policystore.Options{})
	if err != nil {
		db.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ps.Close()
		db.Close()
	})
	return ps
}

// bearer sends a bearer token on every RPC. It allows plaintext: the
// tests run on loopback.
type bearer string

func (b bearer) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"authorization": "Bearer " + string(b)}, nil
}

func (bearer) RequireTransportSecurity() bool { return false }

var _ credentials.PerRPCCredentials = bearer("")

// client is a connection to the harness's server.
type client struct {
	conn     *grpc.ClientConn
	sessions atsssv1.SessionServiceClient
	policies atsssv1.PolicyServiceClient
}

// dial connects in plaintext with token ("" for none) and further opts.
func (h *harness) dial(t testing.TB, token string, opts ...grpc.DialOption) *client {
	t.Helper()
	opts = append([]grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}, opts...)
	if token != "" {
		opts = append(opts, grpc.WithPerRPCCredentials(bearer(token)))
	}
	return dialAddr(t, h.addr, opts...)
}

func dialAddr(t testing.TB, addr string, opts ...grpc.DialOption) *client {
	t.Helper()
	conn, err := grpc.NewClient(addr, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return &client{conn: conn, sessions: atsssv1.NewSessionServiceClient(conn), policies: atsssv1.NewPolicyServiceClient(conn)}
}

// put stores sessions and fails t on error.
func (h *harness) put(t testing.TB, sessions ...*atsss.Session) {
	t.Helper()
	for _, s := range sessions {
		if err := s.Validate(); err != nil {
			t.Fatalf("session %v is not valid: %v", s.LocalSEID, err)
		}
		if err := h.sessions.Put(context.Background(), s); err != nil {
			t.Fatal(err)
		}
	}
}

// ctx returns a context bounded at 30 s, ended with t.
func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// eventually polls cond every 10 ms until it holds or 10 s have passed:
// the bound of a wait, never an assertion on time.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not after 10 s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// The flow of the tests' application: HTTPS from a server in the data
// network to the UE, as the SMF's PDRs and the operator's policy write it.
// 192.0.2.240 is outside the link-specific addresses atssstest hands out.
const videoFlow = "permit out 6 from 192.0.2.240 443 to assigned"

// activeStandbySession is an MA PDU session whose downlink MAR is MPTCP
// Active-Standby (3GPP active, non-3GPP standby) and whose uplink and
// downlink PDRs carry the SDF filter videoFlow: the SMF's rules for one
// application. peer names the SMF.
func activeStandbySession(seid atsss.SEID, peer string) *atsss.Session {
	s := atssstest.Session(seid)
	s.PeerNodeID = peer
	for i := range s.PDRs {
		s.PDRs[i].PDI.SDFFilters = []atsss.SDFFilter{{FlowDescription: videoFlow, FilterID: 7}}
	}
	m := &s.MARs[0]
	m.Mode, m.SMI = atsss.ModeActiveStandby, nil
	m.Legs[atsss.Access3GPP].Weight = atsss.OptionalUint8{}
	m.Legs[atsss.AccessNon3GPP].Weight = atsss.OptionalUint8{}
	m.Legs[atsss.Access3GPP].Priority = atsss.OptionalPriority{Value: atsss.PriorityActive, Set: true}
	m.Legs[atsss.AccessNon3GPP].Priority = atsss.OptionalPriority{Value: atsss.PriorityStandby, Set: true}
	return s
}

// threeGPPOnlySession is activeStandbySession whose MAR has the 3GPP leg
// only (the UE is registered over 3GPP access alone).
func threeGPPOnlySession(seid atsss.SEID, peer string) *atsss.Session {
	s := activeStandbySession(seid, peer)
	m := &s.MARs[0]
	m.Legs[atsss.AccessNon3GPP] = atsss.Leg{}
	m.Legs[atsss.Access3GPP].Priority = atsss.OptionalPriority{Value: atsss.PriorityActive, Set: true}
	return s
}

// lbSession is atssstest's Load-Balancing 70/30 session of SMF peer.
func lbSession(seid atsss.SEID, peer string) *atsss.Session {
	s := atssstest.Session(seid)
	s.PeerNodeID = peer
	return s
}

func u32(v uint32) *uint32 { return &v }

// lbPolicy is Load-Balancing threeG/100-threeG for flow.
func lbPolicy(name, flow string, threeG uint32) *atsssv1.Policy {
	return &atsssv1.Policy{
		Name: name,
		Match: &atsssv1.PolicyMatch{Key: &atsssv1.PolicyMatch_Application{Application: &atsssv1.Application{
			Selector: &atsssv1.Application_FlowDescription{FlowDescription: flow},
		}}},
		SteerFun: atsssv1.SteeringFunctionality_STEERING_FUNCTIONALITY_MPTCP,
		SteerModeDl: &atsssv1.SteeringMode{
			SteerModeValue: atsssv1.SteeringModeValue_STEERING_MODE_VALUE_LOAD_BALANCING,
			ThreeGLoad:     u32(threeG),
			NonThreeGLoad:  u32(100 - threeG),
		},
	}
}

// fakeAccess is a data plane's AccessReporter whose states the test sets:
// the data plane's side of the interface, not gRPC.
type fakeAccess struct {
	mu     sync.Mutex // guards states
	states map[atsss.SEID][2]atsss.AccessState
}

func newFakeAccess() *fakeAccess {
	return &fakeAccess{states: map[atsss.SEID][2]atsss.AccessState{}}
}

func (f *fakeAccess) AccessStates(id atsss.SEID) ([2]atsss.AccessState, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s, ok := f.states[id]
	return s, ok
}

// update changes the states of session id (zero states if unknown).
func (f *fakeAccess) update(id atsss.SEID, fn func(*[2]atsss.AccessState)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := f.states[id]
	fn(&s)
	f.states[id] = s
}

// up is a healthy access with one subflow.
func up(rtt time.Duration) atsss.AccessState {
	return atsss.AccessState{Available: true, RTT: rtt, Subflows: 1}
}

// seids returns the seids of sessions.
func seids(ss []*atsssv1.Session) []uint64 {
	var out []uint64
	for _, s := range ss {
		out = append(out, s.GetSeid())
	}
	return out
}

// policyNames returns the names of the policies in force in p.
func policyNames(p *atsss.Policies) []string {
	set, _ := p.Current()
	var out []string
	for _, pol := range set.All() {
		out = append(out, pol.Name)
	}
	return out
}

func hasPolicy(p *atsss.Policies, name string) bool {
	return slices.Contains(policyNames(p), name)
}

// rawAuth sends its value as the authorization header, as is.
type rawAuth string

func (r rawAuth) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"authorization": string(r)}, nil
}

func (rawAuth) RequireTransportSecurity() bool { return false }

func insecureCreds() credentials.TransportCredentials { return insecure.NewCredentials() }

// seed stores p directly in the policy store, as another instance or an
// earlier run would have, and waits until it is in force.
func (h *harness) seed(t testing.TB, p *atsssv1.Policy) {
	t.Helper()
	if _, _, err := h.policyStore.Put(context.Background(), p, 0); err != nil {
		t.Fatal(err)
	}
	eventually(t, "seeded policy in force", func() bool { return hasPolicy(h.policies, p.GetName()) })
}
