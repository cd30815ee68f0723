package pfcp

import (
	"fmt"
	"slices"

	"github.com/wmnsk/go-pfcp/ie"
	"github.com/wmnsk/go-pfcp/message"

	"github.com/openatsss/atsss/atsss"
	"github.com/openatsss/atsss/pfcp/atsssie"
)

// This file turns session messages into atsss values: a whole new session
// for an establishment, a changed clone for a modification. Nothing here
// touches the store or allocates resources; the caller validates the result
// and applies it whole, or not at all.

// establishment is a decoded Session Establishment Request.
type establishment struct {
	session *atsss.Session // LocalSEID not yet set, ATSSS.Params not yet allocated
}

func decodeEstablishment(req *message.SessionEstablishmentRequest) (*establishment, error) {
	const where = "session establishment request"
	nodeID, err := mandatoryMsgIE(req.NodeID, ie.NodeID, where, (*ie.IE).NodeID)
	if err != nil {
		return nil, err
	}
	fseid, err := mandatoryMsgIE(req.CPFSEID, ie.FSEID, where, (*ie.IE).FSEID)
	if err != nil {
		return nil, err
	}
	if len(req.CreatePDR) == 0 {
		return nil, missingIE(ie.CreatePDR, where)
	}
	if len(req.CreateFAR) == 0 {
		return nil, missingIE(ie.CreateFAR, where)
	}
	s := &atsss.Session{
		RemoteSEID: atsss.SEID(fseid.SEID),
		PeerNodeID: nodeID,
		PeerAddr:   addrOf(fseid.IPv4Address),
	}
	if !s.PeerAddr.IsValid() {
		s.PeerAddr = addrOf(fseid.IPv6Address)
	}
	c := createIEs{PDRs: req.CreatePDR, FARs: req.CreateFAR, QERs: req.CreateQER, URRs: req.CreateURR, MARs: req.CreateMAR, SRRs: req.CreateSRR}
	if err := c.apply(s); err != nil {
		return nil, err
	}
	if req.ProvideATSSSControlInformation != nil {
		r, err := atsssie.ParseProvideATSSSControlInformation(req.ProvideATSSSControlInformation)
		if err != nil {
			return nil, badIE(ie.ProvideATSSSControlInformation, where, err)
		}
		s.ATSSS.Requested = r
	}
	// APN/DNN and S-NSSAI are optional (TS 29.244 Table 7.5.2.1-1). A
	// malformed one is refused like any malformed IE (badIE: Cause 68 or
	// 69), not dropped: a session without them would escape the operator
	// policies that match on them.
	if req.APNDNN != nil {
		dnn, err := atsssie.ParseAPNDNN(req.APNDNN)
		if err != nil {
			return nil, badIE(ie.APNDNN, where, err)
		}
		s.DNN = dnn
	}
	if req.SNSSAI != nil {
		n, err := atsssie.ParseSNSSAI(req.SNSSAI)
		if err != nil {
			return nil, badIE(ie.SNSSAI, where, err)
		}
		s.SNSSAI = &n
	}
	return &establishment{session: s}, nil
}

// createIEs are the Create rule IEs of an establishment or a modification.
type createIEs struct {
	PDRs, FARs, QERs, URRs, MARs, SRRs []*ie.IE
}

// apply appends the created rules to s. Duplicate IDs are left for
// Validate, which names the rule.
func (c createIEs) apply(s *atsss.Session) error {
	if err := appendDecoded(&s.PDRs, c.PDRs, decodePDR); err != nil {
		return err
	}
	if err := appendDecoded(&s.FARs, c.FARs, decodeFAR); err != nil {
		return err
	}
	if err := appendDecoded(&s.QERs, c.QERs, decodeQER); err != nil {
		return err
	}
	if err := appendDecoded(&s.URRs, c.URRs, decodeURR); err != nil {
		return err
	}
	if err := appendDecoded(&s.MARs, c.MARs, decodeMAR); err != nil {
		return err
	}
	return appendDecoded(&s.SRRs, c.SRRs, decodeSRR)
}

func appendDecoded[T any](dst *[]T, ies []*ie.IE, decode func(*ie.IE) (T, error)) error {
	// Grow once to the exact size: a stored session keeps its slices for
	// its whole life, and append's doubling would waste a third of them.
	*dst = slices.Grow(*dst, len(ies))
	for _, i := range ies {
		v, err := decode(i)
		if err != nil {
			return err
		}
		*dst = append(*dst, v)
	}
	return nil
}

// modification is a decoded Session Modification Request applied to a clone.
type modification struct {
	session *atsss.Session
	// atsss is the new Provide ATSSS Control Information, if the request
	// carried one: it replaces the old request (TS 29.244 §5.20.2.2).
	atsss *atsss.ATSSSRequest
}

