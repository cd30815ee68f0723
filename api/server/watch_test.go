package server_test

import (
	"context"
	"fmt"
	"math"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	atsssv1 "github.com/openatsss/atsss/api/atsss/v1"
	"github.com/openatsss/atsss/atsss"
)

// stream reads a server stream on its own goroutine, so that the test can
// wait for a message with a bound.
type stream[T any] struct {
	c    chan *T
	errc chan error
}

func watch[T any](t *testing.T, s grpc.ServerStreamingClient[T]) *stream[T] {
	r := &stream[T]{c: make(chan *T, 4096), errc: make(chan error, 1)}
	go func() {
		for {
			m, err := s.Recv()
			if err != nil {
				r.errc <- err
				return
			}
			r.c <- m
		}
	}()
	return r
}

// next returns the first message for which match holds, skipping others,
// waiting at most 10 s.
func (r *stream[T]) next(t *testing.T, what string, match func(*T) bool) *T {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case m := <-r.c:
			if match(m) {
				return m
			}
		case err := <-r.errc:
			t.Fatalf("%s: stream ended: %v", what, err)
		case <-timeout:
			t.Fatalf("%s: not after 10 s", what)
		}
	}
}

func isSession(typ atsssv1.SessionEventType, seid uint64) func(*atsssv1.WatchSessionsResponse) bool {
	return func(r *atsssv1.WatchSessionsResponse) bool {
		e := r.GetSessionEvent()
		return e != nil && e.GetType() == typ && e.GetSession().GetSeid() == seid
	}
}

func isPath(typ atsssv1.PathEventType, seid uint64, a atsssv1.AccessType) func(*atsssv1.WatchSessionsResponse) bool {
	return func(r *atsssv1.WatchSessionsResponse) bool {
		e := r.GetPathEvent()
		return e != nil && e.GetType() == typ && e.GetSeid() == seid && e.GetState().GetAccess() == a
	}
}

