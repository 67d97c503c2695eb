// Package approval owns approval tasks: every new image and every change of
// an app's domains opens one, and it resolves by the account's policy — a
// quorum of distinct writers or managers approves, one deny denies, a user
// decides once, and self-approval may be forbidden. Resolving a task updates
// its subject (the image's approval status, the app's approved domains) and
// records the audit event in the same transaction.
package approval

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"time"

	"github.com/openccm/openccm/internal/audit"
	"github.com/openccm/openccm/internal/errs"
	"github.com/openccm/openccm/internal/ids"
	"github.com/openccm/openccm/internal/store"
)

// Config configures a Service.
type Config struct {
	Store store.Store
	Audit *audit.Log
	Log   *slog.Logger
	Now   func() time.Time
}

// Service manages approval tasks.
type Service struct {
	st    store.Store
	audit *audit.Log
	log   *slog.Logger
	now   func() time.Time
}

// New returns a Service.
func New(c Config) (*Service, error) {
	if c.Store == nil || c.Audit == nil {
		return nil, errors.New("approval: store and audit log are required")
	}
	s := &Service{st: c.Store, audit: c.Audit, log: c.Log, now: c.Now}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	return s, nil
}

func (s *Service) nowUTC() time.Time { return s.now().UTC().Truncate(time.Microsecond) }

// Get returns a task of the account.
func (s *Service) Get(ctx context.Context, accountID, taskID string) (*store.Task, error) {
	if !ids.Valid(taskID) {
		return nil, errs.NotFoundf("no such task")
	}
	t, err := s.st.GetTask(ctx, accountID, taskID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, errs.NotFoundf("no such task")
	}
	return t, err
}

// List lists an account's tasks.
func (s *Service) List(ctx context.Context, accountID string, status, kind string, pg store.Page) ([]*store.Task, string, error) {
	f := store.TaskFilter{Status: store.TaskStatus(status), Kind: store.TaskKind(kind)}
	switch f.Status {
	case "", store.TaskPending, store.TaskApproved, store.TaskDenied:
	default:
		return nil, "", errs.Invalidf("status", "must be pending, approved or denied")
	}
	switch f.Kind {
	case "", store.TaskImageApproval, store.TaskDomainApproval:
	default:
		return nil, "", errs.Invalidf("kind", "must be image_approval or domain_approval")
	}
	rows, err := s.st.ListTasks(ctx, accountID, f, pg.Plus1())
	if err != nil {
		return nil, "", err
	}
	rows, next := store.Trim(rows, pg, func(t *store.Task) string { return t.ID })
	return rows, next, nil
}

// OpenImageTask opens the approval task of an image that became ready, in
// the caller's transaction, and records it on the image.
func (s *Service) OpenImageTask(ctx context.Context, tx store.Store, img *store.Image) (*store.Task, error) {
	acct, err := tx.GetAccount(ctx, img.AccountID)
	if err != nil {
		return nil, err
	}
	t := &store.Task{
		ID: ids.New(), AccountID: img.AccountID, Kind: store.TaskImageApproval,
		SubjectType: "image", SubjectID: img.ID, Status: store.TaskPending,
		RequiredApprovals: acct.ApprovalPolicy.RequiredApprovals,
		DomainsAdded:      []string{}, DomainsRemoved: []string{}, ProposedDomains: []string{},
		CreatedBy: img.CreatedBy, CreatedAt: s.nowUTC(),
	}
	if err := tx.CreateTask(ctx, t); err != nil {
		return nil, err
	}
	img.TaskID = t.ID
	img.ApprovalStatus = store.ApprovalPending
	img.UpdatedAt = t.CreatedAt
	if err := tx.UpdateImage(ctx, img); err != nil {
		return nil, err
	}
	return t, s.audit.Append(ctx, tx, audit.Event{
		AccountID: img.AccountID, Action: "task.create", SubjectType: "task", SubjectID: t.ID,
		Details: map[string]any{"kind": string(t.Kind), "image_id": img.ID, "required_approvals": t.RequiredApprovals},
	})
}

// OpenDomainTask opens the approval task of a change of an app's domains
// (the app's new domain set is proposed), in the caller's transaction. It
// refuses a change while another domain task of the app is pending.
func (s *Service) OpenDomainTask(ctx context.Context, tx store.Store, a *store.App, createdBy string, added, removed []string) (*store.Task, error) {
	if a.PendingDomainTaskID != "" {
		return nil, &errs.Error{Kind: errs.Conflict, Field: "domains",
			Msg: "a domain change of this app is waiting for approval (task " + a.PendingDomainTaskID + "); decide it first"}
	}
	acct, err := tx.GetAccount(ctx, a.AccountID)
	if err != nil {
		return nil, err
	}
	t := &store.Task{
		ID: ids.New(), AccountID: a.AccountID, Kind: store.TaskDomainApproval,
		SubjectType: "app", SubjectID: a.ID, Status: store.TaskPending,
		RequiredApprovals: acct.ApprovalPolicy.RequiredApprovals,
		DomainsAdded:      nonNil(added), DomainsRemoved: nonNil(removed), ProposedDomains: nonNil(append([]string(nil), a.Domains...)),
		CreatedBy: createdBy, CreatedAt: s.nowUTC(),
	}
	if err := tx.CreateTask(ctx, t); err != nil {
		return nil, err
	}
	a.PendingDomainTaskID = t.ID
	return t, s.audit.Append(ctx, tx, audit.Event{
		AccountID: a.AccountID, Action: "task.create", SubjectType: "task", SubjectID: t.ID,
		Details: map[string]any{"kind": string(t.Kind), "app_id": a.ID, "domains_added": t.DomainsAdded,
			"domains_removed": t.DomainsRemoved, "required_approvals": t.RequiredApprovals},
	})
}

