package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"gopkg.in/yaml.v3"

	"github.com/openatsss/atsss/api/policystore"
	"github.com/openatsss/atsss/api/server"
	"github.com/openatsss/atsss/atsss"
)

// apiConfig is the gRPC API (api/server). Outside the lab it needs TLS and
// a credential: tokens or client certificates. Plaintext is refused except
// on a loopback address, where an empty credential set means every local
// caller is an operator (the lab).
type apiConfig struct {
	// Listen is the API's address; empty: no API.
	Listen netip.AddrPort `yaml:"listen"`
	// Plaintext serves without TLS; allowed only on a loopback Listen.
	Plaintext bool `yaml:"plaintext"`
	TLS       struct {
		CertFile string `yaml:"cert_file"`
		KeyFile  string `yaml:"key_file"`
		// ClientCAFile verifies client certificates; their Subject CN gets
		// the role client_cert_roles gives it.
		ClientCAFile string `yaml:"client_ca_file"`
	} `yaml:"tls"`
	// TokensFile holds bearer tokens by role, YAML:
	// {viewer: [token, ...], operator: [token, ...]}. A file, so that the
	// tokens stay out of the config (a Kubernetes Secret, say).
	TokensFile      string            `yaml:"tokens_file"`
	ClientCertRoles map[string]string `yaml:"client_cert_roles"`
	// Reflection serves gRPC server reflection (grpcurl); default true.
	Reflection *bool `yaml:"reflection"`

	PolicyStore policyStoreConfig `yaml:"policy_store"`
}

// policyStoreConfig chooses where policies live: "bolt" (default) in the
// session store's file, or "etcd", shared by every atsssd that uses the
// same endpoints and prefix.
type policyStoreConfig struct {
	Backend string `yaml:"backend"`
	Etcd    struct {
		Endpoints   []string      `yaml:"endpoints"`
		Prefix      string        `yaml:"prefix"`       // default /atsss/policies/
		DialTimeout time.Duration `yaml:"dial_timeout"` // default 5s
		// TLS to etcd: CAFile verifies the servers; CertFile and KeyFile
		// are this client's certificate, for etcd's client-cert auth.
		TLS struct {
			CAFile   string `yaml:"ca_file"`
			CertFile string `yaml:"cert_file"`
			KeyFile  string `yaml:"key_file"`
		} `yaml:"tls"`
		// Username and PasswordFile log in to etcd's own auth; the
		// password stays out of the config.
		Username     string `yaml:"username"`
		PasswordFile string `yaml:"password_file"`
	} `yaml:"etcd"`
}

