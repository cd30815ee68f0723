package pfcp

import (
	"fmt"
	"slices"

	"github.com/wmnsk/go-pfcp/ie"

	"github.com/openatsss/atsss/atsss"
)

// F-TEID flags (TS 29.244 §8.2.3).
const (
	fteidV4   = 0x01
	fteidV6   = 0x02
	fteidCH   = 0x04
	fteidCHID = 0x08
)

// fteidChoice is a PDR whose F-TEID the SMF asked the UPF to choose.
type fteidChoice struct {
	pdr      uint16
	chooseID uint8
	hasID    bool // PDRs with the same CHOOSE ID share one F-TEID
	v4, v6   bool // the address families asked for
}

// chooseRequests finds the CHOOSE requests in Create PDR or Update PDR IEs
// (TS 29.244 §5.5.3) of a request decoded into sess. It reads the IEs again
// only when decoding left a placeholder to fill in, which is rare: the
// CHOOSE ID and the address families asked for are not part of the model.
func chooseRequests(sess *atsss.Session, pdrLists ...[]*ie.IE) []fteidChoice {
	if !slices.ContainsFunc(sess.PDRs, func(p atsss.PDR) bool {
		return p.PDI.FTEID != nil && p.PDI.FTEID.Chosen && p.PDI.FTEID.TEID == 0
	}) {
		return nil
	}
	var out []fteidChoice
	for _, pdrs := range pdrLists {
		for _, g := range pdrs {
			id, err := safely(first(children(g), ie.PDRID), (*ie.IE).PDRID)
			pdi := first(children(g), ie.PDI)
			if err != nil || pdi == nil {
				continue
			}
			f, err := safely(first(children(pdi), ie.FTEID), (*ie.IE).FTEID)
			if err != nil || !f.HasCh() {
				continue
			}
			out = append(out, fteidChoice{pdr: id, chooseID: f.ChooseID, hasID: f.HasChID(), v4: f.Flags&fteidV4 != 0, v6: f.Flags&fteidV6 != 0})
		}
	}
	return out
}

// chooseFTEIDs allocates the F-TEIDs of choices on the N3 address, sets
// them in sess's PDRs, and returns the Created PDR IEs that tell the SMF
// (TS 29.244 §7.5.3.2). What it took is held by sess, so releasing sess's
// resources undoes it.
func (s *Server) chooseFTEIDs(sess *atsss.Session, choices []fteidChoice) ([]*ie.IE, error) {
	var created []*ie.IE
	byID := map[uint8]atsss.FTEID{}
	for _, c := range choices {
		p := sess.PDR(c.pdr)
		if p == nil || p.PDI.FTEID == nil || !p.PDI.FTEID.Chosen {
			continue
		}
		if !s.cfg.N3.Enabled() {
			return nil, &Rejection{Cause: CauseInvalidFTEIDAllocation, OffendingIE: ie.FTEID,
				Err: fmt.Errorf("PDR %d: F-TEID CHOOSE, but no N3 address is configured (FTUP not advertised)", c.pdr)}
		}
		f, shared := byID[c.chooseID]
		if !c.hasID || !shared {
			var err error
			if f, err = s.newFTEID(c); err != nil {
				return nil, err
			}
			if c.hasID {
				byID[c.chooseID] = f
			}
		}
		*p.PDI.FTEID = f
		var flags uint8
		if f.IPv4.IsValid() {
			flags |= fteidV4
		}
		if f.IPv6.IsValid() {
			flags |= fteidV6
		}
		created = append(created, ie.NewCreatedPDR(ie.NewPDRID(c.pdr), ie.NewFTEID(flags, f.TEID, ipOf(f.IPv4), ipOf(f.IPv6), 0)))
	}
	return created, nil
}

// newFTEID takes a TEID for c, on the N3 addresses of the families c asks
// for (both configured ones when it names none).
func (s *Server) newFTEID(c fteidChoice) (atsss.FTEID, error) {
	f := atsss.FTEID{Chosen: true}
	n3 := s.cfg.N3
	if c.v4 || !c.v6 {
		f.IPv4 = n3.Address4
	}
	if c.v6 || !c.v4 {
		f.IPv6 = n3.Address6
	}
	if (c.v4 && !f.IPv4.IsValid()) || (c.v6 && !f.IPv6.IsValid()) {
		return f, &Rejection{Cause: CauseInvalidFTEIDAllocation, OffendingIE: ie.FTEID,
			Err: fmt.Errorf("PDR %d: F-TEID CHOOSE for an address family without an N3 address", c.pdr)}
	}
	teid, err := s.alloc.takeTEID()
	f.TEID = teid
	return f, err
}

// chosenTEIDs returns the TEIDs the UPF allocated for sess's PDRs, once
// each (PDRs may share one through a CHOOSE ID).
func chosenTEIDs(sess *atsss.Session) []uint32 {
	var out []uint32
	for i := range sess.PDRs {
		if f := sess.PDRs[i].PDI.FTEID; f != nil && f.Chosen && f.TEID != 0 && !slices.Contains(out, f.TEID) {
			out = append(out, f.TEID)
		}
	}
	return out
}

// teidPool hands out TEIDs, never 0 (TS 29.281 reserves it for
// signalling). The allocator serialises access.
type teidPool struct {
	used map[uint32]struct{}
	next uint32
}

func (p *teidPool) take() (uint32, error) {
	if p.used == nil {
		p.used = make(map[uint32]struct{})
	}
	if len(p.used) == 1<<32-1 {
		return 0, fmt.Errorf("TEIDs: %w", errPoolExhausted)
	}
	for {
		p.next++
		if _, busy := p.used[p.next]; p.next != 0 && !busy {
			p.used[p.next] = struct{}{}
			return p.next, nil
		}
	}
}

func (p *teidPool) mark(t uint32) bool {
	if p.used == nil {
		p.used = make(map[uint32]struct{})
	}
	if _, busy := p.used[t]; busy || t == 0 {
		return false
	}
	p.used[t] = struct{}{}
	return true
}

func (p *teidPool) free(t uint32) { delete(p.used, t) }
