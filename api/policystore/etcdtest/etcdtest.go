// Package etcdtest starts an embedded etcd server for tests, so that the
// etcd policy store is tested against the real thing rather than a fake.
package etcdtest

import (
	"net/url"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap"
)

// Start starts a single-member etcd server on 127.0.0.1 (ports chosen by
// the kernel) with its data in t.TempDir(), and returns a client of it.
// t.Cleanup closes the client, then stops the server. The server does not
// fsync (tests need no durability across crashes) and logs nothing. It is
// ready in well under 0.1 s.
func Start(t testing.TB) *clientv3.Client {
	t.Helper()
	cfg := embed.NewConfig()
	cfg.Name = "etcdtest"
	cfg.Dir = t.TempDir()
	// Port 0 on both: the peer URL is only the member's identity in a
	// cluster of one, never dialled; the client port is read back from the
	// listener below.
	local := []url.URL{{Scheme: "http", Host: "127.0.0.1:0"}}
	cfg.ListenClientUrls, cfg.AdvertiseClientUrls = local, local
	cfg.ListenPeerUrls, cfg.AdvertisePeerUrls = local, local
	cfg.InitialCluster = cfg.InitialClusterFromName(cfg.Name)
	cfg.UnsafeNoFsync = true
	// A tenth of the default raft timing: the member elects itself in
	// about 60 ms instead of 0.9 s (BenchmarkStart). A cluster of one
	// cannot lose its leader to a late heartbeat, so a noisy machine does
	// no harm.
	cfg.TickMs, cfg.ElectionMs = 10, 100
	// A nop logger also silences the "setting up serving from embedded etcd
	// failed ... server closed" errors that Close logs.
	cfg.Logger = "zap"
	cfg.ZapLoggerBuilder = embed.NewZapLoggerBuilder(zap.NewNop())

	e, err := embed.StartEtcd(cfg)
	if err != nil {
		t.Fatalf("start etcd: %v", err)
	}
	t.Cleanup(e.Close)
	select {
	case <-e.Server.ReadyNotify():
	case err := <-e.Err():
		t.Fatalf("start etcd: %v", err)
	case <-time.After(time.Minute):
		t.Fatal("start etcd: not ready after a minute")
	}
	return NewClient(t, "http://"+e.Clients[0].Addr().String())
}

// NewClient returns a client of the etcd at endpoints (for a second client
// of the server Start started: cli.Endpoints()), closed by t.Cleanup. It
// logs nothing.
func NewClient(t testing.TB, endpoints ...string) *clientv3.Client {
	t.Helper()
	cli, err := clientv3.New(clientv3.Config{
		Endpoints:   endpoints,
		DialTimeout: 10 * time.Second,
		Logger:      zap.NewNop(),
	})
	if err != nil {
		t.Fatalf("etcd client: %v", err)
	}
	// Registered after the server's Close, so it runs before it: the
	// server's graceful stop would otherwise wait for this client's
	// watch streams.
	t.Cleanup(func() { cli.Close() })
	return cli
}
