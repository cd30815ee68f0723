package pcf

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/free5gc/openapi/models"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/testing/protocmp"

	atsssv1 "github.com/openatsss/atsss/api/atsss/v1"
)

const (
	funMPTCP = atsssv1.SteeringFunctionality_STEERING_FUNCTIONALITY_MPTCP
	funLL    = atsssv1.SteeringFunctionality_STEERING_FUNCTIONALITY_ATSSS_LL

	modeAS = atsssv1.SteeringModeValue_STEERING_MODE_VALUE_ACTIVE_STANDBY
	modeLB = atsssv1.SteeringModeValue_STEERING_MODE_VALUE_LOAD_BALANCING
	modeSD = atsssv1.SteeringModeValue_STEERING_MODE_VALUE_SMALLEST_DELAY
	modePB = atsssv1.SteeringModeValue_STEERING_MODE_VALUE_PRIORITY_BASED
	modeRD = atsssv1.SteeringModeValue_STEERING_MODE_VALUE_REDUNDANT

	acc3GPP  = atsssv1.AccessType_ACCESS_TYPE_3GPP
	accN3GPP = atsssv1.AccessType_ACCESS_TYPE_NON_3GPP

	indALB = atsssv1.SteeringModeIndicator_STEERING_MODE_INDICATOR_AUTO_LOAD_BALANCE
	indUEA = atsssv1.SteeringModeIndicator_STEERING_MODE_INDICATOR_UE_ASSISTANCE
)

func u32(v uint32) *uint32 { return &v }

func lb(load uint32) *atsssv1.SteeringMode {
	return &atsssv1.SteeringMode{SteerModeValue: modeLB, ThreeGLoad: u32(load)}
}

