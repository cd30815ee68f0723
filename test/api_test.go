package test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/openatsss/atsss/api/apitest"
	atsssv1 "github.com/openatsss/atsss/api/atsss/v1"
	"github.com/openatsss/atsss/api/client"
	"github.com/openatsss/atsss/api/policystore/etcdtest"
	"github.com/openatsss/atsss/test/daemontest"
	"github.com/openatsss/atsss/test/grpctools"
	"github.com/openatsss/atsss/test/smfsimtest"
)

// Bearer tokens of the API tests (tokens_file), one per role.
const (
	apiOperatorToken = "operator-token-0123456789"
	apiViewerToken   = "viewer-token-0123456789ab"
)

// apiSession is the MA PDU session the API tests install on the second
// atsssd: its MPTCP MAR is Active-Standby over 3GPP, for TCP from the data
// network 198.51.100.0/24; the session is in DNN "internet".
const apiSession = `
seid: 0xb1
ue_ip: 203.0.113.20
dnn: internet
gnb:   {upf: {addr: 192.0.2.253, teid: 0x100}, an: {addr: 192.0.2.254, teid: 0x1000}}
n3iwf: {upf: {addr: 198.51.100.253, teid: 0x200}, an: {addr: 198.51.100.254, teid: 0x2000}}
mars:
  - {id: 1, functionality: mptcp, mode: active-standby, priorities: active/standby, sdf: permit out 6 from 198.51.100.0/24 to assigned}
atsss: {mptcp: true}
`

// Two policies applied through atsssctl: one for the application (the
// session's SDF filter) and a lower-precedence one for its DNN.
const (
	apiAppPolicy = `name: policies/app-lb-8020
precedence: 1
match: {application: {flowDescription: "permit out 6 from 198.51.100.0/24 to assigned"}}
steerModeDl: {steerModeValue: LOAD_BALANCING, threeGLoad: 80}
`
	apiDNNPolicy = `name: policies/internet-wifi
precedence: 10
match: {dnn: INTERNET}
pathPreference: PREFER_NON_3GPP
`
)

// apiDaemon is one atsssd with its API, for the API tests.
type apiDaemon struct {
	d   *daemontest.Daemon
	api string // host:port of the gRPC API
	n4  netip.AddrPort
}

// startAPIDaemon starts the atsssd binary bin as daemon name (in
// dir/name), with N4 and the gRPC API on loopback; no data plane. Its
// tokens file holds tokens (YAML: role: [token, ...]). The "api" section
// starts with listen and tokens_file; configure completes it (api) and
// may change the rest of the configuration (cfg) for the test's case.
func startAPIDaemon(ctx context.Context, t *testing.T, bin, dir, name, tokens string, configure func(cfg, api map[string]any, ddir string)) apiDaemon {
	t.Helper()
	n4, metrics, err := daemontest.Ports()
	if err != nil {
		t.Fatal(err)
	}
	port, err := daemontest.FreePort(false)
	if err != nil {
		t.Fatal(err)
	}
	ddir := filepath.Join(dir, name)
	if err := os.MkdirAll(ddir, 0o700); err != nil {
		t.Fatal(err)
	}
	tokensFile := filepath.Join(ddir, "tokens.yaml")
	if err := os.WriteFile(tokensFile, []byte(tokens), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := daemontest.Config(n4, metrics, [2]string{"192.0.2.0/24", "198.51.100.0/24"})
	api := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), port).String()
	apiCfg := map[string]any{"listen": api, "tokens_file": tokensFile}
	cfg["api"] = apiCfg
	configure(cfg, apiCfg, ddir)
	d, err := daemontest.Start(ctx, bin, ddir, cfg, n4, metrics)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		d.Kill()
		if t.Failed() {
			t.Logf("atsssd %s log:\n%s", name, d.Log())
		}
	})
	return apiDaemon{d: d, api: api, n4: n4}
}

