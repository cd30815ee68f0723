package test

import (
	"context"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	pfcplib "github.com/wmnsk/go-pfcp"

	"github.com/openatsss/atsss/pfcp/atsssie"
	"github.com/openatsss/atsss/pfcp/pfcptest"
	"github.com/openatsss/atsss/test/daemontest"
)

// TestFloodIsBounded floods atsssd with ten times the establishments it
// may hold, as fast as it answers. It must answer every one (Cause 75 past
// max_sessions, 74 past the peer's rate), hold exactly max_sessions, stay
// under its memory limit, and keep answering another SMF's heartbeats
// throughout.
//
// The store is durable, as in production: establishments then wait for
// the disk while rejections do not, which is the imbalance a flood
// exploits, and the store's memory-mapped file counts in the resident
// memory measured.
func TestFloodIsBounded(t *testing.T) {
	const (
		maxSessions    = 2000
		establishments = 10 * maxSessions
		peerRate       = 1000 // session requests/s
		peerBurst      = 2500 // more than maxSessions: the first maxSessions pass the limiter
		memoryLimitMiB = 256
	)
	pfcplib.DisableLogging()
	ctx, cancel := context.WithTimeout(t.Context(), 80*time.Second)
	defer cancel()
	bin := buildCommands(ctx, t)
	dir := t.TempDir()
	n4, metrics, cfg := loadDaemon(t)
	cfg["store_path"] = filepath.Join(dir, "sessions.db")
	cfg["memory_limit_mib"] = memoryLimitMiB
	pfcpCfg := cfg["pfcp"].(map[string]any)
	pfcpCfg["max_sessions"] = maxSessions
	pfcpCfg["peer_rate"] = peerRate
	pfcpCfg["peer_burst"] = peerBurst
	d := startAtsssd(ctx, t, func(ctx context.Context) (*daemontest.Daemon, error) {
		return daemontest.Start(ctx, bin["atsssd"], dir, cfg, n4, metrics)
	})

	// Resident memory, every 50 ms until the flood is over.
	var maxRSS, samples int64
	var rssErr error
	sampling, cancelSampling := context.WithCancel(ctx)
	var sampler sync.WaitGroup
	stopSampling := func() { cancelSampling(); sampler.Wait() }
	defer stopSampling()
	sampler.Go(func() {
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			rss, err := d.RSS()
			if err != nil {
				rssErr = err
				return
			}
			maxRSS, samples = max(maxRSS, rss), samples+1
			select {
			case <-sampling.Done():
				return
			case <-tick.C:
			}
		}
	})

	// Another SMF sends a heartbeat every 100 ms, each retransmitted for up
	// to 6 s; none may go unanswered.
	smf := dialSMF(ctx, t, "127.0.0.3:0", n4, pfcptest.Dialer{T1: 500 * time.Millisecond, N1: 11})
	assoc, err := smf.Associate(ctx)
	if err != nil || assoc.Cause != atsssie.CauseAccepted {
		t.Fatalf("associate: %s", describeResponse(assoc, err))
	}
	var sent, answered atomic.Int64
	var hbErrs sync.Map // sequence of the heartbeat to its failure
	beating, cancelBeating := context.WithCancel(ctx)
	var heartbeats sync.WaitGroup
	stopBeating := func() { cancelBeating(); heartbeats.Wait() }
	defer stopBeating()
	heartbeats.Go(func() {
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			n := sent.Add(1)
			heartbeats.Go(func() {
				r, err := smf.Heartbeat(ctx)
				switch {
				case err != nil:
					hbErrs.Store(n, err)
				case !r.Recovery.Equal(assoc.Recovery):
					hbErrs.Store(n, fmt.Errorf("Recovery Time Stamp %v, want %v", r.Recovery, assoc.Recovery))
				default:
					answered.Add(1)
				}
			})
			select {
			case <-beating.Done():
				return
			case <-tick.C:
			}
		}
	})

	load := startSMFSim(t, bin["smfsim"], "load", "-o", "json",
		"-upf", n4.String(), "-local", "127.0.0.2:0",
		"-sessions", strconv.Itoa(establishments), "-concurrency", "512",
		"-t1", "500ms", "-n1", "11", "-ue-pool", loadUEPool.String())
	sum := load.wait(ctx, t)
	stopBeating()
	stopSampling()

	t.Logf("load: %d establishments in %v: causes %v, failed %d", sum.Done, sum.Elapsed.Round(time.Millisecond), sum.Causes, sum.Failed)
	t.Logf("heartbeats: %d sent, %d answered; atsssd max RSS %.1f MiB over %d samples (limit %d MiB)",
		sent.Load(), answered.Load(), float64(maxRSS)/(1<<20), samples, memoryLimitMiB)

	if load.err != nil {
		t.Errorf("smfsim load: %v", load.err)
	}
	cause := func(c pfcptest.Cause) int { return sum.Causes[uint8(c)] }
	accepted, congestion, noResources := cause(atsssie.CauseAccepted), cause(atsssie.CauseCongestion), cause(atsssie.CauseNoResources)
	if sum.Done != establishments || sum.Failed != 0 {
		t.Errorf("%d of %d establishments ended, %d without an answer (first: %s); want all answered", sum.Done, establishments, sum.Failed, sum.Error)
	}
	for _, c := range slices.Sorted(maps.Keys(sum.Causes)) {
		switch pfcptest.Cause(c) {
		case atsssie.CauseAccepted, atsssie.CauseCongestion, atsssie.CauseNoResources:
		default:
			t.Errorf("%d establishments answered with Cause %d (%v); a flood gets 1, 74 or 75", sum.Causes[c], c, pfcptest.Cause(c))
		}
	}
	if accepted > maxSessions {
		t.Errorf("%d establishments accepted, more than max_sessions %d", accepted, maxSessions)
	}
	// The limiter starts with peerBurst tokens: the first maxSessions go to
	// establishments, which are all accepted; the rest get Cause 75.
	if noResources < peerBurst-maxSessions {
		t.Errorf("%d establishments answered with Cause 75, want at least %d", noResources, peerBurst-maxSessions)
	}
	// Past its tokens (the burst, then peerRate a second) a request gets
	// Cause 74.
	if want := establishments - peerBurst - int(peerRate*sum.Elapsed.Seconds()+1); congestion < want {
		t.Errorf("%d establishments answered with Cause 74 in %v, want at least %d", congestion, sum.Elapsed, want)
	}
	// Every answer atsssd counted reached smfsim, once.
	for cause, got := range map[string]int{"accepted": accepted, "congestion": congestion, "no_resources": noResources} {
		sample := `atsss_pfcp_responses_total{cause="` + cause + `",message_type="session_establishment_request"}`
		if n, err := d.Metric(ctx, sample); err != nil || int(n) != got {
			t.Errorf("%s = %v (%v); smfsim counted %d", sample, n, err, got)
		}
	}
	if n, err := d.Metric(ctx, "atsss_pfcp_sessions"); err != nil || n != maxSessions {
		t.Errorf("atsss_pfcp_sessions = %v (%v), want max_sessions %d", n, err, maxSessions)
	}
	if n, err := d.Metric(ctx, "atsss_pfcp_handler_panics_total"); err != nil || n != 0 {
		t.Errorf("atsss_pfcp_handler_panics_total = %v (%v), want 0", n, err)
	}

	if rssErr != nil || samples == 0 {
		t.Errorf("sampling RSS: %v after %d samples", rssErr, samples)
	}
	if maxRSS >= memoryLimitMiB<<20 {
		t.Errorf("atsssd RSS reached %.1f MiB, over memory_limit_mib %d", float64(maxRSS)/(1<<20), memoryLimitMiB)
	}

	if answered.Load() != sent.Load() {
		hbErrs.Range(func(n, err any) bool {
			t.Errorf("heartbeat %d: %v", n, err)
			return true
		})
		t.Errorf("%d of %d heartbeats answered during the flood", answered.Load(), sent.Load())
	}
	if r, err := smf.Associate(ctx); err != nil || r.Cause != atsssie.CauseAccepted {
		t.Errorf("association setup after the flood: %s", describeResponse(r, err))
	}
	if r, err := smf.Heartbeat(ctx); err != nil || !r.Recovery.Equal(assoc.Recovery) {
		t.Errorf("heartbeat after the flood: %s; want Recovery Time Stamp %v", describeResponse(r, err), assoc.Recovery)
	}
}
