package mptcpproxy

import (
	"testing"
	"time"
)

func TestSaturated(t *testing.T) {
	ms := time.Millisecond
	tests := []struct {
		name               string
		prev, cur, elapsed time.Duration
		want               bool
	}{
		{"bulk: busy all the interval", 4000 * ms, 4100 * ms, 100 * ms, true},
		{"exactly half", 0, 50 * ms, 100 * ms, true},
		{"paced: busy a little", 4 * ms, 10 * ms, 100 * ms, false},
		{"idle", 4 * ms, 4 * ms, 100 * ms, false},
		// A counter that went back (a subflow replaced under the same
		// address pair) is no saturation.
		{"counter went back", 4000 * ms, 10 * ms, 100 * ms, false},
		{"no time passed", 0, 50 * ms, 0, false},
	}
	for _, tc := range tests {
		if got := saturated(tc.prev, tc.cur, tc.elapsed); got != tc.want {
			t.Errorf("%s: saturated(%v, %v, %v) = %v, want %v", tc.name, tc.prev, tc.cur, tc.elapsed, got, tc.want)
		}
	}
}