// apiTokens is the tokens file of the plaintext API tests: one token per role.
const apiTokens = "operator: [" + apiOperatorToken + "]\nviewer: [" + apiViewerToken + "]\n"

// plaintextEtcd configures startAPIDaemon's API as plaintext, with
// policies in etcd at endpoints.
func plaintextEtcd(endpoints []string) func(cfg, api map[string]any, ddir string) {
	return func(_, api map[string]any, _ string) {
		api["plaintext"] = true
		api["policy_store"] = map[string]any{"backend": "etcd", "etcd": map[string]any{"endpoints": endpoints}}
	}
}

// atsssctl runs the CLI and returns its stdout, stderr and exit code.
func atsssctl(ctx context.Context, t *testing.T, bin string, stdin string, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(), "ATSSSCTL_TOKEN=") // only what args say
	cmd.Stdin = strings.NewReader(stdin)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	var exit *exec.ExitError
	code := 0
	switch {
	case errors.As(err, &exit):
		code = exit.ExitCode()
	case err != nil:
		t.Fatalf("atsssctl %v: %v", args, err)
	}
	return o.String(), e.String(), code
}

// TestAPITwoDaemonsOneEtcd runs two atsssd processes that share policies
// through one (embedded) etcd, and drives them with the real clients: a
// policy applied with atsssctl on the first is in force for a session of
// the second (GetSession shows it), precedence between two policies and
// deletion restore the SMF's MAR, grpcurl lists the services through
// reflection and calls SessionService.ListSessions and health,
// grpc-health-probe sees SERVING, and bad requests, missing and weak
// credentials get their gRPC codes (atsssctl exits 64 + code).
func TestAPITwoDaemonsOneEtcd(t *testing.T) {
	grpcurl, probe := grpctools.Paths(t)
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	dir := t.TempDir()
	bins, err := daemontest.Build(ctx, dir, "atsssd", "smfsim", "atsssctl")
	if err != nil {
		t.Fatal(err)
	}
	etcd := etcdtest.Start(t)
	a := startAPIDaemon(ctx, t, bins["atsssd"], dir, "a", apiTokens, plaintextEtcd(etcd.Endpoints()))
	b := startAPIDaemon(ctx, t, bins["atsssd"], dir, "b", apiTokens, plaintextEtcd(etcd.Endpoints()))
	ctl := func(d apiDaemon, token, stdin string, args ...string) (string, string, int) {
		base := []string{"--addr", d.api, "--plaintext"}
		if token != "" {
			base = append(base, "--token", token)
		}
		return atsssctl(ctx, t, bins["atsssctl"], stdin, append(base, args...)...)
	}

	// Health turns SERVING once start-up is complete (policies synced).
	for _, d := range []apiDaemon{a, b} {
		if err := daemontest.WaitFor(ctx, func() bool {
			_, _, code := grpctools.Run(t, probe, "-addr", d.api)
			return code == 0
		}); err != nil {
			t.Fatalf("grpc-health-probe never saw SERVING at %s: %v", d.api, err)
		}
	}

	// The session lives on b.
	local, err := smfsimtest.FreeAddr(netip.MustParseAddr("127.0.0.2"))
	if err != nil {
		t.Fatal(err)
	}
	smf := smfsimtest.SMF{Bin: bins["smfsim"], UPF: b.n4, Local: local}
	n4Step(ctx, t, smf, "associate")
	est := n4Step(ctx, t, smf, "establish", "-scenario", n4WriteScenario(t, dir, "establish.yaml", apiSession))
	seid := uint64(est.UPSEID)

	conn, err := client.Dial(client.Config{Addr: b.api, Plaintext: true, Token: apiViewerToken})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	sessions := atsssv1.NewSessionServiceClient(conn)
	mar := func() *atsssv1.MultiAccessRule {
		resp, err := sessions.GetSession(ctx, &atsssv1.GetSessionRequest{Seid: seid})
		if err != nil {
			t.Fatalf("GetSession on b: %v", err)
		}
		if got := resp.GetSession().GetMars(); len(got) == 1 {
			return got[0]
		}
		t.Fatalf("session on b has MARs %v, want one", resp.GetSession().GetMars())
		return nil
	}
	// inForce waits until b shows the policy (or the SMF's MAR, for "")
	// in force, and returns how long that took from since.
	inForce := func(policy string, since time.Time) (*atsssv1.MultiAccessRule, time.Duration) {
		var m *atsssv1.MultiAccessRule
		err := daemontest.WaitFor(ctx, func() bool { m = mar(); return m.GetPolicy() == policy })
		if err != nil {
			t.Fatalf("b never showed policy %q in force (last: %v): %v", policy, m, err)
		}
		return m, time.Since(since)
	}
	if m := mar(); m.GetEffectiveSource() != atsssv1.SteeringSource_STEERING_SOURCE_SMF_MAR {
		t.Fatalf("before any policy: %v, want the SMF's MAR", m)
	}

	// Policies applied on a reach b through etcd.
	start := time.Now()
	if out, errOut, code := ctl(a, apiOperatorToken, apiAppPolicy+"---\n"+apiDNNPolicy, "policy", "apply", "-f", "-"); code != 0 {
		t.Fatalf("policy apply on a: exit %d\n%s%s", code, out, errOut)
	}
	m, took := inForce("policies/app-lb-8020", start)
	t.Logf("policy applied on a in force on b after %v (apply included)", took.Round(time.Millisecond))
	if got := m.GetEffectiveSteeringDl(); got.GetSteerModeValue() != atsssv1.SteeringModeValue_STEERING_MODE_VALUE_LOAD_BALANCING || got.GetThreeGLoad() != 80 {
		t.Errorf("effective downlink %v, want LOAD_BALANCING 80", got)
	}
	if got := m.GetSmfSteering().GetSteerModeValue(); got != atsssv1.SteeringModeValue_STEERING_MODE_VALUE_ACTIVE_STANDBY {
		t.Errorf("SMF steering shown as %v, want ACTIVE_STANDBY", got)
	}
	// Deleting the application's policy leaves the DNN's (matched
	// case-insensitively), then deleting that one restores the SMF's MAR.
	start = time.Now()
	if out, errOut, code := ctl(b, apiOperatorToken, "", "policy", "delete", "app-lb-8020"); code != 0 {
		t.Fatalf("policy delete on b: exit %d\n%s%s", code, out, errOut)
	}
	m, took = inForce("policies/internet-wifi", start)
	t.Logf("delete on b in force on b after %v", took.Round(time.Millisecond))
	if got := m.GetEffectiveSteeringDl(); got.GetSteerModeValue() != atsssv1.SteeringModeValue_STEERING_MODE_VALUE_ACTIVE_STANDBY || got.GetActive() != atsssv1.AccessType_ACCESS_TYPE_NON_3GPP {
		t.Errorf("PREFER_NON_3GPP in force as %v, want ACTIVE_STANDBY with non-3GPP active", got)
	}
	if _, _, code := ctl(a, apiOperatorToken, "", "policy", "delete", "internet-wifi"); code != 0 {
		t.Fatalf("policy delete on a: exit %d", code)
	}
	if m, _ = inForce("", time.Now()); m.GetEffectiveSource() != atsssv1.SteeringSource_STEERING_SOURCE_SMF_MAR {
		t.Errorf("after deleting every policy: %v, want the SMF's MAR", m)
	}

	// Refusals, each a gRPC status: atsssctl exits 64 + code and names the field.
	refusals := []struct {
		name, token, policy string
		code                int
		stderr              string
	}{
		{"weights 90/30", apiOperatorToken, "name: policies/w\nmatch: {dnn: x}\nsteerModeDl: {steerModeValue: LOAD_BALANCING, threeGLoad: 90, nonThreeGLoad: 30}\n", 64 + 3, "steer_mode_dl"},
		{"thresholds with SMI", apiOperatorToken, "name: policies/t\nmatch: {dnn: x}\nsteerModeDl: {steerModeValue: LOAD_BALANCING, threeGLoad: 50, steerModeInd: AUTO_LOAD_BALANCE, thresValue: {rttMs: 50}}\n", 64 + 3, "steering_mode.indicator_thresholds"},
		{"missing match key", apiOperatorToken, "name: policies/m\nmatch: {}\npathPreference: LOWEST_LATENCY\n", 64 + 3, "match"},
		{"PLR finer than N4", apiOperatorToken, "name: policies/p\nmatch: {dnn: x}\nsteerModeDl: {steerModeValue: PRIORITY_BASED, prioAcc: 3GPP, thresValue: {plrPerMille: 15}}\n", 64 + 3, "plr_per_mille"},
		{"no credential", "", apiDNNPolicy, 64 + 16, "Unauthenticated"},
		{"viewer writes", apiViewerToken, apiDNNPolicy, 64 + 7, "PermissionDenied"},
	}
	for _, r := range refusals {
		out, errOut, code := ctl(a, r.token, r.policy, "policy", "apply", "-f", "-")
		if code != r.code || !strings.Contains(errOut, r.stderr) {
			t.Errorf("%s: exit %d, stderr %q; want exit %d naming %q (stdout %q)", r.name, code, errOut, r.code, r.stderr, out)
		}
	}
	// An unknown access never reaches the server: the CLI names the value.
	if _, errOut, code := ctl(a, apiOperatorToken, "name: policies/u\nmatch: {dnn: x}\nsteerModeDl: {steerModeValue: ACTIVE_STANDBY, active: WLAN}\n", "policy", "apply", "-f", "-"); code != 1 || !strings.Contains(errOut, "WLAN") {
		t.Errorf("unknown access: exit %d, stderr %q; want exit 1 naming WLAN", code, errOut)
	}

	// grpcurl, through reflection, with the viewer's token.
	auth := "authorization: Bearer " + apiViewerToken
	out, _, code := grpctools.Run(t, grpcurl, "-plaintext", "-H", auth, b.api, "list")
	for _, svc := range []string{"atsss.v1.SessionService", "atsss.v1.PolicyService", "grpc.health.v1.Health"} {
		if code != 0 || !strings.Contains(out, svc) {
			t.Errorf("grpcurl list: exit %d, %q lacks %s", code, out, svc)
		}
	}
	out, _, code = grpctools.Run(t, grpcurl, "-plaintext", "-H", auth, b.api, "atsss.v1.SessionService/ListSessions")
	if want := fmt.Sprintf(`"seid": "%d"`, seid); code != 0 || !strings.Contains(out, want) {
		t.Errorf("grpcurl ListSessions: exit %d, %q lacks %s", code, out, want)
	}
	out, _, code = grpctools.Run(t, grpcurl, "-plaintext", b.api, "grpc.health.v1.Health/Check")
	if code != 0 || !strings.Contains(out, "SERVING") {
		t.Errorf("grpcurl health without a credential: exit %d, %q", code, out)
	}
	if _, _, code = grpctools.Run(t, grpcurl, "-plaintext", b.api, "atsss.v1.SessionService/ListSessions"); code != 64+16 {
		t.Errorf("grpcurl ListSessions without a credential: exit %d, want %d (Unauthenticated)", code, 64+16)
	}
}

