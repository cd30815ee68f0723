package pcf

import (
	"encoding/json"
	"errors"
	"math/rand/v2"
	"testing"

	"buf.build/go/protovalidate"
	"github.com/free5gc/openapi/models"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"

	atsssv1 "github.com/openatsss/atsss/api/atsss/v1"
)

// randomMode returns a random SteeringMode that tends to pass the API's
// protovalidate rules; the caller filters the rest out. Zeros are drawn
// often, since they are what the model gets wrong.
func randomMode(r *rand.Rand) *atsssv1.SteeringMode {
	m := &atsssv1.SteeringMode{SteerModeValue: atsssv1.SteeringModeValue(1 + r.IntN(5))}
	access := func() atsssv1.AccessType { return atsssv1.AccessType(r.IntN(3)) }
	small := func(max uint32) *uint32 { // nil, 0, max or anything up to max
		switch r.IntN(4) {
		case 0:
			return nil
		case 1:
			return u32(0)
		case 2:
			return u32(max)
		}
		return u32(r.Uint32N(max + 1))
	}
	switch m.SteerModeValue {
	case modeAS:
		m.Active = atsssv1.AccessType(1 + r.IntN(2))
		if r.IntN(2) == 0 {
			m.Standby = 3 - m.Active
		}
	case modePB:
		m.PrioAcc = atsssv1.AccessType(1 + r.IntN(2))
	case modeLB:
		m.SteerModeInd = atsssv1.SteeringModeIndicator(r.IntN(3))
	}
	if r.IntN(8) == 0 { // the fields a mode does not use
		m.Active, m.Standby, m.PrioAcc = access(), access(), access()
	}
	if m.SteerModeValue == modeLB || r.IntN(8) == 0 {
		m.ThreeGLoad = small(100)
		if m.ThreeGLoad != nil && r.IntN(2) == 0 {
			m.NonThreeGLoad = u32(100 - *m.ThreeGLoad)
		}
	}
	if m.SteerModeInd == 0 && r.IntN(2) == 0 {
		m.ThresValue = &atsssv1.ThresholdValue{RttMs: small(65535), PlrPerMille: small(1000)}
	}
	return m
}

// representable is the package documentation's rule, written independently
// of the code: what ToTrafficControlData must accept.
func representable(m *atsssv1.SteeringMode) bool {
	if m == nil {
		return true
	}
	if m.GetSteerModeValue() == modeRD {
		return false
	}
	if m.GetSteerModeValue() == modeLB {
		if m.ThreeGLoad == nil {
			return false
		}
	} else if m.ThreeGLoad != nil && *m.ThreeGLoad == 0 {
		return false
	}
	tv := m.GetThresValue()
	if tv == nil {
		return true
	}
	return (tv.RttMs == nil || *tv.RttMs != 0) && (tv.PlrPerMille == nil || *tv.PlrPerMille != 0)
}

// FuzzProtoRoundTrip builds random valid steerings from the seed and checks
// that Proto -> PCF -> JSON -> PCF -> Proto is the identity (but for the
// dropped non_three_g_load), or that ToTrafficControlData refused exactly
// the values the model cannot carry.
func FuzzProtoRoundTrip(f *testing.F) {
	for seed := range uint64(32) {
		f.Add(seed)
	}
	v, err := protovalidate.New()
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, seed uint64) {
		r := rand.New(rand.NewPCG(seed, 0x5eed))
		for range 100 {
			s := Steering{Fun: atsssv1.SteeringFunctionality(r.IntN(3))}
			if r.IntN(4) != 0 {
				s.DL = randomMode(r)
			}
			if r.IntN(2) == 0 {
				s.UL = randomMode(r)
			}
			if !valid(v, s) {
				continue
			}
			want := Steering{Fun: s.Fun, DL: withoutNon3GPPLoad(s.DL), UL: withoutNon3GPPLoad(s.UL)}

			tcd, err := ToTrafficControlData(s)
			if ok := representable(s.DL) && representable(s.UL); err != nil || !ok {
				if err == nil || ok || !errors.Is(err, ErrNotRepresentable) {
					t.Fatalf("ToTrafficControlData(%v) error %v, representable %v", s, err, ok)
				}
				continue
			}
			b, err := json.Marshal(tcd)
			if err != nil {
				t.Fatal(err)
			}
			var back models.Pcf_SMPolCtrl_TrafficControlData
			if err := json.Unmarshal(b, &back); err != nil {
				t.Fatal(err)
			}
			got, err := FromTrafficControlData(&back)
			if err != nil {
				t.Fatalf("FromTrafficControlData(%s): %v", b, err)
			}
			if diff := cmp.Diff(want, got, protocmp.Transform()); diff != "" {
				t.Fatalf("round trip through %s (-want +got):\n%s", b, diff)
			}
		}
	})
}

func valid(v protovalidate.Validator, s Steering) bool {
	for _, m := range []*atsssv1.SteeringMode{s.DL, s.UL} {
		if m != nil && v.Validate(m) != nil {
			return false
		}
	}
	return true
}

func withoutNon3GPPLoad(m *atsssv1.SteeringMode) *atsssv1.SteeringMode {
	if m == nil {
		return nil
	}
	m = proto.CloneOf(m)
	m.NonThreeGLoad = nil
	return m
}

// FuzzFromJSON decodes what a PCF could send: FromTrafficControlData either
// names the bad attribute or returns a steering that ToTrafficControlData
// turns back into the same steering attributes.
func FuzzFromJSON(f *testing.F) {
	for _, tt := range goldenTests {
		f.Add([]byte(tt.wire))
	}
	f.Add([]byte(`{"steerModeDl":{"steerModeValue":"PRIORITY_BASED","prioAcc":"3GPP_ACCESS","thresValue":{"rttThres":0,"plrThres":0}}}`))
	f.Add([]byte(`{"steerModeDl":null,"steerModeUl":{"steerModeValue":"ACTIVE_STANDBY","standby":null}}`))
	f.Add([]byte(`{"steerModeDl":{"steerModeValue":"LOAD_BALANCING","3gLoad":-7}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var tcd models.Pcf_SMPolCtrl_TrafficControlData
		if json.Unmarshal(data, &tcd) != nil {
			return
		}
		s, err := FromTrafficControlData(&tcd)
		if err != nil {
			var fe *FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("error %v is not a *FieldError", err)
			}
			return
		}
		back, err := ToTrafficControlData(s)
		if err != nil {
			t.Fatalf("ToTrafficControlData(FromTrafficControlData(%s)): %v", data, err)
		}
		want := &models.Pcf_SMPolCtrl_TrafficControlData{SteerFun: tcd.SteerFun, SteerModeDl: tcd.SteerModeDl, SteerModeUl: tcd.SteerModeUl}
		if diff := cmp.Diff(want, back); diff != "" {
			t.Fatalf("round trip of %s (-want +got):\n%s", data, diff)
		}
	})
}
