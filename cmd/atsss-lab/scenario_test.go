package main

import (
	"testing"
	"time"
)

// TestScenarioPlans checks what every scenario must have before any lab is
// built: a story, a session in the mode it is named after (unless operator
// policies through the API override it), and for a paced one, phases that
// the summary can measure.
func TestScenarioPlans(t *testing.T) {
	for _, name := range scenarioNames() {
		t.Run(name, func(t *testing.T) {
			sc := scenarios[name]
			if sc.story == "" || (sc.session.spec.Mode != name && !sc.api) {
				t.Errorf("story %q, session mode %q", sc.story, sc.session.spec.Mode)
			}
			if sc.paced == nil {
				return
			}
			for _, cutFor := range []time.Duration{time.Millisecond, 2 * time.Second} {
				plan := sc.paced(cutFor)
				seen := map[string]bool{}
				var total time.Duration
				for _, ph := range plan.phases {
					if ph.mark == "" || seen[ph.mark] || ph.enter == nil || ph.length <= 0 || ph.settle < 0 || ph.settle >= ph.length {
						t.Errorf("-for %v: phase %q: length %v, settle %v, enter set %v, mark seen before %v", cutFor, ph.mark, ph.length, ph.settle, ph.enter != nil, seen[ph.mark])
					}
					seen[ph.mark] = true
					total += ph.length
				}
				if len(plan.phases) < 3 || total > 30*time.Second || plan.down <= 0 || plan.up <= 0 {
					t.Errorf("-for %v: %d phases, %v in all, rates %g up %g down", cutFor, len(plan.phases), total, plan.up, plan.down)
				}
			}
		})
	}
}
