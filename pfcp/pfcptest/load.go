package pfcptest

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wmnsk/go-pfcp/message"
	"golang.org/x/time/rate"

	"github.com/openatsss/atsss/atsss"
)

// LoadConfig describes a load run: Sessions establishments of Spec.Nth(0),
// Spec.Nth(1), ... Their UE addresses run from Spec.UEIP on, their CP
// SEIDs from Spec.SEID.
type LoadConfig struct {
	Spec     SessionSpec
	Sessions int
	// Rate caps establishments per second; 0 sends as fast as the UPF
	// answers.
	Rate float64
	// Concurrency is how many establishments are in flight at most; 0
	// means 1.
	Concurrency int
	// Delete deletes, after the run, the sessions it established.
	Delete bool
	// Progress, when set, is called once a second during the
	// establishments with the result so far.
	Progress func(LoadResult)
	// Accepted, when set, is called with the CP and UP SEIDs of each
	// establishment as soon as its accepting response arrives, before the
	// worker that sent it moves on: a record kept by Accepted holds every
	// session the UPF acknowledged, even when the run is cut short. It is
	// called from the workers concurrently.
	Accepted func(cp, up atsss.SEID)
}

// LoadResult is what a load run measured.
type LoadResult struct {
	Elapsed time.Duration // of the establishments
	// Causes counts the establishment responses per Cause. Rejections are
	// results: a UPF under a flood is expected to answer 74 or 75.
	Causes map[Cause]int
	// Failed counts establishments without a usable response; Err is the
	// first such failure.
	Failed int
	Err    error
	// Latency is the time from the first transmission of an establishment
	// to its response, over the answered ones.
	Latency Latency
	Deleted int // sessions deleted, with LoadConfig.Delete
}

// Latency summarises a set of durations.
type Latency struct {
	P50, P90, P99, Max time.Duration
}

// Done returns how many establishments ended, answered or not.
func (r LoadResult) Done() int {
	n := r.Failed
	for _, k := range r.Causes {
		n += k
	}
	return n
}

// Rate returns the establishments per second, answered or not.
func (r LoadResult) Rate() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Done()) / r.Elapsed.Seconds()
}

// Load runs cfg through c, whose Run must be running. It encodes each
// establishment from one template instead of building it with go-pfcp, and
// reads only the Cause and UP SEID of each response, so that a client on a
// core can keep tens of thousands of establishments a second in flight.
// Concurrency goroutines do the work; no goroutine is started per request.
//
// Load returns when every establishment (and deletion) ended, or when ctx
// ends, with what was measured up to then and ctx's error.
func Load(ctx context.Context, c *Client, cfg LoadConfig) (LoadResult, error) {
	if cfg.Sessions < 0 || cfg.Rate < 0 {
		return LoadResult{}, fmt.Errorf("load of %d sessions at %v/s", cfg.Sessions, cfg.Rate)
	}
	tmpl, err := newTemplate(c.own(cfg.Spec))
	if err != nil {
		return LoadResult{}, fmt.Errorf("encode the establishment: %w", err)
	}
	workers := max(cfg.Concurrency, 1)
	var limit *rate.Limiter
	if cfg.Rate > 0 {
		// A burst of 10 ms of requests: exact enough, and no timer per
		// request at high rates.
		limit = rate.NewLimiter(rate.Limit(cfg.Rate), max(1, int(cfg.Rate/100)))
	}

	var (
		next     atomic.Int64
		causes   [256]atomic.Int64
		failed   atomic.Int64
		errOnce  sync.Once
		firstErr error
		ups      = make([]atsss.SEID, cfg.Sessions) // UP SEIDs, 0 where not established
		lats     = make([][]time.Duration, workers)
	)
	snapshot := func(elapsed time.Duration) LoadResult {
		r := LoadResult{Elapsed: elapsed, Causes: make(map[Cause]int), Failed: int(failed.Load())}
		for i := range causes {
			if n := causes[i].Load(); n > 0 {
				r.Causes[Cause(i)] = int(n)
			}
		}
		return r
	}
	start := time.Now()
	stopProgress := func() {}
	if cfg.Progress != nil {
		stopProgress = every(time.Second, func() { cfg.Progress(snapshot(time.Since(start))) })
	}

	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			var buf []byte
			for {
				i := next.Add(1) - 1
				if i >= int64(cfg.Sessions) || limit != nil && limit.Wait(ctx) != nil {
					return
				}
				seq := c.nextSeq()
				buf = tmpl.encode(buf, uint32(i), seq)
				sent := time.Now()
				raw, err := c.exchange(ctx, buf, seq, message.MsgTypeSessionEstablishmentResponse)
				var cause Cause
				var up atsss.SEID
				if err == nil {
					cause, up, err = scanEstablishment(raw)
				}
				if err != nil {
					if ctx.Err() != nil {
						return // not a failure of the UPF's
					}
					failed.Add(1)
					errOnce.Do(func() { firstErr = err })
					continue
				}
				lats[w] = append(lats[w], time.Since(sent))
				causes[cause].Add(1)
				if cause.Accepted() {
					ups[i] = up
					cp := cfg.Spec.SEID + atsss.SEID(i)
					c.addSession(cp, up)
					if cfg.Accepted != nil {
						cfg.Accepted(cp, up)
					}
				}
			}
		})
	}
	wg.Wait()
	stopProgress()
	r := snapshot(time.Since(start))
	r.Err = firstErr
	r.Latency = latency(slices.Concat(lats...))
	if cfg.Delete && ctx.Err() == nil {
		r.Deleted = deleteAll(ctx, c, ups, workers)
	}
	return r, ctx.Err()
}

// deleteAll deletes the sessions with the UP SEIDs in ups that are not 0
// and returns how many the UPF deleted.
func deleteAll(ctx context.Context, c *Client, ups []atsss.SEID, workers int) int {
	var next, deleted atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for i := next.Add(1) - 1; i < int64(len(ups)) && ctx.Err() == nil; i = next.Add(1) - 1 {
				if ups[i] == 0 {
					continue
				}
				if r, err := c.Do(ctx, Deletion(ups[i], 0)); err == nil && r.Cause.Accepted() {
					deleted.Add(1)
				}
			}
		})
	}
	wg.Wait()
	return int(deleted.Load())
}

// every calls fn every d until the returned stop is called; stop waits
// for a call in progress to return.
func every(d time.Duration, fn func()) (stop func()) {
	t := time.NewTicker(d)
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case <-t.C:
				fn()
			case <-done:
				return
			}
		}
	})
	return func() {
		t.Stop()
		close(done)
		wg.Wait()
	}
}

// latency sorts d and summarises it.
func latency(d []time.Duration) Latency {
	if len(d) == 0 {
		return Latency{}
	}
	slices.Sort(d)
	at := func(q float64) time.Duration { return d[int(q*float64(len(d)-1))] }
	return Latency{P50: at(0.50), P90: at(0.90), P99: at(0.99), Max: d[len(d)-1]}
}
