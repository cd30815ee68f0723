package main

import (
	"encoding/json"
	"fmt"
	"runtime/debug"

	"github.com/spf13/cobra"
	"gopkg.in/yaml.v3"
)

// versionInfo is what the binary knows about its own build.
type versionInfo struct {
	// Version is the module version when built with "go install
	// ...@version", else the VCS revision (short, "-dirty" if modified),
	// else "(devel)".
	Version  string `json:"version" yaml:"version"`
	Revision string `json:"revision,omitempty" yaml:"revision,omitempty"`
	Time     string `json:"time,omitempty" yaml:"time,omitempty"`
	Modified bool   `json:"modified,omitempty" yaml:"modified,omitempty"`
	Go       string `json:"go" yaml:"go"`
}

func buildVersion() versionInfo {
	v := versionInfo{Version: "(devel)"}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return v
	}
	v.Go = bi.GoVersion
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			v.Revision = s.Value
		case "vcs.time":
			v.Time = s.Value
		case "vcs.modified":
			v.Modified = s.Value == "true"
		}
	}
	switch {
	case bi.Main.Version != "" && bi.Main.Version != "(devel)":
		v.Version = bi.Main.Version
	case v.Revision != "":
		v.Version = v.Revision[:min(12, len(v.Revision))]
		if v.Modified {
			v.Version += "-dirty"
		}
	}
	return v
}

func (a *app) versionCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print atsssctl's version (local: no server call)",
		Long: `Print the version of this binary from its build information: the module
version, else the VCS revision, and the Go version. It does not contact the
server.`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(*cobra.Command, []string) error {
			v := buildVersion()
			switch a.output {
			case "json":
				b, err := json.MarshalIndent(v, "", "  ")
				if err != nil {
					return err
				}
				_, err = fmt.Fprintf(a.stdout, "%s\n", b)
				return err
			case "yaml":
				b, err := yaml.Marshal(v)
				if err != nil {
					return err
				}
				_, err = a.stdout.Write(b)
				return err
			}
			tw := newTable(a.stdout)
			row(tw, "atsssctl", v.Version)
			if v.Revision != "" {
				row(tw, "revision", v.Revision)
			}
			if v.Time != "" {
				row(tw, "built", v.Time)
			}
			row(tw, "go", v.Go)
			return tw.Flush()
		},
	}
}
