package client

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"os"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
)

// ErrTokenInPlaintext is returned by Config.Validate when a bearer token
// would be sent without TLS to a target that is not on this host.
var ErrTokenInPlaintext = errors.New("a bearer token over plaintext is only sent to a loopback target; use TLS")

// Config says how to reach the API. The zero value is TLS with the system
// roots and no client certificate.
type Config struct {
	// Addr is the grpc target: "host:port", "dns:///host:port" or
	// "unix:///path".
	Addr string
	// Plaintext disables TLS. Meant for loopback labs.
	Plaintext bool
	// CAFile is a PEM bundle of the CAs that signed the server's
	// certificate; empty means the system roots.
	CAFile string
	// CertFile and KeyFile are the PEM client certificate and key; both or
	// neither.
	CertFile, KeyFile string
	// ServerName overrides the name checked in the server's certificate.
	ServerName string
	// Token is a bearer token sent as "authorization: Bearer <token>" on
	// every RPC; empty sends none.
	Token string
	// UserAgent is prepended to grpc's user agent; empty keeps grpc's.
	UserAgent string
}

// Validate reports contradictory settings without touching any file or the
// network.
func (c Config) Validate() error {
	switch {
	case c.Addr == "":
		return errors.New("no address")
	case (c.CertFile == "") != (c.KeyFile == ""):
		return errors.New("a client certificate needs both a certificate and a key file")
	case c.Plaintext && (c.CAFile != "" || c.CertFile != "" || c.ServerName != ""):
		return errors.New("plaintext excludes the TLS settings (CA, client certificate, server name)")
	case c.Plaintext && c.Token != "" && !Loopback(c.Addr):
		return fmt.Errorf("%s: %w", c.Addr, ErrTokenInPlaintext)
	}
	return nil
}

// DialOptions returns the grpc options that implement c: transport
// credentials, the bearer token and the user agent. It reads the
// certificate files.
func (c Config) DialOptions() ([]grpc.DialOption, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	var opts []grpc.DialOption
	if c.Plaintext {
		opts = append(opts, grpc.WithTransportCredentials(insecure.NewCredentials()))
	} else {
		cfg, err := c.tlsConfig()
		if err != nil {
			return nil, err
		}
		opts = append(opts, grpc.WithTransportCredentials(credentials.NewTLS(cfg)))
	}
	if c.Token != "" {
		opts = append(opts, grpc.WithPerRPCCredentials(BearerToken(c.Token, c.Plaintext && Loopback(c.Addr))))
	}
	if c.UserAgent != "" {
		opts = append(opts, grpc.WithUserAgent(c.UserAgent))
	}
	return opts, nil
}

// Dial returns a client connection for c. Like grpc.NewClient it does not
// connect: the first RPC does, so an unreachable server shows up as that
// RPC's Unavailable status. Extra options are appended after c's.
func Dial(c Config, extra ...grpc.DialOption) (*grpc.ClientConn, error) {
	opts, err := c.DialOptions()
	if err != nil {
		return nil, err
	}
	conn, err := grpc.NewClient(c.Addr, append(opts, extra...)...)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", c.Addr, err)
	}
	return conn, nil
}

func (c Config) tlsConfig() (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: c.ServerName}
	if c.CAFile != "" {
		pem, err := os.ReadFile(c.CAFile)
		if err != nil {
			return nil, fmt.Errorf("read CA file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("CA file %s: no PEM certificate", c.CAFile)
		}
		cfg.RootCAs = pool
	}
	if c.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("load client certificate: %w", err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}

// BearerToken returns per-RPC credentials that send token as
// "authorization: Bearer <token>". They require transport security unless
// allowPlaintext is set, which callers must only do for a loopback target
// (see Loopback): grpc then refuses to send them over an insecure
// connection. Safe for concurrent use.
//
// grpc's own oauth.TokenSource cannot be used over plaintext at all, hence
// this small type.
func BearerToken(token string, allowPlaintext bool) credentials.PerRPCCredentials {
	return bearer{token: token, allowPlaintext: allowPlaintext}
}

type bearer struct {
	token          string
	allowPlaintext bool
}

func (b bearer) GetRequestMetadata(ctx context.Context, _ ...string) (map[string]string, error) {
	if !b.allowPlaintext {
		// Belt and braces: grpc already checks RequireTransportSecurity at
		// dial and handshake time; oauth.TokenSource checks here too.
		ri, _ := credentials.RequestInfoFromContext(ctx)
		if err := credentials.CheckSecurityLevel(ri.AuthInfo, credentials.PrivacyAndIntegrity); err != nil {
			return nil, fmt.Errorf("bearer token needs TLS: %w", err)
		}
	}
	return map[string]string{"authorization": "Bearer " + b.token}, nil
}

func (b bearer) RequireTransportSecurity() bool { return !b.allowPlaintext }

// Loopback reports whether the grpc target addr stays on this host: a
// loopback IP address (127.0.0.0/8, ::1), the name "localhost" (which
// RFC 6761 §6.3 reserves for loopback, unless a DNS server is named in the
// target) or a Unix socket. Targets it cannot parse, and other names, are
// not loopback.
func Loopback(addr string) bool {
	if strings.HasPrefix(addr, "unix:") || strings.HasPrefix(addr, "unix-abstract:") {
		return true
	}
	endpoint, trustNames := addr, true
	if strings.Contains(addr, "://") {
		u, err := url.Parse(addr)
		if err != nil || (u.Scheme != "dns" && u.Scheme != "passthrough") {
			return false
		}
		endpoint = strings.TrimPrefix(u.Path, "/")
		// dns://server/name asks that server, which may map any name,
		// even localhost, anywhere.
		trustNames = u.Host == ""
	}
	host, _, err := net.SplitHostPort(endpoint)
	if err != nil {
		host = strings.TrimSuffix(strings.TrimPrefix(endpoint, "["), "]")
	}
	if trustNames && strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}
