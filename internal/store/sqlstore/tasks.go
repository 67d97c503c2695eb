package sqlstore

import (
	"context"
	"database/sql"
	"time"

	"github.com/openccm/openccm/internal/store"
)

const taskColumns = `id, account_id, kind, subject_type, subject_id, status, required_approvals,
	domains_added, domains_removed, proposed_domains, created_by, created_at, resolved_at`

// tasksWithDecisions wraps a query of tasks (taskColumns, in the order the
// result wants) so that each task row comes with its decisions, one row
// per decision (or one row of NULLs for a task without any), in decision
// order. One statement reads both, so that a task and its decisions are
// read from one snapshot even outside a transaction.
func tasksWithDecisions(tasksQuery string) string {
	return `SELECT t.*, d.user_id, u.email, d.decision, d.comment, d.at
		FROM (` + tasksQuery + `) t
		LEFT JOIN task_decisions d ON d.task_id = t.id
		LEFT JOIN users u ON u.id = d.user_id
		ORDER BY t.id, d.at, d.seq`
}

// collectTasks scans the rows of a tasksWithDecisions query.
func collectTasks(rows *sql.Rows, err error) ([]*store.Task, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []*store.Task{}
	for rows.Next() {
		var (
			t                                store.Task
			userID, email, decision, comment sql.NullString
			at                               *time.Time
		)
		err := rows.Scan(&t.ID, &t.AccountID, &t.Kind, &t.SubjectType, &t.SubjectID, &t.Status, &t.RequiredApprovals,
			listScan[string]{&t.DomainsAdded}, listScan[string]{&t.DomainsRemoved}, listScan[string]{&t.ProposedDomains},
			&t.CreatedBy, timeScan{&t.CreatedAt}, nullTimeScan{&t.ResolvedAt},
			&userID, &email, &decision, &comment, nullTimeScan{&at})
		if err != nil {
			return nil, err
		}
		if n := len(out); n == 0 || out[n-1].ID != t.ID {
			t.Decisions = []store.TaskDecision{}
			out = append(out, &t)
		}
		if userID.Valid {
			last := out[len(out)-1]
			last.Decisions = append(last.Decisions, store.TaskDecision{
				TaskID:   t.ID,
				UserID:   userID.String,
				Email:    email.String,
				Decision: store.Decision(decision.String),
				Comment:  comment.String,
				At:       *at,
			})
		}
	}
	return out, rows.Err()
}

// CreateTask inserts t (its Decisions are ignored); ErrNotFound when the
// account does not exist. The subject is not checked: it is an image or
// an app, and has no foreign key.
func (q *queries) CreateTask(ctx context.Context, t *store.Task) error {
	_, err := q.exec(ctx, `INSERT INTO tasks (`+taskColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		t.ID, t.AccountID, string(t.Kind), t.SubjectType, t.SubjectID, string(t.Status), t.RequiredApprovals,
		jsonList(t.DomainsAdded), jsonList(t.DomainsRemoved), jsonList(t.ProposedDomains),
		t.CreatedBy, q.d.time(t.CreatedAt), q.d.nullTime(t.ResolvedAt))
	return wrap("creating task", err)
}

// GetTask returns the account's task with ID taskID, with its decisions
// in order (by time, then as recorded) and their users' emails.
func (q *queries) GetTask(ctx context.Context, accountID, taskID string) (*store.Task, error) {
	rows, err := q.query(ctx, tasksWithDecisions(`SELECT `+taskColumns+` FROM tasks
		WHERE account_id = ? AND id = ?`), accountID, taskID)
	ts, err := collectTasks(rows, err)
	if err == nil && len(ts) == 0 {
		err = sql.ErrNoRows
	}
	if err != nil {
		return nil, wrap("getting task", err)
	}
	return ts[0], nil
}

// ListTasks lists the account's tasks in ID order, narrowed by f, each with
// its decisions as GetTask returns them.
func (q *queries) ListTasks(ctx context.Context, accountID string, f store.TaskFilter, p store.Page) ([]*store.Task, error) {
	query := `SELECT ` + taskColumns + ` FROM tasks WHERE account_id = ?`
	args := []any{accountID}
	if f.Status != "" {
		query += ` AND status = ?`
		args = append(args, string(f.Status))
	}
	if f.Kind != "" {
		query += ` AND kind = ?`
		args = append(args, string(f.Kind))
	}
	query, args = paged(query, args, "id", p)
	rows, err := q.query(ctx, tasksWithDecisions(query), args...)
	ts, err := collectTasks(rows, err)
	if err != nil {
		return nil, wrap("listing tasks", err)
	}
	return ts, nil
}

// AddDecision records d (its Email is ignored); ConflictError
// "task_decisions.user" when the user already decided the task,
// ErrNotFound when the task or the user does not exist. It does not check
// the task's account or status: the caller reads the task first, in the
// same transaction.
func (q *queries) AddDecision(ctx context.Context, d *store.TaskDecision) error {
	_, err := q.exec(ctx, `INSERT INTO task_decisions (task_id, user_id, decision, comment, at)
		VALUES (?, ?, ?, ?, ?)`,
		d.TaskID, d.UserID, string(d.Decision), d.Comment, q.d.time(d.At))
	return wrap("adding decision", err)
}

// ResolveTask moves the account's task from pending to status, resolved
// at at. The update is a compare-and-set on the status, so of two
// concurrent resolutions exactly one succeeds; the other, like any
// resolution of a task no longer pending, gets ConflictError
// "tasks.status". A missing task is ErrNotFound.
func (q *queries) ResolveTask(ctx context.Context, accountID, taskID string, status store.TaskStatus, at time.Time) error {
	const op = "resolving task"
	res, err := q.exec(ctx, `UPDATE tasks SET status = ?, resolved_at = ?
		WHERE account_id = ? AND id = ? AND status = ?`,
		string(status), q.d.time(at), accountID, taskID, string(store.TaskPending))
	if err != nil {
		return wrap(op, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return wrap(op, err)
	}
	if n > 0 {
		return nil
	}
	var exists int
	err = q.queryRow(ctx, `SELECT 1 FROM tasks WHERE account_id = ? AND id = ?`, accountID, taskID).Scan(&exists)
	if err == nil {
		err = &store.ConflictError{Constraint: "tasks.status"}
	}
	return wrap(op, err)
}

// DeletePendingTasksFor deletes the account's pending tasks whose subject
// is (subjectType, subjectID), with their decisions. Resolved tasks stay,
// as history; deleting none is not an error.
func (q *queries) DeletePendingTasksFor(ctx context.Context, accountID, subjectType, subjectID string) error {
	_, err := q.exec(ctx, `DELETE FROM tasks
		WHERE account_id = ? AND subject_type = ? AND subject_id = ? AND status = ?`,
		accountID, subjectType, subjectID, string(store.TaskPending))
	return wrap("deleting pending tasks", err)
}
