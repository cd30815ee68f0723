package pmf

import (
	"errors"
	"time"
)

// Errors of PMFP requests.
var (
	// ErrTimeout: an ECHO REQUEST got no response within the echo timeout.
	ErrTimeout = errors.New("no echo response")
	// ErrNoResponse: a request got no answer after its retransmissions.
	ErrNoResponse = errors.New("no response after retransmissions")
	// ErrNotCounting: a PLR report was asked for while no count runs.
	ErrNotCounting = errors.New("no PLR count running")
	// ErrBusy: too many requests are outstanding on the path.
	ErrBusy = errors.New("too many outstanding requests")
	// ErrUncertain: a PLR report came after its request was sent again
	// following measured messages, so its window's edge is not known and
	// its reading is not given (see link).
	ErrUncertain = errors.New("PLR window edge uncertain after a retransmission")
)

// maxOutstanding bounds the echoes and requests awaiting an answer on one
// path, so a silent peer cannot make a path's state grow.
const maxOutstanding = 256

// timing holds the protocol timers of one end; see Config.
type timing struct {
	echoTimeout    time.Duration
	retransmit     time.Duration
	maxRetransmits int
	gain           float64 // EWMA gain of the smoothed RTT
}

// link is the PMFP state of one path (one UE, one access, one QoS flow) as
// seen from one end. Server and Client keep one per path; it does no I/O and
// reads no clock (now is an argument), and the owner's mutex guards it.
//
// PLR counting (TS 24.193 §5.4, free5GC blog 2024-01-03): the initiator
// sends PLR COUNT REQUEST and counts the measured messages it sends from
// then on; the responder counts those it receives from the moment the
// request arrives. Messages on one path arrive in order, so both count the
// same window. A PLR REPORT REQUEST asks for the responder's count, the PLR
// is sent minus received over sent, and counting either restarts (both
// sides reset) or ends.
//
// A window's edge is where the request that starts or ends it reaches the
// responder. When a request is sent again, the initiator cannot tell
// whether the first copy or its answer was lost, so counted messages it
// sent between the copies belong to a window it cannot name: it would read
// too much loss in one window and too little (received above sent) in the
// next. So the owner holds its own echoes while a PLR request is
// unanswered (core.tick), and a reading whose edge is still uncertain,
// because something counted went out between copies anyway, is dropped,
// not reported.
type link struct {
	seq     uint16
	echoes  map[uint16]time.Time // our outstanding ECHO REQUESTs: send time
	pending map[uint16]*pending  // our other outstanding requests
	rtt     rttEstimator
	lostRun uint64 // echoes unanswered since the last answer
	lost    uint64 // echoes unanswered, total

	init    initiatorPLR
	resp    responderPLR
	lastPLR PLRResult
	hasPLR  bool

	// answered caches the last request of each type that the peer sent,
	// so a retransmission gets the same answer and no second action.
	answered [len(specs)]answered
}

type pending struct {
	m     Message
	sent  time.Time // last (re)transmission
	tries int       // retransmissions so far
}

type answered struct {
	ok       bool
	seq      uint16
	hasReply bool // false: the request got no reply
	reply    Message
}

type plrState uint8

const (
	plrIdle plrState = iota
	plrCounting
	plrReporting // report asked without restart: counting has ended
)

type initiatorPLR struct {
	state      plrState
	sent       uint32 // measured messages sent since counting (re)started
	reportSent uint32 // sent when the report request went out
	restart    bool   // the outstanding report asked for a restart
	// awaiting: a PLR count or report request is unanswered; between
	// counts the measured messages sent since its latest copy.
	awaiting bool
	between  uint32
	// uncertain: the running window's start is not known for sure;
	// reportUncertain: nor is the edge of the window being reported.
	uncertain       bool
	reportUncertain bool
}

type responderPLR struct {
	counting bool
	recv     uint32
}

// PLRResult is one packet loss measurement: of Sent measured messages,
// the peer received Received. PLR is the loss in percent, in steps of
// 100/Sent.
type PLRResult struct {
	Sent, Received uint32
	PLR            float64
}

func newPLRResult(sent, recv uint32) PLRResult {
	r := PLRResult{Sent: sent, Received: recv}
	// More received than sent happens only if counted messages crossed a
	// lost control message; it is no loss, not a negative one.
	if sent > 0 && recv < sent {
		r.PLR = float64(sent-recv) * 100 / float64(sent)
	}
	return r
}

