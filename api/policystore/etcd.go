package policystore

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"

	atsssv1 "github.com/openatsss/atsss/api/atsss/v1"
)

// Etcd is a Store in etcd, under the key prefix+name for each policy, so
// that several atsssd instances share their policies. A value is the policy
// in protobuf binary form with its update time (the writer's clock) and
// without its revision: the revision is the key's ModRevision, etcd's
// cluster-wide revision of the key's last change, which conditional writes
// compare in a transaction.
//
// Its Watch sees every change under the prefix, whoever made it. Methods are
// safe for concurrent use.
type Etcd struct {
	cli    *clientv3.Client
	prefix string
	opts   Options

	wg sync.WaitGroup // the watches' goroutines; Close waits for them

	mu      sync.Mutex // guards the fields below
	watches map[*Watch]struct{}
	closed  bool
}

var _ Store = (*Etcd)(nil)

// NewEtcd returns a Store of the keys under prefix (e.g. "/atsss/policies/")
// in cli's etcd. The caller keeps owning cli and closes it after Close.
func NewEtcd(cli *clientv3.Client, prefix string, opts Options) (*Etcd, error) {
	// An empty prefix would make every key of the cluster a policy.
	if prefix == "" {
		return nil, errors.New("etcd policy store: empty key prefix")
	}
	return &Etcd{cli: cli, prefix: prefix, opts: opts, watches: make(map[*Watch]struct{})}, nil
}

// request returns the context of one call to etcd.
func (s *Etcd) request(ctx context.Context) (context.Context, context.CancelFunc, error) {
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if closed {
		return nil, nil, ErrClosed
	}
	ctx, cancel := context.WithTimeout(ctx, s.opts.requestTimeout())
	return ctx, cancel, nil
}

func (s *Etcd) key(name string) string { return s.prefix + name }

// decode returns the policy that kv holds, with its revision.
func (s *Etcd) decode(kv *mvccpb.KeyValue) (*atsssv1.Policy, error) {
	p, err := unmarshal(kv.Value)
	if err != nil {
		return nil, fmt.Errorf("decode %q: %w", kv.Key, err)
	}
	if name := strings.TrimPrefix(string(kv.Key), s.prefix); p.Name != name {
		return nil, fmt.Errorf("decode %q: holds policy %q", kv.Key, p.Name)
	}
	p.Revision = uint64(kv.ModRevision)
	return p, nil
}

// Put implements Store.Put.
func (s *Etcd) Put(ctx context.Context, p *atsssv1.Policy, expectedRevision uint64) (*atsssv1.Policy, bool, error) {
	if err := checkName(p.GetName()); err != nil {
		return nil, false, fmt.Errorf("put policy: %w", err)
	}
	stored, created, err := s.put(ctx, p, expectedRevision)
	if err != nil {
		return nil, false, fmt.Errorf("put policy %q: %w", p.Name, err)
	}
	return stored, created, nil
}

func (s *Etcd) put(ctx context.Context, p *atsssv1.Policy, expectedRevision uint64) (*atsssv1.Policy, bool, error) {
	ctx, cancel, err := s.request(ctx)
	if err != nil {
		return nil, false, err
	}
	defer cancel()
	stored := stamp(p, 0, time.Now()) // the revision is etcd's, known after the write
	v, err := marshal(stored)
	if err != nil {
		return nil, false, fmt.Errorf("encode: %w", err)
	}
	key := s.key(p.Name)
	if expectedRevision == 0 {
		resp, err := s.cli.Put(ctx, key, string(v), clientv3.WithPrevKV())
		if err != nil {
			return nil, false, err
		}
		stored.Revision = uint64(resp.Header.Revision)
		return stored, resp.PrevKv == nil, nil
	}
	resp, err := s.ifRevision(ctx, key, expectedRevision, clientv3.OpPut(key, string(v)), nil)
	if err != nil {
		return nil, false, err
	}
	// A transaction makes one revision, which its writes all carry.
	stored.Revision = uint64(resp.Header.Revision)
	return stored, false, nil
}

