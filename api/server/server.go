package server

import (
	"context"
	"errors"
	"log/slog"
	"maps"
	"net"
	"sync"
	"time"

	"buf.build/go/protovalidate"
	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/auth"
	pvinterceptor "github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/protovalidate"
	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/reflection"

	atsssv1 "github.com/openatsss/atsss/api/atsss/v1"
	"github.com/openatsss/atsss/api/policystore"
	"github.com/openatsss/atsss/atsss"
)

// Config is what the API serves.
type Config struct {
	Sessions *atsss.Store
	// PolicyStore keeps the policies; the server applies its changes to
	// Policies, which the data planes follow.
	PolicyStore policystore.Store
	Policies    *atsss.Policies
	// Access reports the per-access state of sessions; nil shows only what
	// N4 says.
	Access atsss.AccessReporter
	Auth   Auth
	// Reflection serves the gRPC reflection service, so that grpcurl and
	// similar tools work without the .proto files.
	Reflection bool
	// PathPollInterval is how often the data plane's access states are
	// read for path events; 0 means 250 ms.
	PathPollInterval time.Duration
	Log              *slog.Logger
}

// Server is the gRPC API of atsssd: SessionService, PolicyService,
// grpc.health.v1 and, optionally, reflection.
type Server struct {
	cfg    Config
	log    *slog.Logger
	grpc   *grpc.Server
	health *health.Server
	paths  *pathHub
	// steered tells WatchSessions streams which sessions a policy change
	// re-steered.
	steered *fanout[[]atsss.SEID]

	mu      sync.RWMutex
	stored  map[string]*atsssv1.Policy // the store's policies as last synced
	synced  bool                       // the first snapshot is applied
	syncedC chan struct{}              // closed once synced
}

// New builds the server. opts carry the transport credentials (TLS); the
// caller decides when it is serving (SetServing).
func New(cfg Config, opts ...grpc.ServerOption) (*Server, error) {
	if cfg.Sessions == nil || cfg.PolicyStore == nil || cfg.Policies == nil {
		return nil, errors.New("api server: Sessions, PolicyStore and Policies are required")
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.PathPollInterval <= 0 {
		cfg.PathPollInterval = 250 * time.Millisecond
	}
	validator, err := protovalidate.New()
	if err != nil {
		return nil, err
	}
	z := newAuthorizer(cfg.Auth)
	opts = append(opts,
		grpc.ChainUnaryInterceptor(auth.UnaryServerInterceptor(z.authenticate), pvinterceptor.UnaryServerInterceptor(validator)),
		grpc.ChainStreamInterceptor(auth.StreamServerInterceptor(z.authenticate), pvinterceptor.StreamServerInterceptor(validator)),
	)
	s := &Server{
		cfg:     cfg,
		log:     cfg.Log,
		grpc:    grpc.NewServer(opts...),
		health:  health.NewServer(),
		stored:  map[string]*atsssv1.Policy{},
		syncedC: make(chan struct{}),
	}
	s.paths = newPathHub(cfg.Sessions, cfg.Access, cfg.PathPollInterval)
	s.steered = newFanout[[]atsss.SEID](steeredBuffer)
	// NOT_SERVING until the daemon says start-up is complete.
	s.health.SetServingStatus("", healthpb.HealthCheckResponse_NOT_SERVING)
	for _, svc := range []string{atsssv1.SessionService_ServiceDesc.ServiceName, atsssv1.PolicyService_ServiceDesc.ServiceName} {
		s.health.SetServingStatus(svc, healthpb.HealthCheckResponse_NOT_SERVING)
	}
	healthpb.RegisterHealthServer(s.grpc, s.health)
	atsssv1.RegisterSessionServiceServer(s.grpc, &sessionService{s: s})
	atsssv1.RegisterPolicyServiceServer(s.grpc, &policyService{s: s})
	if cfg.Reflection {
		reflection.Register(s.grpc)
	}
	return s, nil
}

// Serve serves on lis until Stop.
func (s *Server) Serve(lis net.Listener) error { return s.grpc.Serve(lis) }

// SetServing marks the server and its services SERVING in grpc.health.v1:
// the daemon calls it once N4 and the data planes are up and the policies
// have been applied.
func (s *Server) SetServing() {
	s.health.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	for _, svc := range []string{atsssv1.SessionService_ServiceDesc.ServiceName, atsssv1.PolicyService_ServiceDesc.ServiceName} {
		s.health.SetServingStatus(svc, healthpb.HealthCheckResponse_SERVING)
	}
}

// Stop ends every stream and closes the listeners. Health turns
// NOT_SERVING first, so probes see the shutdown.
func (s *Server) Stop() {
	s.health.Shutdown()
	s.grpc.Stop()
}

// Synced is closed once the stored policies are in force.
func (s *Server) Synced() <-chan struct{} { return s.syncedC }

// SyncPolicies keeps Config.Policies equal to the policy store until ctx
// ends: every stored policy, converted, is in force; a store change
// (from this instance or, with etcd, any other) is applied as it arrives.
// A policy that does not convert (which the API refuses at Put, so it came
// from outside, e.g. another version) is logged and left out. A watch that
// ends (lagging, etcd trouble) is restarted from a fresh snapshot.
func (s *Server) SyncPolicies(ctx context.Context) error {
	for {
		w, err := s.cfg.PolicyStore.Watch(ctx)
		if err == nil {
			s.applyStored(w.Snapshot, nil)
			for ev := range w.C {
				s.applyStored(nil, &ev)
			}
			err = w.Err()
		}
		if ctx.Err() != nil {
			return nil
		}
		if errors.Is(err, policystore.ErrClosed) {
			return err
		}
		s.log.Warn("policy watch ended; resyncing", "err", err)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(time.Second):
		}
	}
}

