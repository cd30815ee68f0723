// Package client dials the atsss gRPC API (atsss.v1 SessionService and
// PolicyService, grpc.health.v1) the way an operator tool should: TLS with
// an optional client certificate by default, an optional bearer token sent
// as per-RPC credentials, and plaintext only when asked for.
//
// A bearer token never crosses the network in clear text: over plaintext it
// is only sent to a loopback or Unix-socket target (see Loopback); any other
// plaintext target makes Config.Validate fail, and the credentials themselves
// still demand transport security, so grpc refuses them too.
//
// It is used by cmd/atsssctl and by tests; it imports only grpc, never other
// atsss packages.
package client
