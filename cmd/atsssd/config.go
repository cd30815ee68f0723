package main

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"

	"gopkg.in/yaml.v3"

	"github.com/openatsss/atsss/pfcp"
)

// config is atsssd's configuration file: one YAML document. Unknown fields
// are an error that names them.
type config struct {
	// LogLevel is debug, info, warn or error.
	LogLevel string `yaml:"log_level"`
	// StorePath is the session store file (bbolt). Empty keeps sessions in
	// memory only: they do not survive a restart.
	StorePath string `yaml:"store_path"`
	// MetricsListen serves /metrics and /sessions over HTTP; empty: off.
	// The session dump shows UE addresses: keep it on loopback or behind
	// access control.
	MetricsListen netip.AddrPort `yaml:"metrics_listen"`
	// MemoryLimitMiB is the Go runtime's soft memory limit; 0: none.
	MemoryLimitMiB int64 `yaml:"memory_limit_mib"`

	PFCP pfcp.Config `yaml:"pfcp"`
}

func loadConfig(path string) (config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return config{}, fmt.Errorf("config: %w", err)
	}
	c := config{LogLevel: "info"}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil {
		return config{}, fmt.Errorf("config %s: %w", path, err)
	}
	c.PFCP = c.PFCP.WithDefaults()
	if err := c.validate(); err != nil {
		return config{}, fmt.Errorf("config %s: %w", path, err)
	}
	return c, nil
}

func (c config) validate() error {
	var errs []error
	if _, err := parseLevel(c.LogLevel); err != nil {
		errs = append(errs, fmt.Errorf("log_level: %w", err))
	}
	if c.MemoryLimitMiB < 0 {
		errs = append(errs, fmt.Errorf("memory_limit_mib: must not be negative, got %d", c.MemoryLimitMiB))
	}
	if err := c.PFCP.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("pfcp.%w", err))
	}
	return errors.Join(errs...)
}

func parseLevel(s string) (slog.Level, error) {
	var l slog.Level
	err := l.UnmarshalText([]byte(s))
	return l, err
}