// TestWatchSessions follows one stream through session changes in the
// store, access changes of the data plane and throughput samples.
func TestWatchSessions(t *testing.T) {
	access := newFakeAccess()
	for _, id := range []atsss.SEID{0x61, 0x62, 0x63} {
		access.update(id, func(s *[2]atsss.AccessState) {
			s[atsss.Access3GPP] = up(30 * time.Millisecond)
			s[atsss.AccessNon3GPP] = up(12 * time.Millisecond)
			s[atsss.AccessNon3GPP].LossKnown, s[atsss.AccessNon3GPP].LossPermille = true, 15
		})
	}
	h := start(t, options{auth: tokenAuth(), access: access, pathPoll: 20 * time.Millisecond})
	h.put(t, lbSession(0x62, "smf-a.example.net"), activeStandbySession(0x61, "smf-a.example.net"))
	c := h.dial(t, viewerToken)
	ctx, cancel := context.WithCancel(testCtx(t))
	defer cancel()
	s, err := c.sessions.WatchSessions(ctx, &atsssv1.WatchSessionsRequest{Initial: true, SampleInterval: durationpb.New(100 * time.Millisecond)})
	if err != nil {
		t.Fatal(err)
	}
	w := watch(t, s)

	t.Run("initial", func(t *testing.T) {
		// First, before anything else, the sessions in seid order.
		for _, seid := range []uint64{0x61, 0x62} {
			select {
			case m := <-w.c:
				if !isSession(atsssv1.SessionEventType_SESSION_EVENT_TYPE_INITIAL, seid)(m) {
					t.Fatalf("got %v, want INITIAL %#x", m, seid)
				}
				if m.GetTime() == nil {
					t.Error("no time")
				}
				if a := m.GetSessionEvent().GetSession().GetAccesses(); len(a) != 2 || a[0].GetRttUs() != 30000 || a[1].GetLossPerMille() != 15 {
					t.Errorf("accesses %v: want the data plane's RTT and loss", a)
				}
			case err := <-w.errc:
				t.Fatal(err)
			case <-time.After(10 * time.Second):
				t.Fatal("no initial event after 10 s")
			}
		}
	})

	t.Run("session events", func(t *testing.T) {
		h.put(t, lbSession(0x63, "smf-b.example.net"))
		w.next(t, "ESTABLISHED 0x63", isSession(atsssv1.SessionEventType_SESSION_EVENT_TYPE_ESTABLISHED, 0x63))
		h.put(t, activeStandbySession(0x63, "smf-b.example.net")) // an N4 modification
		m := w.next(t, "MODIFIED 0x63", isSession(atsssv1.SessionEventType_SESSION_EVENT_TYPE_MODIFIED, 0x63))
		if got := m.GetSessionEvent().GetSession().GetMars()[0].GetSmfSteering().GetSteerModeValue(); got != atsssv1.SteeringModeValue_STEERING_MODE_VALUE_ACTIVE_STANDBY {
			t.Errorf("MODIFIED shows %v, want the new ACTIVE_STANDBY", got)
		}
		if err := h.sessions.Delete(context.Background(), 0x62); err != nil {
			t.Fatal(err)
		}
		m = w.next(t, "DELETED 0x62", isSession(atsssv1.SessionEventType_SESSION_EVENT_TYPE_DELETED, 0x62))
		if m.GetSessionEvent().GetSession().GetPeer() != "smf-a.example.net" {
			t.Errorf("DELETED shows %v, want the session's last state", m.GetSessionEvent().GetSession())
		}
		// A session deleted and put again is new.
		h.put(t, lbSession(0x62, "smf-a.example.net"))
		w.next(t, "ESTABLISHED 0x62 again", isSession(atsssv1.SessionEventType_SESSION_EVENT_TYPE_ESTABLISHED, 0x62))
	})

	t.Run("path events", func(t *testing.T) {
		n3gpp, tgpp := atsssv1.AccessType_ACCESS_TYPE_NON_3GPP, atsssv1.AccessType_ACCESS_TYPE_3GPP
		before := time.Now()
		access.update(0x61, func(s *[2]atsss.AccessState) {
			s[atsss.AccessNon3GPP].Available, s[atsss.AccessNon3GPP].Subflows = false, 0
		})
		m := w.next(t, "UNAVAILABLE", isPath(atsssv1.PathEventType_PATH_EVENT_TYPE_UNAVAILABLE, 0x61, n3gpp))
		st := m.GetPathEvent().GetState()
		if st.GetAvailable() || st.GetChangeTime().AsTime().Before(before.Add(-time.Second)) {
			t.Errorf("state %v: want unavailable, changed now", st)
		}
		s61, _ := h.sessions.Get(0x61)
		if st.GetUeAddress() != s61.LinkSpecificAddrs(atsss.AccessNon3GPP)[0].String() {
			t.Errorf("ue_address %q, want the non-3GPP link-specific address", st.GetUeAddress())
		}
		w.next(t, "SUBFLOW_CLOSED", isPath(atsssv1.PathEventType_PATH_EVENT_TYPE_SUBFLOW_CLOSED, 0x61, n3gpp))
		access.update(0x61, func(s *[2]atsss.AccessState) { s[atsss.AccessNon3GPP].Available = true })
		w.next(t, "AVAILABLE", isPath(atsssv1.PathEventType_PATH_EVENT_TYPE_AVAILABLE, 0x61, n3gpp))
		access.update(0x61, func(s *[2]atsss.AccessState) { s[atsss.Access3GPP].Subflows = 2 })
		m = w.next(t, "SUBFLOW_ESTABLISHED", isPath(atsssv1.PathEventType_PATH_EVENT_TYPE_SUBFLOW_ESTABLISHED, 0x61, tgpp))
		if m.GetPathEvent().GetState().GetSubflows() != 2 {
			t.Errorf("state %v, want 2 subflows", m.GetPathEvent().GetState())
		}
	})

	t.Run("throughput", func(t *testing.T) {
		isSample := func(seid uint64, a atsssv1.AccessType) func(*atsssv1.WatchSessionsResponse) bool {
			return func(r *atsssv1.WatchSessionsResponse) bool {
				s := r.GetThroughputSample()
				return s != nil && s.GetSeid() == seid && s.GetAccess() == a
			}
		}
		tgpp := atsssv1.AccessType_ACCESS_TYPE_3GPP
		idle := w.next(t, "a sample", isSample(0x61, tgpp)).GetThroughputSample()
		if idle.GetDownlinkBps() != 0 || idle.GetRttUs() != 30000 {
			t.Errorf("idle sample %v: want 0 bit/s, RTT 30 ms", idle)
		}
		// The data plane's counters grow by 1.25 MB down and 250 kB up:
		// the next sample's rate times its interval must give them back
		// (however long the interval was).
		const down, upBytes = 1_250_000, 250_000
		access.update(0x61, func(s *[2]atsss.AccessState) {
			s[atsss.Access3GPP].DownlinkBytes += down
			s[atsss.Access3GPP].UplinkBytes += upBytes
		})
		var got *atsssv1.ThroughputSample
		w.next(t, "a sample with traffic", func(r *atsssv1.WatchSessionsResponse) bool {
			if !isSample(0x61, tgpp)(r) || r.GetThroughputSample().GetDownlinkBps() == 0 {
				return false
			}
			got = r.GetThroughputSample()
			return true
		})
		secs := got.GetInterval().AsDuration().Seconds()
		for _, x := range []struct {
			name  string
			bps   uint64
			bytes float64
		}{{"downlink", got.GetDownlinkBps(), down}, {"uplink", got.GetUplinkBps(), upBytes}} {
			if b := float64(x.bps) * secs / 8; math.Abs(b-x.bytes) > x.bytes/1000 {
				t.Errorf("%s: %d bit/s over %v is %.0f bytes, want %.0f", x.name, x.bps, got.GetInterval().AsDuration(), b, x.bytes)
			}
		}
		// A counter that goes back (the data plane restarted) is not a
		// huge rate.
		access.update(0x61, func(s *[2]atsss.AccessState) { s[atsss.Access3GPP].DownlinkBytes = 1000 })
		w.next(t, "a sample after a restart", func(r *atsssv1.WatchSessionsResponse) bool {
			if !isSample(0x61, tgpp)(r) {
				return false
			}
			if bps := r.GetThroughputSample().GetDownlinkBps(); bps > 1000*8*100 {
				t.Errorf("after the counter went back: %d bit/s", bps)
			}
			return true
		})
	})
}