// Decide records userID's decision on a task and resolves the task when
// the decision completes it. Decisions on one task are serialised, and the
// resolution is a compare-and-set, so a task resolves exactly once.
func (s *Service) Decide(ctx context.Context, accountID, taskID, userID string, d store.Decision, comment string) (*store.Task, error) {
	if d == store.DecisionDeny && strings.TrimSpace(comment) == "" {
		return nil, errs.Invalidf("reason", "is required: say why the task is denied")
	}
	if len([]rune(comment)) > 2000 {
		field := "comment"
		if d == store.DecisionDeny {
			field = "reason"
		}
		return nil, errs.Invalidf(field, "must be at most 2000 characters")
	}
	if !ids.Valid(taskID) {
		return nil, errs.NotFoundf("no such task")
	}
	var out *store.Task
	err := s.st.WithTx(ctx, func(tx store.Store) error {
		if err := tx.Lock(ctx, "task:"+taskID); err != nil {
			return err
		}
		t, err := tx.GetTask(ctx, accountID, taskID)
		if err != nil {
			return err
		}
		// Lock the subject too, before anything takes the audit lock: its
		// update when the task resolves must not race its other changes.
		if err := tx.Lock(ctx, t.SubjectType+":"+t.SubjectID); err != nil {
			return err
		}
		if t.Status != store.TaskPending {
			return errs.Conflictf("the task is already %s and takes no more decisions", t.Status)
		}
		approvals := 0
		for _, dec := range t.Decisions {
			if dec.UserID == userID {
				return errs.Conflictf("you already decided this task (%s)", dec.Decision)
			}
			if dec.Decision == store.DecisionApprove {
				approvals++
			}
		}
		if d == store.DecisionApprove {
			approvals++
			acct, err := tx.GetAccount(ctx, accountID)
			if err != nil {
				return err
			}
			if !acct.ApprovalPolicy.AllowSelfApproval && t.CreatedBy == userID {
				return errs.Forbiddenf("the account's policy forbids approving your own change; another writer or manager must approve it")
			}
		}
		status, err := next(t.Status, approvals, t.RequiredApprovals, d)
		if err != nil {
			return err
		}
		now := s.nowUTC()
		dec := &store.TaskDecision{TaskID: t.ID, UserID: userID, Decision: d, Comment: comment, At: now}
		if err := tx.AddDecision(ctx, dec); err != nil {
			if errors.Is(err, store.ErrConflict) {
				return errs.Conflictf("you already decided this task")
			}
			return err
		}
		if err := s.audit.Append(ctx, tx, audit.Event{
			AccountID: accountID, Action: "task." + string(d), SubjectType: "task", SubjectID: t.ID,
			Details: map[string]any{"kind": string(t.Kind), "subject_type": t.SubjectType, "subject_id": t.SubjectID, "comment": comment},
		}); err != nil {
			return err
		}
		if status != store.TaskPending {
			if err := s.resolve(ctx, tx, t, status, now); err != nil {
				return err
			}
		}
		out, err = tx.GetTask(ctx, accountID, taskID)
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return nil, errs.NotFoundf("no such task")
	}
	if err != nil {
		return nil, err
	}
	s.log.Info("task decision", "account_id", accountID, "task_id", taskID, "decision", string(d), "status", string(out.Status))
	return out, nil
}

// resolve moves the task to its final status and updates its subject.
func (s *Service) resolve(ctx context.Context, tx store.Store, t *store.Task, status store.TaskStatus, at time.Time) error {
	if err := tx.ResolveTask(ctx, t.AccountID, t.ID, status, at); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return errs.Conflictf("the task was resolved by another decision at the same moment")
		}
		return err
	}
	details := map[string]any{"kind": string(t.Kind), "status": string(status)}
	switch t.Kind {
	case store.TaskImageApproval:
		img, err := tx.GetImage(ctx, t.AccountID, t.SubjectID)
		if err != nil {
			return err
		}
		img.ApprovalStatus = store.ApprovalApproved
		if status == store.TaskDenied {
			img.ApprovalStatus = store.ApprovalDenied
		}
		img.UpdatedAt = at
		if err := tx.UpdateImage(ctx, img); err != nil {
			return err
		}
		details["image_id"] = img.ID
	case store.TaskDomainApproval:
		a, err := tx.GetApp(ctx, t.AccountID, t.SubjectID)
		if err != nil {
			return err
		}
		if status == store.TaskApproved {
			// Approval approves the proposed set minus anything removed since.
			a.ApprovedDomains = intersect(t.ProposedDomains, a.Domains)
		}
		if a.PendingDomainTaskID == t.ID {
			a.PendingDomainTaskID = ""
		}
		a.UpdatedAt = at
		if err := tx.UpdateApp(ctx, a); err != nil {
			return err
		}
		details["app_id"] = a.ID
		details["approved_domains"] = a.ApprovedDomains
	}
	return s.audit.Append(ctx, tx, audit.Event{
		AccountID: t.AccountID, Action: "task.resolve", SubjectType: "task", SubjectID: t.ID, Details: details,
		Actor: &audit.Actor{Type: audit.ActorSystem},
	})
}

func intersect(a, b []string) []string {
	in := map[string]bool{}
	for _, x := range b {
		in[x] = true
	}
	out := []string{}
	for _, x := range a {
		if in[x] {
			out = append(out, x)
		}
	}
	return out
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
