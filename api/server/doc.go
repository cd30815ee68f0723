// Package server is atsssd's gRPC API: SessionService (the MA PDU sessions
// N4 installed, the steering in force per MAR and each access's state),
// PolicyService (operator steering policies, kept in a policystore.Store),
// grpc.health.v1 and reflection.
//
// Policies flow one way: PolicyService writes the store; SyncPolicies
// follows the store's change feed (this instance's writes and, with etcd,
// every other instance's) and puts the converted set in force in an
// atsss.Policies, which the data planes follow. So every instance applies
// the same policies, whichever one took the write.
//
// Every request is checked against the proto's protovalidate rules and
// then for what the UPF can carry out (e.g. PLR thresholds in whole
// percent); both refusals are INVALID_ARGUMENT naming the field. Callers
// authenticate with a bearer token or a TLS client certificate and have a
// role: viewers read and watch, operators also write policies. Health and
// reflection (which only describes the public API) answer without one, for
// probes and grpcurl.
package server
