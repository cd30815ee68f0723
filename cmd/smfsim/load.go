package main

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/openatsss/atsss/atsss"
	"github.com/openatsss/atsss/pfcp/atsssie"
	"github.com/openatsss/atsss/pfcp/pfcptest"
)

func load(ctx context.Context, args []string, out *printer) error {
	var n node
	var sf sessionFlags
	fs := newFlagSet("load", `Sets up the association, then establishes -sessions sessions shaped like
establish's, each with its own CP SEID (from -seid on), UE address (from
-ue-pool) and TEIDs. Prints progress to stderr once a second, and at the
end the establishments per second, their latency and a count per Cause:
Causes 74 and 75 are results of a flood, not failures. With -accepted,
each accepted establishment is also recorded as it is answered, so that
the record is complete even if the run is interrupted or the UPF dies.`, out, &n)
	sf.register(fs)
	sessions := fs.Int("sessions", 1000, "how many sessions to establish")
	rate := fs.Float64("rate", 0, "establishments per second at most; 0: as fast as the UPF answers")
	concurrency := fs.Int("concurrency", 64, "establishments in flight at most")
	pool := fs.String("ue-pool", "198.18.0.0/15", "IPv4 `prefix` of the UE addresses (RFC 2544 sets 198.18.0.0/15 aside for benchmarks)")
	acceptedPath := fs.String("accepted", "", "append to `file` a line \"CP-SEID UP-SEID\" (decimal) per accepted establishment, written as its response arrives")
	del := false
	fs.BoolFunc("delete", "delete the sessions at the end", func(string) error { del = true; return nil })
	fs.BoolFunc("keep", "leave the sessions installed at the end (the default)", func(string) error { del = false; return nil })
	if err := n.parse(fs, args, out); err != nil {
		return err
	}
	spec, err := sf.spec()
	if err != nil {
		return err
	}
	prefix, err := netip.ParsePrefix(*pool)
	switch {
	case err != nil || !prefix.Addr().Is4():
		return usagef("-ue-pool %q: want an IPv4 prefix", *pool)
	case *sessions < 1 || *concurrency < 1 || *rate < 0:
		return usagef("-sessions and -concurrency must be positive, -rate not negative")
	case prefix.Bits() < 32 && uint64(*sessions) > 1<<(32-prefix.Bits())-2:
		return usagef("-ue-pool %v has too few addresses for %d sessions", prefix, *sessions)
	}
	// The pool's hosts, from the first after the network address.
	spec.UEIP = prefix.Masked().Addr().Next()

	var rec *acceptedLog
	if *acceptedPath != "" {
		if rec, err = openAcceptedLog(*acceptedPath); err != nil {
			return err
		}
		defer rec.close()
	}
	c, stop, err := n.dial(ctx, out)
	if err != nil {
		return err
	}
	defer stop()
	r, err := c.Associate(ctx)
	if err := out.outcome(newOutcome("associate", atsssie.CauseAccepted, r, err)); err != nil {
		return err
	}
	var last pfcptest.LoadResult
	progress := func(r pfcptest.LoadResult) {
		// The rate of the last second, not of the whole run: a UPF that
		// slows down shows.
		rate := float64(r.Done()-last.Done()) / (r.Elapsed - last.Elapsed).Seconds()
		fmt.Fprintf(out.errw, "%v: %d of %d done, %.0f est/s; %s\n", r.Elapsed.Round(time.Second), r.Done(), *sessions, rate, summary(r))
		last = r
	}
	cfg := pfcptest.LoadConfig{Spec: spec, Sessions: *sessions, Rate: *rate, Concurrency: *concurrency, Delete: del, Progress: progress}
	if rec != nil {
		cfg.Accepted = rec.add
	}
	res, err := pfcptest.Load(ctx, c, cfg)
	out.load(res, del)
	return errors.Join(err, rec.close())
}