// decodeModification applies req to a clone of old. TS 29.244 §7.5.4: rules
// are removed, then created, then updated. The session's DNN and S-NSSAI
// stay those of the establishment: an S-NSSAI IE, which go-pfcp reads from
// a modification request too, is ignored.
func decodeModification(old *atsss.Session, req *message.SessionModificationRequest) (*modification, error) {
	const where = "session modification request"
	s := old.Clone()
	if req.CPFSEID != nil {
		fseid, err := mandatoryMsgIE(req.CPFSEID, ie.FSEID, where, (*ie.IE).FSEID)
		if err != nil {
			return nil, err
		}
		s.RemoteSEID = atsss.SEID(fseid.SEID)
		if a := addrOf(fseid.IPv4Address); a.IsValid() {
			s.PeerAddr = a
		} else if a := addrOf(fseid.IPv6Address); a.IsValid() {
			s.PeerAddr = a
		}
	}
	removals := []struct {
		ies    []*ie.IE
		remove func(*ie.IE) error
	}{
		{req.RemovePDR, func(i *ie.IE) error {
			return removeRule(&s.PDRs, atsss.RulePDR, i, ie.PDRID, (*ie.IE).PDRID, func(r atsss.PDR) uint16 { return r.ID })
		}},
		{req.RemoveFAR, func(i *ie.IE) error {
			return removeRule(&s.FARs, atsss.RuleFAR, i, ie.FARID, (*ie.IE).FARID, func(r atsss.FAR) uint32 { return r.ID })
		}},
		{req.RemoveQER, func(i *ie.IE) error {
			return removeRule(&s.QERs, atsss.RuleQER, i, ie.QERID, (*ie.IE).QERID, func(r atsss.QER) uint32 { return r.ID })
		}},
		{req.RemoveURR, func(i *ie.IE) error {
			return removeRule(&s.URRs, atsss.RuleURR, i, ie.URRID, (*ie.IE).URRID, func(r atsss.URR) uint32 { return r.ID })
		}},
		{req.RemoveMAR, func(i *ie.IE) error {
			return removeRule(&s.MARs, atsss.RuleMAR, i, ie.MARID, (*ie.IE).MARID, func(r atsss.MAR) uint16 { return r.ID })
		}},
		{req.RemoveSRR, func(i *ie.IE) error {
			return removeRule(&s.SRRs, atsss.RuleSRR, i, ie.SRRID, (*ie.IE).SRRID, func(r atsss.SRR) uint8 { return r.ID })
		}},
	}
	for _, r := range removals {
		for _, i := range r.ies {
			if err := r.remove(i); err != nil {
				return nil, err
			}
		}
	}
	c := createIEs{PDRs: req.CreatePDR, FARs: req.CreateFAR, QERs: req.CreateQER, URRs: req.CreateURR, MARs: req.CreateMAR, SRRs: req.CreateSRR}
	if err := c.apply(s); err != nil {
		return nil, err
	}
	updates := []struct {
		ies    []*ie.IE
		update func(*atsss.Session, *ie.IE) error
	}{
		{req.UpdatePDR, updatePDR}, {req.UpdateFAR, updateFAR}, {req.UpdateQER, updateQER},
		{req.UpdateURR, updateURR}, {req.UpdateMAR, updateMAR}, {req.UpdateSRR, updateSRR},
	}
	for _, u := range updates {
		for _, i := range u.ies {
			if err := u.update(s, i); err != nil {
				return nil, err
			}
		}
	}
	for _, i := range req.AccessAvailabilityInformation {
		access, available, err := atsssie.ParseAccessAvailabilityInformation(i)
		if err != nil {
			return nil, badIE(ie.AccessAvailabilityInformation, where, err)
		}
		s.Unavailable[access] = !available
	}
	m := &modification{session: s}
	if req.ProvideATSSSControlInformation != nil {
		r, err := atsssie.ParseProvideATSSSControlInformation(req.ProvideATSSSControlInformation)
		if err != nil {
			return nil, badIE(ie.ProvideATSSSControlInformation, where, err)
		}
		m.atsss = &r
	}
	return m, nil
}

// removeRule deletes the rule named by the ID inside a Remove XXX IE.
func removeRule[T any, ID uint8 | uint16 | uint32](rules *[]T, t atsss.RuleType, g *ie.IE, idType uint16, get func(*ie.IE) (ID, error), idOf func(T) ID) error {
	id, err := mandatory(children(g), idType, "remove "+t.String(), get)
	if err != nil {
		return err
	}
	n := len(*rules)
	*rules = slices.DeleteFunc(*rules, func(r T) bool { return idOf(r) == id })
	if len(*rules) == n {
		return unknownRule(t, uint32(id), "remove")
	}
	return nil
}

func unknownRule(t atsss.RuleType, id uint32, op string) *atsss.RuleError {
	return &atsss.RuleError{Rule: t, ID: id, Field: "id", Err: fmt.Errorf("%w: %s of %v %d", atsss.ErrUnknownReference, op, t, id)}
}

