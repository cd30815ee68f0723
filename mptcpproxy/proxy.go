package mptcpproxy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"

	"github.com/openatsss/atsss/atsss"
	"github.com/openatsss/atsss/mptcpproxy/pm"
)

// Options are the proxy's collaborators.
type Options struct {
	Logger   *slog.Logger          // default: discard
	Registry prometheus.Registerer // default: none
	// AccessLinkChanged, if set, is called when all of an access's links
	// went down (up false) or one came back (Config.AccessLinks), from the
	// link watcher's goroutine: it must not block.
	AccessLinkChanged func(a atsss.AccessType, up bool)
}

// Proxy is the MPTCP proxy. Create it with New and start it with Run.
type Proxy struct {
	cfg     Config
	store   *atsss.Store
	log     *slog.Logger
	metrics *metrics
	table   *admission
	conns   *registry
	denied  []netip.Prefix
	bufs    sync.Pool // *[]byte of cfg.Relay.BufferSize, for user copies
	steer   *steerer  // nil unless cfg.Steering
	onLink  func(a atsss.AccessType, up bool)
	carried carriedBySession // what closed connections carried, per session
	ready   chan struct{}    // closed by Run once the listeners accept
}

// Ready is closed once Run has the session table and its listeners accept.
func (p *Proxy) Ready() <-chan struct{} { return p.ready }

// New validates cfg and builds a proxy that admits the sessions of store.
func New(cfg Config, store *atsss.Store, opts Options) (*Proxy, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("mptcp proxy: %w", err)
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	m, err := newMetrics(opts.Registry)
	if err != nil {
		return nil, err
	}
	p := &Proxy{
		cfg:     cfg,
		store:   store,
		log:     log.With("component", "mptcpproxy"),
		metrics: m,
		table:   newAdmission(),
		conns:   newRegistry(),
		denied:  deniedPrefixes(cfg),
		onLink:  opts.AccessLinkChanged,
		ready:   make(chan struct{}),
	}
	p.bufs.New = func() any {
		b := make([]byte, cfg.Relay.BufferSize)
		return &b
	}
	m.active = prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Namespace: "atsss", Subsystem: "mptcpproxy", Name: "connections",
		Help: "Connections being relayed.",
	}, func() float64 { return float64(p.conns.len()) })
	if opts.Registry != nil {
		if err := opts.Registry.Register(m.active); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// Run applies the kernel settings (unless configured not to), follows the
// session store, and serves the listeners until ctx ends; then it closes
// every connection. It returns the first error that stops it.
func (p *Proxy) Run(ctx context.Context) error {
	if !p.cfg.KeepKernelSettings {
		if err := applyKernelSettings(p.cfg, p.log); err != nil {
			return err
		}
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	g, ctx := errgroup.WithContext(ctx)
	tableReady := make(chan struct{})
	if p.cfg.Steering {
		// Before the listeners: the userspace path manager accepts joins
		// only while the events have a listener; and before the follower,
		// which re-steers on session changes.
		if err := p.startSteering(ctx, g); err != nil {
			cancel()
			return errors.Join(err, g.Wait())
		}
	}
	g.Go(func() error { return p.follow(ctx, tableReady) })
	if p.cfg.Policies != nil {
		g.Go(func() error { return p.followPolicies(ctx) })
	}
	select {
	case <-tableReady:
	case <-ctx.Done():
		return g.Wait()
	}
	lns := make([]net.Listener, 0, len(p.cfg.Listen))
	for _, a := range p.cfg.Listen {
		ln, err := listen(ctx, a)
		if err != nil {
			for _, l := range lns {
				l.Close()
			}
			cancel()
			return errors.Join(err, g.Wait())
		}
		lns = append(lns, ln)
		p.log.Info("mptcp proxy listening", "addr", a.String())
	}
	for _, ln := range lns {
		context.AfterFunc(ctx, func() { ln.Close() })
		g.Go(func() error { return p.accept(ctx, ln) })
	}
	close(p.ready)
	g.Go(func() error { return p.scanConns(ctx) })
	err := g.Wait()
	for _, c := range p.conns.all() {
		c.shut("proxy stopped")
	}
	return err
}

// startSteering opens the path manager's events and runs the steerer.
func (p *Proxy) startSteering(ctx context.Context, g *errgroup.Group) error {
	if v, err := readSysctl("net/mptcp/pm_type"); err != nil {
		return err
	} else if v != 1 {
		return errors.New("steering: net.mptcp.pm_type is not 1 (the userspace path manager) in atsssd's namespace; set it, or let atsssd (keep_kernel_settings: false)")
	}
	s, err := newSteerer(p.cfg, p.log)
	if err != nil {
		return err
	}
	events, err := pm.OpenEvents()
	if err != nil {
		s.pm.Close()
		return fmt.Errorf("steering: %w", err)
	}
	p.steer = s
	g.Go(func() error { return s.run(ctx, events) })
	if len(p.cfg.AccessLinks.ThreeGPP)+len(p.cfg.AccessLinks.Non3GPP) > 0 {
		g.Go(func() error { return p.watchLinks(ctx) })
	}
	p.log.Info("steering MPTCP subflows", "path_manager", "userspace")
	return nil
}

// accept serves one listener until it is closed.
func (p *Proxy) accept(ctx context.Context, ln net.Listener) error {
	var backoff time.Duration
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if temporaryAcceptError(err) {
				// Out of file descriptors or similar: wait rather than spin;
				// the connections already relayed keep going.
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				p.log.Warn("accept", "err", err, "retry_in", backoff)
				select {
				case <-time.After(backoff):
					continue
				case <-ctx.Done():
					return nil
				}
			}
			return fmt.Errorf("accept on %v: %w", ln.Addr(), err)
		}
		backoff = 0
		go p.serve(ctx, c.(*net.TCPConn))
	}
}

// temporaryAcceptError reports an accept error that passes: out of file
// descriptors or memory.
func temporaryAcceptError(err error) bool {
	for _, e := range [...]syscall.Errno{syscall.EMFILE, syscall.ENFILE, syscall.ENOBUFS, syscall.ENOMEM} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}