// goldenTests pair a steering with the JSON of its TrafficControlData as a
// PCF sends it (encoding/json of the free5gc model, fields in struct order).
// Each is checked both ways.
var goldenTests = []struct {
	name string
	s    Steering
	wire string
}{
	{"empty", Steering{}, `{}`},
	{"functionality only", Steering{Fun: funMPTCP}, `{"steerFun":"MPTCP"}`},
	{"unspecified functionality", Steering{DL: &atsssv1.SteeringMode{SteerModeValue: modeSD}},
		`{"steerModeDl":{"steerModeValue":"SMALLEST_DELAY"}}`},
	{"atsss-ll smallest delay", Steering{Fun: funLL, DL: &atsssv1.SteeringMode{SteerModeValue: modeSD}},
		`{"steerFun":"ATSSS_LL","steerModeDl":{"steerModeValue":"SMALLEST_DELAY"}}`},
	{"active-standby with standby", Steering{Fun: funMPTCP, DL: &atsssv1.SteeringMode{SteerModeValue: modeAS, Active: acc3GPP, Standby: accN3GPP}},
		`{"steerFun":"MPTCP","steerModeDl":{"steerModeValue":"ACTIVE_STANDBY","active":"3GPP_ACCESS","standby":"NON_3GPP_ACCESS"}}`},
	{"active-standby without standby", Steering{Fun: funMPTCP, DL: &atsssv1.SteeringMode{SteerModeValue: modeAS, Active: accN3GPP}},
		`{"steerFun":"MPTCP","steerModeDl":{"steerModeValue":"ACTIVE_STANDBY","active":"NON_3GPP_ACCESS"}}`},
	{"load-balancing 80/20", Steering{Fun: funMPTCP, DL: lb(80)},
		`{"steerFun":"MPTCP","steerModeDl":{"steerModeValue":"LOAD_BALANCING","3gLoad":80}}`},
	{"load-balancing 100/0", Steering{DL: lb(100)},
		`{"steerModeDl":{"steerModeValue":"LOAD_BALANCING","3gLoad":100}}`},
	// The model drops 3gLoad 0; under Load-Balancing absence reads as 0.
	{"load-balancing 0/100", Steering{DL: lb(0)},
		`{"steerModeDl":{"steerModeValue":"LOAD_BALANCING"}}`},
	{"load-balancing auto", Steering{DL: &atsssv1.SteeringMode{SteerModeValue: modeLB, ThreeGLoad: u32(50), SteerModeInd: indALB}},
		`{"steerModeDl":{"steerModeValue":"LOAD_BALANCING","3gLoad":50,"steerModeInd":"AUTO_LOAD_BALANCE"}}`},
	{"load-balancing ue assistance 0/100", Steering{DL: &atsssv1.SteeringMode{SteerModeValue: modeLB, ThreeGLoad: u32(0), SteerModeInd: indUEA}},
		`{"steerModeDl":{"steerModeValue":"LOAD_BALANCING","steerModeInd":"UE_ASSISTANCE"}}`},
	{"load-balancing rtt threshold only", Steering{DL: &atsssv1.SteeringMode{SteerModeValue: modeLB, ThreeGLoad: u32(60), ThresValue: &atsssv1.ThresholdValue{RttMs: u32(50)}}},
		`{"steerModeDl":{"steerModeValue":"LOAD_BALANCING","3gLoad":60,"thresValue":{"rttThres":50}}}`},
	{"priority-based plr threshold only", Steering{DL: &atsssv1.SteeringMode{SteerModeValue: modePB, PrioAcc: accN3GPP, ThresValue: &atsssv1.ThresholdValue{PlrPerMille: u32(15)}}},
		`{"steerModeDl":{"steerModeValue":"PRIORITY_BASED","prioAcc":"NON_3GPP_ACCESS","thresValue":{"plrThres":15}}}`},
	{"priority-based both thresholds", Steering{DL: &atsssv1.SteeringMode{SteerModeValue: modePB, PrioAcc: acc3GPP, ThresValue: &atsssv1.ThresholdValue{RttMs: u32(120), PlrPerMille: u32(1)}}},
		`{"steerModeDl":{"steerModeValue":"PRIORITY_BASED","prioAcc":"3GPP_ACCESS","thresValue":{"rttThres":120,"plrThres":1}}}`},
	{"largest thresholds", Steering{DL: &atsssv1.SteeringMode{SteerModeValue: modePB, PrioAcc: acc3GPP, ThresValue: &atsssv1.ThresholdValue{RttMs: u32(65535), PlrPerMille: u32(1000)}}},
		`{"steerModeDl":{"steerModeValue":"PRIORITY_BASED","prioAcc":"3GPP_ACCESS","thresValue":{"rttThres":65535,"plrThres":1000}}}`},
	// thresValue is a pointer: an empty one is kept.
	{"empty thresholds", Steering{DL: &atsssv1.SteeringMode{SteerModeValue: modePB, PrioAcc: acc3GPP, ThresValue: &atsssv1.ThresholdValue{}}},
		`{"steerModeDl":{"steerModeValue":"PRIORITY_BASED","prioAcc":"3GPP_ACCESS","thresValue":{}}}`},
	{"uplink only", Steering{Fun: funLL, UL: &atsssv1.SteeringMode{SteerModeValue: modeAS, Active: acc3GPP}},
		`{"steerFun":"ATSSS_LL","steerModeUl":{"steerModeValue":"ACTIVE_STANDBY","active":"3GPP_ACCESS"}}`},
	{"downlink and uplink differ", Steering{Fun: funMPTCP, DL: lb(70), UL: &atsssv1.SteeringMode{SteerModeValue: modeAS, Active: acc3GPP, Standby: accN3GPP}},
		`{"steerFun":"MPTCP","steerModeDl":{"steerModeValue":"LOAD_BALANCING","3gLoad":70},"steerModeUl":{"steerModeValue":"ACTIVE_STANDBY","active":"3GPP_ACCESS","standby":"NON_3GPP_ACCESS"}}`},
	// Meaningless outside Load-Balancing, but a non-zero 3gLoad survives.
	{"3gLoad outside load-balancing", Steering{DL: &atsssv1.SteeringMode{SteerModeValue: modeSD, ThreeGLoad: u32(30)}},
		`{"steerModeDl":{"steerModeValue":"SMALLEST_DELAY","3gLoad":30}}`},
}

func TestToTrafficControlData(t *testing.T) {
	for _, tt := range goldenTests {
		t.Run(tt.name, func(t *testing.T) {
			tcd, err := ToTrafficControlData(tt.s)
			if err != nil {
				t.Fatalf("ToTrafficControlData: %v", err)
			}
			b, err := json.Marshal(tcd)
			if err != nil {
				t.Fatal(err)
			}
			if string(b) != tt.wire {
				t.Errorf("JSON:\n got %s\nwant %s", b, tt.wire)
			}
		})
	}
}

