package main

import (
	"crypto/tls"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"github.com/openatsss/atsss/api/apitest"
)

func TestTokenPlaintextLoopback(t *testing.T) {
	srv := startServer(t)
	t.Run("flag", func(t *testing.T) {
		srv.plain(t, "--token", "s3cret", "policy", "list").want(t, exitOK)
		if got := srv.api.lastMD().Get("authorization"); len(got) != 1 || got[0] != "Bearer s3cret" {
			t.Errorf("authorization %q, want [Bearer s3cret]", got)
		}
	})
	t.Run("environment", func(t *testing.T) {
		env := map[string]string{envToken: "from-env", envAddr: srv.addr}
		cli(t, env, "", "--plaintext", "sessions", "watch").want(t, exitOK) // a stream call, too
		if got := srv.api.lastMD().Get("authorization"); len(got) != 1 || got[0] != "Bearer from-env" {
			t.Errorf("authorization %q, want [Bearer from-env]", got)
		}
	})
	t.Run("none", func(t *testing.T) {
		srv.plain(t, "policy", "list").want(t, exitOK)
		if got := srv.api.lastMD().Get("authorization"); len(got) != 0 {
			t.Errorf("authorization %q sent without a token", got)
		}
	})
	t.Run("non-loopback refused", func(t *testing.T) {
		// 192.0.2.1 is never dialed: the flags are refused first.
		r := cli(t, nil, "", "--plaintext", "--addr", "192.0.2.1:7788", "--token", "t", "policy", "list")
		r.want(t, exitUsage)
		if !strings.Contains(r.stderr, "only sent to a loopback target") {
			t.Errorf("stderr %q", r.stderr)
		}
	})
}

// TestTLSClientCertificateAndToken runs the CLI against a server that
// requires a client certificate, with a token on top.
func TestTLSClientCertificateAndToken(t *testing.T) {
	pki := apitest.NewPKI(t)
	client := pki.Client(t, "operator")
	srv := startServer(t, grpc.Creds(credentials.NewTLS(&tls.Config{
		Certificates: []tls.Certificate{pki.Server(t, "atsssd.test").Certificate},
		ClientCAs:    pki.Pool,
		ClientAuth:   tls.RequireAndVerifyClientCert,
		MinVersion:   tls.VersionTLS13,
	})))
	base := []string{"--addr", srv.addr, "--ca", pki.CAFile, "--server-name", "atsssd.test"}

	r := cli(t, nil, "", append(base, "--cert", client.CertFile, "--key", client.KeyFile, "--token", "tls-token", "policy", "list")...)
	r.want(t, exitOK)
	if got := srv.api.lastMD().Get("authorization"); len(got) != 1 || got[0] != "Bearer tls-token" {
		t.Errorf("authorization %q, want [Bearer tls-token]", got)
	}
	info, ok := srv.api.lastPeer().AuthInfo.(credentials.TLSInfo)
	if !ok || len(info.State.PeerCertificates) == 0 || info.State.PeerCertificates[0].Subject.CommonName != "operator" {
		t.Errorf("server saw peer %+v, want the client certificate CN=operator", srv.api.lastPeer())
	}

	// Without the client certificate the handshake fails: Unavailable.
	cli(t, nil, "", append(base, "policy", "list")...).want(t, exitStatusBase+14)
	// Plaintext against a TLS server fails too.
	cli(t, nil, "", "--plaintext", "--addr", srv.addr, "policy", "list").want(t, exitStatusBase+14)
	// Half a client certificate is a usage error.
	cli(t, nil, "", append(base, "--cert", client.CertFile, "policy", "list")...).want(t, exitUsage)
	// An unreadable CA file is a local error.
	cli(t, nil, "", "--addr", srv.addr, "--ca", filepath.Join(t.TempDir(), "none.pem"), "policy", "list").want(t, exitLocal)
}