// etcdClientConfig is the etcd client's configuration from c.
func (c policyStoreConfig) etcdClientConfig() (clientv3.Config, error) {
	e := c.Etcd
	cc := clientv3.Config{Endpoints: e.Endpoints, DialTimeout: e.DialTimeout, Logger: zap.NewNop(), Username: e.Username}
	if cc.DialTimeout == 0 {
		cc.DialTimeout = 5 * time.Second
	}
	if e.PasswordFile != "" {
		b, err := os.ReadFile(e.PasswordFile)
		if err != nil {
			return cc, fmt.Errorf("api.policy_store.etcd.password_file: %w", err)
		}
		cc.Password = strings.TrimSpace(string(b))
	}
	if e.TLS.CAFile == "" && e.TLS.CertFile == "" {
		return cc, nil
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if e.TLS.CAFile != "" {
		pem, err := os.ReadFile(e.TLS.CAFile)
		if err != nil {
			return cc, fmt.Errorf("api.policy_store.etcd.tls.ca_file: %w", err)
		}
		tc.RootCAs = x509.NewCertPool()
		if !tc.RootCAs.AppendCertsFromPEM(pem) {
			return cc, fmt.Errorf("api.policy_store.etcd.tls.ca_file %s: no PEM certificate", e.TLS.CAFile)
		}
	}
	if e.TLS.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(e.TLS.CertFile, e.TLS.KeyFile)
		if err != nil {
			return cc, fmt.Errorf("api.policy_store.etcd.tls: %w", err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	cc.TLS = tc
	return cc, nil
}

func (c apiConfig) validate() error {
	if !c.Listen.IsValid() {
		return nil
	}
	var errs []error
	tlsOn := c.TLS.CertFile != "" || c.TLS.KeyFile != "" || c.TLS.ClientCAFile != ""
	switch {
	case c.Plaintext && tlsOn:
		errs = append(errs, errors.New("api.plaintext: set together with api.tls; choose one"))
	case c.Plaintext && !c.Listen.Addr().IsLoopback():
		errs = append(errs, fmt.Errorf("api.plaintext: only allowed on a loopback address, listen is %v", c.Listen))
	case !c.Plaintext && (c.TLS.CertFile == "" || c.TLS.KeyFile == ""):
		errs = append(errs, errors.New("api.tls: cert_file and key_file are required (or api.plaintext on loopback)"))
	case !c.Plaintext && c.TokensFile == "" && c.TLS.ClientCAFile == "":
		errs = append(errs, errors.New("api: needs a credential: tokens_file or tls.client_ca_file"))
	}
	if len(c.ClientCertRoles) > 0 && c.TLS.ClientCAFile == "" {
		errs = append(errs, errors.New("api.client_cert_roles: needs api.tls.client_ca_file to verify the certificates"))
	}
	for cn, r := range c.ClientCertRoles {
		if _, err := server.ParseRole(r); err != nil {
			errs = append(errs, fmt.Errorf("api.client_cert_roles[%s]: %w", cn, err))
		}
	}
	switch c.PolicyStore.Backend {
	case "", "bolt":
	case "etcd":
		e := c.PolicyStore.Etcd
		if len(e.Endpoints) == 0 {
			errs = append(errs, errors.New("api.policy_store.etcd.endpoints: required with backend etcd"))
		}
		if (e.TLS.CertFile == "") != (e.TLS.KeyFile == "") {
			errs = append(errs, errors.New("api.policy_store.etcd.tls: cert_file and key_file go together"))
		}
		if (e.Username == "") != (e.PasswordFile == "") {
			errs = append(errs, errors.New("api.policy_store.etcd: username and password_file go together"))
		}
	default:
		errs = append(errs, fmt.Errorf("api.policy_store.backend: want bolt or etcd, got %q", c.PolicyStore.Backend))
	}
	return errors.Join(errs...)
}

// apiDeps is what the API serves from.
type apiDeps struct {
	sessions *atsss.Store
	db       *bolt.DB // the session store's file; nil when sessions live in memory
	policies *atsss.Policies
	access   atsss.AccessReporter // nil without the proxy
	log      *slog.Logger
}

// startAPI opens the policy store and builds the server. The returned
// cleanup closes what it opened.
func startAPI(c apiConfig, d apiDeps) (*server.Server, net.Listener, func(), error) {
	var closers []func()
	cleanup := func() {
		for i := len(closers) - 1; i >= 0; i-- {
			closers[i]()
		}
	}
	fail := func(err error) (*server.Server, net.Listener, func(), error) {
		cleanup()
		return nil, nil, nil, err
	}
	store, closeStore, err := openPolicyStore(c.PolicyStore, d.db, d.log)
	if err != nil {
		return fail(err)
	}
	closers = append(closers, closeStore)
	auth := server.Auth{Tokens: map[string]server.Role{}, CertRoles: map[string]server.Role{}}
	if c.TokensFile != "" {
		if auth.Tokens, err = readTokens(c.TokensFile); err != nil {
			return fail(err)
		}
	}
	for cn, r := range c.ClientCertRoles {
		auth.CertRoles[cn], _ = server.ParseRole(r) // validated
	}
	var opts []grpc.ServerOption
	if c.Plaintext {
		// Open only when no tokens file is configured at all: a file that
		// readTokens accepted holds at least one token.
		auth.Open = c.TokensFile == ""
		if auth.Open {
			d.log.Warn("api: plaintext on loopback without tokens: every local caller is an operator", "listen", c.Listen.String())
		}
	} else {
		tc, err := serverTLS(c)
		if err != nil {
			return fail(err)
		}
		opts = append(opts, grpc.Creds(credentials.NewTLS(tc)))
	}
	srv, err := server.New(server.Config{
		Sessions: d.sessions, PolicyStore: store, Policies: d.policies, Access: d.access,
		Auth: auth, Reflection: c.Reflection == nil || *c.Reflection, Log: d.log,
	}, opts...)
	if err != nil {
		return fail(err)
	}
	lis, err := net.Listen("tcp", c.Listen.String())
	if err != nil {
		return fail(fmt.Errorf("api listen: %w", err))
	}
	return srv, lis, cleanup, nil
}

func openPolicyStore(c policyStoreConfig, db *bolt.DB, log *slog.Logger) (policystore.Store, func(), error) {
	if c.Backend == "etcd" {
		cc, err := c.etcdClientConfig()
		if err != nil {
			return nil, nil, err
		}
		cli, err := clientv3.New(cc)
		if err != nil {
			return nil, nil, fmt.Errorf("api.policy_store.etcd: %w", err)
		}
		prefix := c.Etcd.Prefix
		if prefix == "" {
			prefix = "/atsss/policies/"
		}
		s, err := policystore.NewEtcd(cli, prefix, policystore.Options{})
		if err != nil {
			cli.Close()
			return nil, nil, err
		}
		return s, func() { s.Close(); cli.Close() }, nil
	}
	if db == nil {
		// Sessions live in memory (no store_path): so do policies, in a
		// bbolt file of their own that goes with the process.
		dir, err := os.MkdirTemp("", "atsssd-policies-")
		if err != nil {
			return nil, nil, err
		}
		tmp, err := bolt.Open(filepath.Join(dir, "policies.db"), 0o600, &bolt.Options{Timeout: time.Second})
		if err != nil {
			os.RemoveAll(dir)
			return nil, nil, fmt.Errorf("api.policy_store: %w", err)
		}
		log.Warn("api: no store_path: policies are kept until atsssd stops")
		s, err := policystore.NewBolt(tmp, policystore.Options{})
		if err != nil {
			tmp.Close()
			os.RemoveAll(dir)
			return nil, nil, err
		}
		return s, func() { s.Close(); tmp.Close(); os.RemoveAll(dir) }, nil
	}
	s, err := policystore.NewBolt(db, policystore.Options{})
	if err != nil {
		return nil, nil, err
	}
	return s, func() { s.Close() }, nil
}

// readTokens reads {role: [token, ...]}; a token in two roles, an unknown
// role or a short token is an error naming it (by role, not by value).
func readTokens(path string) (map[string]server.Role, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("api.tokens_file: %w", err)
	}
	var byRole map[string][]string
	if err := yaml.Unmarshal(b, &byRole); err != nil {
		return nil, fmt.Errorf("api.tokens_file %s: %w", path, err)
	}
	out := map[string]server.Role{}
	for name, tokens := range byRole {
		role, err := server.ParseRole(name)
		if err != nil {
			return nil, fmt.Errorf("api.tokens_file %s: %w", path, err)
		}
		for i, t := range tokens {
			t = strings.TrimSpace(t)
			if len(t) < 16 {
				return nil, fmt.Errorf("api.tokens_file %s: %s[%d]: shorter than 16 characters", path, name, i)
			}
			if _, dup := out[t]; dup {
				return nil, fmt.Errorf("api.tokens_file %s: %s[%d]: the same token has two roles", path, name, i)
			}
			out[t] = role
		}
	}
	if len(out) == 0 {
		// An empty file must not leave the API open on loopback.
		return nil, fmt.Errorf("api.tokens_file %s: no token", path)
	}
	return out, nil
}

func serverTLS(c apiConfig) (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(c.TLS.CertFile, c.TLS.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("api.tls: %w", err)
	}
	tc := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS13}
	if c.TLS.ClientCAFile != "" {
		pem, err := os.ReadFile(c.TLS.ClientCAFile)
		if err != nil {
			return nil, fmt.Errorf("api.tls.client_ca_file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("api.tls.client_ca_file %s: no PEM certificate", c.TLS.ClientCAFile)
		}
		tc.ClientCAs = pool
		// Tokens may be the credential instead: verify a certificate when
		// one is given, require none.
		tc.ClientAuth = tls.VerifyClientCertIfGiven
	}
	return tc, nil
}

// serveAPI runs srv until ctx ends. Health turns SERVING once every ready
// channel (the data planes' and N4's) is closed and the policies are in
// force.
func serveAPI(ctx context.Context, srv *server.Server, lis net.Listener, ready []<-chan struct{}, log *slog.Logger) error {
	go func() {
		for _, c := range append(ready, srv.Synced()) {
			select {
			case <-ctx.Done():
				return
			case <-c:
			}
		}
		srv.SetServing()
		log.Info("api serving", "addr", lis.Addr().String())
	}()
	context.AfterFunc(ctx, srv.Stop)
	if err := srv.Serve(lis); err != nil && !errors.Is(err, grpc.ErrServerStopped) {
		return fmt.Errorf("api: %w", err)
	}
	return nil
}
