package policystore

import (
	"context"
	"errors"
	"testing"

	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"

	atsssv1 "github.com/openatsss/atsss/api/atsss/v1"
)

// TestEtcdForward feeds forward the etcd watch responses that a live
// server gives only in rare states: a compaction of the revisions a watch
// needs, and a deletion whose previous value was compacted.
func TestEtcdForward(t *testing.T) {
	s := &Etcd{prefix: "/p/"}
	tests := []struct {
		name       string
		resps      []clientv3.WatchResponse
		wantEvents []Event
		wantErr    error
	}{
		{
			name:    "compacted",
			resps:   []clientv3.WatchResponse{{CompactRevision: 7, Canceled: true}},
			wantErr: ErrLagged,
		},
		{
			name: "deleted without previous value",
			resps: []clientv3.WatchResponse{{Events: []*clientv3.Event{{
				Type: mvccpb.DELETE,
				Kv:   &mvccpb.KeyValue{Key: []byte("/p/policies/a"), ModRevision: 9},
			}}}},
			wantEvents: []Event{{
				Type:   atsssv1.PolicyEventType_POLICY_EVENT_TYPE_DELETED,
				Policy: &atsssv1.Policy{Name: "policies/a"},
			}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			wch := make(chan clientv3.WatchResponse, len(tc.resps))
			for _, r := range tc.resps {
				wch <- r
			}
			close(wch)
			w := newWatch(len(tc.wantEvents) + 1)
			err := s.forward(context.Background(), w, wch)
			if tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Errorf("forward = %v, want %v", err, tc.wantErr)
			}
			w.end(err)
			var got []Event
			for ev := range w.C {
				got = append(got, ev)
			}
			if len(got) != len(tc.wantEvents) {
				t.Fatalf("got %d events, want %d", len(got), len(tc.wantEvents))
			}
			for i := range got {
				if got[i].Type != tc.wantEvents[i].Type || got[i].Policy.GetName() != tc.wantEvents[i].Policy.GetName() {
					t.Errorf("event %d = %v, want %v", i, got[i], tc.wantEvents[i])
				}
			}
		})
	}
}
