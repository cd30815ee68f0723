package main

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/term"

	atsssv1 "github.com/openatsss/atsss/api/atsss/v1"
)

const (
	// minRedraw bounds the live table's redraw rate: samples of many
	// sessions arrive one by one, and a frame per message would flood the
	// terminal.
	minRedraw = 100 * time.Millisecond
	// liveEvents is how many recent events the live view shows.
	liveEvents = 5
)

// watchSessions runs sessions watch: a live table on a terminal, else one
// line (or JSON object, or YAML document) per message.
func (a *app) watchSessions(ctx context.Context, req *atsssv1.WatchSessionsRequest) error {
	conn, err := a.dial()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := atsssv1.NewSessionServiceClient(conn).WatchSessions(ctx, req)
	if err != nil {
		return endOfWatch(ctx, err)
	}
	if a.output == "table" && a.isTerminal(a.stdout) {
		return a.watchLive(ctx, stream)
	}
	for {
		msg, err := stream.Recv()
		if err != nil {
			return endOfWatch(ctx, err)
		}
		if err := a.printWatchMessage(msg); err != nil {
			return err
		}
	}
}

// endOfWatch turns the error that ended a watch stream into the command's
// result: Ctrl-C and the server closing the stream are normal ends.
func endOfWatch(ctx context.Context, err error) error {
	if errors.Is(err, io.EOF) || ctx.Err() != nil {
		return nil
	}
	return err
}

func (a *app) printWatchMessage(msg *atsssv1.WatchSessionsResponse) error {
	switch a.output {
	case "json":
		b, err := messageJSON(msg)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(a.stdout, "%s\n", compactJSON(b))
		return err
	case "yaml":
		b, err := messageYAML(msg)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(a.stdout, "---\n%s", b)
		return err
	}
	_, err := fmt.Fprintln(a.stdout, eventLine(msg))
	return err
}

// eventLine is one watch message as a line of text: a timestamp, the kind
// of message and key=value pairs.
func eventLine(msg *atsssv1.WatchSessionsResponse) string {
	t := time.Now()
	if msg.GetTime() != nil {
		t = msg.GetTime().AsTime()
	}
	var b strings.Builder
	b.WriteString(t.UTC().Format("2006-01-02T15:04:05.000Z07:00"))
	kv := func(k, v string) {
		if strings.ContainsAny(v, " \"") || v == "" {
			v = strconv.Quote(v)
		}
		b.WriteString(" " + k + "=" + v)
	}
	switch ev := msg.GetEvent().(type) {
	case *atsssv1.WatchSessionsResponse_SessionEvent:
		s := ev.SessionEvent.GetSession()
		b.WriteString(" session " + enumName(ev.SessionEvent.GetType()))
		kv("seid", strconv.FormatUint(s.GetSeid(), 10))
		kv("peer", s.GetPeer())
		kv("ue", strings.Join(s.GetUeAddresses(), ","))
		kv("mars", marSummary(s))
	case *atsssv1.WatchSessionsResponse_PathEvent:
		st := ev.PathEvent.GetState()
		b.WriteString(" path " + enumName(ev.PathEvent.GetType()))
		kv("seid", strconv.FormatUint(ev.PathEvent.GetSeid(), 10))
		kv("access", enumName(st.GetAccess()))
		kv("avail", available(st.GetAvailable()))
		kv("rtt", rtt(st.RttUs))
		kv("loss", loss(st.LossPerMille))
		kv("subflows", strconv.FormatUint(uint64(st.GetSubflows()), 10))
	case *atsssv1.WatchSessionsResponse_ThroughputSample:
		s := ev.ThroughputSample
		b.WriteString(" sample")
		kv("seid", strconv.FormatUint(s.GetSeid(), 10))
		kv("access", enumName(s.GetAccess()))
		kv("dl", compactUnit(bitRate(s.GetDownlinkBps())))
		kv("ul", compactUnit(bitRate(s.GetUplinkBps())))
		kv("rtt", rtt(s.RttUs))
		kv("loss", loss(s.LossPerMille))
	default:
		b.WriteString(" unknown")
	}
	return b.String()
}

