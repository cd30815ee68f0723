package pmf

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/openatsss/atsss/atsss"
)

// PathID names one measured path: a session's access and QoS flow.
type PathID struct {
	SEID   atsss.SEID
	QFI    uint8 // 0: the default QoS flow
	Access atsss.AccessType
}

func (p PathID) String() string {
	return fmt.Sprintf("seid=%v qfi=%d access=%v", p.SEID, p.QFI, p.Access)
}

// Kind says what an Event reports.
type Kind uint8

const (
	// KindLearned: the UE's PMF address on an access was learned from its
	// first uplink message, or changed (TS 23.501 §5.32.5.1A). UE holds it.
	KindLearned Kind = iota + 1
	// KindRTT: an echo the UPF sent was answered. RTT is the smoothed RTT,
	// RTTSample this answer's, Samples how many answers so far.
	KindRTT
	// KindEchoLost: an echo got no answer in time. Lost counts the echoes
	// unanswered in a row.
	KindEchoLost
	// KindPLR: a downlink PLR measurement the UPF started ended: Sent,
	// Received and PLR (percent).
	KindPLR
	// KindAvailability: the UE reported Path.Access available or not
	// (PMFP ACCESS REPORT). The report came on Via, which may be the
	// other access.
	KindAvailability
	// KindUEAssistance: the UE asked for the downlink Split (PMFP UAD).
	KindUEAssistance
	// KindUEAssistanceEnd: the UE withdrew its split (PMFP UAT); restore
	// the SMF's weights (TS 29.244 §5.20.6).
	KindUEAssistanceEnd
	// KindDuplication: the UE acknowledged a TDS (Suspended) or TDR.
	KindDuplication
	// KindNoResponse: a request of type Request got no answer after its
	// retransmissions.
	KindNoResponse
)

var kindNames = [...]string{
	KindLearned: "learned", KindRTT: "rtt", KindEchoLost: "echo-lost", KindPLR: "plr",
	KindAvailability: "availability", KindUEAssistance: "ue-assistance",
	KindUEAssistanceEnd: "ue-assistance-end", KindDuplication: "duplication",
	KindNoResponse: "no-response",
}

func (k Kind) String() string {
	if int(k) < len(kindNames) && kindNames[k] != "" {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// Event is what the Server learned about one path. Only the fields of its
// Kind are set.
type Event struct {
	Kind Kind
	Path PathID
	// Via is the access the message arrived on or was sent on; it differs
	// from Path.Access only for KindAvailability.
	Via  atsss.AccessType
	UE   netip.AddrPort // the UE's PMF address on Via
	Time time.Time

	RTT, RTTSample time.Duration
	Samples        uint64
	Lost           uint64
	PLRResult
	Available bool
	Split     [2]uint8 // percent per access, indexed by AccessType
	Suspended bool
	Request   MessageType
}
