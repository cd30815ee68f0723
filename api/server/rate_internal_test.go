package server

import (
	"testing"
	"time"
)

// TestRate covers rate's branches directly: the watch test's sample after
// a restart may be taken before the counter goes back, so it alone does
// not prove the reset branch runs.
func TestRate(t *testing.T) {
	tests := []struct {
		name string
		a, b uint64
		dt   time.Duration
		want uint64
	}{
		{"normal", 1000, 3000, time.Second, 16000},
		{"half a second", 0, 1000, 500 * time.Millisecond, 16000},
		{"idle", 7000, 7000, time.Second, 0},
		// The data plane restarted: the counter counts from zero again.
		{"counter went back", 5000, 1000, time.Second, 8000},
		{"zero interval", 1000, 3000, 0, 0},
		{"negative interval", 1000, 3000, -time.Second, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := rate(tt.a, tt.b, tt.dt); got != tt.want {
				t.Errorf("rate(%d, %d, %v) = %d, want %d", tt.a, tt.b, tt.dt, got, tt.want)
			}
		})
	}
}
