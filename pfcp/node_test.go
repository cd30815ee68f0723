package pfcp_test

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/openatsss/atsss/atsss"
	"github.com/openatsss/atsss/pfcp"
	"github.com/openatsss/atsss/pfcp/pfcptest"
)

// dialAs starts a client playing the SMF "smf.test" with the given Recovery
// Time Stamp, and associates it.
func (h *harness) dialAs(t *testing.T, recovery time.Time) *pfcptest.Client {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	d := pfcptest.Dialer{T1: 200 * time.Millisecond, N1: 5, Recovery: recovery}
	c, err := d.Dial(ctx, netip.MustParseAddrPort("127.0.0.1:0"), h.addr, "smf.test")
	if err != nil {
		t.Fatal(err)
	}
	go c.Run(ctx)
	t.Cleanup(func() { cancel(); c.Close() })
	r, err := c.Associate(ctx)
	accepted(t, "associate", r, err)
	return c
}

func TestPeerRestartPurgesItsSessions(t *testing.T) {
	h := start(t, nil)
	ctx := t.Context()
	first := h.dialAs(t, time.Unix(1_700_000_000, 0))
	r, err := first.Establish(ctx, maSpec(1))
	accepted(t, "establish", r, err)

	// The same Recovery Time Stamp again: not a restart, the session stays.
	h.dialAs(t, time.Unix(1_700_000_000, 0))
	if h.store.Len() != 1 {
		t.Fatalf("re-association with the same stamp left %d sessions, want 1", h.store.Len())
	}
	// A new stamp: the SMF restarted and lost its sessions (TS 29.244
	// §6.2.6.2.2), so the UPF deletes them and frees their addresses.
	h.dialAs(t, time.Unix(1_700_000_100, 0))
	if h.store.Len() != 0 {
		t.Fatalf("%d sessions after the peer restarted, want 0", h.store.Len())
	}
	for i := range 2 { // the /30 pools hold two sessions: both free again
		r, err := first.Establish(ctx, maSpec(atsss.SEID(11+i)))
		accepted(t, "establish after purge", r, err)
	}
}

func TestSilentPeerIsLostAndPurged(t *testing.T) {
	h := start(t, func(c *pfcp.Config) {
		c.HeartbeatInterval, c.T1, c.N1, c.AssociationLossGrace = 50*time.Millisecond, 20*time.Millisecond, 2, 100*time.Millisecond
	})
	c := h.dialAs(t, time.Unix(1_700_000_000, 0))
	r, err := c.Establish(t.Context(), maSpec(1))
	accepted(t, "establish", r, err)
	c.Close() // the SMF falls silent: heartbeats go unanswered
	deadline := time.Now().Add(10 * time.Second)
	for h.store.Len() != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("the silent peer's session is still installed")
		}
		time.Sleep(20 * time.Millisecond)
	}
}
