package atsssie

import "testing"

func TestCauseText(t *testing.T) {
	for _, tc := range []struct {
		text string
		want Cause
	}{{"accepted", CauseAccepted}, {"1", CauseAccepted}, {"no_resources", CauseNoResources}, {"75", CauseNoResources}, {"200", 200}} {
		var c Cause
		if err := c.UnmarshalText([]byte(tc.text)); err != nil || c != tc.want {
			t.Errorf("UnmarshalText(%q) = %v, %v; want %v", tc.text, c, err, tc.want)
		}
	}
	var c Cause
	if err := c.UnmarshalText([]byte("fine")); err == nil {
		t.Error("an unknown name was accepted")
	}
	if got := Cause(200).String(); got != "cause_200" || Cause(200).Defined() {
		t.Errorf("Cause(200): %q, defined %v", got, Cause(200).Defined())
	}
	if !CauseAccepted.Accepted() || CauseRejected.Accepted() {
		t.Error("Accepted is wrong")
	}
}