// TestAPINotServingUntilSynced: an atsssd whose policy store (etcd) cannot
// be reached serves its API but reports NOT_SERVING, because the policies
// an operator set may not be in force.
func TestAPINotServingUntilSynced(t *testing.T) {
	_, probe := grpctools.Paths(t)
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	dir := t.TempDir()
	bins, err := daemontest.Build(ctx, dir, "atsssd")
	if err != nil {
		t.Fatal(err)
	}
	nowhere, err := daemontest.FreePort(false) // nothing listens there
	if err != nil {
		t.Fatal(err)
	}
	d := startAPIDaemon(ctx, t, bins["atsssd"], dir, "a", apiTokens, plaintextEtcd([]string{fmt.Sprintf("127.0.0.1:%d", nowhere)}))
	// The API answers (NOT_SERVING is an answer: exit 4), never SERVING.
	var code int
	if err := daemontest.WaitFor(ctx, func() bool { _, _, code = grpctools.Run(t, probe, "-addr", d.api); return code == 4 }); err != nil {
		t.Fatalf("grpc-health-probe: exit %d, want 4 (NOT_SERVING): %v", code, err)
	}
	time.Sleep(2 * time.Second) // the daemon keeps retrying etcd meanwhile
	if _, _, code = grpctools.Run(t, probe, "-addr", d.api); code != 4 {
		t.Errorf("grpc-health-probe after 2 s without etcd: exit %d, want 4 (NOT_SERVING)", code)
	}
}

