// Package daemontest builds the atsss commands and runs them as real
// processes, for end-to-end tests and the demo: atsssd with a generated
// configuration, its /sessions dump, its resident memory, and kill -9.
package daemontest

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/openatsss/atsss/atsss"
	"github.com/openatsss/atsss/mptcpproxy"
)

// Build compiles the named commands of this module (e.g. "atsssd",
// "smfsim") into dir and returns their paths by name.
func Build(ctx context.Context, dir string, names ...string) (map[string]string, error) {
	root, err := ModuleRoot()
	if err != nil {
		return nil, err
	}
	out := make(map[string]string, len(names))
	args := []string{"build", "-o", dir + string(filepath.Separator)}
	for _, n := range names {
		args = append(args, "./cmd/"+n)
		out[n] = filepath.Join(dir, n)
	}
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = root
	if b, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("go build %v: %w\n%s", names, err, b)
	}
	return out, nil
}

// ModuleRoot returns the directory of the atsss module's go.mod, as the go
// command finds it from the working directory, or an error outside it.
func ModuleRoot() (string, error) {
	b, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	mod := strings.TrimSpace(string(b))
	if mod == "" || mod == os.DevNull {
		return "", errors.New("not inside the atsss module")
	}
	return filepath.Dir(mod), nil
}

// Ports returns an N4 (UDP) and a metrics (TCP) address on 127.0.0.1 that
// were free a moment ago.
func Ports() (n4, metrics netip.AddrPort, err error) {
	udp, err := FreePort(true)
	if err != nil {
		return n4, metrics, err
	}
	tcp, err := FreePort(false)
	if err != nil {
		return n4, metrics, err
	}
	lo := netip.MustParseAddr("127.0.0.1")
	return netip.AddrPortFrom(lo, udp), netip.AddrPortFrom(lo, tcp), nil
}

// Proxy and PMF address, and the PMF port base, of Config.
const (
	ProxyAddr = "203.0.113.1"
	ProxyPort = 8803
	PMFPort   = 20000
)

// Config returns an atsssd configuration (for Start) on loopback: N4 on n4,
// /metrics and /sessions on metrics, peers from 127.0.0.0/8, MPTCP proxy,
// ATSSS-LL and PMF, and link-specific addresses from pools (3GPP,
// non-3GPP). Callers change the map for their case. Heartbeats are
// hourly: the SMFs of tests are processes that come and go between steps,
// and must not be found lost and purged mid-test.
func Config(n4, metrics netip.AddrPort, pools [2]string) map[string]any {
	return map[string]any{
		"log_level":      "info", // Start waits for the "serving N4" line
		"metrics_listen": metrics.String(),
		"pfcp": map[string]any{
			"node_id":            n4.Addr().String(),
			"listen":             []string{n4.String()},
			"allowed_peers":      []string{"127.0.0.0/8"},
			"heartbeat_interval": "1h",
			"atsss": map[string]any{
				"atsss_ll": true,
				"mptcp": map[string]any{
					"address4": ProxyAddr, "port": ProxyPort,
					"link_specific_pools": map[string]any{"3gpp": []string{pools[0]}, "non3gpp": []string{pools[1]}},
				},
				"pmf": map[string]any{"address4": ProxyAddr, "port_base": PMFPort},
			},
		},
	}
}

// FreePort returns a UDP (udp=true) or TCP port on 127.0.0.1 that was free
// a moment ago.
func FreePort(udp bool) (uint16, error) {
	if udp {
		c, err := net.ListenPacket("udp4", "127.0.0.1:0")
		if err != nil {
			return 0, err
		}
		defer c.Close()
		return uint16(c.LocalAddr().(*net.UDPAddr).Port), nil
	}
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return uint16(l.Addr().(*net.TCPAddr).Port), nil
}

// Daemon is a running atsssd.
type Daemon struct {
	N4      netip.AddrPort
	Metrics netip.AddrPort
	Config  string // path of the configuration file
	// HTTP fetches /sessions and /metrics; nil: http.DefaultClient.
	HTTP *http.Client

	cmd  *exec.Cmd
	log  *LineBuffer
	done chan error
}

// Start runs the atsssd binary with cfg (a YAML-encodable value, usually a
// map) written to dir/atsssd.yaml, and waits until it serves N4. cfg must
// set pfcp.listen and metrics_listen to the addresses given as n4 and
// metrics.
func Start(ctx context.Context, bin, dir string, cfg any, n4, metrics netip.AddrPort) (*Daemon, error) {
	return StartIn(ctx, exec.Command, bin, dir, cfg, n4, metrics)
}

// Command makes the command that runs a program: exec.Command, or one that
// runs it elsewhere, such as inside a lab's network namespace.
type Command func(name string, args ...string) *exec.Cmd

