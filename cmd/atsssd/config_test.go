package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/openatsss/atsss/api/apitest"
	"github.com/openatsss/atsss/api/server"
)

// pmfYAML is a configuration with the PMF server on, feeding the proxy's
// steering, ending inside pmf_server.
const pmfYAML = "pfcp:\n  node_id: x\n  listen: [127.0.0.1:8805]\n  allowed_peers: [127.0.0.0/8]\n" +
	"  atsss:\n    mptcp:\n      address4: 203.0.113.1\n      port: 8803\n" +
	"      link_specific_pools: {3gpp: [192.0.2.0/24], non3gpp: [198.51.100.0/24]}\n" +
	"    pmf: {address4: 203.0.113.1, port_base: 20000}\n" +
	"mptcp_proxy: {enabled: true, steering: true}\n" +
	"pmf_server:\n  enabled: true\n"

// baseYAML is the smallest valid configuration.
const baseYAML = "pfcp:\n  node_id: x\n  listen: [127.0.0.1:8805]\n  allowed_peers: [127.0.0.0/8]\n"

func TestLoadConfig(t *testing.T) {
	if _, err := loadConfig("../../deploy/atsssd.yaml"); err != nil {
		t.Fatalf("the example configuration does not load: %v", err)
	}
	tests := []struct {
		name, yaml string
		wantErr    string // a substring naming the field
	}{
		{"unknown field", "pfcp:\n  node_id: x\n  bogus: 1\n", "field bogus not found"},
		{"no allowed peers", "pfcp:\n  node_id: x\n  listen: [127.0.0.1:8805]\n", "pfcp.allowed_peers"},
		{"bad log level", "log_level: loud\npfcp:\n  node_id: x\n  listen: [127.0.0.1:8805]\n  allowed_peers: [127.0.0.0/8]\n", "log_level"},
		{"bad address", "pfcp:\n  node_id: x\n  listen: [nowhere]\n", "nowhere"},
		{"proxy without pools", "pfcp:\n  node_id: x\n  listen: [127.0.0.1:8805]\n  allowed_peers: [127.0.0.0/8]\n" +
			"  atsss:\n    mptcp: {address4: 203.0.113.1, port: 8803}\n", "pfcp.atsss.mptcp.link_specific_pools.3gpp"},
		{"PMF port base too high", "pfcp:\n  node_id: x\n  listen: [127.0.0.1:8805]\n  allowed_peers: [127.0.0.0/8]\n" +
			"  atsss:\n    pmf: {address4: 203.0.113.1, port_base: 65500}\n", "pfcp.atsss.pmf.port_base"},
		{"negative PLR interval", pmfYAML + "  plr_interval: -1s\n", "pmf_server.plr_interval"},
		{"bad PLR interval", pmfYAML + "  plr_interval: often\n", "pmf_server.plr_interval"},
		{"ATSSS-LL data path without ATSSS-LL on N4", "pfcp:\n  node_id: x\n  listen: [127.0.0.1:8805]\n  allowed_peers: [127.0.0.0/8]\n" +
			"atsss_ll: {enabled: true}\n", "atsss_ll.enabled"},
		{"ATSSS-LL MTU too small", "pfcp:\n  node_id: x\n  listen: [127.0.0.1:8805]\n  allowed_peers: [127.0.0.0/8]\n" +
			"  atsss: {atsss_ll: true}\natsss_ll: {enabled: true, mtu: 100}\n", "atsss_ll.mtu"},
		{"PMF with nothing to feed", "pfcp:\n  node_id: x\n  listen: [127.0.0.1:8805]\n  allowed_peers: [127.0.0.0/8]\n" +
			"  atsss:\n    pmf: {address4: 203.0.113.1, port_base: 20000}\npmf_server: {enabled: true}\n", "pmf_server.enabled"},
		{"API plaintext off loopback", baseYAML + "api: {listen: 192.0.2.1:7788, plaintext: true}\n", "api.plaintext"},
		{"API TLS without key", baseYAML + "api: {listen: 192.0.2.1:7788, tls: {cert_file: c.pem}}\n", "api.tls"},
		{"API TLS without credential", baseYAML + "api: {listen: 192.0.2.1:7788, tls: {cert_file: c.pem, key_file: k.pem}}\n", "api: needs a credential"},
		{"API plaintext and client CA", baseYAML + "api: {listen: 127.0.0.1:7788, plaintext: true, tls: {client_ca_file: ca.pem}}\n", "api.plaintext"},
		{"API plaintext and TLS", baseYAML + "api: {listen: 127.0.0.1:7788, plaintext: true, tls: {cert_file: c.pem, key_file: k.pem}}\n", "api.plaintext"},
		{"API cert roles without CA", baseYAML + "api: {listen: 192.0.2.1:7788, tokens_file: t, tls: {cert_file: c.pem, key_file: k.pem}, client_cert_roles: {ops: operator}}\n", "api.client_cert_roles"},
		{"API unknown role", baseYAML + "api: {listen: 192.0.2.1:7788, tls: {cert_file: c.pem, key_file: k.pem, client_ca_file: ca.pem}, client_cert_roles: {ops: admin}}\n", "api.client_cert_roles[ops]"},
		{"API etcd without endpoints", baseYAML + "api: {listen: 127.0.0.1:7788, plaintext: true, policy_store: {backend: etcd}}\n", "api.policy_store.etcd.endpoints"},
		{"API etcd cert without key", baseYAML + "api: {listen: 127.0.0.1:7788, plaintext: true, policy_store: {backend: etcd, etcd: {endpoints: [https://192.0.2.1:2379], tls: {cert_file: c.pem}}}}\n", "api.policy_store.etcd.tls"},
		{"API etcd user without password", baseYAML + "api: {listen: 127.0.0.1:7788, plaintext: true, policy_store: {backend: etcd, etcd: {endpoints: [https://192.0.2.1:2379], username: atsss}}}\n", "username and password_file"},
		{"API unknown backend", baseYAML + "api: {listen: 127.0.0.1:7788, plaintext: true, policy_store: {backend: redis}}\n", "api.policy_store.backend"},
		{"redundant without steering", "pfcp:\n  node_id: x\n  listen: [127.0.0.1:8805]\n  allowed_peers: [127.0.0.0/8]\n" +
			"  atsss:\n    redundant_mptcp: true\n", "pfcp.atsss.redundant_mptcp"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "c.yaml")
			if err := os.WriteFile(path, []byte(tc.yaml), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := loadConfig(path)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("loadConfig: %v, want an error naming %q", err, tc.wantErr)
			}
		})
	}
}

