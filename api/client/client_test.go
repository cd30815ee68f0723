package client

import (
	"context"
	"errors"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
)

func TestLoopback(t *testing.T) {
	tests := []struct {
		addr string
		want bool
	}{
		{"127.0.0.1:7788", true},
		{"127.1.2.3:7788", true},
		{"[::1]:7788", true},
		{"localhost:7788", true},
		{"LOCALHOST", true},
		{"dns:///127.0.0.1:7788", true},
		{"dns://192.0.2.53/127.0.0.1:7788", true},
		{"dns://192.0.2.53/localhost:7788", false},
		{"passthrough:///[::1]:1", true},
		{"unix:///run/atsss/api.sock", true},
		{"unix:api.sock", true},
		{"unix-abstract:atsss", true},
		{"::1", true},
		{"192.0.2.1:7788", false},
		{"[2001:db8::1]:7788", false},
		{"[::ffff:192.0.2.1]:7788", false},
		{"atsssd.example:7788", false},
		{"localhost.example:7788", false},
		{"xds:///127.0.0.1:7788", false},
		{"0.0.0.0:7788", false},
		{"", false},
	}
	for _, tt := range tests {
		if got := Loopback(tt.addr); got != tt.want {
			t.Errorf("Loopback(%q) = %v, want %v", tt.addr, got, tt.want)
		}
	}
}

// TestBearerTokenPlaintext checks the credentials object alone: no dial.
func TestBearerTokenPlaintext(t *testing.T) {
	for _, tt := range []struct {
		addr string
		want bool // RequireTransportSecurity
	}{
		{"127.0.0.1:7788", false},
		{"192.0.2.1:7788", true},
	} {
		c := BearerToken("t", Loopback(tt.addr))
		if got := c.RequireTransportSecurity(); got != tt.want {
			t.Errorf("%s: RequireTransportSecurity() = %v, want %v", tt.addr, got, tt.want)
		}
	}

	// Transport-secure credentials refuse an insecure connection
	// themselves, even if grpc's own check were bypassed.
	md, err := BearerToken("t", true).GetRequestMetadata(context.Background())
	if err != nil || md["authorization"] != "Bearer t" {
		t.Errorf("plaintext-allowed metadata %v, %v", md, err)
	}
	ctx := credentials.NewContextWithRequestInfo(context.Background(), credentials.RequestInfo{
		AuthInfo: insecureAuthInfo{},
	})
	if _, err := BearerToken("t", false).GetRequestMetadata(ctx); err == nil {
		t.Error("TLS-only token given out over an insecure connection")
	}

	// And grpc itself refuses them over insecure transport credentials.
	_, err = grpc.NewClient("192.0.2.1:7788", grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithPerRPCCredentials(BearerToken("t", false)))
	if err == nil {
		t.Error("grpc accepted transport-secure call credentials over plaintext")
	}
}

type insecureAuthInfo struct{}

func (insecureAuthInfo) AuthType() string { return "insecure" }
func (insecureAuthInfo) GetCommonAuthInfo() credentials.CommonAuthInfo {
	return credentials.CommonAuthInfo{SecurityLevel: credentials.NoSecurity}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		c    Config
		ok   bool
	}{
		{"tls default", Config{Addr: "atsssd.example:7788", Token: "t"}, true},
		{"plaintext loopback token", Config{Addr: "127.0.0.1:7788", Plaintext: true, Token: "t"}, true},
		{"plaintext remote no token", Config{Addr: "192.0.2.1:7788", Plaintext: true}, true},
		{"plaintext remote token", Config{Addr: "192.0.2.1:7788", Plaintext: true, Token: "t"}, false},
		{"cert without key", Config{Addr: "x:1", CertFile: "c.pem"}, false},
		{"plaintext with CA", Config{Addr: "127.0.0.1:1", Plaintext: true, CAFile: "ca.pem"}, false},
		{"no address", Config{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.c.Validate()
			if (err == nil) != tt.ok {
				t.Errorf("Validate() = %v, want ok=%v", err, tt.ok)
			}
		})
	}
	err := Config{Addr: "192.0.2.1:7788", Plaintext: true, Token: "t"}.Validate()
	if !errors.Is(err, ErrTokenInPlaintext) {
		t.Errorf("error %v is not ErrTokenInPlaintext", err)
	}
	if _, err := Dial(Config{Addr: "192.0.2.1:7788", Plaintext: true, Token: "t"}); !errors.Is(err, ErrTokenInPlaintext) {
		t.Errorf("Dial error %v is not ErrTokenInPlaintext", err)
	}
}
