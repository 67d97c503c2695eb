package approval

import (
	"fmt"
	"testing"

	"github.com/openccm/openccm/internal/errs"
	"github.com/openccm/openccm/internal/store"
)

// TestTransitions covers every status × decision × quorum position.
func TestTransitions(t *testing.T) {
	statuses := []store.TaskStatus{store.TaskPending, store.TaskApproved, store.TaskDenied}
	decisions := []store.Decision{store.DecisionApprove, store.DecisionDeny, "abstain"}
	for _, quorum := range []int{1, 2, 3, 10} {
		for _, st := range statuses {
			for _, d := range decisions {
				for approvals := 0; approvals <= quorum+1; approvals++ {
					name := fmt.Sprintf("%s task, %s with %d of %d approvals", st, d, approvals, quorum)
					t.Run(name, func(t *testing.T) {
						got, err := next(st, approvals, quorum, d)
						switch {
						case st != store.TaskPending:
							if !errs.Is(errs.Conflict, err) || got != st {
								t.Fatalf("a resolved task took a decision: %v, %v", got, err)
							}
						case d == store.DecisionDeny:
							if err != nil || got != store.TaskDenied {
								t.Fatalf("deny gave %v, %v", got, err)
							}
						case d == store.DecisionApprove && approvals >= quorum:
							if err != nil || got != store.TaskApproved {
								t.Fatalf("quorum reached gave %v, %v", got, err)
							}
						case d == store.DecisionApprove:
							if err != nil || got != store.TaskPending {
								t.Fatalf("below quorum gave %v, %v", got, err)
							}
						default:
							if !errs.Is(errs.Invalid, err) {
								t.Fatalf("unknown decision gave %v, %v", got, err)
							}
						}
					})
				}
			}
		}
	}
}
