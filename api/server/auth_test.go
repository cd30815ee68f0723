package server_test

import (
	"crypto/tls"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"github.com/openatsss/atsss/api/apitest"
	atsssv1 "github.com/openatsss/atsss/api/atsss/v1"
	"github.com/openatsss/atsss/api/server"
)

// calls are one RPC of each kind a role decides: a read, a stream and the
// two writes. Each returns the status of its first answer.
type calls struct {
	list, watch, put, del, health func() codes.Code
}

func callsOf(t *testing.T, c *client) calls {
	ctx := testCtx(t)
	code := func(err error) codes.Code { return status.Code(err) }
	return calls{
		list: func() codes.Code {
			_, err := c.sessions.ListSessions(ctx, &atsssv1.ListSessionsRequest{})
			return code(err)
		},
		watch: func() codes.Code {
			s, err := c.policies.WatchPolicies(ctx, &atsssv1.WatchPoliciesRequest{Initial: true})
			if err == nil {
				_, err = s.Recv() // the initial policy, or the refusal
			}
			return code(err)
		},
		put: func() codes.Code {
			_, err := c.policies.PutPolicy(ctx, &atsssv1.PutPolicyRequest{Policy: lbPolicy("policies/video", videoFlow, 80)})
			return code(err)
		},
		del: func() codes.Code {
			_, err := c.policies.DeletePolicy(ctx, &atsssv1.DeletePolicyRequest{Name: "policies/none"})
			return code(err)
		},
		health: func() codes.Code {
			r, err := healthpb.NewHealthClient(c.conn).Check(ctx, &healthpb.HealthCheckRequest{})
			if err == nil && r.GetStatus() != healthpb.HealthCheckResponse_SERVING {
				t.Errorf("health %v", r.GetStatus())
			}
			return code(err)
		},
	}
}

// want is what a caller gets from each call.
type want struct{ list, watch, put, del, health codes.Code }

func (w want) check(t *testing.T, c calls) {
	t.Helper()
	for _, x := range []struct {
		name     string
		call     func() codes.Code
		wantCode codes.Code
	}{
		{"ListSessions", c.list, w.list},
		{"WatchPolicies", c.watch, w.watch},
		{"PutPolicy", c.put, w.put},
		{"DeletePolicy", c.del, w.del},
		{"Health.Check", c.health, w.health},
	} {
		if got := x.call(); got != x.wantCode {
			t.Errorf("%s: %v, want %v", x.name, got, x.wantCode)
		}
	}
}

var (
	// A viewer reads and watches; its writes are refused before the
	// request is even looked at.
	viewer = want{codes.OK, codes.OK, codes.PermissionDenied, codes.PermissionDenied, codes.OK}
	// An operator also writes (NotFound: the deleted policy does not exist,
	// which the store, not auth, says).
	operator = want{codes.OK, codes.OK, codes.OK, codes.NotFound, codes.OK}
	// Nobody: refused everything but health.
	nobody = want{codes.Unauthenticated, codes.Unauthenticated, codes.Unauthenticated, codes.Unauthenticated, codes.OK}
)

// TestAuthTokens checks bearer tokens and the two roles.
func TestAuthTokens(t *testing.T) {
	h := start(t, options{auth: tokenAuth()})
	h.seed(t, lbPolicy("policies/seed", videoFlow, 50))
	for _, tc := range []struct {
		name  string
		token string
		want  want
	}{
		{"no credential", "", nobody},
		{"unknown token", "guess", nobody},
		{"viewer", viewerToken, viewer},
		{"operator", operatorToken, operator},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.want.check(t, callsOf(t, h.dial(t, tc.token)))
		})
	}

	t.Run("refusal before validation", func(t *testing.T) {
		// An invalid write of a viewer is PERMISSION_DENIED, not
		// INVALID_ARGUMENT: callers learn nothing of what they may not do.
		c := h.dial(t, viewerToken)
		_, err := c.policies.PutPolicy(testCtx(t), &atsssv1.PutPolicyRequest{Policy: &atsssv1.Policy{Name: "bad"}})
		if status.Code(err) != codes.PermissionDenied {
			t.Errorf("viewer's invalid put: %v, want PermissionDenied", err)
		}
		c = h.dial(t, "")
		_, err = c.sessions.GetSession(testCtx(t), &atsssv1.GetSessionRequest{})
		if status.Code(err) != codes.Unauthenticated {
			t.Errorf("anonymous invalid get: %v, want Unauthenticated", err)
		}
	})

	t.Run("malformed authorization", func(t *testing.T) {
		for _, md := range []string{"Basic dXNlcjpwYXNz", "Bearer", "Bearer "} {
			c := dialAddr(t, h.addr, grpc.WithTransportCredentials(insecureCreds()), grpc.WithPerRPCCredentials(rawAuth(md)))
			_, err := c.sessions.ListSessions(testCtx(t), &atsssv1.ListSessionsRequest{})
			if status.Code(err) != codes.Unauthenticated {
				t.Errorf("authorization %q: %v, want Unauthenticated", md, err)
			}
		}
	})
}