// StartIn is Start with the daemon run by command. Set the returned
// Daemon's HTTP to reach its metrics address where the test process cannot.
func StartIn(ctx context.Context, command Command, bin, dir string, cfg any, n4, metrics netip.AddrPort) (*Daemon, error) {
	b, err := yaml.Marshal(cfg)
	if err != nil {
		return nil, err
	}
	path := filepath.Join(dir, "atsssd.yaml")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		return nil, err
	}
	return startConfig(ctx, command, bin, path, n4, metrics)
}

// StartConfig runs atsssd on an existing configuration file.
func StartConfig(ctx context.Context, bin, path string, n4, metrics netip.AddrPort) (*Daemon, error) {
	return startConfig(ctx, exec.Command, bin, path, n4, metrics)
}

func startConfig(ctx context.Context, command Command, bin, path string, n4, metrics netip.AddrPort) (*Daemon, error) {
	d := &Daemon{N4: n4, Metrics: metrics, Config: path, log: &LineBuffer{}, done: make(chan error, 1)}
	d.cmd = command(bin, "-config", path)
	stderr, err := d.cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := d.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start atsssd: %w", err)
	}
	serving := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		once := sync.Once{}
		for sc.Scan() {
			line := sc.Text()
			d.log.WriteLine(line)
			if strings.Contains(line, `"serving N4"`) {
				once.Do(func() { close(serving) })
			}
		}
		d.done <- d.cmd.Wait()
	}()
	select {
	case <-serving:
		return d, nil
	case err := <-d.done:
		return nil, fmt.Errorf("atsssd exited before serving (%v):\n%s", err, d.Log())
	case <-ctx.Done():
		d.Kill()
		return nil, fmt.Errorf("atsssd did not start: %w\n%s", ctx.Err(), d.Log())
	}
}

// Log returns what atsssd has logged so far.
func (d *Daemon) Log() string { return d.log.String() }

// PID returns the daemon's process ID.
func (d *Daemon) PID() int { return d.cmd.Process.Pid }

// Stop sends SIGTERM and waits for a clean exit.
func (d *Daemon) Stop(ctx context.Context) error {
	if err := d.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		return err
	}
	select {
	case err := <-d.done:
		d.done <- err
		return err
	case <-ctx.Done():
		d.Kill()
		return ctx.Err()
	}
}

// Kill sends SIGKILL (kill -9) and waits for the process to go.
func (d *Daemon) Kill() {
	_ = d.cmd.Process.Kill()
	err := <-d.done
	d.done <- err
}

func (d *Daemon) client() *http.Client {
	if d.HTTP != nil {
		return d.HTTP
	}
	return http.DefaultClient
}

// Sessions fetches the daemon's sessions from /sessions.
func (d *Daemon) Sessions(ctx context.Context) ([]*atsss.Session, error) {
	var out []*atsss.Session
	return out, d.getJSON(ctx, "/sessions", &out)
}

// Connections fetches the MPTCP proxy's connections from /connections.
func (d *Daemon) Connections(ctx context.Context) ([]mptcpproxy.Connection, error) {
	var out []mptcpproxy.Connection
	return out, d.getJSON(ctx, "/connections", &out)
}

// Paths fetches what the proxy's steering knows of each session's accesses
// from /paths.
func (d *Daemon) Paths(ctx context.Context) ([]mptcpproxy.SessionPaths, error) {
	var out []mptcpproxy.SessionPaths
	return out, d.getJSON(ctx, "/paths", &out)
}

// getJSON decodes the JSON the daemon serves at path into v.
func (d *Daemon) getJSON(ctx context.Context, path string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+d.Metrics.String()+path, nil)
	if err != nil {
		return err
	}
	resp, err := d.client().Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		return fmt.Errorf("%s: %s: %s", path, resp.Status, b)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// Metric returns the value of one Prometheus sample of /metrics, named with
// its labels exactly as exposed (e.g. `atsss_pfcp_sessions`), or 0.
func (d *Daemon) Metric(ctx context.Context, sample string) (float64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+d.Metrics.String()+"/metrics", nil)
	if err != nil {
		return 0, err
	}
	resp, err := d.client().Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		name, value, ok := strings.Cut(sc.Text(), " ")
		if ok && name == sample {
			return strconv.ParseFloat(value, 64)
		}
	}
	return 0, sc.Err()
}

// RSS returns the daemon's resident set size in bytes (VmRSS).
func (d *Daemon) RSS() (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", d.PID()))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10, err
		}
	}
	return 0, errors.New("no VmRSS in /proc status")
}

// LineBuffer collects the output lines of a process, written by one
// goroutine and read by others. Safe for concurrent use.
type LineBuffer struct {
	mu sync.Mutex // guards b
	b  strings.Builder
}

// WriteLine appends one line.
func (l *LineBuffer) WriteLine(s string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.b.WriteString(s)
	l.b.WriteByte('\n')
}

// String returns every line so far.
func (l *LineBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// WaitFor polls cond every 20 ms until it returns true or ctx ends.
func WaitFor(ctx context.Context, cond func() bool) error {
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for !cond() {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
	return nil
}
