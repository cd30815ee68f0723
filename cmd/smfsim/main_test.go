package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	pfcplib "github.com/wmnsk/go-pfcp"
	"github.com/wmnsk/go-pfcp/ie"
	"github.com/wmnsk/go-pfcp/message"

	"github.com/openatsss/atsss/atsss"
	"github.com/openatsss/atsss/pfcp/atsssie"
	"github.com/openatsss/atsss/pfcp/pfcptest"
)

func TestMain(m *testing.M) {
	pfcplib.DisableLogging()
	os.Exit(m.Run())
}

// smfsim runs the command line args against upf and returns the exit
// status, stdout and stderr.
func smfsim(t *testing.T, upf *pfcptest.FakeUPF, args ...string) (int, string, string) {
	t.Helper()
	if upf != nil {
		args = append(args, "-upf", upf.Addr().String(), "-local", "127.0.0.1:0", "-t1", "100ms")
	}
	var stdout, stderr bytes.Buffer
	code := run(t.Context(), args, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

// jsonLines decodes smfsim's -o json output.
func jsonLines[T any](t *testing.T, out string) []T {
	t.Helper()
	var lines []T
	s := bufio.NewScanner(strings.NewReader(out))
	for s.Scan() {
		var l T
		if err := json.Unmarshal(s.Bytes(), &l); err != nil {
			t.Fatalf("%v: %s", err, s.Text())
		}
		lines = append(lines, l)
	}
	return lines
}

func TestUsage(t *testing.T) {
	tests := []struct {
		args    []string
		code    int
		wantErr string
	}{
		{nil, exitUsage, "Usage:"},
		{[]string{"help"}, exitOK, "Commands:"},
		{[]string{"dance"}, exitUsage, `unknown command "dance"`},
		{[]string{"establish", "-h"}, exitOK, "-thresholds"},
		{[]string{"establish", "-bogus"}, exitUsage, "flag provided but not defined: -bogus"},
		{[]string{"establish", "-mode", "fastest"}, exitUsage, `unknown steering mode "fastest"`},
		{[]string{"establish", "-weights", "70"}, exitUsage, "want 3GPP/non-3GPP"},
		{[]string{"establish", "-atsss", "mptcp,quic"}, exitUsage, `-atsss: unknown "quic"`},
		{[]string{"establish", "-expect", "fine"}, exitUsage, `unknown cause "fine"`},
		{[]string{"establish", "-snssai", "1-ffffff"}, exitUsage, "reserved value for no SD"},
		{[]string{"establish", "-snssai", "1-0102"}, exitUsage, "six hexadecimal digits"},
		{[]string{"establish", "-o", "xml"}, exitUsage, `-o "xml"`},
		{[]string{"establish", "extra"}, exitUsage, `unexpected argument "extra"`},
		{[]string{"modify", "-mode", "redundant"}, exitUsage, "-up-seid missing"},
		{[]string{"modify", "-up-seid", "2", "-available", "3gpp", "-mode", "redundant"}, exitUsage, "separate requests"},
		{[]string{"modify", "-up-seid", "2", "-remove", "wifi"}, exitUsage, `unknown access "wifi"`},
		{[]string{"modify", "-up-seid", "2", "-accesses", "3gpp"}, exitUsage, "flag provided but not defined: -accesses"},
		{[]string{"delete"}, exitUsage, "-up-seid missing"},
		{[]string{"load", "-ue-pool", "198.18.0.0/24", "-sessions", "300"}, exitUsage, "too few addresses for 300 sessions"},
		{[]string{"run", "-scenario", "testdata/missing.yaml"}, exitUsage, "no such file"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			code, _, stderr := smfsim(t, nil, tt.args...)
			if code != tt.code || !strings.Contains(stderr, tt.wantErr) {
				t.Errorf("exit %d, stderr:\n%s\nwant exit %d and %q", code, stderr, tt.code, tt.wantErr)
			}
		})
	}
}

func TestSessionFlags(t *testing.T) {
	var sf sessionFlags
	fs := newFlagSet("establish", "", &printer{w: new(bytes.Buffer), errw: new(bytes.Buffer)}, new(node))
	sf.register(fs)
	err := fs.Parse([]string{"-seid", "7", "-n3iwf", "", "-functionality", "atsss-ll", "-mode", "active-standby",
		"-priorities", "active/-", "-weights", "", "-thresholds", "rtt=20ms", "-atsss", "atsss-ll,pmf,pqpm"})
	if err != nil {
		t.Fatal(err)
	}
	spec, err := sf.spec()
	if err != nil {
		t.Fatal(err)
	}
	want := pfcptest.MARSpec{
		ID: 1, Functionality: atsss.FunctionalityATSSSLL, Mode: atsss.ModeActiveStandby,
		Legs:       [2]pfcptest.LegSpec{{Present: true, Priority: atsss.OptionalPriority{Value: atsss.PriorityActive, Set: true}}},
		Thresholds: &atsss.Thresholds{RTT: atsss.OptionalUint16{Value: 20, Set: true}},
	}
	if diff := cmp.Diff([]pfcptest.MARSpec{want}, spec.MARs); diff != "" {
		t.Errorf("MARs (-want +got):\n%s", diff)
	}
	wantATSSS := atsss.ATSSSRequest{ATSSSLL: true, PMF: true, PQPM: true, QFIs: []uint8{9}}
	if spec.SEID != 7 || spec.N3IWF != nil || spec.GNB == nil || !cmp.Equal(spec.ATSSS, wantATSSS) {
		t.Errorf("SEID %v, N3IWF %v, GNB %v, ATSSS %+v", spec.SEID, spec.N3IWF, spec.GNB, spec.ATSSS)
	}
	if err := spec.Session().Validate(); err != nil {
		t.Error(err)
	}
}

func writeScenario(t *testing.T, yaml string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "scenario.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestScenarioErrors(t *testing.T) {
	tests := map[string]struct{ yaml, wantErr string }{
		"unknown step":        {"steps:\n  - associate: {}\n  - dance: {}\n", "line 3: field dance not found in type main.step"},
		"unknown spec field":  {"steps:\n  - establish: {seid: 1, ue_ipv4: 203.0.113.1}\n", "field ue_ipv4 not found in type pfcptest.SessionSpec"},
		"unknown MAR field":   {"steps:\n  - establish:\n      mars:\n        - {id: 1, functionality: mptcp, mode: redundant, weight: 50/50}\n", "line 4: field weight not found in type pfcptest.MARText"},
		"unknown change":      {"steps:\n  - modify: {seid: 1, mar: {id: 1, mode: redundant, accesses: 3gpp}}\n", "step 1: modify: MAR 1: accesses and sdf are set when a MAR is created"},
		"unknown tunnel key":  {"steps:\n  - establish: {gnb: {upf: {addr: 192.0.2.1, tied: 1}}}\n", "field tied not found in type pfcptest.Endpoint"},
		"two actions":         {"steps:\n  - associate: {}\n    release: {}\n", "step 1: associate and release in one step"},
		"no action":           {"steps:\n  - expect: accepted\n", "step 1: no action"},
		"expect on a wait":    {"steps:\n  - wait: 1s\n    expect: accepted\n", "step 1: expect on a step that sends nothing"},
		"bad cause":           {"steps:\n  - associate: {}\n    expect: fine\n", `unknown cause "fine"`},
		"bad access":          {"steps:\n  - modify: {seid: 1, availability: {access: wifi}}\n", `step 1: modify: availability: unknown access "wifi"`},
		"modify nothing":      {"steps:\n  - modify: {seid: 1}\n", "want one of mar and availability"},
		"bad duration":        {"steps:\n  - wait: soon\n", "soon"},
		"no steps":            {"steps: []\n", "no steps"},
		"bad mode in a spec":  {"steps:\n  - establish:\n      mars: [{id: 3, functionality: mptcp, mode: fast}]\n", `MAR 3: unknown steering mode "fast"`},
		"address in the seid": {"steps:\n  - delete: {seid: 192.0.2.1}\n", "cannot unmarshal"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := loadScenario(writeScenario(t, tt.yaml))
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error = %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

// TestScenario runs the example scenarios against a UPF that accepts
// everything and checks what it was sent.
func TestScenario(t *testing.T) {
	files, err := filepath.Glob("testdata/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no scenarios: %v", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			upf := pfcptest.NewFakeUPF(t, nil)
			code, stdout, stderr := smfsim(t, upf, "run", "-scenario", f, "-serve=false", "-o", "json")
			if code != exitOK {
				t.Fatalf("exit %d\n%s%s", code, stdout, stderr)
			}
			for _, o := range jsonLines[outcome](t, stdout) {
				if !o.OK {
					t.Errorf("step %d %s: %+v", o.Step, o.Request, o)
				}
			}
		})
	}

	// The example's steps, as the UPF saw them.
	upf := pfcptest.NewFakeUPF(t, nil)
	if code, stdout, stderr := smfsim(t, upf, "establish", "-scenario", "testdata/mptcp-lb-ll-as.yaml"); code != exitOK {
		t.Fatalf("exit %d\n%s%s", code, stdout, stderr)
	}
	var got []string
	for _, m := range upf.Requests() {
		got = append(got, describe(m))
	}
	want := []string{
		"Association Setup Request",
		"Session Establishment Request MARs 1 2",
		"Session Modification Request 0x8000000000000001 169{170=0001 175{173=64} 176{}}",
		"Session Modification Request 0x8000000000000001 169{170=0002 176{}}",
		"Session Modification Request 0x8000000000000001 219=01",
		"Session Modification Request 0x8000000000000001 219=05",
		"Session Modification Request 0x8000000000000001 169{170=0001 175{173=46} 167{108=00000005 173=1e 81=00000003}}",
		"Session Modification Request 0x8000000000000001 169{170=0002 167{108=00000007 174=01 81=00000003}}",
		"Session Deletion Request 0x8000000000000001",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("requests (-want +got):\n%s", diff)
	}
}

// describe writes what a test checks of a request.
func describe(m message.Message) string {
	s := m.MessageTypeName()
	if m.SEID() != 0 {
		s += fmt.Sprintf(" %#x", m.SEID())
	}
	switch m := m.(type) {
	case *message.SessionEstablishmentRequest:
		s += " MARs"
		for _, mar := range m.CreateMAR {
			id, _ := mar.MARID()
			s += fmt.Sprintf(" %d", id)
		}
		for _, i := range []*ie.IE{m.APNDNN, m.SNSSAI} {
			if i != nil {
				s += " " + pfcptest.FormatIE(i)
			}
		}
	case *message.SessionModificationRequest:
		for _, i := range slices.Concat(m.UpdateMAR, m.AccessAvailabilityInformation) {
			s += " " + pfcptest.FormatIE(i)
		}
	}
	return s
}

func TestCommands(t *testing.T) {
	upf := pfcptest.NewFakeUPF(t, nil)
	code, stdout, stderr := smfsim(t, upf, "establish", "-seid", "0x10", "-o", "json")
	if code != exitOK {
		t.Fatalf("establish: exit %d\n%s%s", code, stdout, stderr)
	}
	lines := jsonLines[outcome](t, stdout)
	if len(lines) != 2 || lines[0].Request != "associate" || lines[1].Request != "establish" {
		t.Fatalf("establish printed %+v", lines)
	}
	est := lines[1]
	if est.SEID != 0x10 || est.UPSEID != pfcptest.FakeUPSEID(0x10) || est.ATSSS == nil || est.ATSSS.MPTCP == nil || est.ATSSS.ATSSSLL {
		t.Errorf("establish: %+v", est)
	}

	up := est.UPSEID.String()
	for _, args := range [][]string{
		{"modify", "-up-seid", up, "-mode", "active-standby", "-priorities", "active/standby"},
		{"modify", "-up-seid", up, "-mar", "1", "-remove", "non3gpp", "-weights", "100/-"},
		{"modify", "-up-seid", up, "-unavailable", "non3gpp"},
		{"modify", "-up-seid", up, "-add", "non3gpp", "-weights", "70/30", "-smi", "none"},
		{"delete", "-up-seid", up},
	} {
		if code, stdout, stderr := smfsim(t, upf, args...); code != exitOK {
			t.Fatalf("%v: exit %d\n%s%s", args, code, stdout, stderr)
		}
	}
	var got []string
	for _, m := range upf.Requests()[2:] {
		got = append(got, describe(m))
	}
	want := []string{
		"Session Modification Request 0x8000000000000010 169{170=0001 172=00 175{174=00} 176{174=01}}",
		"Session Modification Request 0x8000000000000010 169{170=0001 175{173=64} 176{}}",
		"Session Modification Request 0x8000000000000010 219=01",
		"Session Modification Request 0x8000000000000010 169{170=0001 175{173=46} 167{108=00000005 173=1e 81=00000003} 289=00}",
		"Session Deletion Request 0x8000000000000010",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("requests (-want +got):\n%s", diff)
	}
}

// TestDNNAndSNSSAI: -dnn and -snssai, and their scenario keys, put APN/DNN
// and S-NSSAI IEs in the establishment; without them neither is sent.
func TestDNNAndSNSSAI(t *testing.T) {
	upf := pfcptest.NewFakeUPF(t, nil)
	for _, args := range [][]string{
		{"establish", "-seid", "0x20", "-dnn", "internet", "-snssai", "1-010203"},
		{"establish", "-seid", "0x21", "-snssai", "2"},
		{"establish", "-seid", "0x22"},
		{"run", "-serve=false", "-scenario", writeScenario(t, "steps:\n  - associate: {}\n  - establish: {seid: 0x23, dnn: ims.mnc001.mcc001.gprs, snssai: 1-00000a}\n")},
	} {
		if code, stdout, stderr := smfsim(t, upf, args...); code != exitOK {
			t.Fatalf("%v: exit %d\n%s%s", args, code, stdout, stderr)
		}
	}
	var got []string
	for _, m := range upf.Requests() {
		if _, ok := m.(*message.SessionEstablishmentRequest); ok {
			got = append(got, describe(m))
		}
	}
	want := []string{
		"Session Establishment Request MARs 1 159=08696e7465726e6574 257=01010203",
		"Session Establishment Request MARs 1 257=02ffffff",
		"Session Establishment Request MARs 1",
		// The scenario's session has no MAR.
		"Session Establishment Request MARs 159=03696d73066d6e63303031066d636330303104" + "67707273 257=0100000a",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("establishments (-want +got):\n%s", diff)
	}
}

// TestExpect: the exit status says whether the Cause was the one expected.
func TestExpect(t *testing.T) {
	congested := func(req message.Message) message.Message {
		if _, ok := req.(*message.SessionEstablishmentRequest); ok {
			return message.NewSessionEstablishmentResponse(0, 0, 0, req.Sequence(), 0, ie.NewCause(uint8(atsssie.CauseCongestion)))
		}
		return pfcptest.Accept(req)
	}
	upf := pfcptest.NewFakeUPF(t, congested)
	code, stdout, _ := smfsim(t, upf, "establish")
	if code != exitUnexpected || !strings.Contains(stdout, "cause 74 (congestion) in") || !strings.Contains(stdout, "expected 1 (accepted)") {
		t.Errorf("exit %d, stdout:\n%s", code, stdout)
	}
	if code, stdout, stderr := smfsim(t, upf, "establish", "-expect", "congestion"); code != exitOK {
		t.Errorf("-expect congestion: exit %d\n%s%s", code, stdout, stderr)
	}
	scenario := writeScenario(t, "steps:\n  - associate: {}\n  - establish: {seid: 1}\n    expect: 74\n  - delete: {seid: 1}\n")
	code, stdout, stderr := smfsim(t, upf, "run", "-scenario", scenario, "-serve=false")
	if code != exitUnexpected || !strings.Contains(stderr, "no session with CP SEID 0x1") {
		t.Errorf("deleting a session never established: exit %d\n%s%s", code, stdout, stderr)
	}

	silent := pfcptest.NewFakeUPF(t, func(message.Message) message.Message { return nil })
	code, _, stderr = smfsim(t, silent, "associate", "-n1", "0")
	if code != exitUnexpected || !strings.Contains(stderr, "no response within 100ms (T1 100ms, N1 0)") {
		t.Errorf("silent UPF: exit %d, stderr:\n%s", code, stderr)
	}
}

func TestLoad(t *testing.T) {
	var n atomic.Int64
	halfFull := func(req message.Message) message.Message {
		if _, ok := req.(*message.SessionEstablishmentRequest); ok && n.Add(1)%2 == 0 {
			return message.NewSessionEstablishmentResponse(0, 0, 0, req.Sequence(), 0, ie.NewCause(uint8(atsssie.CauseNoResources)))
		}
		return pfcptest.Accept(req)
	}
	upf := pfcptest.NewFakeUPF(t, halfFull)
	accepted := filepath.Join(t.TempDir(), "accepted")
	code, stdout, stderr := smfsim(t, upf, "load", "-sessions", "200", "-concurrency", "8", "-delete", "-o", "json", "-accepted", accepted)
	if code != exitOK {
		t.Fatalf("exit %d\n%s%s", code, stdout, stderr)
	}
	lines := jsonLines[loadLine](t, stdout)
	r := lines[len(lines)-1]
	if r.Done != 200 || !cmp.Equal(r.Causes, map[uint8]int{1: 100, 75: 100}) || r.Failed != 0 || r.Deleted == nil || *r.Deleted != 100 {
		t.Errorf("load: %+v", r)
	}
	if r.Latency.P50 <= 0 || r.Latency.Max < r.Latency.P99 {
		t.Errorf("latency %+v", r.Latency)
	}

	// -accepted: a line per accepted session, CP SEIDs from -seid (1) on.
	b, err := os.ReadFile(accepted)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[atsss.SEID]bool{}
	for line := range strings.Lines(string(b)) {
		var cp, up atsss.SEID
		if _, err := fmt.Sscanf(line, "%d %d\n", &cp, &up); err != nil {
			t.Fatalf("-accepted line %q: %v", line, err)
		}
		if cp < 1 || cp > 200 || up != pfcptest.FakeUPSEID(cp) || seen[cp] {
			t.Errorf("-accepted line %q: want a new CP SEID in 1-200 and UP SEID %v", line, pfcptest.FakeUPSEID(cp))
		}
		seen[cp] = true
	}
	if len(seen) != 100 {
		t.Errorf("-accepted recorded %d sessions, want 100:\n%s", len(seen), b)
	}
}

// TestServe: run without a scenario associates, then prints the session
// reports the UPF sends until it is interrupted.
func TestServe(t *testing.T) {
	conn, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.MustParseAddrPort("127.0.0.1:0")))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var stdout, stderr bytes.Buffer
	done := make(chan int)
	go func() {
		done <- run(ctx, []string{"run", "-upf", conn.LocalAddr().String(), "-local", "127.0.0.1:0", "-o", "json"}, &stdout, &stderr)
	}()

	buf := make([]byte, 64<<10)
	receive := func() (message.Message, netip.AddrPort) {
		conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		n, from, err := conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			t.Fatal(err)
		}
		m, err := message.Parse(bytes.Clone(buf[:n]))
		if err != nil {
			t.Fatal(err)
		}
		return m, from
	}
	send := func(m message.Message, to netip.AddrPort) {
		b := make([]byte, m.MarshalLen())
		if err := m.MarshalTo(b); err != nil {
			t.Fatal(err)
		}
		if _, err := conn.WriteToUDPAddrPort(b, to); err != nil {
			t.Fatal(err)
		}
	}
	req, smf := receive()
	send(pfcptest.Accept(req), smf)
	send(message.NewSessionReportRequest(0, 0, 5, 1, 0,
		ie.New(ie.ReportType, []byte{pfcptest.ReportSESR}),
		ie.NewSessionReport(ie.NewSRRID(1), ie.NewAccessAvailabilityReport(atsssie.NewAccessAvailabilityInformation(atsss.AccessNon3GPP, false)))), smf)
	if resp, _ := receive(); resp.MessageType() != message.MsgTypeSessionReportResponse {
		t.Fatalf("report answered with %s", resp.MessageTypeName())
	}
	cancel()
	if code := <-done; code != exitOK {
		t.Fatalf("exit %d\n%s%s", code, stdout.String(), stderr.String())
	}
	lines := jsonLines[reportLine](t, stdout.String())
	want := reportLine{Report: "session", SEID: 5, Type: pfcptest.ReportSESR, SRRID: 1, Access: "non3gpp", Available: new(false), Answer: uint8(atsssie.CauseSessionNotFound)}
	if len(lines) != 2 || !cmp.Equal(lines[1], want) {
		t.Errorf("printed %+v, want the association and %+v", lines, want)
	}
}
