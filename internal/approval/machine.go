package approval

import (
	"github.com/openccm/openccm/internal/errs"
	"github.com/openccm/openccm/internal/store"
)

// next is the task state machine. Given a task's status, the number of
// approvals it will have counting this decision, the quorum and the
// decision, it returns the task's next status. Resolved tasks are final.
//
//	pending --deny-------------------------> denied
//	pending --approve (approvals < quorum)--> pending
//	pending --approve (approvals ≥ quorum)--> approved
//	approved, denied --any-----------------> error (409)
func next(status store.TaskStatus, approvals, quorum int, d store.Decision) (store.TaskStatus, error) {
	if status != store.TaskPending {
		return status, errs.Conflictf("the task is already %s and takes no more decisions", status)
	}
	switch d {
	case store.DecisionDeny:
		return store.TaskDenied, nil
	case store.DecisionApprove:
		if approvals >= quorum {
			return store.TaskApproved, nil
		}
		return store.TaskPending, nil
	}
	return status, errs.Invalidf("decision", "must be approve or deny")
}