func TestFromTrafficControlData(t *testing.T) {
	for _, tt := range goldenTests {
		t.Run(tt.name, func(t *testing.T) {
			var tcd models.Pcf_SMPolCtrl_TrafficControlData
			if err := json.Unmarshal([]byte(tt.wire), &tcd); err != nil {
				t.Fatal(err)
			}
			got, err := FromTrafficControlData(&tcd)
			if err != nil {
				t.Fatalf("FromTrafficControlData: %v", err)
			}
			if diff := cmp.Diff(tt.s, got, protocmp.Transform()); diff != "" {
				t.Errorf("steering (-want +got):\n%s", diff)
			}
		})
	}
}

// TestFromTrafficControlDataGoValues feeds Go values rather than JSON: a
// PCF built on the models hands these over before marshalling.
func TestFromTrafficControlDataGoValues(t *testing.T) {
	tcd := &models.Pcf_SMPolCtrl_TrafficControlData{
		TcId:       "tc-1",
		FlowStatus: models.Pcf_PolAuth_FlowStatus_ENABLED,
		SteerFun:   models.Pcf_SMPolCtrl_SteeringFunctionality_MPTCP,
		SteerModeDl: &models.Pcf_SMPolCtrl_SteeringMode{
			SteerModeValue: models.Pcf_SMPolCtrl_SteerModeValue_LOAD_BALANCING,
			Var3gLoad:      0,
		},
		SteerModeUl: &models.Pcf_SMPolCtrl_SteeringMode{
			SteerModeValue: models.Pcf_SMPolCtrl_SteerModeValue_PRIORITY_BASED,
			PrioAcc:        models.AccessType_NON_3_GPP_ACCESS,
			ThresValue:     &models.Pcf_SMPolCtrl_ThresholdValue{RttThres: 0, PlrThres: 25},
		},
	}
	want := Steering{
		Fun: funMPTCP,
		DL:  lb(0),
		UL:  &atsssv1.SteeringMode{SteerModeValue: modePB, PrioAcc: accN3GPP, ThresValue: &atsssv1.ThresholdValue{PlrPerMille: u32(25)}},
	}
	got, err := FromTrafficControlData(tcd)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got, protocmp.Transform()); diff != "" {
		t.Errorf("steering (-want +got):\n%s", diff)
	}
	// Back to the model: the steering fields come back, nothing else does.
	back, err := ToTrafficControlData(got)
	if err != nil {
		t.Fatal(err)
	}
	wantBack := &models.Pcf_SMPolCtrl_TrafficControlData{SteerFun: tcd.SteerFun, SteerModeDl: tcd.SteerModeDl, SteerModeUl: tcd.SteerModeUl}
	if diff := cmp.Diff(wantBack, back); diff != "" {
		t.Errorf("TrafficControlData (-want +got):\n%s", diff)
	}
}

