package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/openccm/openccm/internal/store"
)

func testTasks(t *testing.T, open func(t *testing.T) store.Store) {
	taskID := func(tk *store.Task) string { return tk.ID }

	t.Run("a task reads back with every field and an empty list of decisions", func(t *testing.T) {
		f := newFixture(t, open)
		a := f.account("acme")
		tk := f.task(a, "app", newID())
		got, err := f.s.GetTask(f.ctx, a.ID, tk.ID)
		mustOK(t, err)
		wantEqual(t, got, tk)
	})

	t.Run("nil domain lists read back empty and a resolution time round-trips", func(t *testing.T) {
		f := newFixture(t, open)
		a := f.account("acme")
		resolved := t0.Add(time.Hour)
		tk := &store.Task{ID: newID(), AccountID: a.ID, Kind: store.TaskImageApproval, SubjectType: "image",
			SubjectID: newID(), Status: store.TaskApproved, RequiredApprovals: 1, CreatedAt: t0, ResolvedAt: &resolved}
		mustOK(t, f.s.CreateTask(f.ctx, tk))
		got, err := f.s.GetTask(f.ctx, a.ID, tk.ID)
		mustOK(t, err)
		want := *tk
		want.DomainsAdded, want.DomainsRemoved, want.ProposedDomains = []string{}, []string{}, []string{}
		want.Decisions = []store.TaskDecision{}
		wantEqual(t, got, &want)
	})

	t.Run("a task in a missing account is not found", func(t *testing.T) {
		f := newFixture(t, open)
		wantNotFound(t, f.s.CreateTask(f.ctx, &store.Task{ID: newID(), AccountID: newID(), Status: store.TaskPending, CreatedAt: t0}))
	})

	t.Run("a task with a taken ID conflicts on tasks.id", func(t *testing.T) {
		f := newFixture(t, open)
		a := f.account("acme")
		tk := f.task(a, "app", newID())
		dup := *tk
		wantConflict(t, f.s.CreateTask(f.ctx, &dup), "tasks.id")
	})

	t.Run("decisions read back in time order, then as recorded, with the users' emails", func(t *testing.T) {
		f := newFixture(t, open)
		a := f.account("acme")
		ada, bob, cy := f.user("ada@example.com"), f.user("bob@example.com"), f.user("cy@example.com")
		tk, other := f.task(a, "app", newID()), f.task(a, "app", newID())
		last := f.decide(tk, ada, store.DecisionApprove, t0.Add(2*time.Minute))
		first := f.decide(tk, cy, store.DecisionDeny, t0.Add(time.Minute))
		second := f.decide(tk, bob, store.DecisionApprove, t0.Add(time.Minute))
		otherD := f.decide(other, bob, store.DecisionDeny, t0)
		tk.Decisions = []store.TaskDecision{first, second, last}
		other.Decisions = []store.TaskDecision{otherD}

		got, err := f.s.GetTask(f.ctx, a.ID, tk.ID)
		mustOK(t, err)
		wantEqual(t, got, tk)
		list, err := f.s.ListTasks(f.ctx, a.ID, store.TaskFilter{}, store.Page{})
		mustOK(t, err)
		wantEqual(t, list, []*store.Task{tk, other})
		list, err = f.s.ListTasks(f.ctx, a.ID, store.TaskFilter{}, store.Page{Limit: 1})
		mustOK(t, err)
		wantEqual(t, list, []*store.Task{tk})
	})

	t.Run("a user decides a task once", func(t *testing.T) {
		f := newFixture(t, open)
		a := f.account("acme")
		ada, bob := f.user("ada@example.com"), f.user("bob@example.com")
		tk, other := f.task(a, "app", newID()), f.task(a, "app", newID())
		f.decide(tk, ada, store.DecisionApprove, t0)
		err := f.s.AddDecision(f.ctx, &store.TaskDecision{TaskID: tk.ID, UserID: ada.ID, Decision: store.DecisionDeny, At: t0.Add(time.Second)})
		wantConflict(t, err, "task_decisions.user")
		f.decide(tk, bob, store.DecisionDeny, t0)
		f.decide(other, ada, store.DecisionDeny, t0)
		got, err := f.s.GetTask(f.ctx, a.ID, tk.ID)
		mustOK(t, err)
		if len(got.Decisions) != 2 || got.Decisions[0].Decision != store.DecisionApprove {
			t.Fatalf("decisions after the conflict: %+v", got.Decisions)
		}
	})

	t.Run("a decision on a missing task or by a missing user is not found", func(t *testing.T) {
		f := newFixture(t, open)
		a := f.account("acme")
		ada := f.user("ada@example.com")
		tk := f.task(a, "app", newID())
		wantNotFound(t, f.s.AddDecision(f.ctx, &store.TaskDecision{TaskID: newID(), UserID: ada.ID, Decision: store.DecisionApprove, At: t0}))
		wantNotFound(t, f.s.AddDecision(f.ctx, &store.TaskDecision{TaskID: tk.ID, UserID: newID(), Decision: store.DecisionApprove, At: t0}))
	})

	t.Run("another account's task is not found", func(t *testing.T) {
		f := newFixture(t, open)
		a, b := f.account("acme"), f.account("globex")
		subject := newID()
		tk := f.task(a, "app", subject)
		_, err := f.s.GetTask(f.ctx, b.ID, tk.ID)
		wantNotFound(t, err)
		wantNotFound(t, f.s.ResolveTask(f.ctx, b.ID, tk.ID, store.TaskApproved, t0))
		list, err := f.s.ListTasks(f.ctx, b.ID, store.TaskFilter{}, store.Page{})
		mustOK(t, err)
		wantEqual(t, ids(list, taskID), []string{})
		mustOK(t, f.s.DeletePendingTasksFor(f.ctx, b.ID, "app", subject))
		got, err := f.s.GetTask(f.ctx, a.ID, tk.ID)
		mustOK(t, err)
		wantEqual(t, got, tk)
	})

	t.Run("resolving moves a pending task, and only a pending one", func(t *testing.T) {
		f := newFixture(t, open)
		a := f.account("acme")
		statuses := []store.TaskStatus{store.TaskPending, store.TaskApproved, store.TaskDenied}
		for _, from := range statuses {
			for _, to := range statuses[1:] {
				t.Run(fmt.Sprintf("from %s to %s", from, to), func(t *testing.T) {
					tk := &store.Task{ID: newID(), AccountID: a.ID, Kind: store.TaskImageApproval, SubjectType: "image",
						SubjectID: newID(), Status: from, CreatedAt: t0}
					if from != store.TaskPending {
						before := t0.Add(time.Minute)
						tk.ResolvedAt = &before
					}
					mustOK(t, f.s.CreateTask(f.ctx, tk))
					at := t0.Add(time.Hour)
					err := f.s.ResolveTask(f.ctx, a.ID, tk.ID, to, at)
					got, gerr := f.s.GetTask(f.ctx, a.ID, tk.ID)
					mustOK(t, gerr)
					if from == store.TaskPending {
						mustOK(t, err)
						if got.Status != to || got.ResolvedAt == nil || !got.ResolvedAt.Equal(at) {
							t.Fatalf("after resolving: status %s, resolved at %v", got.Status, got.ResolvedAt)
						}
						return
					}
					wantConflict(t, err, "tasks.status")
					if got.Status != from || !got.ResolvedAt.Equal(*tk.ResolvedAt) {
						t.Fatalf("a refused resolution changed the task: status %s, resolved at %v", got.Status, got.ResolvedAt)
					}
				})
			}
		}
	})

	t.Run("resolving a task twice conflicts on tasks.status", func(t *testing.T) {
		f := newFixture(t, open)
		a := f.account("acme")
		tk := f.task(a, "app", newID())
		mustOK(t, f.s.ResolveTask(f.ctx, a.ID, tk.ID, store.TaskDenied, t0.Add(time.Hour)))
		wantConflict(t, f.s.ResolveTask(f.ctx, a.ID, tk.ID, store.TaskApproved, t0.Add(2*time.Hour)), "tasks.status")
		got, err := f.s.GetTask(f.ctx, a.ID, tk.ID)
		mustOK(t, err)
		if got.Status != store.TaskDenied || !got.ResolvedAt.Equal(t0.Add(time.Hour)) {
			t.Fatalf("status %s, resolved at %v; want the first resolution", got.Status, got.ResolvedAt)
		}
	})

	t.Run("resolving a missing task is not found", func(t *testing.T) {
		f := newFixture(t, open)
		a := f.account("acme")
		wantNotFound(t, f.s.ResolveTask(f.ctx, a.ID, newID(), store.TaskApproved, t0))
	})

	t.Run("of concurrent resolutions of a task exactly one succeeds", func(t *testing.T) {
		f := newFixture(t, open)
		a := f.account("acme")
		tk := f.task(a, "app", newID())
		const n = 8
		var (
			wg   sync.WaitGroup
			errs [n]error
		)
		start := make(chan struct{})
		for i := range n {
			wg.Go(func() {
				to := store.TaskApproved
				if i%2 == 1 {
					to = store.TaskDenied
				}
				<-start
				errs[i] = f.s.ResolveTask(f.ctx, a.ID, tk.ID, to, t0.Add(time.Duration(i)*time.Second))
			})
		}
		close(start)
		wg.Wait()
		winner := -1
		for i, err := range errs {
			if err == nil {
				if winner >= 0 {
					t.Fatalf("resolutions %d and %d both succeeded", winner, i)
				}
				winner = i
				continue
			}
			wantConflict(t, err, "tasks.status")
		}
		if winner < 0 {
			t.Fatal("no resolution succeeded")
		}
		got, err := f.s.GetTask(f.ctx, a.ID, tk.ID)
		mustOK(t, err)
		want := store.TaskApproved
		if winner%2 == 1 {
			want = store.TaskDenied
		}
		if got.Status != want || !got.ResolvedAt.Equal(t0.Add(time.Duration(winner)*time.Second)) {
			t.Fatalf("status %s at %v, want the winner's (%d)", got.Status, got.ResolvedAt, winner)
		}
	})

	t.Run("of concurrent check-then-resolve transactions exactly one resolves", func(t *testing.T) {
		// The approval service reads the task, records a decision and
		// resolves it in one transaction; the compare-and-set keeps two
		// such transactions from both resolving.
		f := newFixture(t, open)
		a := f.account("acme")
		tk := f.task(a, "app", newID())
		const n = 6
		var users []*store.User
		for i := range n {
			users = append(users, f.user(fmt.Sprintf("u%d@example.com", i)))
		}
		var (
			wg       sync.WaitGroup
			mu       sync.Mutex
			resolved int
			errs     []error
		)
		start := make(chan struct{})
		for _, u := range users {
			wg.Go(func() {
				<-start
				err := f.s.WithTx(f.ctx, func(tx store.Store) error {
					got, err := tx.GetTask(f.ctx, a.ID, tk.ID)
					if err != nil || got.Status != store.TaskPending {
						return err
					}
					if err := tx.AddDecision(f.ctx, &store.TaskDecision{TaskID: tk.ID, UserID: u.ID, Decision: store.DecisionApprove, At: t0}); err != nil {
						return err
					}
					return tx.ResolveTask(f.ctx, a.ID, tk.ID, store.TaskApproved, t0)
				})
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					resolved++
				case !errors.Is(err, store.ErrConflict):
					errs = append(errs, err)
				}
			})
		}
		close(start)
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			t.Fatal(err)
		}
		got, err := f.s.GetTask(f.ctx, a.ID, tk.ID)
		mustOK(t, err)
		// A transaction that read the task as resolved returned nil too,
		// without deciding: the decisions count the resolutions.
		if got.Status != store.TaskApproved || len(got.Decisions) != 1 {
			t.Fatalf("status %s with %d decisions (%d transactions committed); want approved by one decision",
				got.Status, len(got.Decisions), resolved)
		}
	})

	t.Run("tasks are listed by ID within the account, with decisions, page by page and by status and kind", func(t *testing.T) {
		f := newFixture(t, open)
		a, b := f.account("acme"), f.account("globex")
		f.task(b, "app", newID())
		ada := f.user("ada@example.com")
		var all []*store.Task
		for i, r := range []struct {
			kind   store.TaskKind
			status store.TaskStatus
		}{
			{store.TaskImageApproval, store.TaskPending},
			{store.TaskDomainApproval, store.TaskPending},
			{store.TaskImageApproval, store.TaskApproved},
			{store.TaskDomainApproval, store.TaskDenied},
			{store.TaskImageApproval, store.TaskPending},
			{store.TaskImageApproval, store.TaskApproved},
		} {
			tk := &store.Task{ID: newID(), AccountID: a.ID, Kind: r.kind, SubjectType: "image", SubjectID: newID(),
				Status: store.TaskPending, RequiredApprovals: 1, DomainsAdded: []string{}, DomainsRemoved: []string{},
				ProposedDomains: []string{}, CreatedAt: t0, Decisions: []store.TaskDecision{}}
			mustOK(t, f.s.CreateTask(f.ctx, tk))
			if i%2 == 1 {
				tk.Decisions = append(tk.Decisions, f.decide(tk, ada, store.DecisionApprove, t0))
			}
			if r.status != store.TaskPending {
				at := t0.Add(time.Hour)
				mustOK(t, f.s.ResolveTask(f.ctx, a.ID, tk.ID, r.status, at))
				tk.Status, tk.ResolvedAt = r.status, &at
			}
			all = append(all, tk)
		}
		got, err := f.s.ListTasks(f.ctx, a.ID, store.TaskFilter{}, store.Page{})
		mustOK(t, err)
		wantEqual(t, got, all)
		checkPaging(t, ids(all, taskID), func(p store.Page) ([]string, error) {
			ts, err := f.s.ListTasks(f.ctx, a.ID, store.TaskFilter{}, p)
			return ids(ts, taskID), err
		})
		for _, tc := range []struct {
			name string
			f    store.TaskFilter
			want []int
		}{
			{"by status", store.TaskFilter{Status: store.TaskPending}, []int{0, 1, 4}},
			{"by kind", store.TaskFilter{Kind: store.TaskDomainApproval}, []int{1, 3}},
			{"by status and kind", store.TaskFilter{Status: store.TaskApproved, Kind: store.TaskImageApproval}, []int{2, 5}},
			{"matching none", store.TaskFilter{Status: store.TaskDenied, Kind: store.TaskImageApproval}, []int{}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				want := []*store.Task{}
				for _, i := range tc.want {
					want = append(want, all[i])
				}
				got, err := f.s.ListTasks(f.ctx, a.ID, tc.f, store.Page{})
				mustOK(t, err)
				wantEqual(t, got, want)
				if len(want) > 1 {
					got, err = f.s.ListTasks(f.ctx, a.ID, tc.f, store.Page{Limit: 1, After: want[0].ID})
					mustOK(t, err)
					wantEqual(t, got, want[1:2])
				}
			})
		}
	})

	t.Run("deleting a subject's pending tasks keeps resolved ones and other subjects'", func(t *testing.T) {
		f := newFixture(t, open)
		a, b := f.account("acme"), f.account("globex")
		ada := f.user("ada@example.com")
		subject := newID()
		gone1, gone2 := f.task(a, "image", subject), f.task(a, "image", subject)
		f.decide(gone1, ada, store.DecisionApprove, t0)
		resolved := f.task(a, "image", subject)
		mustOK(t, f.s.ResolveTask(f.ctx, a.ID, resolved.ID, store.TaskDenied, t0))
		kept := []*store.Task{
			resolved,
			f.task(a, "image", newID()), // another subject
			f.task(a, "app", subject),   // another type of subject with the same ID
			f.task(b, "image", subject), // another account
		}

		mustOK(t, f.s.DeletePendingTasksFor(f.ctx, a.ID, "image", subject))

		for _, tk := range []*store.Task{gone1, gone2} {
			_, err := f.s.GetTask(f.ctx, a.ID, tk.ID)
			wantNotFound(t, err)
		}
		for _, tk := range kept {
			_, err := f.s.GetTask(f.ctx, tk.AccountID, tk.ID)
			mustOK(t, err)
		}
		// The decisions went with their task: a task created again with
		// the same ID has none, and ada may decide it.
		again := *gone1
		mustOK(t, f.s.CreateTask(f.ctx, &again))
		got, err := f.s.GetTask(f.ctx, a.ID, gone1.ID)
		mustOK(t, err)
		wantEqual(t, got.Decisions, []store.TaskDecision{})
		f.decide(gone1, ada, store.DecisionDeny, t0)

		// Nothing left to delete is not an error.
		mustOK(t, f.s.DeletePendingTasksFor(f.ctx, a.ID, "image", newID()))
	})
}
