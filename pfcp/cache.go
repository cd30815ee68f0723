package pfcp

import (
	"net/netip"
	"sync"
	"time"
)

// cacheKey names a request: TS 29.244 §6.4 matches a retransmission by the
// peer and the sequence number. The peer is its address and port, since an
// SMF numbers its requests per socket; the message type guards against a
// restarted peer that reuses a sequence number for another request.
type cacheKey struct {
	peer netip.AddrPort
	seq  uint32
	typ  uint8
}

type cacheEntry struct {
	resp    []byte // nil while pending
	at      time.Time
	slot    int // position in order, to evict the right entry
	pending bool
}

// responseCache remembers the responses sent to recent requests, so a
// retransmitted request is answered from here and never executed twice
// (TS 29.244 §6.4). A request in progress is marked pending, so a copy that
// arrives before the answer is dropped, not run again. Memory is bounded by
// max entries; entries older than ttl (N1×T1, the peer's retransmission
// window) are not used. Safe for concurrent use.
type responseCache struct {
	ttl time.Duration

	mu      sync.Mutex // guards the fields below
	entries map[cacheKey]*cacheEntry
	order   []cacheKey // ring of keys in insertion order
	next    int        // slot of order the next entry takes
}

func newResponseCache(max int, ttl time.Duration) *responseCache {
	return &responseCache{ttl: ttl, entries: make(map[cacheKey]*cacheEntry, max), order: make([]cacheKey, max)}
}

// lookup returns the cached response for k, or pending while it is being
// answered.
func (c *responseCache) lookup(k cacheKey) (resp []byte, pending, found bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[k]
	if !ok || time.Since(e.at) > c.ttl {
		return nil, false, false
	}
	return e.resp, e.pending, true
}

// begin marks k as in progress, evicting the oldest entry if full.
func (c *responseCache) begin(k cacheKey) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.insert(k, &cacheEntry{pending: true, at: time.Now()})
}

// complete stores the response to k.
func (c *responseCache) complete(k cacheKey, resp []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.entries[k]; ok {
		e.resp, e.pending = resp, false
		return
	}
	c.insert(k, &cacheEntry{resp: resp, at: time.Now()})
}

// forget drops k, for a request that was refused before it was handled.
func (c *responseCache) forget(k cacheKey) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.entries, k)
}

func (c *responseCache) insert(k cacheKey, e *cacheEntry) {
	if len(c.order) == 0 {
		return
	}
	if prev, ok := c.entries[k]; ok {
		e.slot = prev.slot // a reused sequence number replaces its entry
		c.entries[k] = e
		return
	}
	old := c.order[c.next]
	if prev, ok := c.entries[old]; ok && prev.slot == c.next {
		delete(c.entries, old)
	}
	e.slot = c.next
	c.order[c.next] = k
	c.entries[k] = e
	c.next = (c.next + 1) % len(c.order)
}