// TestWatchSessionsOne watches one session: nothing of the others comes.
func TestWatchSessionsOne(t *testing.T) {
	access := newFakeAccess()
	for _, id := range []atsss.SEID{0x71, 0x72} {
		access.update(id, func(s *[2]atsss.AccessState) { s[0], s[1] = up(time.Millisecond), up(time.Millisecond) })
	}
	h := start(t, options{auth: tokenAuth(), access: access, pathPoll: 20 * time.Millisecond})
	h.put(t, lbSession(0x71, "smf-a.example.net"), lbSession(0x72, "smf-a.example.net"))
	ctx, cancel := context.WithCancel(testCtx(t))
	defer cancel()
	c := h.dial(t, viewerToken)
	s, err := c.sessions.WatchSessions(ctx, &atsssv1.WatchSessionsRequest{Seid: 0x72, Initial: true, SampleInterval: durationpb.New(100 * time.Millisecond)})
	if err != nil {
		t.Fatal(err)
	}
	one := watch(t, s)
	s, err = c.sessions.WatchSessions(ctx, &atsssv1.WatchSessionsRequest{Initial: true})
	if err != nil {
		t.Fatal(err)
	}
	all := watch(t, s)
	// The initial events say the streams follow the changes.
	one.next(t, "INITIAL 0x72", isSession(atsssv1.SessionEventType_SESSION_EVENT_TYPE_INITIAL, 0x72))
	all.next(t, "INITIAL 0x72", isSession(atsssv1.SessionEventType_SESSION_EVENT_TYPE_INITIAL, 0x72))

	// Changes of others, seen by the watch of all...
	access.update(0x71, func(s *[2]atsss.AccessState) { s[0].Available = false })
	h.put(t, activeStandbySession(0x71, "smf-a.example.net"), lbSession(0x73, "smf-a.example.net"))
	var path71, new73 bool
	all.next(t, "path event of 0x71 and ESTABLISHED 0x73", func(r *atsssv1.WatchSessionsResponse) bool {
		path71 = path71 || isPath(atsssv1.PathEventType_PATH_EVENT_TYPE_UNAVAILABLE, 0x71, atsssv1.AccessType_ACCESS_TYPE_3GPP)(r)
		new73 = new73 || isSession(atsssv1.SessionEventType_SESSION_EVENT_TYPE_ESTABLISHED, 0x73)(r)
		return path71 && new73
	})
	// ...then of 0x72: each kind reaches a stream in order, so the watch
	// of 0x72 has had its chance to send the others' before these.
	access.update(0x72, func(s *[2]atsss.AccessState) { s[0].Available = false })
	h.put(t, activeStandbySession(0x72, "smf-a.example.net"))
	var sawPath, sawSession bool
	n := 0
	one.next(t, "MODIFIED and path event of 0x72", func(r *atsssv1.WatchSessionsResponse) bool {
		n++
		seid := r.GetSessionEvent().GetSession().GetSeid() | r.GetPathEvent().GetSeid() | r.GetThroughputSample().GetSeid()
		if seid != 0x72 {
			t.Errorf("message of session %#x on a watch of 0x72: %v", seid, r)
		}
		sawSession = sawSession || isSession(atsssv1.SessionEventType_SESSION_EVENT_TYPE_MODIFIED, 0x72)(r)
		sawPath = sawPath || isPath(atsssv1.PathEventType_PATH_EVENT_TYPE_UNAVAILABLE, 0x72, atsssv1.AccessType_ACCESS_TYPE_3GPP)(r)
		return sawPath && sawSession
	})
	t.Logf("%d messages on the watch of 0x72", n)
}