func TestToTrafficControlDataErrors(t *testing.T) {
	tests := []struct {
		name    string
		s       Steering
		field   string
		notRepr bool // wraps ErrNotRepresentable
	}{
		{"plr 0", Steering{DL: &atsssv1.SteeringMode{SteerModeValue: modePB, PrioAcc: acc3GPP, ThresValue: &atsssv1.ThresholdValue{PlrPerMille: u32(0)}}},
			"steerModeDl.thresValue.plrThres", true},
		{"rtt 0", Steering{UL: &atsssv1.SteeringMode{SteerModeValue: modePB, PrioAcc: acc3GPP, ThresValue: &atsssv1.ThresholdValue{RttMs: u32(0), PlrPerMille: u32(5)}}},
			"steerModeUl.thresValue.rttThres", true},
		{"load-balancing auto without load", Steering{DL: &atsssv1.SteeringMode{SteerModeValue: modeLB, SteerModeInd: indALB}},
			"steerModeDl.3gLoad", true},
		{"3gLoad 0 outside load-balancing", Steering{DL: &atsssv1.SteeringMode{SteerModeValue: modeAS, Active: acc3GPP, ThreeGLoad: u32(0)}},
			"steerModeDl.3gLoad", true},
		{"no mode", Steering{DL: &atsssv1.SteeringMode{Active: acc3GPP}}, "steerModeDl.steerModeValue", false},
		{"redundant", Steering{DL: &atsssv1.SteeringMode{SteerModeValue: modeRD, Active: acc3GPP}}, "steerModeDl.steerModeValue", true},
		{"unknown mode", Steering{DL: &atsssv1.SteeringMode{SteerModeValue: 9}}, "steerModeDl.steerModeValue", false},
		{"unknown functionality", Steering{Fun: 7}, "steerFun", false},
		{"unknown active", Steering{DL: &atsssv1.SteeringMode{SteerModeValue: modeAS, Active: 3}}, "steerModeDl.active", false},
		{"unknown standby", Steering{UL: &atsssv1.SteeringMode{SteerModeValue: modeAS, Active: acc3GPP, Standby: 5}}, "steerModeUl.standby", false},
		{"unknown prioAcc", Steering{DL: &atsssv1.SteeringMode{SteerModeValue: modePB, PrioAcc: -1}}, "steerModeDl.prioAcc", false},
		{"unknown indicator", Steering{DL: &atsssv1.SteeringMode{SteerModeValue: modeLB, ThreeGLoad: u32(50), SteerModeInd: 3}}, "steerModeDl.steerModeInd", false},
		{"3gLoad 101", Steering{DL: lb(101)}, "steerModeDl.3gLoad", false},
		{"rtt 65536", Steering{DL: &atsssv1.SteeringMode{SteerModeValue: modePB, PrioAcc: acc3GPP, ThresValue: &atsssv1.ThresholdValue{RttMs: u32(65536)}}},
			"steerModeDl.thresValue.rttThres", false},
		{"plr 1001", Steering{DL: &atsssv1.SteeringMode{SteerModeValue: modePB, PrioAcc: acc3GPP, ThresValue: &atsssv1.ThresholdValue{PlrPerMille: u32(1001)}}},
			"steerModeDl.thresValue.plrThres", false},
		{"weights 80/30", Steering{DL: &atsssv1.SteeringMode{SteerModeValue: modeLB, ThreeGLoad: u32(80), NonThreeGLoad: u32(30)}},
			"steerModeDl.3gLoad", false},
		{"non-3GPP load alone", Steering{DL: &atsssv1.SteeringMode{SteerModeValue: modeSD, NonThreeGLoad: u32(100)}},
			"steerModeDl.3gLoad", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tcd, err := ToTrafficControlData(tt.s)
			if err == nil {
				t.Fatalf("ToTrafficControlData = %+v, want an error", tcd)
			}
			checkFieldError(t, err, tt.field)
			if got := errors.Is(err, ErrNotRepresentable); got != tt.notRepr {
				t.Errorf("errors.Is(%v, ErrNotRepresentable) = %v, want %v", err, got, tt.notRepr)
			}
		})
	}
}