// TestPMFServerConfig: pmf_server's settings reach the PMF server's
// configuration as written, and zero keeps the PMF's defaults.
func TestPMFServerConfig(t *testing.T) {
	tests := []struct {
		name, yaml string
		want       pmfServerConfig
	}{
		{"defaults", pmfYAML, pmfServerConfig{Enabled: true}},
		{"set", pmfYAML + "  echo_interval: 50ms\n  rtt_gain: 0.25\n  plr_interval: 3s\n",
			pmfServerConfig{Enabled: true, EchoInterval: 50 * time.Millisecond, RTTGain: 0.25, PLRInterval: 3 * time.Second}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "c.yaml")
			if err := os.WriteFile(path, []byte(tc.yaml), 0o600); err != nil {
				t.Fatal(err)
			}
			c, err := loadConfig(path)
			if err != nil {
				t.Fatal(err)
			}
			if c.PMFServer != tc.want {
				t.Errorf("pmf_server %+v, want %+v", c.PMFServer, tc.want)
			}
		})
	}
}

// TestReadTokens: the tokens file gives each token its role, and refuses
// unknown roles, short tokens and a token in two roles, naming them.
func TestReadTokens(t *testing.T) {
	tests := []struct {
		name, yaml, wantErr string
	}{
		{"ok", "viewer: [vvvvvvvvvvvvvvvv]\noperator: [oooooooooooooooo]\n", ""},
		{"unknown role", "admin: [aaaaaaaaaaaaaaaa]\n", "unknown role"},
		{"short", "viewer: [short]\n", "viewer[0]: shorter than 16"},
		{"two roles", "viewer: [xxxxxxxxxxxxxxxx]\noperator: [xxxxxxxxxxxxxxxx]\n", "two roles"},
		{"no token", "viewer: []\n", "no token"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "tokens.yaml")
			if err := os.WriteFile(path, []byte(tc.yaml), 0o600); err != nil {
				t.Fatal(err)
			}
			got, err := readTokens(path)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("readTokens: %v, want an error with %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got["vvvvvvvvvvvvvvvv"] != server.RoleViewer || got["oooooooooooooooo"] != server.RoleOperator || len(got) != 2 {
				t.Errorf("readTokens = %v", got)
			}
		})
	}
}

// TestEtcdClientConfig: the etcd client gets the CA, the client
// certificate and the password from their files, trimmed.
func TestEtcdClientConfig(t *testing.T) {
	pki := apitest.NewPKI(t)
	client := pki.Client(t, "atsssd")
	pw := filepath.Join(t.TempDir(), "password")
	if err := os.WriteFile(pw, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var c policyStoreConfig
	c.Etcd.Endpoints = []string{"https://192.0.2.1:2379"}
	c.Etcd.TLS.CAFile, c.Etcd.TLS.CertFile, c.Etcd.TLS.KeyFile = pki.CAFile, client.CertFile, client.KeyFile
	c.Etcd.Username, c.Etcd.PasswordFile = "atsss", pw
	cc, err := c.etcdClientConfig()
	if err != nil {
		t.Fatal(err)
	}
	if cc.TLS == nil || cc.TLS.RootCAs == nil || len(cc.TLS.Certificates) != 1 || cc.Username != "atsss" || cc.Password != "s3cret" || cc.DialTimeout != 5*time.Second {
		t.Errorf("etcd client config %+v", cc)
	}
	c.Etcd.TLS.CAFile = filepath.Join(t.TempDir(), "none.pem")
	if _, err := c.etcdClientConfig(); err == nil || !strings.Contains(err.Error(), "api.policy_store.etcd.tls.ca_file") {
		t.Errorf("missing CA file: %v, want an error naming api.policy_store.etcd.tls.ca_file", err)
	}
}