// acceptedLog is the file of -accepted. Each line goes to the file in one
// write(2) before the worker that got the response moves on, so a line is
// in the file, for any reader, as soon as the session counts as accepted,
// and stays there if smfsim is interrupted or killed. It does not fsync:
// it guards against the end of processes, not of the machine.
type acceptedLog struct {
	f *os.File

	mu     sync.Mutex // guards the fields below
	line   []byte
	err    error // the first failed write; later lines are not written
	closed bool
}

func openAcceptedLog(path string) (*acceptedLog, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("-accepted: %w", err)
	}
	return &acceptedLog{f: f}, nil
}

// add records an accepted establishment. It is safe for concurrent use.
func (l *acceptedLog) add(cp, up atsss.SEID) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.err != nil || l.closed {
		return
	}
	l.line = fmt.Appendf(l.line[:0], "%d %d\n", uint64(cp), uint64(up))
	if _, err := l.f.Write(l.line); err != nil {
		l.err = fmt.Errorf("-accepted: %w", err)
	}
}

// close closes the file and returns the first error of the log, which
// means the record is incomplete. It may be called more than once, and on
// a nil log.
func (l *acceptedLog) close() error {
	if l == nil {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.closed {
		l.closed = true
		if err := l.f.Close(); err != nil && l.err == nil {
			l.err = fmt.Errorf("-accepted: %w", err)
		}
	}
	return l.err
}

// summary writes the counts per Cause and the failures of r.
func summary(r pfcptest.LoadResult) string {
	var b strings.Builder
	b.WriteString("causes")
	for _, c := range slices.Sorted(maps.Keys(r.Causes)) {
		fmt.Fprintf(&b, " %d %s=%d", c, c, r.Causes[c])
	}
	fmt.Fprintf(&b, "; failed %d", r.Failed)
	if r.Err != nil {
		fmt.Fprintf(&b, " (first: %v)", r.Err)
	}
	return b.String()
}

// loadLine is a load result as -o json prints it.
type loadLine struct {
	Request string        `json:"request"` // "load"
	Done    int           `json:"done"`
	Elapsed time.Duration `json:"elapsed_ns"`
	Rate    float64       `json:"rate"` // establishments per second
	Latency struct {
		P50 time.Duration `json:"p50_ns"`
		P90 time.Duration `json:"p90_ns"`
		P99 time.Duration `json:"p99_ns"`
		Max time.Duration `json:"max_ns"`
	} `json:"latency"`
	Causes  map[uint8]int `json:"causes"` // by Cause value
	Failed  int           `json:"failed"`
	Error   string        `json:"error,omitempty"` // the first failure
	Deleted *int          `json:"deleted,omitempty"`
}

func (p *printer) load(r pfcptest.LoadResult, deleted bool) {
	if p.json {
		l := loadLine{Request: "load", Done: r.Done(), Elapsed: r.Elapsed, Rate: r.Rate(), Causes: map[uint8]int{}, Failed: r.Failed}
		l.Latency.P50, l.Latency.P90, l.Latency.P99, l.Latency.Max = r.Latency.P50, r.Latency.P90, r.Latency.P99, r.Latency.Max
		for c, n := range r.Causes {
			l.Causes[uint8(c)] = n
		}
		if r.Err != nil {
			l.Error = r.Err.Error()
		}
		if deleted {
			l.Deleted = &r.Deleted
		}
		p.encode(l)
		return
	}
	ms := func(d time.Duration) string { return d.Round(time.Microsecond).String() }
	fmt.Fprintf(p.w, "load: %d establishments in %v: %.0f est/s\n", r.Done(), r.Elapsed.Round(time.Millisecond), r.Rate())
	fmt.Fprintf(p.w, "  latency p50 %s p90 %s p99 %s max %s\n", ms(r.Latency.P50), ms(r.Latency.P90), ms(r.Latency.P99), ms(r.Latency.Max))
	fmt.Fprintf(p.w, "  %s\n", summary(r))
	if deleted {
		fmt.Fprintf(p.w, "  deleted %d\n", r.Deleted)
	}
}
