package atsss_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// The domain packages hold values and decisions; everything that touches the
// outside world (sockets, files, processes, logs, wire codecs) lives in the
// control plane, the data planes or cmd. TestDeps keeps it that way, like
// tailscale's tstest/deptest.

const module = "github.com/openatsss/atsss"

// ioImports are standard packages the domain packages must not import
// directly. Some (os, syscall, io/fs) are reached anyway through fmt; a
// direct import is the smell.
//
// time is allowed: time.Duration and time.Time are plain values, and
// steering.Decide takes now as an argument. Reading the clock (time.Now,
// timers) is not caught here; review catches it.
var ioImports = []string{
	"os", "os/...", // files, env, processes, signals
	"syscall", "io/fs", "io/ioutil",
	"net", "net/...", // sockets and wire protocols; net/netip is allowed below
	"log", "log/...", // atsss and steering never log
	"unsafe", "runtime/cgo", "C", "plugin",
	"database/sql", "crypto/tls",
}

// allowedIO are exceptions to ioImports: addresses are values.
var allowedIO = []string{"net/netip"}

// neverReached are standard packages that must not appear anywhere in the
// dependency graph: the allowed imports (fmt, errors, context, sync, slices,
// net/netip, encoding/json, ...) do not pull them in, so if one is there, a
// direct import of it is too, or a dependency that wraps it.
var neverReached = []string{
	"net", "net/http", "net/rpc", "net/smtp", "crypto/tls",
	"os/exec", "os/signal", "os/user",
	"log", "log/slog", "log/syslog",
	"runtime/cgo", "plugin", "database/sql",
}

func TestDeps(t *testing.T) {
	for _, tc := range []struct {
		pkg string
		// allow lists packages of this module the package may import;
		// imports point one way: cmd -> {pfcp, api} -> atsss <- steering.
		allow []string
	}{
		{pkg: module + "/atsss"},
		{pkg: module + "/steering", allow: []string{module + "/atsss"}},
	} {
		t.Run(strings.TrimPrefix(tc.pkg, module+"/"), func(t *testing.T) {
			t.Parallel()
			checkDeps(t, tc.pkg, tc.allow)
		})
	}
}

// goPackage is the part of `go list -json` output checkDeps reads.
type goPackage struct {
	ImportPath string
	Standard   bool
	GoFiles    []string
	Imports    []string
	Error      *struct{ Err string }
}

// checkDeps fails t if pkg, built for any of the GOOS values atsss runs or
// is developed on, imports an I/O package directly or depends on a package
// outside the standard library and allow. It skips a package that has no Go
// files yet, so a new domain package is one line in TestDeps.
func checkDeps(t *testing.T, pkg string, allow []string) {
	touchSources(append([]string{pkg}, allow...)...)
	checked := 0
	problems := map[string][]string{} // problem -> GOOS values it shows on
	report := func(goos, format string, args ...any) {
		msg := fmt.Sprintf(format, args...)
		problems[msg] = append(problems[msg], goos)
	}
	for _, goos := range []string{"linux", "darwin", "windows"} {
		deps := goListDeps(t, pkg, goos)
		root := deps[pkg]
		if root == nil {
			t.Fatalf("go list %s: package missing from its own output", pkg)
		}
		if len(root.GoFiles) == 0 {
			continue // no files for this GOOS, or no package yet
		}
		checked++
		if root.Error != nil {
			t.Fatalf("go list %s (GOOS=%s): %s", pkg, goos, root.Error.Err)
		}
		for _, imp := range root.Imports {
			if matchAny(imp, ioImports) && !slices.Contains(allowedIO, imp) {
				report(goos, "%s imports %s; keep I/O out of the domain packages", pkg, imp)
			}
		}
		for _, path := range slices.Sorted(maps.Keys(deps)) {
			switch d := deps[path]; {
			case path == pkg:
			case d.Error != nil:
				report(goos, "go list %s: %s", path, d.Error.Err)
			case !d.Standard && !slices.Contains(allow, path):
				report(goos, "%s depends on %s (imported by %v); allowed are the standard library and %v",
					pkg, path, importersOf(deps, path), allow)
			case d.Standard && slices.Contains(neverReached, path):
				report(goos, "%s depends on %s (imported by %v)", pkg, path, importersOf(deps, path))
			}
		}
	}
	if checked == 0 {
		t.Skipf("%s has no Go files yet", pkg)
	}
	for _, msg := range slices.Sorted(maps.Keys(problems)) {
		t.Errorf("%s [GOOS %s]", msg, strings.Join(problems[msg], ","))
	}
}

// goListDeps runs `go list -deps -json pkg` for goos and returns the
// packages by import path.
func goListDeps(t *testing.T, pkg, goos string) map[string]*goPackage {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is needed to list dependencies: %v", err)
	}
	cmd := exec.Command(goTool, "list", "-e", "-deps", "-json=ImportPath,Standard,GoFiles,Imports,Error", pkg)
	cmd.Env = append(os.Environ(), "GOOS="+goos, "GOARCH=amd64", "CGO_ENABLED=0")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list %s (GOOS=%s): %v\n%s", pkg, goos, err, stderr.Bytes())
	}
	deps := make(map[string]*goPackage)
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p goPackage
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("go list %s: decode: %v", pkg, err)
		}
		deps[p.ImportPath] = &p
	}
	return deps
}

// touchSources reads the directory and Go files of packages of this module.
// go test caches a result by the files the test process opened, not by those
// the go command it runs reads: without this, adding an import, or the first
// file of steering, would replay a cached pass or skip.
func touchSources(pkgs ...string) {
	for _, pkg := range pkgs {
		rel, ok := strings.CutPrefix(pkg, module+"/")
		if !ok {
			continue
		}
		dir := filepath.Join("..", filepath.FromSlash(rel)) // go test runs in atsss/
		entries, _ := os.ReadDir(dir)                       // a package not created yet is fine
		for _, e := range entries {
			if strings.HasSuffix(e.Name(), ".go") {
				os.ReadFile(filepath.Join(dir, e.Name()))
			}
		}
	}
}

// matchAny reports whether path is one of patterns, where "p/..." matches
// every package under p.
func matchAny(path string, patterns []string) bool {
	for _, p := range patterns {
		if prefix, ok := strings.CutSuffix(p, "/..."); ok {
			if strings.HasPrefix(path, prefix+"/") {
				return true
			}
		} else if path == p {
			return true
		}
	}
	return false
}

func importersOf(deps map[string]*goPackage, path string) []string {
	var out []string
	for _, d := range deps {
		if slices.Contains(d.Imports, path) {
			out = append(out, d.ImportPath)
		}
	}
	slices.Sort(out)
	return out
}