// TestWatchPolicies follows policy changes: the stored ones first, then
// puts and deletes with their revisions.
func TestWatchPolicies(t *testing.T) {
	h := start(t, options{auth: tokenAuth()})
	h.seed(t, lbPolicy("policies/b", videoFlow, 50))
	h.seed(t, lbPolicy("policies/a", videoFlow, 50))
	op := h.dial(t, operatorToken)
	ctx, cancel := context.WithCancel(testCtx(t))
	defer cancel()
	a, err := h.policyStore.Get(ctx, "policies/a")
	if err != nil {
		t.Fatal(err)
	}
	b, err := h.policyStore.Get(ctx, "policies/b")
	if err != nil {
		t.Fatal(err)
	}
	s, err := h.dial(t, viewerToken).policies.WatchPolicies(ctx, &atsssv1.WatchPoliciesRequest{Initial: true})
	if err != nil {
		t.Fatal(err)
	}
	w := watch(t, s)
	var got []string
	record := func(r *atsssv1.WatchPoliciesResponse) string {
		return fmt.Sprintf("%v %s r%d", r.GetType(), r.GetPolicy().GetName(), r.GetPolicy().GetRevision())
	}
	for range 2 {
		got = append(got, record(w.next(t, "initial", func(*atsssv1.WatchPoliciesResponse) bool { return true })))
	}
	put, err := op.policies.PutPolicy(ctx, &atsssv1.PutPolicyRequest{Policy: lbPolicy("policies/c", videoFlow, 80)})
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, record(w.next(t, "put", func(*atsssv1.WatchPoliciesResponse) bool { return true })))
	if _, err := op.policies.DeletePolicy(ctx, &atsssv1.DeletePolicyRequest{Name: "policies/a"}); err != nil {
		t.Fatal(err)
	}
	del := w.next(t, "delete", func(*atsssv1.WatchPoliciesResponse) bool { return true })
	got = append(got, record(del))
	want := []string{
		fmt.Sprintf("POLICY_EVENT_TYPE_INITIAL policies/a r%d", a.GetRevision()), // by name
		fmt.Sprintf("POLICY_EVENT_TYPE_INITIAL policies/b r%d", b.GetRevision()),
		fmt.Sprintf("POLICY_EVENT_TYPE_PUT policies/c r%d", put.GetPolicy().GetRevision()),
		fmt.Sprintf("POLICY_EVENT_TYPE_DELETED policies/a r%d", a.GetRevision()),
	}
	for i := range want {
		if i >= len(got) || got[i] != want[i] {
			t.Errorf("events:\n%q\nwant\n%q", got, want)
			break
		}
	}
	if del.GetPolicy().GetSteerModeDl().GetThreeGLoad() != 50 {
		t.Errorf("DELETED carries %v, want the policy as it was", del.GetPolicy())
	}
}

