package atssstest

import (
	"sync"
	"testing"

	"github.com/openatsss/atsss/atsss"
)

// BenchPut runs the b.Loop of a Put benchmark: writers goroutines put
// sessions replacing 4096 of them round-robin, and sessions/s is reported.
func BenchPut(b *testing.B, st *atsss.Store, writers int) {
	sessions := make([]*atsss.Session, 4096)
	for i := range sessions {
		sessions[i] = Session(atsss.SEID(i))
	}
	work := make(chan *atsss.Session)
	var wg sync.WaitGroup
	for range writers {
		wg.Go(func() {
			for s := range work {
				if err := st.Put(b.Context(), s); err != nil {
					b.Error(err)
				}
			}
		})
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		work <- sessions[i%len(sessions)]
		i++
	}
	close(work)
	wg.Wait()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "sessions/s")
}