// marSummary is a session's MARs with the downlink steering in force and
// its source, e.g. "1:LOAD_BALANCING 80/20 (policy lb-8020)".
func marSummary(s *atsssv1.Session) string {
	var parts []string
	for _, m := range s.GetMars() {
		parts = append(parts, fmt.Sprintf("%d:%s (%s)", m.GetMarId(), steering(m.GetEffectiveSteeringDl()), source(m)))
	}
	return strings.Join(parts, ", ")
}

func compactUnit(s string) string { return strings.ReplaceAll(s, " ", "") }

// liveKey identifies a row of the live table: one access of one session.
type liveKey struct {
	seid   uint64
	access atsssv1.AccessType
}

type liveRow struct {
	available    bool
	dlBps, ulBps uint64
	sampled      bool // dlBps and ulBps come from a sample
	rttUs        *uint32
	lossPerMille *uint32
	subflows     uint32
}

type liveSession struct {
	ue, mars string
}

// liveTable is the state the live view shows, folded from the watch
// messages. Owned by the watch loop.
type liveTable struct {
	sessions map[uint64]liveSession
	rows     map[liveKey]*liveRow
	events   []string // the latest liveEvents event lines
}

func newLiveTable() *liveTable {
	return &liveTable{sessions: make(map[uint64]liveSession), rows: make(map[liveKey]*liveRow)}
}

func (t *liveTable) row(seid uint64, access atsssv1.AccessType) *liveRow {
	k := liveKey{seid, access}
	r := t.rows[k]
	if r == nil {
		r = &liveRow{}
		t.rows[k] = r
	}
	return r
}

func (t *liveTable) event(line string) {
	t.events = append(t.events, line)
	if len(t.events) > liveEvents {
		t.events = t.events[len(t.events)-liveEvents:]
	}
}

// apply folds one watch message into the table.
func (t *liveTable) apply(msg *atsssv1.WatchSessionsResponse) {
	switch ev := msg.GetEvent().(type) {
	case *atsssv1.WatchSessionsResponse_SessionEvent:
		s := ev.SessionEvent.GetSession()
		seid := s.GetSeid()
		if ev.SessionEvent.GetType() == atsssv1.SessionEventType_SESSION_EVENT_TYPE_DELETED {
			delete(t.sessions, seid)
			for k := range t.rows {
				if k.seid == seid {
					delete(t.rows, k)
				}
			}
		} else {
			t.sessions[seid] = liveSession{ue: strings.Join(s.GetUeAddresses(), ","), mars: marSummary(s)}
			for _, st := range s.GetAccesses() {
				r := t.row(seid, st.GetAccess())
				r.available, r.subflows = st.GetAvailable(), st.GetSubflows()
				r.rttUs, r.lossPerMille = st.RttUs, st.LossPerMille
			}
		}
		if ev.SessionEvent.GetType() != atsssv1.SessionEventType_SESSION_EVENT_TYPE_INITIAL {
			t.event(eventLine(msg))
		}
	case *atsssv1.WatchSessionsResponse_PathEvent:
		st := ev.PathEvent.GetState()
		r := t.row(ev.PathEvent.GetSeid(), st.GetAccess())
		r.available, r.subflows = st.GetAvailable(), st.GetSubflows()
		r.rttUs, r.lossPerMille = st.RttUs, st.LossPerMille
		t.event(eventLine(msg))
	case *atsssv1.WatchSessionsResponse_ThroughputSample:
		s := ev.ThroughputSample
		r := t.row(s.GetSeid(), s.GetAccess())
		r.dlBps, r.ulBps, r.sampled = s.GetDownlinkBps(), s.GetUplinkBps(), true
		if s.RttUs != nil {
			r.rttUs = s.RttUs
		}
		if s.LossPerMille != nil {
			r.lossPerMille = s.LossPerMille
		}
	}
}