// TestAPITLS runs atsssd's API as outside the lab: TLS, a client CA whose
// certificates' CNs have roles, and tokens. atsssctl with the operator's
// client certificate writes a policy; the viewer's certificate may read
// but not write; a token works over TLS without a certificate; neither
// gets UNAUTHENTICATED, and plaintext against the TLS port fails.
func TestAPITLS(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	dir := t.TempDir()
	bins, err := daemontest.Build(ctx, dir, "atsssd", "atsssctl")
	if err != nil {
		t.Fatal(err)
	}
	pki := apitest.NewPKI(t)
	server := pki.Server(t, "upf.test")
	d := startAPIDaemon(ctx, t, bins["atsssd"], dir, "a", "viewer: ["+apiViewerToken+"]\n", func(cfg, api map[string]any, ddir string) {
		cfg["store_path"] = filepath.Join(ddir, "atsssd.db") // policies in the sessions' file
		api["tls"] = map[string]any{"cert_file": server.CertFile, "key_file": server.KeyFile, "client_ca_file": pki.CAFile}
		api["client_cert_roles"] = map[string]any{"noc": "viewer", "pcf-adapter": "operator"}
	})
	api := d.api
	operator, viewer := pki.Client(t, "pcf-adapter"), pki.Client(t, "noc")
	tlsArgs := []string{"--addr", api, "--ca", pki.CAFile, "--server-name", "upf.test"}
	with := func(c apitest.Issued) []string {
		return append(slices.Clone(tlsArgs), "--cert", c.CertFile, "--key", c.KeyFile)
	}
	if err := daemontest.WaitFor(ctx, func() bool {
		_, _, code := atsssctl(ctx, t, bins["atsssctl"], "", append(with(viewer), "health")...)
		return code == 0
	}); err != nil {
		t.Fatalf("atsssctl health over TLS never saw SERVING: %v", err)
	}
	cases := []struct {
		name  string
		args  []string
		stdin string
		code  int
	}{
		{"operator certificate writes", append(with(operator), "policy", "apply", "-f", "-"), apiDNNPolicy, 0},
		{"viewer certificate reads", append(with(viewer), "policy", "get", "internet-wifi"), "", 0},
		{"viewer certificate writes", append(with(viewer), "policy", "delete", "internet-wifi"), "", 64 + 7},
		{"token over TLS reads", append(slices.Clone(tlsArgs), "--token", apiViewerToken, "sessions", "list"), "", 0},
		{"no credential", append(slices.Clone(tlsArgs), "policy", "list"), "", 64 + 16},
		{"plaintext to the TLS port", []string{"--addr", api, "--plaintext", "health"}, "", 64 + 14},
		{"operator certificate deletes", append(with(operator), "policy", "delete", "internet-wifi"), "", 0},
	}
	for _, c := range cases {
		out, errOut, code := atsssctl(ctx, t, bins["atsssctl"], c.stdin, c.args...)
		if code != c.code {
			t.Errorf("%s: exit %d, want %d\nstdout: %s\nstderr: %s", c.name, code, c.code, out, errOut)
		}
	}
}
