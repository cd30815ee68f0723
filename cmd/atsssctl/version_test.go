package main

import (
	"encoding/json"
	"runtime"
	"strings"
	"testing"
)

// TestVersion checks that version works without any server (the address
// is unreachable and nothing is dialed).
func TestVersion(t *testing.T) {
	r := cli(t, nil, "", "--addr", "192.0.2.1:1", "version")
	r.want(t, exitOK)
	if !strings.HasPrefix(r.stdout, "atsssctl  ") || !strings.Contains(r.stdout, "go        "+runtime.Version()) {
		t.Errorf("stdout %q", r.stdout)
	}
	r = cli(t, nil, "", "-o", "json", "version")
	r.want(t, exitOK)
	var v versionInfo
	if err := json.Unmarshal([]byte(r.stdout), &v); err != nil || v.Version == "" || v.Go != runtime.Version() {
		t.Errorf("json %q: %+v, %v", r.stdout, v, err)
	}
}
