package atsssv1

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// apiDir is the directory of buf.yaml and buf.gen.yaml, relative to this
// package.
const apiDir = "../.."

// buf runs the buf pinned in tools/buf/go.mod in apiDir and returns its
// combined output. `go tool` builds buf and the plugins on first use and
// caches them (see tools/README.md for the cold cost). A buf that cannot be built or run (e.g. the
// module is not in the module cache and there is no proxy) skips the test,
// except under CI=true, where it fails it: CI must never pass by skipping.
func buf(t *testing.T, args ...string) ([]byte, error) {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		missingTool(t, "go not on PATH: "+err.Error())
	}
	// Probe the pinned tools first so a missing tool is told apart from a
	// buf failure; buf generate runs the plugins the same way (buf.gen.yaml).
	for _, tool := range [][]string{
		{"-modfile=../tools/buf/go.mod", "buf"},
		{"-modfile=../tools/protoc/go.mod", "protoc-gen-go"},
		{"-modfile=../tools/protoc/go.mod", "protoc-gen-go-grpc"},
	} {
		probe := exec.Command(goBin, "tool", tool[0], tool[1], "--version")
		probe.Dir = apiDir
		if out, err := probe.CombinedOutput(); err != nil {
			missingTool(t, "pinned "+tool[1]+" unavailable: "+err.Error()+"\n"+string(out))
		}
	}
	cmd := exec.Command(goBin, append([]string{"tool", "-modfile=../tools/buf/go.mod", "buf"}, args...)...)
	cmd.Dir = apiDir
	return cmd.CombinedOutput()
}

func missingTool(t *testing.T, msg string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatal(msg + " (CI=true forbids skipping; install with `go -C tools/buf tool buf --version` and `go -C tools/protoc tool protoc-gen-go --version`)")
	}
	t.Skip(msg)
}

// TestGenerated fails when the committed *.pb.go files differ from what the
// pinned buf and plugins generate now, so nobody edits generated code or
// forgets to regenerate after changing a .proto.
func TestGenerated(t *testing.T) {
	out := t.TempDir()
	if b, err := buf(t, "generate", "--output", out); err != nil {
		t.Fatalf("buf generate: %v\n%s", err, b)
	}
	fresh, err := filepath.Glob(filepath.Join(out, "atsss", "v1", "*.pb.go"))
	if err != nil {
		t.Fatal(err)
	}
	committed, err := filepath.Glob("*.pb.go")
	if err != nil {
		t.Fatal(err)
	}
	var freshNames []string
	for _, f := range fresh {
		freshNames = append(freshNames, filepath.Base(f))
	}
	slices.Sort(freshNames)
	slices.Sort(committed)
	if !slices.Equal(freshNames, committed) {
		t.Fatalf("generated files %v, committed %v: run go generate ./api/...", freshNames, committed)
	}
	for _, name := range committed {
		want, err := os.ReadFile(filepath.Join(out, "atsss", "v1", name))
		if err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s differs from a fresh generation: run go generate ./api/...", name)
		}
	}
}

// TestBufLint fails on any buf lint finding (STANDARD and COMMENTS rules,
// which include checking that the protovalidate rules compile) and on
// unformatted .proto files.
func TestBufLint(t *testing.T) {
	if b, err := buf(t, "lint"); err != nil {
		t.Errorf("buf lint: %v\n%s", err, b)
	}
	if b, err := buf(t, "format", "--diff", "--exit-code"); err != nil {
		t.Errorf("buf format (fix with buf format -w in api/): %v\n%s", err, strings.TrimSpace(string(b)))
	}
}

// TestBufBreaking fails on a wire- or source-breaking change (buf's FILE
// rules) to atsss.v1 against two baselines: the main branch, which catches
// an uncommitted change before it lands, and the commit that first
// published atsss.v1 on main, which keeps every later v1 compatible with
// the first (a fresh clone of main is the main branch itself, so there the
// first baseline alone finds nothing). Breaking changes go to atsss.v2.
func TestBufBreaking(t *testing.T) {
	git, err := exec.LookPath("git")
	if err != nil {
		missingTool(t, "git not on PATH: "+err.Error())
	}
	cmd := exec.Command(git, "log", "--diff-filter=A", "--format=%H", "--", "atsss/v1/policy.proto")
	cmd.Dir = apiDir
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("git log (the test needs the repository's history, not a shallow clone): %v", err)
	}
	commits := strings.Fields(string(out))
	if len(commits) == 0 {
		t.Skip("atsss.v1 is not committed yet: nothing to be compatible with")
	}
	first := commits[len(commits)-1]
	for _, against := range []string{"../.git#branch=main,subdir=api", "../.git#ref=" + first + ",subdir=api"} {
		if b, err := buf(t, "breaking", "--against", against); err != nil {
			t.Errorf("buf breaking --against %s: %v\n%s", against, err, b)
		}
	}
}
