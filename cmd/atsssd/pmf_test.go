package main

import (
	"testing"
	"time"

	"github.com/openatsss/atsss/atsss"
	"github.com/openatsss/atsss/steering/ll"
	"github.com/openatsss/atsss/steering/pmf"
)

// TestLLPathEvent: the PMF events the ATSSS-LL data path takes, converted.
func TestLLPathEvent(t *testing.T) {
	path := pmf.PathID{SEID: 7, Access: atsss.AccessNon3GPP}
	for _, tc := range []struct {
		name string
		ev   pmf.Event
		want ll.PathEvent
		ok   bool
	}{
		{name: "rtt", ev: pmf.Event{Kind: pmf.KindRTT, Path: path, RTT: 30 * time.Millisecond, RTTSample: time.Second},
			want: ll.PathEvent{Kind: ll.EventRTT, SEID: 7, Access: atsss.AccessNon3GPP, RTT: 30 * time.Millisecond}, ok: true},
		{name: "plr in tenths of a percent", ev: pmf.Event{Kind: pmf.KindPLR, Path: path, PLRResult: pmf.PLRResult{PLR: 2.46}},
			want: ll.PathEvent{Kind: ll.EventLoss, SEID: 7, Access: atsss.AccessNon3GPP, Loss: 25}, ok: true},
		{name: "plr capped", ev: pmf.Event{Kind: pmf.KindPLR, Path: path, PLRResult: pmf.PLRResult{PLR: 150}},
			want: ll.PathEvent{Kind: ll.EventLoss, SEID: 7, Access: atsss.AccessNon3GPP, Loss: 1000}, ok: true},
		{name: "availability", ev: pmf.Event{Kind: pmf.KindAvailability, Path: path, Via: atsss.Access3GPP, Available: true},
			want: ll.PathEvent{Kind: ll.EventAvailability, SEID: 7, Access: atsss.AccessNon3GPP, Available: true}, ok: true},
		{name: "per-qos-flow measurement is not steered on", ev: pmf.Event{Kind: pmf.KindRTT, Path: pmf.PathID{SEID: 7, QFI: 5}, RTT: time.Millisecond}},
		{name: "echo lost", ev: pmf.Event{Kind: pmf.KindEchoLost, Path: path, Lost: 3}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := llPathEvent(tc.ev)
			if ok != tc.ok || got != tc.want {
				t.Errorf("llPathEvent = %+v, %v; want %+v, %v", got, ok, tc.want, tc.ok)
			}
		})
	}
}
