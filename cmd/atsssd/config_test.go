package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

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
