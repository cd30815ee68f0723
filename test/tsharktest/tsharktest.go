// Package tsharktest runs tshark for tests, as a decoder written
// independently of atsss and go-pfcp: a live capture on an interface into a
// pcap file, then the fields and the expert findings tshark reads from it.
//
// It must not import atsss packages: what it reports is tshark's view alone.
package tsharktest

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Path returns the path of tshark. Without tshark the test is skipped,
// except under CI=true, where it fails.
func Path(t testing.TB) string {
	t.Helper()
	path, err := exec.LookPath("tshark")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("tshark is required under CI: %v", err)
		}
		t.Skipf("no tshark: %v", err)
	}
	return path
}

// Capture is a running `tshark -i IFACE -f FILTER -w FILE`.
type Capture struct {
	cmd    *exec.Cmd
	stderr *lockedBuffer
	done   chan struct{} // closed when the process has exited
	err    error         // the exit status; read after done
}

// Start starts tshark capturing the packets on iface that the capture
// filter (BPF syntax) lets through into the pcap file at path, and returns
// once tshark is capturing. tshark runs in a process group of its own, with
// its dumpcap, so that Kill can end both.
//
// tshark prints "Capturing on" before its dumpcap has opened the interface:
// packets sent right after it are lost. Start waits for the "Capture
// started." tshark logs once dumpcap has, and gives up on it after
// startedGrace for a tshark that does not log it.
func Start(ctx context.Context, bin, iface, filter, path string) (*Capture, error) {
	c := &Capture{stderr: &lockedBuffer{}, done: make(chan struct{})}
	c.cmd = exec.Command(bin, "-i", iface, "-f", filter, "-w", path)
	c.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stderr, err := c.cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := c.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start tshark: %w", err)
	}
	capturing, started := make(chan struct{}), make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stderr)
		var onCapturing, onStarted sync.Once
		for sc.Scan() {
			line := sc.Text()
			c.stderr.writeLine(line)
			if strings.Contains(line, "Capturing on") {
				onCapturing.Do(func() { close(capturing) })
			}
			if strings.Contains(line, "Capture started") {
				onStarted.Do(func() { close(started) })
			}
		}
		c.err = c.cmd.Wait()
		close(c.done)
	}()
	// wait waits for ch to close, or for grace to pass unless it is 0.
	wait := func(what string, ch <-chan struct{}, grace time.Duration) error {
		var timeout <-chan time.Time
		if grace > 0 {
			timer := time.NewTimer(grace)
			defer timer.Stop()
			timeout = timer.C
		}
		select {
		case <-ch:
		case <-timeout:
		case <-c.done:
			return fmt.Errorf("tshark exited before it could %s (%v):\n%s", what, c.err, c.stderr)
		case <-ctx.Done():
			c.Kill()
			return fmt.Errorf("tshark did not %s: %w\n%s", what, ctx.Err(), c.stderr)
		}
		return nil
	}
	if err := wait("capture", capturing, 0); err != nil {
		return nil, err
	}
	if err := wait("start capturing", started, startedGrace); err != nil {
		return nil, err
	}
	return c, nil
}

// startedGrace is how long Start waits for "Capture started." after
// "Capturing on".
const startedGrace = 5 * time.Second

// Stop interrupts the capture with SIGINT, as Ctrl-C does, so that tshark
// writes out what it holds and closes the file, and waits for it to exit.
// If it has not exited when ctx ends, Stop kills it. Stopping a capture
// that has ended returns its exit status again.
func (c *Capture) Stop(ctx context.Context) error {
	select {
	case <-c.done:
		return c.exitErr()
	default:
	}
	if err := c.cmd.Process.Signal(syscall.SIGINT); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return err
	}
	select {
	case <-c.done:
		return c.exitErr()
	case <-ctx.Done():
		c.Kill()
		return fmt.Errorf("tshark did not stop on SIGINT: %w", ctx.Err())
	}
}

// exitErr is the result of a capture that has ended: a tshark stopped by
// SIGINT exits with status 0.
func (c *Capture) exitErr() error {
	if c.err != nil {
		return fmt.Errorf("tshark: %w\n%s", c.err, c.stderr)
	}
	return nil
}

// Kill ends tshark and its dumpcap at once (SIGKILL to their process
// group) and waits for tshark to exit. Safe to call after Stop.
func (c *Capture) Kill() {
	select {
	case <-c.done:
		return
	default:
	}
	_ = syscall.Kill(-c.cmd.Process.Pid, syscall.SIGKILL)
	<-c.done
}

// Log returns what tshark has written to stderr so far.
func (c *Capture) Log() string { return c.stderr.String() }

// Reader decodes a capture file.
type Reader struct {
	Bin  string // tshark
	PCAP string // the capture file
	// Args go before the others on every command line, such as a
	// decode-as rule: "-d", "udp.port==18805,pfcp" for PFCP off port 8805.
	Args []string
}

// Frame holds the fields tshark printed for one frame, by field name: the
// values of every occurrence of a field in the frame, in order, joined by
// commas; "" when the field does not occur.
type Frame map[string]string

// Fields returns, for each frame the display filter lets through ("" for
// all), the fields named.
func (r Reader) Fields(ctx context.Context, filter string, fields ...string) ([]Frame, error) {
	args := []string{"-T", "fields", "-E", "separator=/t", "-E", "occurrence=a", "-E", "aggregator=,"}
	if filter != "" {
		args = append(args, "-Y", filter)
	}
	for _, f := range fields {
		args = append(args, "-e", f)
	}
	out, err := r.run(ctx, args...)
	if err != nil {
		return nil, err
	}
	var frames []Frame
	for line := range strings.Lines(out) {
		values := strings.Split(strings.TrimSuffix(line, "\n"), "\t")
		if len(values) != len(fields) {
			return nil, fmt.Errorf("tshark printed %d fields, want %d: %q", len(values), len(fields), line)
		}
		f := make(Frame, len(fields))
		for i, name := range fields {
			f[name] = values[i]
		}
		frames = append(frames, f)
	}
	return frames, nil
}

// Suspicious returns the one-line summaries of the frames that tshark
// finds malformed or has expert information of severity warning or error
// about; "" when there is none.
func (r Reader) Suspicious(ctx context.Context) (string, error) {
	return r.run(ctx, "-Y", "_ws.malformed || _ws.expert.severity >= warning")
}

// Expert returns tshark's expert information summary of the capture, to
// explain what Suspicious found.
func (r Reader) Expert(ctx context.Context) (string, error) {
	return r.run(ctx, "-q", "-z", "expert")
}

// run runs tshark on the capture and returns its standard output. Its
// standard error is part of an error only: tshark warns there about
// running as root.
func (r Reader) run(ctx context.Context, args ...string) (string, error) {
	args = append(append(append([]string{}, r.Args...), "-r", r.PCAP), args...)
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, r.Bin, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("tshark %s: %w\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return stdout.String(), nil
}

// lockedBuffer collects tshark's stderr from the reader goroutine.
type lockedBuffer struct {
	mu sync.Mutex // guards b
	b  strings.Builder
}

func (l *lockedBuffer) writeLine(s string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.b.WriteString(s)
	l.b.WriteByte('\n')
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
