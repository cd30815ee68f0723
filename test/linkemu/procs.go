package linkemu

import (
	"runtime"
	"sync"
)

// procsPerLink is how many Ps (GOMAXPROCS) each open Link adds: one per
// goroutine, its two readers and two writers.
//
// Why: a Link's goroutines wait in the runtime's poller (packet sockets,
// timerfds). When every P is busy — a -race test process moving 100
// Mbit/s both ways through its own traffic generators, on 2 CPUs, under
// load — no idle M blocks in epoll, and a ready goroutine waits for the
// scheduler to poll the network (sysmon: up to 10 ms) and then for its
// turn behind the busy goroutines (10 ms slices), at every hop of every
// frame. The delay line then adds that wait to Delay, more for an
// idle access (each frame wakes two goroutines) than for a busy one
// (whose goroutines find the next frame without sleeping). With Ps to
// spare, an idle M sleeps in epoll and runs a frame's goroutine as soon
// as the kernel wakes it.
//
// Measured (BenchmarkLinkBusy, 1 ms Delay, 2×GOMAXPROCS goroutines
// spinning, 2 vCPUs): without these Ps a frame took 95-110 ms more than
// its Delay at the median; with them 42-73 µs (p90 2-4 ms). In the lab's
// Smallest Delay test under -race and three busy loops the PMF saw 90-106
// ms on average for accesses of 40 and 10 ms, the idle one often the
// slower, and steering followed those RTTs; with GOMAXPROCS 8, 14-20 and
// 44-50 ms.
const procsPerLink = 4

// procs counts the open Links and remembers GOMAXPROCS from before the
// first, to restore it when the last closes. A change of GOMAXPROCS by
// someone else while Links are open is overridden at the next Open or
// Close: this is test support, and the lab is the only one to set it.
var procs struct {
	mu    sync.Mutex
	links int
	base  int // GOMAXPROCS before the first open Link
}

// addProcs raises GOMAXPROCS for one more open Link.
func addProcs() {
	procs.mu.Lock()
	defer procs.mu.Unlock()
	if procs.links == 0 {
		procs.base = runtime.GOMAXPROCS(0)
	}
	procs.links++
	runtime.GOMAXPROCS(procs.base + procs.links*procsPerLink)
}

// releaseProcs lowers GOMAXPROCS after a Link closed, back to its base
// after the last one.
func releaseProcs() {
	procs.mu.Lock()
	defer procs.mu.Unlock()
	procs.links--
	runtime.GOMAXPROCS(procs.base + procs.links*procsPerLink)
}
