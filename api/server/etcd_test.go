package server_test

import (
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	atsssv1 "github.com/openatsss/atsss/api/atsss/v1"
	"github.com/openatsss/atsss/api/policystore"
	"github.com/openatsss/atsss/api/policystore/etcdtest"
	"github.com/openatsss/atsss/atsss"
)

// newEtcdStore returns a policy store on cli under atsssd's default prefix,
// closed with t.
func newEtcdStore(t testing.TB, cli *clientv3.Client) *policystore.Etcd {
	t.Helper()
	s, err := policystore.NewEtcd(cli, "/atsss/policies/", policystore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// waitPolicies waits, through Subscribe as a data plane does, until cond
// holds for p's set, and returns how long that took from since. The wait
// is bounded at 10 s; the time is logged, never asserted.
func waitPolicies(t *testing.T, p *atsss.Policies, wake <-chan struct{}, since time.Time, what string, cond func(*atsss.PolicySet) bool) time.Duration {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		if set, _ := p.Current(); cond(set) {
			d := time.Since(since)
			t.Logf("%s after %v", what, d)
			return d
		}
		select {
		case <-wake:
		case <-timeout:
			t.Fatalf("%s: not after 10 s", what)
		}
	}
}

func setHas(name string, rev uint64) func(*atsss.PolicySet) bool {
	return func(s *atsss.PolicySet) bool {
		for _, p := range s.All() {
			if p.Name == name && p.Revision >= rev {
				return true
			}
		}
		return false
	}
}

// TestTwoInstancesOneEtcd runs two API servers, each with its own session
// store and policy holder, on one embedded etcd, as two atsssd would: a
// policy put through one is in force in the other (through the etcd
// watch), and a delete through the other is seen by the first.
func TestTwoInstancesOneEtcd(t *testing.T) {
	cli := etcdtest.Start(t)
	a := start(t, options{auth: tokenAuth(), policyStore: newEtcdStore(t, cli)})
	b := start(t, options{auth: tokenAuth(), policyStore: newEtcdStore(t, etcdtest.NewClient(t, cli.Endpoints()...))})
	b.put(t, activeStandbySession(0x51, "smf-b.example.net"))
	opA, opB := a.dial(t, operatorToken), b.dial(t, operatorToken)
	ctx := testCtx(t)

	wakeA, stopA := a.policies.Subscribe()
	defer stopA()
	wakeB, stopB := b.policies.Subscribe()
	defer stopB()

	t0 := time.Now()
	put, err := opA.policies.PutPolicy(ctx, &atsssv1.PutPolicyRequest{Policy: lbPolicy("policies/video-lb", videoFlow, 80)})
	if err != nil {
		t.Fatal(err)
	}
	rev := put.GetPolicy().GetRevision()
	waitPolicies(t, b.policies, wakeB, t0, "put on A in force on B", setHas("policies/video-lb", rev))
	waitPolicies(t, a.policies, wakeA, t0, "put on A in force on A", setHas("policies/video-lb", rev))

	// B's sessions show it: the data plane of B steers by it.
	r, err := opB.sessions.GetSession(ctx, &atsssv1.GetSessionRequest{Seid: 0x51})
	if err != nil {
		t.Fatal(err)
	}
	if m := r.GetSession().GetMars()[0]; m.GetPolicy() != "policies/video-lb" || m.GetEffectiveSteeringDl().GetThreeGLoad() != 80 {
		t.Errorf("B's session 0x51: policy %q, effective_steering_dl %v", m.GetPolicy(), m.GetEffectiveSteeringDl())
	}
	// Both read the same store.
	got, err := opB.policies.GetPolicy(ctx, &atsssv1.GetPolicyRequest{Name: "policies/video-lb"})
	if err != nil || got.GetPolicy().GetRevision() != rev {
		t.Errorf("GetPolicy on B: %v, %v; want revision %d", got, err, rev)
	}

	// A replace on B, conditional on A's revision.
	t0 = time.Now()
	put, err = opB.policies.PutPolicy(ctx, &atsssv1.PutPolicyRequest{Policy: lbPolicy("policies/video-lb", videoFlow, 60), ExpectedRevision: rev})
	if err != nil {
		t.Fatal(err)
	}
	waitPolicies(t, a.policies, wakeA, t0, "replace on B in force on A", func(s *atsss.PolicySet) bool {
		return len(s.All()) == 1 && s.All()[0].Revision == put.GetPolicy().GetRevision() && s.All()[0].Downlink.Weight[atsss.Access3GPP].Value == 60
	})

	t0 = time.Now()
	if _, err := opB.policies.DeletePolicy(ctx, &atsssv1.DeletePolicyRequest{Name: "policies/video-lb"}); err != nil {
		t.Fatal(err)
	}
	gone := func(s *atsss.PolicySet) bool { return s.Len() == 0 }
	waitPolicies(t, a.policies, wakeA, t0, "delete on B gone on A", gone)
	waitPolicies(t, b.policies, wakeB, t0, "delete on B gone on B", gone)
}