// ifRevision runs op on key in one transaction if the key was last changed
// at revision expected (not 0), so that a writer cannot overwrite a change
// it has not seen. When the key was changed since, the error wraps
// ErrRevisionMismatch; when it does not exist, it is missing, or wraps
// ErrRevisionMismatch if missing is nil.
func (s *Etcd) ifRevision(ctx context.Context, key string, expected uint64, op clientv3.Op, missing error) (*clientv3.TxnResponse, error) {
	if expected > math.MaxInt64 { // no etcd revision is that large
		return nil, fmt.Errorf("%w: expected revision %d", ErrRevisionMismatch, expected)
	}
	resp, err := s.cli.Txn(ctx).
		If(clientv3.Compare(clientv3.ModRevision(key), "=", int64(expected))).
		Then(op).
		Else(clientv3.OpGet(key, clientv3.WithKeysOnly())).
		Commit()
	if err != nil {
		return nil, err
	}
	if resp.Succeeded {
		return resp, nil
	}
	kvs := resp.Responses[0].GetResponseRange().GetKvs()
	switch {
	case len(kvs) > 0:
		return nil, fmt.Errorf("%w: revision is %d, expected %d", ErrRevisionMismatch, kvs[0].ModRevision, expected)
	case missing != nil:
		return nil, missing
	default:
		return nil, fmt.Errorf("%w: no such policy, expected revision %d", ErrRevisionMismatch, expected)
	}
}

// Get implements Store.Get.
func (s *Etcd) Get(ctx context.Context, name string) (*atsssv1.Policy, error) {
	p, err := s.get(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("get policy %q: %w", name, err)
	}
	return p, nil
}

func (s *Etcd) get(ctx context.Context, name string) (*atsssv1.Policy, error) {
	ctx, cancel, err := s.request(ctx)
	if err != nil {
		return nil, err
	}
	defer cancel()
	resp, err := s.cli.Get(ctx, s.key(name))
	if err != nil {
		return nil, err
	}
	if len(resp.Kvs) == 0 {
		return nil, ErrNotFound
	}
	return s.decode(resp.Kvs[0])
}

// List implements Store.List.
func (s *Etcd) List(ctx context.Context, after string, limit int) ([]*atsssv1.Policy, error) {
	ps, err := s.list(ctx, after, limit)
	if err != nil {
		return nil, fmt.Errorf("list policies: %w", err)
	}
	return ps, nil
}

func (s *Etcd) list(ctx context.Context, after string, limit int) ([]*atsssv1.Policy, error) {
	ctx, cancel, err := s.request(ctx)
	if err != nil {
		return nil, err
	}
	defer cancel()
	from := s.prefix
	if after != "" {
		from = s.key(after) + "\x00" // the first key after prefix+after
	}
	opts := []clientv3.OpOption{
		clientv3.WithRange(clientv3.GetPrefixRangeEnd(s.prefix)),
		clientv3.WithSort(clientv3.SortByKey, clientv3.SortAscend),
	}
	if limit > 0 {
		opts = append(opts, clientv3.WithLimit(int64(limit)))
	}
	resp, err := s.cli.Get(ctx, from, opts...)
	if err != nil {
		return nil, err
	}
	return s.decodeAll(resp.Kvs)
}

func (s *Etcd) decodeAll(kvs []*mvccpb.KeyValue) ([]*atsssv1.Policy, error) {
	ps := make([]*atsssv1.Policy, 0, len(kvs))
	for _, kv := range kvs {
		p, err := s.decode(kv)
		if err != nil {
			return nil, err
		}
		ps = append(ps, p)
	}
	return ps, nil
}

// Delete implements Store.Delete.
func (s *Etcd) Delete(ctx context.Context, name string, expectedRevision uint64) (*atsssv1.Policy, error) {
	if err := checkName(name); err != nil {
		return nil, fmt.Errorf("delete policy: %w", err)
	}
	p, err := s.delete(ctx, name, expectedRevision)
	if err != nil {
		return nil, fmt.Errorf("delete policy %q: %w", name, err)
	}
	return p, nil
}

func (s *Etcd) delete(ctx context.Context, name string, expectedRevision uint64) (*atsssv1.Policy, error) {
	ctx, cancel, err := s.request(ctx)
	if err != nil {
		return nil, err
	}
	defer cancel()
	key := s.key(name)
	if expectedRevision == 0 {
		resp, err := s.cli.Delete(ctx, key, clientv3.WithPrevKV())
		if err != nil {
			return nil, err
		}
		if len(resp.PrevKvs) == 0 {
			return nil, ErrNotFound
		}
		return s.decode(resp.PrevKvs[0])
	}
	resp, err := s.ifRevision(ctx, key, expectedRevision, clientv3.OpDelete(key, clientv3.WithPrevKV()), ErrNotFound)
	if err != nil {
		return nil, err
	}
	prev := resp.Responses[0].GetResponseDeleteRange().GetPrevKvs()
	if len(prev) == 0 { // the comparison held, so the key existed
		return nil, errors.New("etcd returned no previous value")
	}
	return s.decode(prev[0])
}

