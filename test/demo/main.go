// Command demo is atsss's main job until the two-access lab exists: it
// builds atsssd and smfsim, starts atsssd on loopback with a durable
// session store, plays an SMF with smfsim — an MA PDU session with an MPTCP
// Load-Balancing 70/30 MAR and an ATSSS-LL Active-Standby MAR, the non-3GPP
// access removed and re-added, the session deleted — then establishes a
// batch of sessions under load and shows what the daemon holds.
//
//	go run ./test/demo [-sessions 20000]
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"time"

	"github.com/openatsss/atsss/atsss"
	"github.com/openatsss/atsss/test/daemontest"
)

func main() {
	sessions := flag.Int("sessions", 20000, "sessions to establish in the load step")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, *sessions); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, sessions int) error {
	dir, err := os.MkdirTemp("", "atsss-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	step("building atsssd and smfsim")
	bin, err := daemontest.Build(ctx, dir, "atsssd", "smfsim")
	if err != nil {
		return err
	}
	n4, metrics, err := daemontest.Ports()
	if err != nil {
		return err
	}
	// IPv6 documentation prefixes: room for every session of the load,
	// which IPv4 /24s would not have.
	cfg := daemontest.Config(n4, metrics, [2]string{"2001:db8:3::/64", "2001:db8:4::/64"})
	cfg["store_path"] = filepath.Join(dir, "sessions.db")
	cfg["pfcp"].(map[string]any)["max_sessions"] = sessions + 10
	step(fmt.Sprintf("starting atsssd: N4 on %v, metrics and /sessions on %v", n4, metrics))
	d, err := daemontest.Start(ctx, bin["atsssd"], dir, cfg, n4, metrics)
	if err != nil {
		return err
	}
	defer d.Stop(context.Background())

	smfsim := func(args ...string) error {
		args = append(args, "-upf", n4.String(), "-local", "127.0.0.1:0")
		cmd := exec.CommandContext(ctx, bin["smfsim"], args...)
		cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
		return cmd.Run()
	}
	step("smfsim: MPTCP load-balancing 70/30 + ATSSS-LL active-standby; non-3GPP access leaves and returns")
	scenario, err := filepath.Abs("cmd/smfsim/testdata/mptcp-lb-ll-as.yaml")
	if err != nil {
		return err
	}
	if err := smfsim("run", "-scenario", scenario, "-serve=false"); err != nil {
		return fmt.Errorf("scenario: %w", err)
	}

	step(fmt.Sprintf("smfsim load: %d MA PDU sessions, 128 in flight, into the durable store", sessions))
	if err := smfsim("load", "-sessions", strconv.Itoa(sessions), "-concurrency", "128", "-atsss", "mptcp,atsss-ll,pmf"); err != nil {
		return fmt.Errorf("load: %w", err)
	}

	step("what atsssd holds")
	all, err := d.Sessions(ctx)
	if err != nil {
		return err
	}
	rss, _ := d.RSS()
	fmt.Printf("  %d sessions installed; atsssd resident memory %.1f MiB\n", len(all), float64(rss)/(1<<20))
	if len(all) > 0 {
		describe(all[0])
	}
	return nil
}

func step(s string) { fmt.Printf("\n== %s (%s)\n", s, time.Now().Format("15:04:05")) }

// describe prints one session the way an operator reads it.
func describe(s *atsss.Session) {
	fmt.Printf("  e.g. session %v (SMF %s, CP SEID %v), UE %v\n", s.LocalSEID, s.PeerNodeID, s.RemoteSEID, s.MAPDUAddrs())
	for _, m := range s.MARs {
		fmt.Printf("    MAR %d: %v %v", m.ID, m.Functionality, m.Mode)
		for _, a := range atsss.Accesses {
			if l := m.Legs[a]; l.Present {
				fmt.Printf("  %v→FAR %d", a, l.FARID)
				if l.Weight.Set {
					fmt.Printf(" weight %d", l.Weight.Value)
				}
				if l.Priority.Set {
					fmt.Printf(" %v", l.Priority.Value)
				}
			}
		}
		fmt.Println()
	}
	if p := s.ATSSS.Params.MPTCP; p != nil {
		fmt.Printf("    MPTCP proxy %v port %d; link-specific 3GPP %v, non-3GPP %v\n", p.ProxyIPv4, p.ProxyPort,
			p.LinkSpecific[atsss.Access3GPP].Addrs(), p.LinkSpecific[atsss.AccessNon3GPP].Addrs())
	}
	for _, p := range s.ATSSS.Params.PMF {
		fmt.Printf("    PMF %v ports 3GPP %d, non-3GPP %d\n", p.Addr.Addrs(), p.Ports[0], p.Ports[1])
	}
}
