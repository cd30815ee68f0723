package server

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"strings"

	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/auth"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	atsssv1 "github.com/openatsss/atsss/api/atsss/v1"
)

// Role is what a caller may do.
type Role uint8

const (
	// RoleNone may do nothing: an unknown caller.
	RoleNone Role = iota
	// RoleViewer may read sessions and policies and watch them.
	RoleViewer
	// RoleOperator may also put and delete policies.
	RoleOperator
)

func (r Role) String() string {
	switch r {
	case RoleViewer:
		return "viewer"
	case RoleOperator:
		return "operator"
	}
	return "none"
}

// ParseRole is the inverse of Role.String for the two roles a caller can have.
func ParseRole(s string) (Role, error) {
	switch s {
	case "viewer":
		return RoleViewer, nil
	case "operator":
		return RoleOperator, nil
	}
	return RoleNone, fmt.Errorf("unknown role %q (want viewer or operator)", s)
}

// Auth says who may call. A caller proves who it is with a bearer token
// ("authorization: Bearer <token>") or a TLS client certificate verified
// against the server's client CA, whose Subject Common Name is looked up
// in CertRoles. Open grants every caller RoleOperator without a credential:
// the loopback lab only (the daemon's config allows it only with plaintext
// on a loopback address).
type Auth struct {
	Tokens    map[string]Role // token → role
	CertRoles map[string]Role // client certificate Subject CN → role
	Open      bool
}

// writeMethods need RoleOperator; every other method needs RoleViewer.
var writeMethods = map[string]bool{
	atsssv1.PolicyService_PutPolicy_FullMethodName:    true,
	atsssv1.PolicyService_DeletePolicy_FullMethodName: true,
}

// publicServices answer without a credential: the health service, for
// probes (Kubernetes, grpc-health-probe) that carry none, and reflection,
// which only describes the API (its .proto files are public) and which
// grpcurl needs before any call, the health check included.
var publicServices = []string{
	"/grpc.health.v1.Health/",
	"/grpc.reflection.v1.ServerReflection/",
	"/grpc.reflection.v1alpha.ServerReflection/",
}

// authorizer holds the hashed credentials; tokens are compared in constant
// time over their hashes so that neither a token nor its length leaks.
type authorizer struct {
	tokens    []hashedToken
	certRoles map[string]Role
	open      bool
}

type hashedToken struct {
	sum  [sha256.Size]byte
	role Role
}

func newAuthorizer(a Auth) *authorizer {
	z := &authorizer{certRoles: a.CertRoles, open: a.Open}
	for t, r := range a.Tokens {
		z.tokens = append(z.tokens, hashedToken{sha256.Sum256([]byte(t)), r})
	}
	return z
}

// authenticate finds the caller's role (go-grpc-middleware's auth
// interceptor calls it for every RPC) and checks it against the method.
func (z *authorizer) authenticate(ctx context.Context) (context.Context, error) {
	method, _ := grpc.Method(ctx)
	for _, p := range publicServices {
		if strings.HasPrefix(method, p) {
			return ctx, nil
		}
	}
	role, err := z.role(ctx)
	if err != nil {
		return nil, err
	}
	need := RoleViewer
	if writeMethods[method] {
		need = RoleOperator
	}
	if role < need {
		return nil, status.Errorf(codes.PermissionDenied, "%s needs the %v role; the caller is a %v", method, need, role)
	}
	return ctx, nil
}

func (z *authorizer) role(ctx context.Context) (Role, error) {
	if token, err := auth.AuthFromMD(ctx, "bearer"); err == nil {
		sum := sha256.Sum256([]byte(token))
		role := RoleNone
		for _, t := range z.tokens {
			if subtle.ConstantTimeCompare(sum[:], t.sum[:]) == 1 {
				role = t.role
			}
		}
		if role == RoleNone {
			return RoleNone, status.Error(codes.Unauthenticated, "unknown bearer token")
		}
		return role, nil
	}
	if cn, ok := clientCertCN(ctx); ok {
		if r, ok := z.certRoles[cn]; ok {
			return r, nil
		}
		return RoleNone, status.Errorf(codes.PermissionDenied, "client certificate %q has no role", cn)
	}
	if z.open {
		return RoleOperator, nil
	}
	return RoleNone, status.Error(codes.Unauthenticated, "no credential: send \"authorization: Bearer <token>\" or a client certificate")
}

// clientCertCN returns the Subject CN of the caller's verified client
// certificate.
func clientCertCN(ctx context.Context) (string, bool) {
	p, ok := peer.FromContext(ctx)
	if !ok {
		return "", false
	}
	ti, ok := p.AuthInfo.(credentials.TLSInfo)
	if !ok || len(ti.State.VerifiedChains) == 0 || len(ti.State.VerifiedChains[0]) == 0 {
		return "", false
	}
	return ti.State.VerifiedChains[0][0].Subject.CommonName, true
}