// TestWatchSessionsPolicyChange checks that a policy change is a MODIFIED
// event for exactly the sessions whose steering in force it changes,
// showing the new steering.
func TestWatchSessionsPolicyChange(t *testing.T) {
	h := start(t, options{auth: tokenAuth()})
	h.put(t,
		activeStandbySession(0x81, "smf-a.example.net"), // the application's MAR: re-steered
		threeGPPOnlySession(0x82, "smf-a.example.net"),  // the policy cannot apply: policy_error changes
		lbSession(0x83, "smf-a.example.net"),            // another application: untouched
	)
	ctx, cancel := context.WithCancel(testCtx(t))
	defer cancel()
	c := h.dial(t, operatorToken)
	s, err := c.sessions.WatchSessions(ctx, &atsssv1.WatchSessionsRequest{Initial: true})
	if err != nil {
		t.Fatal(err)
	}
	w := watch(t, s)
	// The initial events say the stream follows the changes.
	w.next(t, "INITIAL 0x83", isSession(atsssv1.SessionEventType_SESSION_EVENT_TYPE_INITIAL, 0x83))

	modified := func(what string) []uint64 {
		t.Helper()
		var got []uint64
		// A session change after the policy change marks the end of what
		// the policy change sent.
		h.put(t, lbSession(0x84, what))
		w.next(t, what, func(r *atsssv1.WatchSessionsResponse) bool {
			e := r.GetSessionEvent()
			if e.GetSession().GetSeid() == 0x84 {
				return e.GetSession().GetPeer() == what
			}
			got = append(got, e.GetSession().GetSeid())
			if e.GetType() != atsssv1.SessionEventType_SESSION_EVENT_TYPE_MODIFIED {
				t.Errorf("%v, want MODIFIED", e)
			}
			return false
		})
		return got
	}

	wake, stop := h.policies.Subscribe()
	defer stop()
	put, err := c.policies.PutPolicy(ctx, &atsssv1.PutPolicyRequest{Policy: lbPolicy("policies/video-lb", videoFlow, 80)})
	if err != nil {
		t.Fatal(err)
	}
	waitPolicies(t, h.policies, wake, time.Now(), "put in force", setHas("policies/video-lb", put.GetPolicy().GetRevision()))
	eventuallyModified := func(what string, want []uint64) {
		t.Helper()
		// The change is published after the set is in force: the marker
		// may overtake it, so collect until the sessions have come.
		var got []uint64
		eventually(t, what, func() bool {
			got = append(got, modified(what)...)
			return len(got) >= len(want)
		})
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s: MODIFIED %#x, want %#x", what, got, want)
		}
	}
	eventuallyModified("put", []uint64{0x81, 0x82})

	// A replace that changes nothing of the steering in force of 0x82 still
	// changes its revision: both again.
	put, err = c.policies.PutPolicy(ctx, &atsssv1.PutPolicyRequest{Policy: lbPolicy("policies/video-lb", videoFlow, 60)})
	if err != nil {
		t.Fatal(err)
	}
	waitPolicies(t, h.policies, wake, time.Now(), "replace in force", setHas("policies/video-lb", put.GetPolicy().GetRevision()))
	eventuallyModified("replace", []uint64{0x81, 0x82})

	if _, err := c.policies.DeletePolicy(ctx, &atsssv1.DeletePolicyRequest{Name: "policies/video-lb"}); err != nil {
		t.Fatal(err)
	}
	eventuallyModified("delete", []uint64{0x81, 0x82})
}

// TestStopEndsStreams checks that Stop ends every stream with UNAVAILABLE
// rather than leaving watchers hanging.
func TestStopEndsStreams(t *testing.T) {
	access := newFakeAccess()
	access.update(0x91, func(s *[2]atsss.AccessState) { s[0], s[1] = up(time.Millisecond), up(time.Millisecond) })
	h := start(t, options{auth: tokenAuth(), access: access})
	h.put(t, lbSession(0x91, "smf-a.example.net"))
	h.seed(t, lbPolicy("policies/a", videoFlow, 50))
	c := h.dial(t, viewerToken)
	ctx := testCtx(t)
	ss, err := c.sessions.WatchSessions(ctx, &atsssv1.WatchSessionsRequest{Initial: true, SampleInterval: durationpb.New(100 * time.Millisecond)})
	if err != nil {
		t.Fatal(err)
	}
	sw := watch(t, ss)
	ps, err := c.policies.WatchPolicies(ctx, &atsssv1.WatchPoliciesRequest{Initial: true})
	if err != nil {
		t.Fatal(err)
	}
	pw := watch(t, ps)
	sw.next(t, "INITIAL", isSession(atsssv1.SessionEventType_SESSION_EVENT_TYPE_INITIAL, 0x91))
	pw.next(t, "INITIAL", func(*atsssv1.WatchPoliciesResponse) bool { return true })
	h.srv.Stop()
	for name, errc := range map[string]chan error{"WatchSessions": sw.errc, "WatchPolicies": pw.errc} {
		select {
		case err := <-errc:
			if status.Code(err) != codes.Unavailable {
				t.Errorf("%s ended with %v, want Unavailable", name, err)
			}
		case <-time.After(10 * time.Second):
			t.Errorf("%s still open 10 s after Stop", name)
		}
	}
}
