package client

import (
	"context"
	"net/url"

	"github.com/openccm/openccm/pkg/apiv1"
)

// TaskListOptions selects one page of approval tasks, optionally filtered.
// Empty filters are not sent.
type TaskListOptions struct {
	ListOptions
	Status string // pending, approved or denied
	Kind   string // image_approval or domain_approval
}

// ListTasks lists the approval tasks of an account.
func (c *Client) ListTasks(ctx context.Context, accountID string, opts TaskListOptions) (*apiv1.List[apiv1.Task], error) {
	q := url.Values{}
	if opts.Status != "" {
		q.Set("status", opts.Status)
	}
	if opts.Kind != "" {
		q.Set("kind", opts.Kind)
	}
	return list[apiv1.Task](ctx, c, path("accounts", accountID, "tasks"), q, opts.ListOptions)
}

// GetTask returns one approval task with its decisions.
func (c *Client) GetTask(ctx context.Context, accountID, taskID string) (*apiv1.Task, error) {
	var t apiv1.Task
	if err := c.get(ctx, path("accounts", accountID, "tasks", taskID), nil, &t); err != nil {
		return nil, err
	}
	return &t, nil
}

// ApproveTask records the caller's approval, with an optional comment, and
// returns the updated task.
func (c *Client) ApproveTask(ctx context.Context, accountID, taskID, comment string) (*apiv1.Task, error) {
	var t apiv1.Task
	err := c.post(ctx, path("accounts", accountID, "tasks", taskID, "approve"), apiv1.ApproveRequest{Comment: comment}, &t)
	if err != nil {
		return nil, err
	}
	return &t, nil
}

// DenyTask denies a task for a reason; one denial resolves it. It returns
// the updated task.
func (c *Client) DenyTask(ctx context.Context, accountID, taskID, reason string) (*apiv1.Task, error) {
	var t apiv1.Task
	err := c.post(ctx, path("accounts", accountID, "tasks", taskID, "deny"), apiv1.DenyRequest{Reason: reason}, &t)
	if err != nil {
		return nil, err
	}
	return &t, nil
}