func updatePDR(s *atsss.Session, g *ie.IE) error {
	const where = "update PDR"
	c := children(g)
	id, err := mandatory(c, ie.PDRID, where, (*ie.IE).PDRID)
	if err != nil {
		return err
	}
	p := s.PDR(id)
	if p == nil {
		return unknownRule(atsss.RulePDR, uint32(id), "update")
	}
	if v, ok, err := optional(c, ie.Precedence, where, (*ie.IE).Precedence); err != nil {
		return err
	} else if ok {
		p.Precedence = v
	}
	if pdi := first(c, ie.PDI); pdi != nil {
		if p.PDI, err = decodePDI(pdi); err != nil {
			return err
		}
	}
	// A PDR names a FAR or a MAR: an update naming one drops the other.
	switch newFAR, newMAR := first(c, ie.FARID) != nil, first(c, ie.MARID) != nil; {
	case newFAR && !newMAR:
		p.MARID = atsss.OptionalUint16{}
	case newMAR && !newFAR:
		p.FARID = atsss.OptionalUint32{}
	}
	return decodePDRRefs(p, c, where)
}

func updateFAR(s *atsss.Session, g *ie.IE) error {
	const where = "update FAR"
	c := children(g)
	id, err := mandatory(c, ie.FARID, where, (*ie.IE).FARID)
	if err != nil {
		return err
	}
	f := s.FAR(id)
	if f == nil {
		return unknownRule(atsss.RuleFAR, id, "update")
	}
	if v, ok, err := optional(c, ie.ApplyAction, where, applyAction); err != nil {
		return err
	} else if ok {
		f.ApplyAction = v
	}
	if fp := first(c, ie.UpdateForwardingParameters); fp != nil {
		if f.Forwarding == nil {
			f.Forwarding = &atsss.Forwarding{}
		}
		if err := decodeForwarding(f.Forwarding, children(fp)); err != nil {
			return err
		}
	}
	return nil
}

func updateQER(s *atsss.Session, g *ie.IE) error {
	const where = "update QER"
	c := children(g)
	id, err := mandatory(c, ie.QERID, where, (*ie.IE).QERID)
	if err != nil {
		return err
	}
	q := s.QER(id)
	if q == nil {
		return unknownRule(atsss.RuleQER, id, "update")
	}
	return decodeQERParams(q, c, where)
}

func updateURR(s *atsss.Session, g *ie.IE) error {
	id, err := mandatory(children(g), ie.URRID, "update URR", (*ie.IE).URRID)
	if err != nil {
		return err
	}
	u := s.URR(id)
	if u == nil {
		return unknownRule(atsss.RuleURR, id, "update")
	}
	u.Raw = append(u.Raw[:0:0], g.Payload...)
	return nil
}

func updateSRR(s *atsss.Session, g *ie.IE) error {
	const where = "update SRR"
	c := children(g)
	id, err := mandatory(c, ie.SRRID, where, (*ie.IE).SRRID)
	if err != nil {
		return err
	}
	srr := s.SRR(id)
	if srr == nil {
		return unknownRule(atsss.RuleSRR, uint32(id), "update")
	}
	return decodeSRRParams(srr, c, where)
}

// updateMAR applies Update MAR (TS 29.244 §7.5.4.16, §5.20.5): only changed
// IEs are present; a zero-length Update AFAI removes that access and a plain
// AFAI adds it.
func updateMAR(s *atsss.Session, g *ie.IE) error {
	const where = "update MAR"
	c := children(g)
	id, err := mandatory(c, ie.MARID, where, (*ie.IE).MARID)
	if err != nil {
		return err
	}
	m := s.MAR(id)
	if m == nil {
		return unknownRule(atsss.RuleMAR, uint32(id), "update")
	}
	if v, ok, err := optional(c, ie.SteeringFunctionality, where, atsssie.ParseSteeringFunctionality); err != nil {
		return err
	} else if ok {
		m.Functionality = v
	}
	if v, ok, err := optional(c, ie.SteeringMode, where, atsssie.ParseSteeringMode); err != nil {
		return err
	} else if ok {
		m.Mode = v
	}
	for _, a := range atsss.Accesses {
		if u := first(c, updateAFAIType[a]); u != nil {
			if len(u.Payload) == 0 {
				m.Legs[a] = atsss.Leg{}
				continue
			}
			if !m.Legs[a].Present {
				return &atsss.RuleError{Rule: atsss.RuleMAR, ID: uint32(id), Field: fmt.Sprintf("legs[%v]", a),
					Err: fmt.Errorf("%w: update of the %v access, which the MAR does not use", atsss.ErrUnknownReference, a)}
			}
			if err := decodeLeg(&m.Legs[a], children(u), false); err != nil {
				return err
			}
		}
		if add := first(c, afaiType[a]); add != nil {
			leg := atsss.Leg{Present: true}
			if err := decodeLeg(&leg, children(add), true); err != nil {
				return err
			}
			m.Legs[a] = leg
		}
	}
	return decodeMARParams(m, c, where)
}
