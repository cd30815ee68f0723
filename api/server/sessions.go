package server

import (
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"net/netip"
	"slices"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	atsssv1 "github.com/openatsss/atsss/api/atsss/v1"
	"github.com/openatsss/atsss/atsss"
)

// watchBuffer is how many session changes a WatchSessions stream may have
// pending before it ends with RESOURCE_EXHAUSTED.
const watchBuffer = 1024

type sessionService struct {
	atsssv1.UnimplementedSessionServiceServer
	s *Server
}

// show converts sessions under the policies in force now.
func (ss *sessionService) show(sess *atsss.Session) *atsssv1.Session {
	set, stored := ss.s.inForce()
	return fromSession(sess, set, stored, ss.s.cfg.Access)
}

func (ss *sessionService) ListSessions(ctx context.Context, req *atsssv1.ListSessionsRequest) (*atsssv1.ListSessionsResponse, error) {
	var after uint64
	if t := req.GetPageToken(); t != "" {
		b, err := decodePageToken(t)
		if err != nil || len(b) != 8 {
			return nil, errBadPageToken
		}
		after = binary.BigEndian.Uint64([]byte(b))
	}
	var ue netip.Addr
	if a := req.GetUeAddress(); a != "" {
		ue, _ = netip.ParseAddr(a) // protovalidate checked it
	}
	size := int(req.GetPageSize())
	if size == 0 {
		size = defaultPageSize
	}
	all := ss.s.cfg.Sessions.Sessions()
	slices.SortFunc(all, func(a, b *atsss.Session) int { return cmp.Compare(a.LocalSEID, b.LocalSEID) })
	// One view of the policies for the whole page; only the sessions on
	// it are converted (that reads the data plane's state).
	set, stored := ss.s.inForce()
	mode := req.GetSteeringMode()
	resp := &atsssv1.ListSessionsResponse{}
	for _, sess := range all {
		if uint64(sess.LocalSEID) <= after && after != 0 {
			continue
		}
		if p := req.GetPeer(); p != "" && p != sess.PeerNodeID && p != sess.PeerAddr.String() {
			continue
		}
		if ue.IsValid() && !slices.Contains(sess.UEAddrs(), ue) {
			continue
		}
		if mode != atsssv1.SteeringModeValue_STEERING_MODE_VALUE_UNSPECIFIED &&
			!slices.ContainsFunc(atsss.Effective(sess, set), func(e atsss.EffectiveSteering) bool { return fromMode(&e.MAR).GetSteerModeValue() == mode }) {
			continue
		}
		if len(resp.Sessions) == size {
			var b [8]byte
			binary.BigEndian.PutUint64(b[:], resp.Sessions[size-1].GetSeid())
			resp.NextPageToken = encodePageToken(string(b[:]))
			break
		}
		resp.Sessions = append(resp.Sessions, fromSession(sess, set, stored, ss.s.cfg.Access))
	}
	return resp, nil
}

func (ss *sessionService) GetSession(ctx context.Context, req *atsssv1.GetSessionRequest) (*atsssv1.GetSessionResponse, error) {
	sess, ok := ss.s.cfg.Sessions.Get(atsss.SEID(req.GetSeid()))
	if !ok {
		return nil, status.Errorf(codes.NotFound, "session %#x not found", req.GetSeid())
	}
	return &atsssv1.GetSessionResponse{Session: ss.show(sess)}, nil
}

