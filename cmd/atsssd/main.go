// Command atsssd is the atsss daemon: the N4 (PFCP) server of the UPF-side
// ATSSS function and the MPTCP proxy. It reads one YAML
// configuration file; see deploy/atsssd.yaml for an example.
//
// This file is wiring only: flags, configuration, logging, signals, and the
// components run under one errgroup.
package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/signal"
	"runtime/debug"
	"slices"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	pfcplib "github.com/wmnsk/go-pfcp"
	bolt "go.etcd.io/bbolt"
	"golang.org/x/sync/errgroup"

	"github.com/openatsss/atsss/atsss"
	"github.com/openatsss/atsss/atsss/boltstore"
	"github.com/openatsss/atsss/mptcpproxy"
	"github.com/openatsss/atsss/pfcp"
	"github.com/openatsss/atsss/steering"
	"github.com/openatsss/atsss/steering/ll"
	"github.com/openatsss/atsss/steering/pmf"
)

func main() {
	configPath := flag.String("config", "/etc/atsss/atsssd.yaml", "configuration file")
	logLevel := flag.String("log-level", "", "log level (debug, info, warn, error); overrides log_level in the config")
	flag.Parse()
	if err := run(*configPath, *logLevel); err != nil {
		fmt.Fprintln(os.Stderr, "atsssd:", err)
		os.Exit(1)
	}
}

func run(configPath, logLevel string) error {
	cfg, err := loadConfig(configPath)
	if err != nil {
		return err
	}
	if logLevel != "" {
		cfg.LogLevel = logLevel
	}
	level, err := parseLevel(cfg.LogLevel)
	if err != nil {
		return fmt.Errorf("-log-level: %w", err)
	}
	log := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	pfcplib.DisableLogging() // go-pfcp logs to the standard logger by default
	if cfg.MemoryLimitMiB > 0 {
		debug.SetMemoryLimit(cfg.MemoryLimitMiB << 20)
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	store, db, recovery, err := openStore(cfg.StorePath)
	if err != nil {
		return err
	}
	defer store.Close()
	policies := atsss.NewPolicies()

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	n4, err := pfcp.New(cfg.PFCP, store, pfcp.Options{Logger: log, Registry: reg, RecoveryTime: recovery})
	if err != nil {
		return err
	}

	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error { return n4.Run(ctx) })
	reports := availabilityReporter{ctx: ctx, n4: n4, store: store, log: log}
	var proxy *mptcpproxy.Proxy
	if cfg.MPTCPProxy.Enabled {
		opts := mptcpproxy.Options{Logger: log, Registry: reg, AccessLinkChanged: reports.access}
		cfg.MPTCPProxy.Policies = policies
		if proxy, err = mptcpproxy.New(cfg.MPTCPProxy.Config, store, opts); err != nil {
			return err
		}
		g.Go(func() error { return proxy.Run(ctx) })
	}
	var fwd *ll.Forwarder
	switch {
	case cfg.ATSSSLL.Enabled:
		cfg.ATSSSLL.Policies = policies
		if fwd, err = ll.New(cfg.ATSSSLL.Config, store, log); err != nil {
			return err
		}
		g.Go(func() error { return fwd.Run(ctx) })
	case cfg.PFCP.ATSSS.ATSSSLL:
		log.Warn("pfcp.atsss.atsss_ll offers ATSSS-LL to SMFs but atsss_ll.enabled is false: ATSSS-LL rules are installed and nothing forwards them")
	}
	if cfg.PMFServer.Enabled {
		if err := runPMF(ctx, g, cfg, store, proxy, fwd, reports, log); err != nil {
			return err
		}
	}
	if cfg.MetricsListen.IsValid() {
		g.Go(func() error { return serveHTTP(ctx, cfg.MetricsListen.String(), reg, store, proxy, fwd, log) })
	}
	if cfg.API.Listen.IsValid() {
		// Health turns SERVING once N4 listens and the data planes run.
		ready := []<-chan struct{}{n4.Ready()}
		if proxy != nil {
			ready = append(ready, proxy.Ready())
		}
		if fwd != nil {
			ready = append(ready, fwd.Ready())
		}
		deps := apiDeps{sessions: store, db: db, policies: policies, log: log}
		if proxy != nil {
			deps.access = proxy
		}
		srv, lis, cleanup, err := startAPI(cfg.API, deps)
		if err != nil {
			return err
		}
		defer cleanup()
		g.Go(func() error { return srv.SyncPolicies(ctx) })
		g.Go(func() error { return serveAPI(ctx, srv, lis, ready, log) })
	}
	log.Info("atsssd started", "config", configPath, "sessions", store.Len(), "store", cfg.StorePath)
	err = g.Wait()
	log.Info("atsssd stopped", "err", err)
	return err
}

