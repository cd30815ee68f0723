// Package apitest holds what tests of the API share: a throw-away PKI for
// TLS with client certificates.
package apitest

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
	"sync/atomic"
	"testing"
	"time"
)

// PKI is a certificate authority made for one test: its certificates are
// valid from an hour ago to an hour from now.
type PKI struct {
	CA     *x509.Certificate
	Pool   *x509.CertPool // holding CA
	CAFile string         // CA in PEM
	key    *ecdsa.PrivateKey
	serial atomic.Int64
	dir    string
}

// NewPKI makes a CA; its files go to t.TempDir().
func NewPKI(t testing.TB) *PKI {
	t.Helper()
	key := newKey(t)
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "atsss test CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	p := &PKI{CA: ca, Pool: x509.NewCertPool(), key: key, dir: t.TempDir()}
	p.Pool.AddCert(ca)
	p.serial.Store(1)
	p.CAFile = p.write(t, "ca.pem", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
	return p
}

// Issued is a certificate the PKI issued, in memory and in PEM files.
type Issued struct {
	tls.Certificate
	CertFile, KeyFile string
}

// Server issues a server certificate for 127.0.0.1 and the DNS names given.
func (p *PKI) Server(t testing.TB, dnsNames ...string) Issued {
	t.Helper()
	return p.issue(t, &x509.Certificate{
		Subject: pkix.Name{CommonName: "atsssd"}, DNSNames: dnsNames,
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	})
}

// Client issues a client certificate whose Subject CN is cn.
func (p *PKI) Client(t testing.TB, cn string) Issued {
	t.Helper()
	return p.issue(t, &x509.Certificate{
		Subject: pkix.Name{CommonName: cn}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	})
}

func (p *PKI) issue(t testing.TB, tmpl *x509.Certificate) Issued {
	t.Helper()
	key := newKey(t)
	now := time.Now()
	tmpl.SerialNumber = big.NewInt(p.serial.Add(1))
	tmpl.NotBefore, tmpl.NotAfter = now.Add(-time.Hour), now.Add(time.Hour)
	tmpl.KeyUsage = x509.KeyUsageDigitalSignature
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.CA, &key.PublicKey, p.key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	name := tmpl.SerialNumber.String()
	return Issued{
		Certificate: tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key},
		CertFile:    p.write(t, name+".pem", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})),
		KeyFile:     p.write(t, name+"-key.pem", pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})),
	}
}

func (p *PKI) write(t testing.TB, name string, data []byte) string {
	t.Helper()
	path := filepath.Join(p.dir, name)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func newKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}
