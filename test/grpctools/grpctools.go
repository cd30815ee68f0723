// Package grpctools builds and runs the pinned gRPC command-line tools
// (tools/grpc/go.mod: grpcurl and grpc-health-probe) for tests: real
// clients, built from the tools module rather than reimplemented, so that
// the tests see what an operator's grpcurl and a Kubernetes probe see.
package grpctools

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/openatsss/atsss/test/daemontest"
)

const (
	grpcurlPkg = "github.com/fullstorydev/grpcurl/cmd/grpcurl"
	probePkg   = "github.com/grpc-ecosystem/grpc-health-probe"
)

var (
	toolsOnce sync.Once
	toolsDir  string
	toolsErr  error
)

// Paths returns the paths of grpcurl and grpc-health-probe, built once
// per tools/grpc go.sum and Go version into a directory under
// os.TempDir() that later test runs reuse. A tool that cannot be built
// skips the test, or fails it under CI=true: CI must not pass by skipping.
func Paths(t testing.TB) (grpcurl, probe string) {
	t.Helper()
	toolsOnce.Do(func() { toolsDir, toolsErr = buildTools() })
	if toolsErr != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("gRPC tools: %v (CI=true forbids skipping)", toolsErr)
		}
		t.Skipf("gRPC tools unavailable: %v", toolsErr)
	}
	return filepath.Join(toolsDir, "grpcurl"), filepath.Join(toolsDir, "grpc-health-probe")
}

func buildTools() (string, error) {
	root, err := daemontest.ModuleRoot()
	if err != nil {
		return "", err
	}
	mod := filepath.Join(root, "tools", "grpc")
	h := sha256.New()
	for _, f := range []string{"go.mod", "go.sum"} {
		b, err := os.ReadFile(filepath.Join(mod, f))
		if err != nil {
			return "", fmt.Errorf("tools module: %w", err)
		}
		h.Write(b)
	}
	h.Write([]byte(runtime.Version()))
	dir := filepath.Join(os.TempDir(), "atsss-grpc-tools-"+hex.EncodeToString(h.Sum(nil))[:16])
	if built(dir) {
		return dir, nil
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		return "", err
	}
	// Build into a fresh directory and rename it into place, so that a
	// concurrent test process never runs a half-written binary.
	tmp, err := os.MkdirTemp(os.TempDir(), "atsss-grpc-tools-build-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, goTool, "-C", mod, "build", "-o", tmp+string(filepath.Separator), grpcurlPkg, probePkg)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("go -C %s build: %w\n%s", mod, err, out.Bytes())
	}
	if err := os.Rename(tmp, dir); err != nil && !built(dir) {
		return "", err
	}
	return dir, nil
}

func built(dir string) bool {
	for _, n := range []string{"grpcurl", "grpc-health-probe"} {
		if fi, err := os.Stat(filepath.Join(dir, n)); err != nil || fi.Mode()&0o111 == 0 {
			return false
		}
	}
	return true
}

// Run runs a tool with a 30 s bound and returns its output and exit code
// (-1 when it did not exit normally).
func Run(t testing.TB, name string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
		code = 0
	case errors.As(err, &exit):
		code = exit.ExitCode()
	default:
		t.Fatalf("%s: %v", filepath.Base(name), err)
	}
	t.Logf("%s %q → exit %d\nstdout: %s\nstderr: %s", filepath.Base(name), args, code, o.String(), e.String())
	return o.String(), e.String(), code
}
