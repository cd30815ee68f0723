package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/known/durationpb"
	"gopkg.in/yaml.v3"

	atsssv1 "github.com/openatsss/atsss/api/atsss/v1"
)

func TestSessionsList(t *testing.T) {
	srv := startServer(t)
	want := &atsssv1.ListSessionsResponse{Sessions: testSessions()}

	t.Run("json", func(t *testing.T) {
		r := srv.plain(t, "-o", "json", "sessions", "list")
		r.want(t, exitOK)
		got := &atsssv1.ListSessionsResponse{}
		if err := protojson.Unmarshal([]byte(r.stdout), got); err != nil {
			t.Fatalf("%v:\n%s", err, r.stdout)
		}
		// The fake serves one session per page: both pages are fetched.
		if d := cmp.Diff(want, got, protocmp.Transform()); d != "" {
			t.Errorf("(-want +got):\n%s", d)
		}
	})
	t.Run("yaml", func(t *testing.T) {
		r := srv.plain(t, "-o", "yaml", "sessions", "list")
		r.want(t, exitOK)
		if !strings.HasPrefix(r.stdout, "sessions:\n  - seid: \"1\"\n    peer: smf-1\n") {
			t.Errorf("yaml:\n%s", r.stdout)
		}
		// The YAML is the protojson document: it converts back losslessly.
		if got := yamlToMessage(t, r.stdout, &atsssv1.ListSessionsResponse{}); !proto.Equal(got, want) {
			t.Errorf("yaml round trip (-want +got):\n%s", cmp.Diff(want, got, protocmp.Transform()))
		}
	})
	t.Run("table", func(t *testing.T) {
		r := srv.plain(t, "sessions", "list")
		r.want(t, exitOK)
		lines := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
		wantLines := []string{
			"SEID  PEER   UE ADDRESSES              MAR  DL STEERING           SOURCE          ACCESS    AVAIL  RTT      LOSS  DL BYTES  UL BYTES",
			"1     smf-1  198.51.100.7,2001:db8::7  1    LOAD_BALANCING 80/20  policy lb-8020  3GPP      up     12.35ms  0.5%  1.2 MB    3.4 kB",
			"                                                                                  NON_3GPP  down   -        -     0 B       0 B",
			"2     smf-2  198.51.100.8",
		}
		if d := cmp.Diff(wantLines, lines); d != "" {
			t.Errorf("table (-want +got):\n%s", d)
		}
	})
	t.Run("filters", func(t *testing.T) {
		r := srv.plain(t, "-o", "json", "sessions", "list", "--peer", "smf-2", "--ue-address", "198.51.100.8", "--mode", "load-balancing")
		r.want(t, exitOK)
		srv.api.mu.Lock()
		req := srv.api.listReqs[len(srv.api.listReqs)-1]
		srv.api.mu.Unlock()
		wantReq := &atsssv1.ListSessionsRequest{Peer: "smf-2", UeAddress: "198.51.100.8",
			SteeringMode: atsssv1.SteeringModeValue_STEERING_MODE_VALUE_LOAD_BALANCING}
		if !proto.Equal(req, wantReq) {
			t.Errorf("request %v, want %v", req, wantReq)
		}
	})
	t.Run("bad filters", func(t *testing.T) {
		srv.plain(t, "sessions", "list", "--ue-address", "nope").want(t, exitUsage)
		r := srv.plain(t, "sessions", "list", "--mode", "fastest")
		r.want(t, exitUsage)
		if !strings.Contains(r.stderr, "want one of ACTIVE_STANDBY, LOAD_BALANCING") {
			t.Errorf("stderr %q", r.stderr)
		}
	})
}

// yamlToMessage decodes YAML output into m through JSON.
func yamlToMessage[M proto.Message](t *testing.T, s string, m M) M {
	t.Helper()
	var v any
	if err := yaml.Unmarshal([]byte(s), &v); err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if err := protojson.Unmarshal(b, m); err != nil {
		t.Fatalf("%v:\n%s", err, b)
	}
	return m
}

