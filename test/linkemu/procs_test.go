package linkemu

import (
	"runtime"
	"testing"
)

// TestProcs: each open Link adds procsPerLink to GOMAXPROCS, and closing
// the last gives back the value from before the first.
func TestProcs(t *testing.T) {
	base := runtime.GOMAXPROCS(0)
	t.Cleanup(func() { runtime.GOMAXPROCS(base) })
	for i, step := range []struct {
		open bool
		want int
	}{
		{true, base + procsPerLink},
		{true, base + 2*procsPerLink},
		{false, base + procsPerLink},
		{true, base + 2*procsPerLink},
		{false, base + procsPerLink},
		{false, base},
	} {
		if step.open {
			addProcs()
		} else {
			releaseProcs()
		}
		if got := runtime.GOMAXPROCS(0); got != step.want {
			t.Fatalf("step %d (open %t): GOMAXPROCS %d, want %d", i, step.open, got, step.want)
		}
	}
}
