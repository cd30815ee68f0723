package test

import (
	"bufio"
	"context"
	"encoding/csv"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/openatsss/atsss/test/daemontest"
	"github.com/openatsss/atsss/test/netnstest"
)

// labDemo builds the atsss-lab command and returns its path.
func labDemo(t *testing.T) string {
	t.Helper()
	netnstest.Require(t)
	dir := t.TempDir()
	bin, err := daemontest.Build(t.Context(), dir, "atsss-lab")
	if err != nil {
		t.Fatal(err)
	}
	return bin["atsss-lab"]
}

var labIDLine = regexp.MustCompile(`(?m)^lab (\S+):`)

// TestNetnsLabDemo runs the README's main job, smaller, and checks what it
// promises: an intact transfer, and a plot whose data show both accesses,
// the cut and the restored access carrying traffic again. It also checks
// that the lab is gone afterwards.
func TestNetnsLabDemo(t *testing.T) {
	bin := labDemo(t)
	out := t.TempDir()
	cmd := exec.CommandContext(t.Context(), bin, "demo", "-size", "48", "-cut", "silent-drop", "-out", filepath.Join(out, "plot", "demo.svg"))
	b, err := cmd.CombinedOutput()
	t.Logf("atsss-lab demo:\n%s", b)
	if err != nil {
		t.Fatalf("atsss-lab demo: %v", err)
	}
	if !strings.Contains(string(b), "integrity:    OK") {
		t.Error("the summary does not report an intact transfer")
	}
	for _, ext := range []string{".svg", ".png", ".csv"} {
		if fi, err := os.Stat(filepath.Join(out, "plot", "demo"+ext)); err != nil || fi.Size() == 0 {
			t.Errorf("plot file demo%s: %v", ext, err)
		}
	}
	checkDemoCSV(t, filepath.Join(out, "plot", "demo.csv"))
	checkLabGone(t, string(b))
}

// checkDemoCSV checks that both accesses carried bytes, the non-3GPP
// access carried ~nothing during the cut (after a grace interval for
// packets in flight) and carried traffic after it was restored.
func checkDemoCSV(t *testing.T, path string) {
	rows := readCSV(t, path)
	col := map[string]int{}
	for i, h := range rows[0] {
		col[h] = i
	}
	for _, name := range []string{"3gpp bytes", "non3gpp bytes", "marks"} {
		if _, ok := col[name]; !ok {
			t.Fatalf("%s has no column %q: %v", path, name, rows[0])
		}
	}
	var total [2]uint64
	var cutRow, restoredRow int
	for i, r := range rows[1:] {
		for a, name := range []string{"3gpp bytes", "non3gpp bytes"} {
			n, err := strconv.ParseUint(r[col[name]], 10, 64)
			if err != nil {
				t.Fatalf("%s row %d: %v", path, i, err)
			}
			total[a] += n
		}
		if strings.Contains(r[col["marks"]], "cut") {
			cutRow = i + 1
		}
		if strings.Contains(r[col["marks"]], "restored") {
			restoredRow = i + 1
		}
	}
	if total[0] == 0 || total[1] == 0 {
		t.Errorf("bytes per access %v: want both accesses used", total)
	}
	if cutRow == 0 || restoredRow <= cutRow+2 {
		t.Fatalf("marks: cut in row %d, restored in row %d; want both, two seconds apart", cutRow, restoredRow)
	}
	var during, after uint64
	for _, r := range rows[cutRow+2 : restoredRow] {
		n, _ := strconv.ParseUint(r[col["non3gpp bytes"]], 10, 64)
		during += n
	}
	for _, r := range rows[restoredRow:] {
		n, _ := strconv.ParseUint(r[col["non3gpp bytes"]], 10, 64)
		after += n
	}
	// Silent drop: the UE still sends into the dropped link, upf sees
	// nothing arrive and sends nothing that gets counted past its qdisc
	// beyond the odd probe.
	if during > 64<<10 {
		t.Errorf("the non-3GPP access carried %d bytes while cut", during)
	}
	if after < 1<<20 {
		t.Errorf("the non-3GPP access carried %d bytes after it was restored", after)
	}
}