func TestSessionsGet(t *testing.T) {
	srv := startServer(t)
	t.Run("json", func(t *testing.T) {
		r := srv.plain(t, "-o", "json", "sessions", "get", "1")
		r.want(t, exitOK)
		got := &atsssv1.Session{}
		if err := protojson.Unmarshal([]byte(r.stdout), got); err != nil {
			t.Fatal(err)
		}
		if !proto.Equal(got, testSessions()[0]) {
			t.Errorf("got %v", got)
		}
	})
	t.Run("yaml hex seid", func(t *testing.T) {
		r := srv.plain(t, "-o", "yaml", "sessions", "get", "0x2")
		r.want(t, exitOK)
		if want := "seid: \"2\"\npeer: smf-2\nueAddresses:\n  - 198.51.100.8\n"; r.stdout != want {
			t.Errorf("yaml %q, want %q", r.stdout, want)
		}
	})
	t.Run("table", func(t *testing.T) {
		r := srv.plain(t, "sessions", "get", "1")
		r.want(t, exitOK)
		for _, want := range []string{
			"UE addresses:  198.51.100.7, 2001:db8::7\n",
			"S-NSSAI:       1/010203\n",
			"1    policy lb-8020  MPTCP     LOAD_BALANCING 80/20  -            MPTCP ACTIVE_STANDBY 3GPP>NON_3GPP",
			"3GPP      up     -      -           12.35ms  0.5%  1.2 MB    3.4 kB    1\n",
			"permit out ip from 203.0.113.128/25 to assigned",
		} {
			if !strings.Contains(r.stdout, want) {
				t.Errorf("table lacks %q:\n%s", want, r.stdout)
			}
		}
	})
	t.Run("not found", func(t *testing.T) {
		r := srv.plain(t, "sessions", "get", "9")
		r.want(t, exitStatusBase+5)
		if r.stderr != "atsssctl: NotFound: session 9 not found\n" {
			t.Errorf("stderr %q", r.stderr)
		}
	})
	for _, arg := range []string{"x", "0", "-1"} {
		t.Run("bad seid "+arg, func(t *testing.T) {
			srv.plain(t, "sessions", "get", "--", arg).want(t, exitUsage)
		})
	}
}

func TestSessionsWatchLines(t *testing.T) {
	srv := startServer(t)
	r := srv.plain(t, "sessions", "watch", "1", "--interval", "2s")
	r.want(t, exitOK)
	want := []string{
		`2026-01-02T03:04:01.000Z session ESTABLISHED seid=1 peer=smf-1 ue=198.51.100.7,2001:db8::7 mars="1:LOAD_BALANCING 80/20 (policy lb-8020)"`,
		`2026-01-02T03:04:02.000Z path UNAVAILABLE seid=1 access=NON_3GPP avail=down rtt=- loss=- subflows=0`,
		`2026-01-02T03:04:03.000Z sample seid=1 access=3GPP dl=12.0Mbit/s ul=1.5Mbit/s rtt=20ms loss=0.1%`,
	}
	if d := cmp.Diff(want, strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")); d != "" {
		t.Errorf("lines (-want +got):\n%s", d)
	}
	wantReq := &atsssv1.WatchSessionsRequest{Seid: 1, Initial: true, SampleInterval: durationpb.New(2 * time.Second)}
	if got := srv.api.gotWatchReqs(); len(got) != 1 || !proto.Equal(got[0], wantReq) {
		t.Errorf("requests %v, want [%v]", got, wantReq)
	}
}

func TestSessionsWatchJSON(t *testing.T) {
	srv := startServer(t)
	r := srv.plain(t, "-o", "json", "sessions", "watch", "--interval", "0")
	r.want(t, exitOK)
	lines := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
	if len(lines) != 3 {
		t.Fatalf("want 3 JSON lines:\n%s", r.stdout)
	}
	for i, l := range lines {
		got := &atsssv1.WatchSessionsResponse{}
		if err := protojson.Unmarshal([]byte(l), got); err != nil {
			t.Fatal(err)
		}
		if !proto.Equal(got, testWatch()[i]) {
			t.Errorf("line %d: %v, want %v", i, got, testWatch()[i])
		}
	}
	if got := srv.api.gotWatchReqs(); got[0].GetSampleInterval() != nil || got[0].GetSeid() != 0 {
		t.Errorf("request %v, want all sessions and no samples", got[0])
	}
	srv.plain(t, "sessions", "watch", "--interval", "10ms").want(t, exitUsage)
	srv.plain(t, "sessions", "watch", "1", "2").want(t, exitUsage)
}

