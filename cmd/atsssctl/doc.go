// Command atsssctl is the operator's command line over the atsss gRPC API
// (api/atsss/v1): it lists, shows and watches the UPF's multi-access
// sessions (SessionService), applies, shows, lists and deletes steering
// policies (PolicyService) and checks grpc.health.v1.
//
//	atsssctl sessions list [--peer P] [--ue-address IP] [--mode MODE]
//	atsssctl sessions get SEID
//	atsssctl sessions watch [SEID] [--interval 1s]
//	atsssctl policy apply -f FILE.yaml|-   [--dry-run]
//	atsssctl policy get NAME | list | delete NAME
//	atsssctl health [--service NAME]
//	atsssctl version
//
// Every command takes -o table|json|yaml and the connection flags (--addr,
// --plaintext, --ca, --cert, --key, --server-name, --token, --timeout);
// "atsssctl --help" documents them and the exit codes (64 + gRPC status
// code, as grpcurl does).
//
// Files by command group: sessions.go (with watch.go, the live table),
// policy.go (with policyfile.go, the YAML decoder), health.go, version.go;
// root.go holds the global flags, output.go the printers, exit.go the
// error reporting and exit codes. Connection set-up is package
// api/client. This command imports only the generated API (atsssv1),
// api/client, grpc and its own small helpers: never the daemon's packages.
package main