// checkLabGone checks that the lab named in the command's output no longer
// exists.
func checkLabGone(t *testing.T, out string) {
	t.Helper()
	m := labIDLine.FindStringSubmatch(out)
	if m == nil {
		t.Fatal("the output names no lab")
	}
	for _, role := range []string{"ue", "upf", "dn"} {
		if _, err := os.Stat("/run/netns/" + m[1] + "-" + role); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("namespace %s-%s is still there (%v)", m[1], role, err)
		}
	}
}

// TestNetnsLabDemoInterrupted stops the demo with SIGINT in the middle of
// its transfer: it must exit non-zero and leave no lab behind.
func TestNetnsLabDemoInterrupted(t *testing.T) {
	bin := labDemo(t)
	cmd := exec.Command(bin, "demo", "-size", "4096", "-out", filepath.Join(t.TempDir(), "x.svg"))
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill() })
	var out strings.Builder
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		out.WriteString(sc.Text() + "\n")
		if strings.HasPrefix(sc.Text(), "t=") {
			break // moving data
		}
	}
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		for sc.Scan() {
			out.WriteString(sc.Text() + "\n")
		}
		done <- cmd.Wait()
	}()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	select {
	case err = <-done:
	case <-ctx.Done():
		cmd.Process.Kill()
		<-done
		t.Fatalf("atsss-lab did not exit after SIGINT:\n%s", out.String())
	}
	t.Logf("atsss-lab demo, interrupted:\n%s", out.String())
	if err == nil {
		t.Error("interrupted demo exited 0")
	}
	checkLabGone(t, out.String())
}

// TestNetnsLabScenarioActiveStandby runs `atsss-lab scenario
// active-standby`: before the cut the active 3GPP access carries the
// traffic, while its link is down the standby does, and the transfer is
// intact.
func TestNetnsLabScenarioActiveStandby(t *testing.T) {
	bin := labDemo(t)
	out := filepath.Join(t.TempDir(), "as.svg")
	b, err := exec.CommandContext(t.Context(), bin, "scenario", "-size", "128", "-out", out, "active-standby").CombinedOutput()
	t.Logf("atsss-lab scenario active-standby:\n%s", b)
	if err != nil {
		t.Fatalf("atsss-lab scenario: %v", err)
	}
	if !strings.Contains(string(b), "integrity:    OK") {
		t.Error("the summary does not report an intact transfer")
	}
	rows := readCSV(t, strings.TrimSuffix(out, ".svg")+".csv")
	col := map[string]int{}
	for i, h := range rows[0] {
		col[h] = i
	}
	var cut, restored int
	for i, r := range rows[1:] {
		switch {
		case strings.Contains(r[col["marks"]], "cut"):
			cut = i + 1
		case strings.Contains(r[col["marks"]], "restored"):
			restored = i + 1
		}
	}
	if cut == 0 || restored <= cut+5 {
		t.Fatalf("marks: cut in row %d, restored in row %d", cut, restored)
	}
	share3GPP := func(from, to int) float64 {
		var b [2]float64
		for _, r := range rows[from:to] {
			for a, name := range []string{"3gpp bytes", "non3gpp bytes"} {
				n, _ := strconv.ParseFloat(r[col[name]], 64)
				b[a] += n
			}
		}
		return b[0] / (b[0] + b[1])
	}
	if s := share3GPP(1, cut); s < 0.95 {
		t.Errorf("before the cut 3GPP (active) carried %.1f %% of the bytes, want ≥ 95 %%", 100*s)
	}
	// From half a second after the cut, past what was in flight.
	if s := share3GPP(cut+5, restored); s > 0.05 {
		t.Errorf("while 3GPP was down it carried %.1f %% of the bytes", 100*s)
	}
	checkLabGone(t, string(b))
}

func readCSV(t *testing.T, path string) [][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil || len(rows) < 2 {
		t.Fatalf("read %s: %v (%d rows)", path, err, len(rows))
	}
	return rows
}
