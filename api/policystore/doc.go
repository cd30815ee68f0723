// Package policystore keeps the operators' steering policies
// (*atsssv1.Policy) durably and publishes their changes: the storage behind
// PolicyService (api/atsss/v1/policy.proto).
//
// It has two backends with the same semantics, both behind Store:
//
//   - Bolt, the default: the bucket "policies" in atsssd's bbolt file, next
//     to the sessions (atsss/boltstore). Its Watch sees the writes of this
//     process only, which is all there is when the file is private to one
//     atsssd.
//   - Etcd: keys under a prefix in etcd, so that several atsssd instances
//     share policies and each sees the others' changes through an etcd watch.
//
// Both give every stored policy a revision that grows monotonically per name
// (also across a delete and a re-create), make Put and Delete conditional on
// it on request (optimistic concurrency, like etcd's and Kubernetes'
// resourceVersion), list by name in pages, and deliver a snapshot followed by
// every later change, in order and without gaps, to each watcher. A watcher
// that falls behind is dropped with ErrLagged rather than slowing down
// writers; it watches again to resync.
//
// The package stores what it is given: validating a policy's contents is the
// server's job (protovalidate). It only requires a name.
//
// It imports the API's generated types and the storage clients, and nothing
// of atsss's data plane; cmd/atsssd wires it to the server. Test helpers for
// etcd live in policystore/etcdtest.
package policystore