// TestAuthOpen checks the loopback lab's open mode: every caller is an
// operator, but a wrong token is still refused rather than ignored.
func TestAuthOpen(t *testing.T) {
	h := start(t, options{auth: server.Auth{Open: true, Tokens: map[string]server.Role{viewerToken: server.RoleViewer}}})
	h.seed(t, lbPolicy("policies/seed", videoFlow, 50))
	operator.check(t, callsOf(t, h.dial(t, "")))
	viewer.check(t, callsOf(t, h.dial(t, viewerToken)))
	nobody.check(t, callsOf(t, h.dial(t, "guess")))
}

// TestAuthTLS checks client certificates: the server verifies a
// certificate if one is given (VerifyClientCertIfGiven, so that token
// callers need none) and maps its Subject CN to a role.
func TestAuthTLS(t *testing.T) {
	pki := apitest.NewPKI(t)
	serverCfg := &tls.Config{
		MinVersion:   tls.VersionTLS13,
		Certificates: []tls.Certificate{pki.Server(t).Certificate},
		ClientCAs:    pki.Pool,
		ClientAuth:   tls.VerifyClientCertIfGiven,
	}
	auth := tokenAuth()
	auth.CertRoles = map[string]server.Role{"ops": server.RoleOperator, "view": server.RoleViewer}
	h := start(t, options{auth: auth, serverOpts: []grpc.ServerOption{grpc.Creds(credentials.NewTLS(serverCfg))}})
	h.seed(t, lbPolicy("policies/seed", videoFlow, 50))

	dialTLS := func(t *testing.T, cert *tls.Certificate, token string) *client {
		cfg := &tls.Config{MinVersion: tls.VersionTLS13, RootCAs: pki.Pool}
		if cert != nil {
			cfg.Certificates = []tls.Certificate{*cert}
		}
		opts := []grpc.DialOption{grpc.WithTransportCredentials(credentials.NewTLS(cfg))}
		if token != "" {
			opts = append(opts, grpc.WithPerRPCCredentials(bearer(token)))
		}
		return dialAddr(t, h.addr, opts...)
	}
	cert := func(cn string) *tls.Certificate {
		c := pki.Client(t, cn).Certificate
		return &c
	}
	for _, tc := range []struct {
		name  string
		cert  *tls.Certificate
		token string
		want  want
	}{
		{"ops certificate", cert("ops"), "", operator},
		{"view certificate", cert("view"), "", viewer},
		{"no certificate, no token", nil, "", nobody},
		// Authenticated but given no role: refused, as the caller is known.
		{"certificate without role", cert("intern"), "", want{codes.PermissionDenied, codes.PermissionDenied, codes.PermissionDenied, codes.PermissionDenied, codes.OK}},
		{"operator token over TLS", nil, operatorToken, operator},
		// The token, when sent, is what the caller claims to be.
		{"view certificate with operator token", cert("view"), operatorToken, operator},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.want.check(t, callsOf(t, dialTLS(t, tc.cert, tc.token)))
		})
	}

	t.Run("certificate of another CA", func(t *testing.T) {
		other := apitest.NewPKI(t)
		c := other.Client(t, "ops").Certificate
		_, err := dialTLS(t, &c, "").sessions.ListSessions(testCtx(t), &atsssv1.ListSessionsRequest{})
		// The handshake fails: no RPC reaches the server.
		if status.Code(err) != codes.Unavailable {
			t.Errorf("got %v, want Unavailable (handshake refused)", err)
		}
	})
}

// pki is a test CA.