// rttEstimator smooths RTT samples like TCP's SRTT (RFC 6298 §2): the first
// sample sets it, later ones move it by gain times the difference.
type rttEstimator struct {
	srtt, last time.Duration
	n          uint64
}

func (e *rttEstimator) add(sample time.Duration, gain float64) {
	e.last = sample
	e.n++
	if e.n == 1 {
		e.srtt = sample
		return
	}
	e.srtt += time.Duration(gain * float64(sample-e.srtt))
}

func newLink() *link {
	return &link{echoes: map[uint16]time.Time{}, pending: map[uint16]*pending{}}
}

// completion is one of our requests answered, or given up (err set).
type completion struct {
	req  Message
	resp Message
	rtt  time.Duration // ECHO: the sample
	plr  PLRResult     // PLR REPORT
	// uncertain: PLR REPORT whose window edge is not known (see link).
	uncertain bool
	err       error
}

// outcome is what receiving one message means for the owner. Values, not
// pointers: receiving allocates nothing.
type outcome struct {
	hasReply bool
	reply    Message // send it back on the path (already counted)
	// request is a new (not retransmitted) peer request the owner acts on:
	// ACCESS REPORT, UAD, UAT, TDS, TDR.
	hasRequest bool
	request    Message
	hasDone    bool
	done       completion
	// unexpected: a response to nothing outstanding, or of the wrong type.
	unexpected bool
}

func (l *link) nextSeq() uint16 {
	for {
		l.seq++
		_, e := l.echoes[l.seq]
		_, p := l.pending[l.seq]
		if !e && !p {
			return l.seq
		}
	}
}

// request prepares our request m for sending at now: it picks the sequence
// number, records the request as outstanding and counts it. The caller
// sends the returned message.
func (l *link) request(now time.Time, m Message) (Message, error) {
	if len(l.echoes)+len(l.pending) >= maxOutstanding {
		return m, ErrBusy
	}
	if m.Type == TypePLRReportRequest && l.init.state != plrCounting {
		return m, ErrNotCounting
	}
	m.Seq = l.nextSeq()
	switch m.Type {
	case TypeEchoRequest:
		m.Timestamp = uint64(now.UnixNano())
		l.echoes[m.Seq] = now
	default:
		l.pending[m.Seq] = &pending{m: m, sent: now}
	}
	switch m.Type {
	case TypePLRCountRequest:
		l.init = initiatorPLR{state: plrCounting, awaiting: true}
	case TypePLRReportRequest:
		l.init.reportSent, l.init.restart = l.init.sent, m.Restart
		l.init.reportUncertain, l.init.uncertain = l.init.uncertain, false
		l.init.awaiting, l.init.between = true, 0
		if m.Restart {
			l.init.sent = 0
		} else {
			l.init.state = plrReporting
		}
	}
	l.countOut(m.Type)
	return m, nil
}

// reply counts our response m and returns it.
func (l *link) reply(m Message) Message {
	l.countOut(m.Type)
	return m
}

func (l *link) countOut(t MessageType) {
	if !specs[t].counted {
		return
	}
	if l.init.state == plrCounting {
		l.init.sent++
	}
	if l.init.awaiting {
		l.init.between++
	}
}

// plrAwaited reports whether a PLR request of ours is unanswered: the
// owner sends no echoes of its own then, so that the window's edge is the
// same whichever copy of the request arrives.
func (l *link) plrAwaited() bool { return l.init.awaiting }

func (l *link) countIn(t MessageType) {
	if specs[t].counted && l.resp.counting {
		l.resp.recv++
	}
}