// lineCounter signals once n lines were written.
type lineCounter struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	n     int
	reach chan struct{}
}

func (w *lineCounter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	before := w.n
	w.n += bytes.Count(p, []byte("\n"))
	if before < 3 && w.n >= 3 {
		close(w.reach)
	}
	return len(p), nil
}

// TestSessionsWatchInterrupt cancels a watch, as Ctrl-C does, while the
// server keeps the stream open: the command ends with exit code 0.
func TestSessionsWatchInterrupt(t *testing.T) {
	srv := startServer(t)
	srv.api.watchUntilCancel = true
	out := &lineCounter{reach: make(chan struct{})}
	var errb bytes.Buffer
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan int)
	go func() {
		done <- run(ctx, []string{"--plaintext", "--addr", srv.addr, "sessions", "watch"}, strings.NewReader(""), out, &errb, func(string) string { return "" })
	}()
	<-out.reach
	cancel()
	if code := <-done; code != exitOK {
		t.Errorf("exit code %d, want 0; stderr %q", code, errb.String())
	}
}

// TestSessionsWatchLive runs the live view as if stdout were a terminal:
// the last frame shows the folded state of the three messages.
func TestSessionsWatchLive(t *testing.T) {
	srv := startServer(t)
	var out, errb bytes.Buffer
	a := &app{stdin: strings.NewReader(""), stdout: &out, stderr: &errb, getenv: func(string) string { return "" },
		isTerminal: func(io.Writer) bool { return true }}
	if code := a.execute(t.Context(), []string{"--plaintext", "--addr", srv.addr, "sessions", "watch"}); code != exitOK {
		t.Fatalf("exit code %d: %s", code, errb.String())
	}
	frames := strings.Split(out.String(), "\x1b[H")
	last := frames[len(frames)-1]
	for _, want := range []string{
		"1     198.51.100.7,2001:db8::7  3GPP      up     12.0 Mbit/s  1.5 Mbit/s  20ms  0.1%  1         1:LOAD_BALANCING 80/20 (policy lb-8020)\x1b[K\n",
		"                                NON_3GPP  down   -            -           -     -     0\x1b[K\n",
		"Latest events:\x1b[K\n",
		"path UNAVAILABLE seid=1 access=NON_3GPP",
	} {
		if !strings.Contains(last, want) {
			t.Errorf("last frame lacks %q:\n%s", want, last)
		}
	}
	if !strings.HasSuffix(last, "\x1b[J") {
		t.Errorf("frame does not clear the rest of the screen: %q", last)
	}
}

func TestLiveTableRender(t *testing.T) {
	lt := newLiveTable()
	for seid := range uint64(30) {
		lt.apply(&atsssv1.WatchSessionsResponse{Event: &atsssv1.WatchSessionsResponse_ThroughputSample{
			ThroughputSample: &atsssv1.ThroughputSample{Seid: seid + 1, Access: atsssv1.AccessType_ACCESS_TYPE_3GPP, DownlinkBps: 1000},
		}})
	}
	lt.apply(&atsssv1.WatchSessionsResponse{Event: &atsssv1.WatchSessionsResponse_SessionEvent{SessionEvent: &atsssv1.SessionEvent{
		Type: atsssv1.SessionEventType_SESSION_EVENT_TYPE_DELETED, Session: &atsssv1.Session{Seid: 30},
	}}})
	var b bytes.Buffer
	if err := lt.render(&b, "header", 40, 12); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(b.String(), "\x1b[J"), "\x1b[K\n")
	lines = lines[:len(lines)-1]
	if len(lines) > 12 {
		t.Errorf("%d lines for a 12-line terminal:\n%s", len(lines), b.String())
	}
	for _, l := range lines {
		if len([]rune(strings.TrimPrefix(l, "\x1b[H"))) > 40 {
			t.Errorf("line wider than 40: %q", l)
		}
	}
	if !strings.Contains(b.String(), "... 24 more rows") {
		t.Errorf("no truncation note (29 rows, 5 shown):\n%s", b.String())
	}
}
