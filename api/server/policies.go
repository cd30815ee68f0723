package server

import (
	"context"
	"encoding/base64"
	"errors"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	atsssv1 "github.com/openatsss/atsss/api/atsss/v1"
	"github.com/openatsss/atsss/api/policystore"
)

// defaultPageSize is the page size of a List whose page_size is 0 (AIP-158).
const defaultPageSize = 100

type policyService struct {
	atsssv1.UnimplementedPolicyServiceServer
	s *Server
}

func (ps *policyService) PutPolicy(ctx context.Context, req *atsssv1.PutPolicyRequest) (*atsssv1.PutPolicyResponse, error) {
	p := req.GetPolicy()
	// Refuse now what the data plane could not apply, with the field named
	// as protovalidate names it, instead of storing a policy that does
	// nothing.
	if _, err := toPolicy(p); err != nil {
		return nil, invalidArgument(err)
	}
	stored, created, err := ps.s.cfg.PolicyStore.Put(ctx, p, req.GetExpectedRevision())
	if err != nil {
		return nil, storeStatus(err, p.GetName())
	}
	ps.s.log.Info("policy put", "policy", stored.GetName(), "revision", stored.GetRevision(), "created", created)
	return &atsssv1.PutPolicyResponse{Policy: stored, Created: created}, nil
}

func (ps *policyService) GetPolicy(ctx context.Context, req *atsssv1.GetPolicyRequest) (*atsssv1.GetPolicyResponse, error) {
	p, err := ps.s.cfg.PolicyStore.Get(ctx, req.GetName())
	if err != nil {
		return nil, storeStatus(err, req.GetName())
	}
	return &atsssv1.GetPolicyResponse{Policy: p}, nil
}

func (ps *policyService) ListPolicies(ctx context.Context, req *atsssv1.ListPoliciesRequest) (*atsssv1.ListPoliciesResponse, error) {
	after, err := decodePageToken(req.GetPageToken())
	if err != nil {
		return nil, err
	}
	size := int(req.GetPageSize())
	if size == 0 {
		size = defaultPageSize
	}
	// One more than asked tells whether there is a next page.
	got, err := ps.s.cfg.PolicyStore.List(ctx, after, size+1)
	if err != nil {
		return nil, storeStatus(err, "")
	}
	resp := &atsssv1.ListPoliciesResponse{Policies: got}
	if len(got) > size {
		resp.Policies = got[:size]
		resp.NextPageToken = encodePageToken(got[size-1].GetName())
	}
	return resp, nil
}

func (ps *policyService) DeletePolicy(ctx context.Context, req *atsssv1.DeletePolicyRequest) (*atsssv1.DeletePolicyResponse, error) {
	p, err := ps.s.cfg.PolicyStore.Delete(ctx, req.GetName(), req.GetExpectedRevision())
	if err != nil {
		return nil, storeStatus(err, req.GetName())
	}
	ps.s.log.Info("policy deleted", "policy", p.GetName(), "revision", p.GetRevision())
	return &atsssv1.DeletePolicyResponse{}, nil
}

func (ps *policyService) WatchPolicies(req *atsssv1.WatchPoliciesRequest, stream grpc.ServerStreamingServer[atsssv1.WatchPoliciesResponse]) error {
	w, err := ps.s.cfg.PolicyStore.Watch(stream.Context())
	if err != nil {
		return storeStatus(err, "")
	}
	if req.GetInitial() {
		for _, p := range w.Snapshot {
			if err := stream.Send(&atsssv1.WatchPoliciesResponse{Type: atsssv1.PolicyEventType_POLICY_EVENT_TYPE_INITIAL, Policy: p}); err != nil {
				return err
			}
		}
	}
	for ev := range w.C {
		if err := stream.Send(&atsssv1.WatchPoliciesResponse{Type: ev.Type, Policy: ev.Policy}); err != nil {
			return err
		}
	}
	if stream.Context().Err() != nil {
		return nil
	}
	return storeStatus(w.Err(), "")
}

// storeStatus maps a policy store error to its gRPC status.
func storeStatus(err error, name string) error {
	switch {
	case errors.Is(err, policystore.ErrNotFound):
		return status.Errorf(codes.NotFound, "policy %q not found", name)
	case errors.Is(err, policystore.ErrRevisionMismatch):
		return status.Errorf(codes.FailedPrecondition, "policy %q: %v", name, err)
	case errors.Is(err, policystore.ErrLagged):
		return status.Errorf(codes.ResourceExhausted, "watch fell behind the changes; watch again: %v", err)
	case errors.Is(err, policystore.ErrClosed):
		return status.Error(codes.Unavailable, "policy store closed")
	case errors.Is(err, context.Canceled):
		return status.FromContextError(err).Err()
	case errors.Is(err, context.DeadlineExceeded):
		return status.Errorf(codes.DeadlineExceeded, "policy store: %v", err)
	}
	return status.Errorf(codes.Unavailable, "policy store: %v", err)
}

// invalidArgument turns a fieldError into INVALID_ARGUMENT with the field
// in a BadRequest detail, as protovalidate's interceptor does with its own
// details, so that clients read both the same way.
func invalidArgument(err error) error {
	var fe *fieldError
	if !errors.As(err, &fe) {
		return status.Error(codes.InvalidArgument, err.Error())
	}
	st := status.New(codes.InvalidArgument, err.Error())
	if d, derr := st.WithDetails(&errdetails.BadRequest{FieldViolations: []*errdetails.BadRequest_FieldViolation{
		{Field: fe.field, Description: fe.err.Error()},
	}}); derr == nil {
		st = d
	}
	return st.Err()
}

// errBadPageToken refuses a page token this server did not give, with the
// field in a BadRequest detail like every other INVALID_ARGUMENT.
var errBadPageToken = invalidArgument(fieldErr("page_token", "not a token this server gave"))

// Page tokens are opaque to clients (AIP-158): the last key of the page,
// base64 so that nobody mistakes it for a name.
func encodePageToken(last string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(last))
}

func decodePageToken(t string) (string, error) {
	b, err := base64.RawURLEncoding.DecodeString(t)
	if err != nil {
		return "", errBadPageToken
	}
	return string(b), nil
}