// receive handles message m from the peer at now.
func (l *link) receive(now time.Time, m Message, tm timing) outcome {
	l.countIn(m.Type)
	s := specs[m.Type]
	if s.response != 0 {
		return l.answer(m, s)
	}
	if m.Type == TypeEchoResponse {
		sent, ok := l.echoes[m.Seq]
		if !ok {
			return outcome{unexpected: true}
		}
		delete(l.echoes, m.Seq)
		sample := max(now.Sub(sent), 0)
		l.rtt.add(sample, tm.gain)
		l.lostRun = 0
		return outcome{hasDone: true, done: completion{req: Message{Type: TypeEchoRequest, Seq: m.Seq}, resp: m, rtt: sample}}
	}
	p, ok := l.pending[m.Seq]
	if !ok || specs[p.m.Type].response != m.Type {
		return outcome{unexpected: true}
	}
	delete(l.pending, m.Seq)
	c := completion{req: p.m, resp: m}
	if p.m.Type == TypePLRCountRequest || p.m.Type == TypePLRReportRequest {
		l.init.awaiting = false
	}
	if p.m.Type == TypePLRReportRequest {
		c.plr, c.uncertain = newPLRResult(l.init.reportSent, m.Count), l.init.reportUncertain
		if !c.uncertain {
			l.lastPLR, l.hasPLR = c.plr, true
		}
		if !(l.init.restart && m.Restart) {
			// Not restarted: the procedure ends (the responder stopped
			// counting or refused the restart).
			l.init.state = plrIdle
		}
	}
	return outcome{hasDone: true, done: c}
}

// answer handles a request m from the peer.
func (l *link) answer(m Message, s spec) outcome {
	a := &l.answered[m.Type]
	if s.retransmit && a.ok && a.seq == m.Seq {
		if !a.hasReply {
			return outcome{}
		}
		return outcome{hasReply: true, reply: l.reply(a.reply)}
	}
	var reply Message
	has := true
	switch m.Type {
	case TypeEchoRequest:
		reply = Message{Type: TypeEchoResponse, Seq: m.Seq, Timestamp: m.Timestamp}
	case TypePLRCountRequest:
		l.resp = responderPLR{counting: true}
		reply = Message{Type: TypePLRCountResponse, Seq: m.Seq}
	case TypePLRReportRequest:
		// Not counting (the count request was lost): no answer, so the
		// initiator gives up rather than take a zero count for 100% loss.
		has = l.resp.counting
		if has {
			reply = Message{Type: TypePLRReportResponse, Seq: m.Seq, Restart: m.Restart, Count: l.resp.recv}
			if m.Restart {
				l.resp.recv = 0
			} else {
				l.resp.counting = false
			}
		}
	default:
		reply = Message{Type: TypeAck, Seq: m.Seq}
	}
	if s.retransmit {
		*a = answered{ok: true, seq: m.Seq, hasReply: has, reply: reply}
	}
	var o outcome
	if has {
		o.hasReply, o.reply = true, l.reply(reply)
	}
	if s.response == TypeAck {
		o.hasRequest, o.request = true, m
	}
	return o
}

// tick expires echoes and retransmits or gives up requests at now. It
// returns the messages to send again (already counted) and the requests
// that ended without an answer.
func (l *link) tick(now time.Time, tm timing) (resend []Message, done []completion) {
	for seq, sent := range l.echoes {
		if now.Sub(sent) < tm.echoTimeout {
			continue
		}
		delete(l.echoes, seq)
		l.lost++
		l.lostRun++
		done = append(done, completion{req: Message{Type: TypeEchoRequest, Seq: seq}, err: ErrTimeout})
	}
	for seq, p := range l.pending {
		if now.Sub(p.sent) < tm.retransmit {
			continue
		}
		if p.tries >= tm.maxRetransmits {
			delete(l.pending, seq)
			if p.m.Type == TypePLRCountRequest || p.m.Type == TypePLRReportRequest {
				l.init.state, l.init.awaiting = plrIdle, false
			}
			done = append(done, completion{req: p.m, err: ErrNoResponse})
			continue
		}
		p.tries++
		p.sent = now
		switch p.m.Type {
		case TypePLRCountRequest:
			// The responder starts its window when a copy arrives; start
			// ours again too. If it had a copy already (its answer was
			// lost), what we counted since is in its window, not ours.
			l.init.uncertain = l.init.uncertain || l.init.between > 0
			l.init.sent, l.init.between = 0, 0
		case TypePLRReportRequest:
			if l.init.between > 0 {
				l.init.reportUncertain = true
				l.init.uncertain = l.init.uncertain || p.m.Restart
			}
			l.init.between = 0
			if p.m.Restart {
				// If the first copy was lost, the responder's window runs
				// on until this copy: keep what we sent in it.
				l.init.reportSent += l.init.sent
				l.init.sent = 0
			}
		}
		l.countOut(p.m.Type)
		resend = append(resend, p.m)
	}
	return resend, done
}