// applyStored replaces the stored view with snapshot (when ev is nil) or
// applies ev, then puts the resulting set in force.
func (s *Server) applyStored(snapshot []*atsssv1.Policy, ev *policystore.Event) {
	s.mu.Lock()
	// Copy on write: readers keep the map inForce gave them.
	stored := make(map[string]*atsssv1.Policy, len(s.stored)+1)
	if ev == nil {
		for _, p := range snapshot {
			stored[p.GetName()] = p
		}
	} else {
		maps.Copy(stored, s.stored)
		if ev.Type == atsssv1.PolicyEventType_POLICY_EVENT_TYPE_DELETED {
			delete(stored, ev.Policy.GetName())
		} else {
			stored[ev.Policy.GetName()] = ev.Policy
		}
	}
	s.stored = stored
	ps := make([]*atsss.Policy, 0, len(stored))
	for _, p := range stored {
		dp, err := toPolicy(p)
		if err != nil {
			s.log.Error("stored policy cannot be applied; left out", "policy", p.GetName(), "err", err)
			continue
		}
		ps = append(ps, dp)
	}
	first := !s.synced
	s.synced = true
	old, _ := s.cfg.Policies.Current()
	set := atsss.NewPolicySet(ps)
	// Set under s.mu, so that show never pairs the stored view of one
	// change with the set of another (Policies.Set does not block).
	s.cfg.Policies.Set(set)
	s.mu.Unlock()
	if first {
		close(s.syncedC)
	}
	// After Set: a watch that subscribes from now on shows the new set
	// anyway.
	if s.steered.len() > 0 {
		if ids := steeringChanged(s.cfg.Sessions.Sessions(), old, set); len(ids) > 0 {
			s.steered.publish(ids)
		}
	}
}

// inForce returns the policy set in force and the stored policies it was
// made of (not to be changed), as of one and the same change.
func (s *Server) inForce() (*atsss.PolicySet, map[string]*atsssv1.Policy) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	set, _ := s.cfg.Policies.Current()
	return set, s.stored
}
