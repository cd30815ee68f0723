package timeline_test

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/openatsss/atsss/test/timeline"
)

// The lab demo's use: sample the accesses' counters while a transfer runs,
// mark the cut and the restore, then report the outage and draw the plot.
func Example() {
	var cut3GPP, cutN3GPP uint64 // stand-ins for interface byte counters
	s := timeline.NewSampler(100*time.Millisecond,
		timeline.Source{Name: "3GPP", Read: func() (uint64, error) { return cut3GPP, nil }},
		timeline.Source{Name: "non-3GPP", Read: func() (uint64, error) { return cutN3GPP, nil }},
	)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()

	// ... start the transfer; print "\r"+s.Line() every second ...
	s.Mark("non-3GPP cut")
	// ... cut the non-3GPP access, wait, restore it ...
	s.Mark("restored")
	// ... let the transfer end ...
	cancel()
	if err := <-done; err != nil {
		fmt.Println(err)
		return
	}

	tl := s.Timeline()
	cut, _ := tl.MarkTime("non-3GPP cut")
	restored, _ := tl.MarkTime("restored")
	n3 := tl.Index("non-3GPP")
	fmt.Printf("non-3GPP out for %v; %d bytes after restore\n",
		tl.StallAfter(n3, cut), tl.BytesBetween(n3, restored, tl.End()))
	f, err := os.Create("handover.svg")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer f.Close()
	if err := tl.WriteSVG(f, "handover"); err != nil {
		fmt.Println(err)
	}
}
