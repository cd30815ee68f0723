package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
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
	pki := newTestPKI(t)
	srv := startServer(t, grpc.Creds(credentials.NewTLS(&tls.Config{
		Certificates: []tls.Certificate{pki.server},
		ClientCAs:    pki.pool,
		ClientAuth:   tls.RequireAndVerifyClientCert,
		MinVersion:   tls.VersionTLS13,
	})))
	base := []string{"--addr", srv.addr, "--ca", pki.caFile, "--server-name", "atsssd.test"}

	r := cli(t, nil, "", append(base, "--cert", pki.certFile, "--key", pki.keyFile, "--token", "tls-token", "policy", "list")...)
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
	cli(t, nil, "", append(base, "--cert", pki.certFile, "policy", "list")...).want(t, exitUsage)
	// An unreadable CA file is a local error.
	cli(t, nil, "", "--addr", srv.addr, "--ca", filepath.Join(t.TempDir(), "none.pem"), "policy", "list").want(t, exitLocal)
}

// testPKI is a CA, a server certificate for 127.0.0.1 and atsssd.test,
// and a client certificate for CN=operator, in PEM files.
type testPKI struct {
	pool                      *x509.CertPool
	server                    tls.Certificate
	caFile, certFile, keyFile string
}

func newTestPKI(t *testing.T) testPKI {
	t.Helper()
	dir := t.TempDir()
	key := func() *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	now := time.Now()
	caKey := key()
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	issue := func(serial int64, tmpl *x509.Certificate) ([]byte, []byte) {
		k := key()
		tmpl.SerialNumber = big.NewInt(serial)
		tmpl.NotBefore, tmpl.NotAfter = now.Add(-time.Hour), now.Add(time.Hour)
		tmpl.KeyUsage = x509.KeyUsageDigitalSignature
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &k.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		kder, err := x509.MarshalECPrivateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
			pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})
	}
	srvCert, srvKey := issue(2, &x509.Certificate{
		Subject: pkix.Name{CommonName: "atsssd"}, DNSNames: []string{"atsssd.test"},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	})
	cliCert, cliKey := issue(3, &x509.Certificate{
		Subject: pkix.Name{CommonName: "operator"}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	})
	server, err := tls.X509KeyPair(srvCert, srvKey)
	if err != nil {
		t.Fatal(err)
	}
	p := testPKI{pool: x509.NewCertPool(), server: server,
		caFile: filepath.Join(dir, "ca.pem"), certFile: filepath.Join(dir, "client.pem"), keyFile: filepath.Join(dir, "client-key.pem")}
	p.pool.AddCert(ca)
	for file, data := range map[string][]byte{
		p.caFile:   pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}),
		p.certFile: cliCert,
		p.keyFile:  cliKey,
	} {
		if err := os.WriteFile(file, data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return p
}
