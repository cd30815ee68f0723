package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"

	"github.com/openatsss/atsss/atsss"
	"github.com/openatsss/atsss/test/continuity"
	"github.com/openatsss/atsss/test/lab"
	"github.com/openatsss/atsss/test/rig"
	"github.com/openatsss/atsss/test/timeline"
)

// dnPort is the demo's data network server; the session allows all traffic.
const dnPort = 5001

func demo(ctx context.Context, args []string, out io.Writer) (err error) {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	sizeMiB := fs.Uint64("size", 256, "MiB to move each way")
	how := fs.String("cut", lab.LinkDown.String(), "how to cut the non-3GPP access: link-down or silent-drop")
	cutFor := fs.Duration("for", 2*time.Second, "how long the non-3GPP access stays cut")
	plot := fs.String("out", "atsss-lab-demo.svg", "the plot to write (SVG; a PNG and a CSV go beside it)")
	zeroRTT := fs.Bool("0rtt", false, "send the Convert message in the SYN (TCP Fast Open); on Linux 6.18 bulk transfers then often crawl (README, Limitations)")
	sequential := fs.Bool("sequential", false, "move the upload first, then the download, instead of both at once")
	rates := rateFlags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	method, err := parseCut(*how)
	if err != nil {
		return err
	}
	if *sizeMiB == 0 {
		return fmt.Errorf("-size: must be at least 1 MiB")
	}
	l, err := start(ctx, out, rig.Options{Lab: rates.config()}, demoSession)
	if err != nil {
		return err
	}
	defer func() { l.close(out, err) }()

	order, convertIn := "and", "after the handshake"
	if *sequential {
		order = "then"
	}
	if *zeroRTT {
		convertIn = "in the SYN"
	}
	fmt.Fprintf(out, "moving %d MiB up %s %d MiB down: UE → %v:%d (MPTCP; RFC 8803 Convert %s) → DN %v:%d (TCP); the non-3GPP access is cut by %v for %v halfway\n",
		*sizeMiB, order, *sizeMiB, lab.ProxyAddr, rig.ProxyPort, convertIn, lab.DNAddr, dnPort, method, *cutFor)
	return l.play(ctx, out, continuity.Scenario{
		Size: *sizeMiB << 20, Cut: atsss.AccessNon3GPP, How: method, For: *cutFor, CutAt: 0.5,
		Sequential: *sequential, ZeroRTT: *zeroRTT, DNPort: dnPort,
	}, *plot, fmt.Sprintf("atsss lab: non-3GPP cut by %v for %v, then restored", method, *cutFor))
}

// demoSession is the demo's MA PDU session: Load-Balancing 50/50, so that
// the connection uses both accesses from the start.
var demoSession = sessionSpec{
	spec:  rig.SessionSpec{Mode: "load-balancing", Weights: "50/50"},
	about: "MPTCP Load-Balancing 50/50",
}

// play runs s with a live line, prints the summary and writes the plot.
func (l *running) play(ctx context.Context, out io.Writer, s continuity.Scenario, plot, title string) error {
	live := liveLine(out)
	s.Progress = live
	rep, err := continuity.Run(ctx, l.rig, l.ue, s)
	live("")
	if err != nil {
		return err
	}
	intact := rep.Intact()
	summarize(out, rep, intact)
	if rep.Timeline.Len() > 0 {
		if err := os.MkdirAll(filepath.Dir(plot), 0o755); err != nil {
			return fmt.Errorf("plot: %w", err)
		}
		names, err := rep.Timeline.WriteFiles(plot, title)
		if err != nil {
			return fmt.Errorf("plot: %w", err)
		}
		fmt.Fprintf(out, "plot:         %v\n", names)
	}
	return intact
}

func summarize(out io.Writer, rep continuity.Report, intact error) {
	tl := rep.Timeline
	up, down := rep.Outage()
	bytes := rep.AccessBytes()
	fmt.Fprintln(out, "\nsummary")
	if intact == nil {
		fmt.Fprintf(out, "integrity:    OK — %d MiB each way arrived byte-exact, 0 bytes lost\n", rep.Scenario.Size>>20)
	} else {
		fmt.Fprintf(out, "integrity:    FAILED — %v\n", intact)
	}
	fmt.Fprintf(out, "per access:   3GPP %s, non-3GPP %s (both directions, on the wire); %v after restore %s\n",
		mb(bytes[atsss.Access3GPP]), mb(bytes[atsss.AccessNon3GPP]), rep.Scenario.Cut, mb(rep.CutAccessAfterRestore()))
	fmt.Fprintf(out, "outage:       uplink %v, downlink %v after the cut (%v timeline)\n", up, down, continuity.Interval)
	throughput(out, tl)
}

// throughput prints the application's mean rates and longest stalls.
func throughput(out io.Writer, tl timeline.Timeline) {
	upMean, downMean := meanMbps(tl, continuity.SeriesUp), meanMbps(tl, continuity.SeriesDown)
	fmt.Fprintf(out, "throughput:   uplink %.0f Mbit/s, downlink %.0f Mbit/s (mean over the intervals that moved data)\n", upMean, downMean)
	fmt.Fprintf(out, "longest stall: uplink %v, downlink %v with no byte; %v, %v below a tenth of the mean\n",
		tl.LongestStall(continuity.SeriesUp), tl.LongestStall(continuity.SeriesDown),
		tl.LongestBelow(continuity.SeriesUp, upMean/10), tl.LongestBelow(continuity.SeriesDown, downMean/10))
}

func mb(b uint64) string { return fmt.Sprintf("%.1f MB", float64(b)/1e6) }

// meanMbps is the series' mean rate over the intervals that carried bytes.
func meanMbps(tl timeline.Timeline, series int) float64 {
	var sum float64
	n := 0
	for i := range tl.Len() {
		if r := tl.Mbps(series, i); r > 0 {
			sum += r
			n++
		}
	}
	if n == 0 {
		return 0
	}
	return sum / float64(n)
}

// liveLine returns a Progress function: on a terminal it redraws one line
// in place; otherwise it prints a line a second, so a log stays short.
// Called with "", it ends the line.
func liveLine(out io.Writer) func(string) {
	f, ok := out.(*os.File)
	tty := ok && isTerminal(f)
	n := 0
	return func(line string) {
		switch {
		case line == "":
			if tty {
				fmt.Fprintln(out)
			}
		case tty:
			fmt.Fprint(out, "\r"+line)
		default:
			if n%10 == 0 {
				fmt.Fprintln(out, line)
			}
			n++
		}
	}
}

func isTerminal(f *os.File) bool {
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}

func parseCut(s string) (lab.CutMethod, error) {
	for _, m := range []lab.CutMethod{lab.LinkDown, lab.SilentDrop} {
		if s == m.String() {
			return m, nil
		}
	}
	return 0, fmt.Errorf("-cut %q: want %v or %v", s, lab.LinkDown, lab.SilentDrop)
}