func TestFromTrafficControlDataErrors(t *testing.T) {
	tests := []struct {
		name, wire, field string
	}{
		{"unknown functionality", `{"steerFun":"MPQUIC"}`, "steerFun"},
		{"missing mode", `{"steerModeDl":{"active":"3GPP_ACCESS"}}`, "steerModeDl.steerModeValue"},
		// Rel-18, after free5gc/openapi v1.3.0; the API does not take it in a policy.
		{"redundant", `{"steerModeUl":{"steerModeValue":"REDUNDANT"}}`, "steerModeUl.steerModeValue"},
		{"unknown mode", `{"steerModeUl":{"steerModeValue":"active_standby"}}`, "steerModeUl.steerModeValue"},
		{"unknown active", `{"steerModeDl":{"steerModeValue":"ACTIVE_STANDBY","active":"WLAN"}}`, "steerModeDl.active"},
		{"unknown standby", `{"steerModeUl":{"steerModeValue":"ACTIVE_STANDBY","active":"3GPP_ACCESS","standby":"3gpp_access"}}`, "steerModeUl.standby"},
		{"unknown prioAcc", `{"steerModeDl":{"steerModeValue":"PRIORITY_BASED","prioAcc":"BOTH"}}`, "steerModeDl.prioAcc"},
		{"unknown indicator", `{"steerModeDl":{"steerModeValue":"LOAD_BALANCING","3gLoad":50,"steerModeInd":"ALBI"}}`, "steerModeDl.steerModeInd"},
		{"negative 3gLoad", `{"steerModeDl":{"steerModeValue":"LOAD_BALANCING","3gLoad":-1}}`, "steerModeDl.3gLoad"},
		{"3gLoad 101", `{"steerModeDl":{"steerModeValue":"LOAD_BALANCING","3gLoad":101}}`, "steerModeDl.3gLoad"},
		{"rtt above N4", `{"steerModeDl":{"steerModeValue":"PRIORITY_BASED","prioAcc":"3GPP_ACCESS","thresValue":{"rttThres":65536}}}`, "steerModeDl.thresValue.rttThres"},
		{"negative rtt", `{"steerModeUl":{"steerModeValue":"PRIORITY_BASED","prioAcc":"3GPP_ACCESS","thresValue":{"rttThres":-5}}}`, "steerModeUl.thresValue.rttThres"},
		{"plr 1001", `{"steerModeDl":{"steerModeValue":"PRIORITY_BASED","prioAcc":"3GPP_ACCESS","thresValue":{"plrThres":1001}}}`, "steerModeDl.thresValue.plrThres"},
		{"negative plr", `{"steerModeDl":{"steerModeValue":"PRIORITY_BASED","prioAcc":"3GPP_ACCESS","thresValue":{"plrThres":-1}}}`, "steerModeDl.thresValue.plrThres"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var tcd models.Pcf_SMPolCtrl_TrafficControlData
			if err := json.Unmarshal([]byte(tt.wire), &tcd); err != nil {
				t.Fatal(err)
			}
			s, err := FromTrafficControlData(&tcd)
			if err == nil {
				t.Fatalf("FromTrafficControlData = %+v, want an error", s)
			}
			checkFieldError(t, err, tt.field)
		})
	}
	if _, err := FromTrafficControlData(nil); err == nil {
		t.Error("FromTrafficControlData(nil): no error")
	}
}

func checkFieldError(t *testing.T, err error, field string) {
	t.Helper()
	var fe *FieldError
	if !errors.As(err, &fe) {
		t.Fatalf("error %q is not a *FieldError", err)
	}
	if fe.Field != field {
		t.Errorf("error %q: field %q, want %q", err, fe.Field, field)
	}
	if prefix := "pcf: " + field + ": "; !strings.HasPrefix(err.Error(), prefix) {
		t.Errorf("error %q does not start with %q", err, prefix)
	}
}

// TestNonThreeGLoadDropped: the PCF has no non-3GPP load, so it is dropped
// on the way out and stays unset on the way in.
func TestNonThreeGLoadDropped(t *testing.T) {
	in := Steering{DL: &atsssv1.SteeringMode{SteerModeValue: modeLB, ThreeGLoad: u32(80), NonThreeGLoad: u32(20)}}
	tcd, err := ToTrafficControlData(in)
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(tcd)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"steerModeDl":{"steerModeValue":"LOAD_BALANCING","3gLoad":80}}`; string(b) != want {
		t.Errorf("JSON %s, want %s", b, want)
	}
	got, err := FromTrafficControlData(tcd)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(Steering{DL: lb(80)}, got, protocmp.Transform()); diff != "" {
		t.Errorf("steering (-want +got):\n%s", diff)
	}
}

// TestNoAliasing: neither conversion keeps a reference into its input.
func TestNoAliasing(t *testing.T) {
	in := Steering{DL: &atsssv1.SteeringMode{SteerModeValue: modePB, PrioAcc: acc3GPP, ThresValue: &atsssv1.ThresholdValue{RttMs: u32(10)}}}
	tcd, err := ToTrafficControlData(in)
	if err != nil {
		t.Fatal(err)
	}
	*in.DL.ThresValue.RttMs = 20
	if got := tcd.SteerModeDl.ThresValue.RttThres; got != 10 {
		t.Errorf("model changed with the API value: rttThres %d", got)
	}
	out, err := FromTrafficControlData(tcd)
	if err != nil {
		t.Fatal(err)
	}
	tcd.SteerModeDl.ThresValue.RttThres = 30
	if got := out.DL.GetThresValue().GetRttMs(); got != 10 {
		t.Errorf("API value changed with the model: rtt_ms %d", got)
	}
}