// runPMF starts the PMF server on pfcp.atsss.pmf's addresses and ports,
// feeds its events (RTT, downlink PLR, access reports) to the proxy's
// steering and to the ATSSS-LL data path (either may be nil: not running)
// and reports the UE's access availability reports to the SMF.
//
// An ATSSS-LL session's PMF messages travel in its GTP-U tunnels: the
// Forwarder writes the uplink ones to its TUN device, whence the kernel
// delivers them to this server on the PMF address, and sends this
// server's answers, routed into the TUN by the UE pools, back on the
// access their source port names.
func runPMF(ctx context.Context, g *errgroup.Group, cfg config, store *atsss.Store, proxy *mptcpproxy.Proxy, fwd *ll.Forwarder, reports availabilityReporter, log *slog.Logger) error {
	p := cfg.PFCP.ATSSS.PMF
	var addrs []netip.Addr
	for _, a := range []netip.Addr{p.Address4, p.Address6} {
		if a.IsValid() {
			addrs = append(addrs, a)
		}
	}
	srv, err := pmf.Listen(pmf.Config{
		Listen:       pmf.PortListeners(addrs, p.PortBase),
		Lookup:       pmf.StoreLookup(store),
		EchoInterval: cfg.PMFServer.EchoInterval,
		RTTGain:      cfg.PMFServer.RTTGain,
		PLRInterval:  cfg.PMFServer.PLRInterval,
		Logger:       log,
	})
	if err != nil {
		return err
	}
	g.Go(func() error { return srv.Run(ctx) })
	g.Go(func() error {
		for ev := range srv.Events() {
			if proxy != nil {
				proxy.PathEvent(ev)
			}
			if fwd != nil {
				if e, ok := llPathEvent(ev); ok {
					fwd.PathEvent(e)
				}
			}
			if ev.Kind == pmf.KindAvailability && ev.Path.QFI == 0 {
				reports.session(ev.Path.SEID, ev.Path.Access, ev.Available)
			}
		}
		return nil
	})
	log.Info("serving PMF", "addrs", addrs, "port_base", p.PortBase)
	return nil
}

// llPathEvent converts a PMF event for the ATSSS-LL data path: RTT, the
// downlink packet loss rate (percent, to steering.LossRate's tenths of a
// percent) and the UE's availability reports, of the default QoS flow,
// which is what MARs steer (as mptcpproxy.Proxy.PathEvent).
func llPathEvent(ev pmf.Event) (ll.PathEvent, bool) {
	if ev.Path.QFI != 0 {
		return ll.PathEvent{}, false
	}
	e := ll.PathEvent{SEID: ev.Path.SEID, Access: ev.Path.Access}
	switch ev.Kind {
	case pmf.KindRTT:
		e.Kind, e.RTT = ll.EventRTT, ev.RTT
	case pmf.KindPLR:
		e.Kind, e.Loss = ll.EventLoss, steering.LossFromPercent(ev.PLR)
	case pmf.KindAvailability:
		e.Kind, e.Available = ll.EventAvailability, ev.Available
	default:
		return ll.PathEvent{}, false
	}
	return e, true
}

func writeJSON(w http.ResponseWriter, v any, log *slog.Logger) {
	w.Header().Set("Content-Type", "application/json")
	if err := json.NewEncoder(w).Encode(v); err != nil {
		log.Debug("write JSON", "err", err)
	}
}

// openStore opens the session store and returns the Recovery Time Stamp
// that goes with its state: the store's creation time when sessions
// persist, now when they live in memory only.
//
// The bbolt file, when there is one, is returned too: the API keeps
// policies in it.
func openStore(path string) (*atsss.Store, *bolt.DB, time.Time, error) {
	if path == "" {
		s, err := atsss.NewStore(nil)
		return s, nil, time.Now(), err
	}
	b, err := boltstore.Open(path, boltstore.Options{})
	if err != nil {
		return nil, nil, time.Time{}, err
	}
	created, err := b.Created()
	if err != nil {
		b.Close()
		return nil, nil, time.Time{}, err
	}
	s, err := atsss.NewStore(b)
	if err != nil {
		b.Close()
		return nil, nil, time.Time{}, err
	}
	return s, b.DB(), created, nil
}

// serveHTTP serves Prometheus metrics and JSON dumps of the sessions and,
// with the proxy or the ATSSS-LL data path (not nil), of their state, for
// operators and tests until the gRPC API exists.
func serveHTTP(ctx context.Context, addr string, reg *prometheus.Registry, store *atsss.Store, proxy *mptcpproxy.Proxy, fwd *ll.Forwarder, log *slog.Logger) error {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /sessions", func(w http.ResponseWriter, r *http.Request) {
		sessions := store.Sessions()
		slices.SortFunc(sessions, func(a, b *atsss.Session) int { return cmp.Compare(a.LocalSEID, b.LocalSEID) })
		writeJSON(w, sessions, log)
	})
	if proxy != nil {
		mux.HandleFunc("GET /connections", func(w http.ResponseWriter, r *http.Request) {
			writeJSON(w, proxy.Connections(), log)
		})
		mux.HandleFunc("GET /paths", func(w http.ResponseWriter, r *http.Request) {
			writeJSON(w, proxy.Paths(), log)
		})
	}
	if fwd != nil {
		mux.HandleFunc("GET /atsss-ll", func(w http.ResponseWriter, r *http.Request) {
			writeJSON(w, fwd.Stats(), log)
		})
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("metrics listen: %w", err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	context.AfterFunc(ctx, func() { srv.Close() })
	log.Info("serving metrics", "addr", ln.Addr().String())
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