func (ss *sessionService) WatchSessions(req *atsssv1.WatchSessionsRequest, stream grpc.ServerStreamingServer[atsssv1.WatchSessionsResponse]) error {
	ctx := stream.Context()
	seid := atsss.SEID(req.GetSeid())
	in := func(id atsss.SEID) bool { return seid == 0 || id == seid }
	send := func(r *atsssv1.WatchSessionsResponse) error {
		r.Time = timestamppb.Now()
		return stream.Send(r)
	}
	// Before the snapshot: a policy change from now on is either in the
	// initial events or announced on steered.
	steered, unsubscribeSteered := ss.s.steered.subscribe()
	defer unsubscribeSteered()
	w, err := ss.s.cfg.Sessions.Watch(ctx, watchBuffer)
	if err != nil {
		return status.Errorf(codes.Unavailable, "session store: %v", err)
	}
	paths, unsubscribe := ss.s.paths.subscribe()
	defer unsubscribe()
	if req.GetInitial() {
		slices.SortFunc(w.Snapshot, func(a, b *atsss.Session) int { return cmp.Compare(a.LocalSEID, b.LocalSEID) })
		for _, sess := range w.Snapshot {
			if in(sess.LocalSEID) {
				ev := &atsssv1.SessionEvent{Type: atsssv1.SessionEventType_SESSION_EVENT_TYPE_INITIAL, Session: ss.show(sess)}
				if err := send(&atsssv1.WatchSessionsResponse{Event: &atsssv1.WatchSessionsResponse_SessionEvent{SessionEvent: ev}}); err != nil {
					return err
				}
			}
		}
	}
	// Which sessions exist tells a put that creates from one that modifies.
	known := map[atsss.SEID]bool{}
	for _, sess := range w.Snapshot {
		known[sess.LocalSEID] = true
	}
	var samples <-chan time.Time
	var sampler *throughput
	if d := req.GetSampleInterval(); d != nil {
		t := time.NewTicker(d.AsDuration())
		defer t.Stop()
		samples = t.C
		sampler = newThroughput(d.AsDuration())
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case c, ok := <-w.C:
			if !ok {
				if errors.Is(w.Err(), atsss.ErrLagged) {
					return status.Error(codes.ResourceExhausted, "watch fell behind the session changes; watch again")
				}
				if ctx.Err() != nil {
					return nil
				}
				return status.Errorf(codes.Unavailable, "session store: %v", w.Err())
			}
			typ := atsssv1.SessionEventType_SESSION_EVENT_TYPE_MODIFIED
			switch {
			case c.Kind == atsss.ChangeDelete:
				typ = atsssv1.SessionEventType_SESSION_EVENT_TYPE_DELETED
				delete(known, c.SEID)
			case !known[c.SEID]:
				typ = atsssv1.SessionEventType_SESSION_EVENT_TYPE_ESTABLISHED
				known[c.SEID] = true
			}
			if !in(c.SEID) {
				continue
			}
			ev := &atsssv1.SessionEvent{Type: typ, Session: ss.show(c.Session)}
			if err := send(&atsssv1.WatchSessionsResponse{Event: &atsssv1.WatchSessionsResponse_SessionEvent{SessionEvent: ev}}); err != nil {
				return err
			}
		case ids, ok := <-steered:
			if !ok {
				return status.Error(codes.ResourceExhausted, "watch fell behind the policy changes; watch again")
			}
			for _, id := range ids {
				// A session the stream has not announced yet (or has
				// announced deleted) gets its own event, with the steering
				// of its time.
				if !in(id) || !known[id] {
					continue
				}
				sess, ok := ss.s.cfg.Sessions.Get(id)
				if !ok {
					continue
				}
				ev := &atsssv1.SessionEvent{Type: atsssv1.SessionEventType_SESSION_EVENT_TYPE_MODIFIED, Session: ss.show(sess)}
				if err := send(&atsssv1.WatchSessionsResponse{Event: &atsssv1.WatchSessionsResponse_SessionEvent{SessionEvent: ev}}); err != nil {
					return err
				}
			}
		case pe, ok := <-paths:
			if !ok {
				return status.Error(codes.ResourceExhausted, "watch fell behind the path events; watch again")
			}
			if !in(atsss.SEID(pe.GetSeid())) {
				continue
			}
			if err := send(&atsssv1.WatchSessionsResponse{Event: &atsssv1.WatchSessionsResponse_PathEvent{PathEvent: pe}}); err != nil {
				return err
			}
		case <-samples:
			for _, sample := range sampler.sample(ss.s.cfg.Sessions, ss.s.cfg.Access, seid) {
				if err := send(&atsssv1.WatchSessionsResponse{Event: &atsssv1.WatchSessionsResponse_ThroughputSample{ThroughputSample: sample}}); err != nil {
					return err
				}
			}
		}
	}
}

// throughput turns the data plane's byte counters into rates, one stream's
// worth: it remembers each session's counters at its previous sample.
type throughput struct {
	interval time.Duration
	last     map[atsss.SEID]countersAt
}

type countersAt struct {
	at         time.Time
	down, up   [2]uint64
	sampledYet bool
}

func newThroughput(d time.Duration) *throughput {
	return &throughput{interval: d, last: map[atsss.SEID]countersAt{}}
}

// sample returns one sample per access of each session in scope (seid, or
// all when 0) that the data plane knows, from the second sample on.
func (t *throughput) sample(store *atsss.Store, access atsss.AccessReporter, seid atsss.SEID) []*atsssv1.ThroughputSample {
	if access == nil {
		return nil
	}
	var ids []atsss.SEID
	if seid != 0 {
		ids = []atsss.SEID{seid}
	} else {
		for _, s := range store.Sessions() {
			ids = append(ids, s.LocalSEID)
		}
		slices.Sort(ids)
	}
	now := time.Now()
	var out []*atsssv1.ThroughputSample
	seen := make(map[atsss.SEID]countersAt, len(ids))
	for _, id := range ids {
		states, ok := access.AccessStates(id)
		if !ok {
			continue
		}
		cur := countersAt{at: now, sampledYet: true}
		for _, a := range atsss.Accesses {
			cur.down[a], cur.up[a] = states[a].DownlinkBytes, states[a].UplinkBytes
		}
		prev := t.last[id]
		seen[id] = cur
		if !prev.sampledYet {
			continue
		}
		dt := now.Sub(prev.at)
		for _, a := range atsss.Accesses {
			s := &atsssv1.ThroughputSample{
				Seid:        uint64(id),
				Access:      fromAccess(a),
				Interval:    durationpb.New(dt),
				DownlinkBps: rate(prev.down[a], cur.down[a], dt),
				UplinkBps:   rate(prev.up[a], cur.up[a], dt),
			}
			var st atsssv1.AccessState
			fillAccessState(&st, states[a])
			s.RttUs, s.LossPerMille = st.RttUs, st.LossPerMille
			out = append(out, s)
		}
	}
	t.last = seen
	return out
}

// rate is the bit rate of a byte counter that went from a to b in dt; a
// counter that went back (the data plane restarted) counts from zero.
func rate(a, b uint64, dt time.Duration) uint64 {
	if dt <= 0 {
		return 0
	}
	if b < a {
		a = 0
	}
	return uint64(float64(b-a) * 8 / dt.Seconds())
}