// render draws the table in place on a terminal of width × height cells:
// cursor home, each line cleared to its end, the rest of the screen
// cleared. Lines are cut to the width so that none wraps.
func (t *liveTable) render(w io.Writer, header string, width, height int) error {
	var tb bytes.Buffer
	tw := newTable(&tb)
	row(tw, "SEID", "UE", "ACCESS", "AVAIL", "DL", "UL", "RTT", "LOSS", "SUBFLOWS", "STEERING (DL)")
	keys := make([]liveKey, 0, len(t.rows))
	for k := range t.rows {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(x, y liveKey) int {
		return cmp.Or(cmp.Compare(x.seid, y.seid), cmp.Compare(x.access, y.access))
	})
	var prev uint64
	for _, k := range keys {
		r := t.rows[k]
		seid, ue, mars := "", "", ""
		if k.seid != prev {
			s := t.sessions[k.seid]
			seid, ue, mars = strconv.FormatUint(k.seid, 10), orDash(s.ue), orDash(s.mars)
			prev = k.seid
		}
		dl, ul := "-", "-"
		if r.sampled {
			dl, ul = bitRate(r.dlBps), bitRate(r.ulBps)
		}
		row(tw, seid, ue, enumName(k.access), available(r.available), dl, ul,
			rtt(r.rttUs), loss(r.lossPerMille), strconv.FormatUint(uint64(r.subflows), 10), mars)
	}
	tw.Flush()
	table := strings.Split(strings.TrimSuffix(tb.String(), "\n"), "\n")

	lines := []string{header, ""}
	room := max(height-len(lines)-2-len(t.events), 2) // 2: blank line + events title
	if len(table) > room {
		hidden := len(table) - room + 1
		table = append(table[:room-1], fmt.Sprintf("... %d more rows", hidden))
	}
	lines = append(lines, table...)
	if len(t.events) > 0 {
		lines = append(lines, "", "Latest events:")
		lines = append(lines, t.events...)
	}
	var out bytes.Buffer
	out.WriteString("\x1b[H")
	for _, l := range lines {
		out.WriteString(cut(l, width))
		out.WriteString("\x1b[K\n")
	}
	out.WriteString("\x1b[J")
	_, err := w.Write(out.Bytes())
	return err
}

// cut shortens s to at most n runes.
func cut(s string, n int) string {
	if n <= 0 || utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n])
}

// watchLive shows the live table until the stream ends. A goroutine reads
// the stream so that the loop can batch whatever has arrived into one
// frame.
func (a *app) watchLive(ctx context.Context, stream atsssv1.SessionService_WatchSessionsClient) error {
	msgs := make(chan *atsssv1.WatchSessionsResponse, 1024)
	errc := make(chan error, 1)
	go func() {
		for {
			msg, err := stream.Recv()
			if err != nil {
				errc <- err
				return
			}
			select {
			case msgs <- msg:
			case <-ctx.Done():
				errc <- ctx.Err()
				return
			}
		}
	}()

	t := newLiveTable()
	drain := func() {
		for {
			select {
			case m := <-msgs:
				t.apply(m)
			default:
				return
			}
		}
	}
	draw := func() error {
		width, height := 0, math.MaxInt // not a terminal: no limits
		if f, ok := a.stdout.(*os.File); ok {
			if w, h, err := term.GetSize(int(f.Fd())); err == nil {
				width, height = w, h
			}
		}
		header := fmt.Sprintf("atsssctl sessions watch  %s  %s  %d sessions  (Ctrl-C to quit)",
			a.cfg.Addr, time.Now().Format(time.TimeOnly), len(t.sessions))
		return t.render(a.stdout, header, width, height)
	}

	var (
		last   time.Time
		dirty  bool
		timerC <-chan time.Time
	)
	for {
		select {
		case m := <-msgs:
			t.apply(m)
			drain()
			dirty = true
		case <-timerC:
			timerC = nil
		case err := <-errc:
			// The reader queued every message before its error.
			drain()
			if derr := draw(); derr != nil {
				return derr
			}
			return endOfWatch(ctx, err)
		}
		if !dirty {
			continue
		}
		if wait := minRedraw - time.Since(last); wait > 0 {
			if timerC == nil {
				timerC = time.After(wait)
			}
			continue
		}
		if err := draw(); err != nil {
			return err
		}
		last, dirty = time.Now(), false
	}
}
