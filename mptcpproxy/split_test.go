package mptcpproxy

import (
	"math"
	"testing"

	"github.com/openatsss/atsss/atsss"
	"github.com/openatsss/atsss/steering"
)

// TestSplitterKeepsTheWeights: at every step the count of connections per
// access is within one of the weights' share.
func TestSplitterKeepsTheWeights(t *testing.T) {
	for _, share := range [][2]uint8{{70, 30}, {50, 50}, {1, 99}, {90, 10}, {33, 67}} {
		var w splitter
		var n [2]int
		for i := 1; i <= 1000; i++ {
			n[w.pick(share)]++
			for _, a := range atsss.Accesses {
				want := float64(i) * float64(share[a]) / 100
				if math.Abs(float64(n[a])-want) >= 1 {
					t.Fatalf("%v after %d connections: %v, want %.1f on %v", share, i, n, want, a)
				}
			}
		}
	}
}

func TestPinned(t *testing.T) {
	d := steering.Decision{Share: [2]uint8{70, 30}, Role: [2]steering.Role{steering.RoleActive, steering.RoleActive}}
	if !splits(d) {
		t.Fatal("a 70/30 decision does not split")
	}
	p := pinned(d, atsss.AccessNon3GPP)
	if !p.Backup(atsss.Access3GPP) || p.Backup(atsss.AccessNon3GPP) || p.Share != [2]uint8{0, 100} {
		t.Errorf("pinned to non-3GPP: %+v", p)
	}
	if splits(steering.Decision{Share: [2]uint8{100, 100}, Duplicate: true}) {
		t.Error("a duplicating decision splits")
	}
}
