package main

import (
	"bytes"
	"errors"
	"flag"
	"strings"
	"testing"
)

// TestRunRefuses checks the refusals that come before any lab is built.
func TestRunRefuses(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string // in the error
	}{
		{"no command", nil, "usage"},
		{"unknown command", []string{"deploy"}, `unknown command "deploy"`},
		{"unknown cut", []string{"demo", "-cut", "unplug"}, `-cut "unplug": want link-down or silent-drop`},
		{"zero size", []string{"demo", "-size", "0"}, "-size: must be at least 1 MiB"},
		{"bad flag", []string{"up", "-rate-3gpp", "fast"}, "invalid value"},
		{"not a lab id", []string{"down", "atsss"}, "not a lab ID"},
		{"no mode", []string{"scenario"}, "name one mode: active-standby, load-balancing, policy, priority-based, redundant, smallest-delay"},
		{"unknown mode", []string{"scenario", "duplicate"}, `scenario "duplicate": want one of`},
		{"two modes", []string{"scenario", "redundant", "load-balancing"}, "name one mode"},
		{"no cut", []string{"scenario", "-for", "0s", "load-balancing"}, "-for: must be positive"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			err := run(t.Context(), tt.args, &out)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("run(%q) = %v, want an error with %q", tt.args, err, tt.want)
			}
		})
	}
}

func TestRunHelp(t *testing.T) {
	var out bytes.Buffer
	if err := run(t.Context(), []string{"help"}, &out); err != nil || !strings.Contains(out.String(), "commands:") {
		t.Errorf("help: %v, %q", err, out.String())
	}
	if err := run(t.Context(), []string{"demo", "-h"}, &out); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("demo -h: %v, want flag.ErrHelp", err)
	}
}