// Watch implements Store.Watch: it reads the policies at one etcd revision
// R, then watches the prefix from R+1, so the snapshot and the changes meet
// without a gap or an overlap. The watch requires an etcd leader: if the
// cluster loses its leader, the watch ends with etcd's error rather than
// going silent. If etcd compacted the revisions the watch needs, it ends with
// an error wrapping ErrLagged, like a consumer that fell behind: the caller
// watches again from a new snapshot, which is the only way to learn what
// the compacted revisions did.
func (s *Etcd) Watch(ctx context.Context) (*Watch, error) {
	w, err := s.watch(ctx)
	if err != nil {
		return nil, fmt.Errorf("watch policies: %w", err)
	}
	return w, nil
}

func (s *Etcd) watch(ctx context.Context) (*Watch, error) {
	rctx, cancel, err := s.request(ctx)
	if err != nil {
		return nil, err
	}
	resp, err := s.cli.Get(rctx, s.prefix, clientv3.WithPrefix(), clientv3.WithSort(clientv3.SortByKey, clientv3.SortAscend))
	cancel()
	if err != nil {
		return nil, err
	}
	w := newWatch(s.opts.watchBuffer())
	if w.Snapshot, err = s.decodeAll(resp.Kvs); err != nil {
		return nil, err
	}
	wctx, stop := context.WithCancel(clientv3.WithRequireLeader(ctx))
	w.cancel = stop
	wch := s.cli.Watch(wctx, s.prefix, clientv3.WithPrefix(), clientv3.WithRev(resp.Header.Revision+1), clientv3.WithPrevKV())

	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		stop()
		return nil, ErrClosed
	}
	s.watches[w] = struct{}{}
	s.wg.Go(func() { s.pump(ctx, w, wch) })
	return w, nil
}

// pump moves the events of etcd's watch to w until one of them ends.
func (s *Etcd) pump(ctx context.Context, w *Watch, wch clientv3.WatchChan) {
	w.end(s.forward(ctx, w, wch)) // does nothing if Close or send ended w first
	// Ending w cancelled the etcd watch; wch closes soon.
	for range wch {
	}
	s.mu.Lock()
	delete(s.watches, w)
	s.mu.Unlock()
}

// forward sends wch's events to w and returns why it stopped.
func (s *Etcd) forward(ctx context.Context, w *Watch, wch clientv3.WatchChan) error {
	for resp := range wch {
		if err := resp.Err(); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if resp.CompactRevision != 0 {
				return fmt.Errorf("%w: etcd compacted the revisions before %d", ErrLagged, resp.CompactRevision)
			}
			return fmt.Errorf("etcd watch: %w", err)
		}
		for _, ev := range resp.Events {
			e, err := s.event(ev)
			if err != nil {
				return err
			}
			if !w.send(e) {
				return nil
			}
		}
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	// Close, send or the client's Close; the first two ended w already.
	return errors.New("etcd watch closed")
}

// event converts an etcd event under the prefix.
func (s *Etcd) event(ev *clientv3.Event) (Event, error) {
	if ev.Type == mvccpb.PUT {
		p, err := s.decode(ev.Kv)
		if err != nil {
			return Event{}, err
		}
		return Event{Type: atsssv1.PolicyEventType_POLICY_EVENT_TYPE_PUT, Policy: p}, nil
	}
	deleted := &atsssv1.Policy{Name: strings.TrimPrefix(string(ev.Kv.Key), s.prefix)}
	// etcd leaves out the previous value when its revision was compacted
	// already; the name is then all there is to say.
	if ev.PrevKv != nil {
		var err error
		if deleted, err = s.decode(ev.PrevKv); err != nil {
			return Event{}, err
		}
	}
	return Event{Type: atsssv1.PolicyEventType_POLICY_EVENT_TYPE_DELETED, Policy: deleted}, nil
}

// Close implements Store.Close. It returns once every watch's goroutine
// has.
func (s *Etcd) Close() error {
	s.mu.Lock()
	s.closed = true
	ws := make([]*Watch, 0, len(s.watches))
	for w := range s.watches {
		ws = append(ws, w)
	}
	s.mu.Unlock()
	for _, w := range ws {
		w.end(ErrClosed)
	}
	s.wg.Wait()
	return nil
}
