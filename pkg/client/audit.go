package client

import (
	"context"
	"net/url"
	"time"

	"github.com/openccm/openccm/pkg/apiv1"
)

// AuditListOptions selects one page of an account's audit log. Zero values
// are not sent (the server then returns the newest events first).
type AuditListOptions struct {
	Limit int
	// Cursor is the NextCursor of the previous page; it is opaque.
	Cursor    string
	Order     string // "asc" (oldest first) or "desc" (newest first)
	Action    string
	SubjectID string
	ActorID   string
	// Since keeps the events at or after this time.
	Since *time.Time
}

func (o AuditListOptions) values() url.Values {
	q := ListOptions{Limit: o.Limit, Cursor: o.Cursor}.values()
	for k, v := range map[string]string{"order": o.Order, "action": o.Action, "subject_id": o.SubjectID, "actor_id": o.ActorID} {
		if v != "" {
			q.Set(k, v)
		}
	}
	if o.Since != nil {
		q.Set("since", o.Since.UTC().Format(time.RFC3339Nano))
	}
	return q
}

// ListAudit returns one page of an account's audit log.
func (c *Client) ListAudit(ctx context.Context, accountID string, opts AuditListOptions) (*apiv1.List[apiv1.AuditEvent], error) {
	return list[apiv1.AuditEvent](ctx, c, path("accounts", accountID, "audit"), opts.values(), ListOptions{})
}

// AuditPages adapts ListAudit with fixed filters to a PageFunc, for Items
// and ListAll.
func (c *Client) AuditPages(accountID string, opts AuditListOptions) PageFunc[apiv1.AuditEvent] {
	return func(ctx context.Context, lo ListOptions) (*apiv1.List[apiv1.AuditEvent], error) {
		o := opts
		o.Limit, o.Cursor = lo.Limit, lo.Cursor
		return c.ListAudit(ctx, accountID, o)
	}
}

// VerifyAudit has the server check the hash chain of an account's audit
// log. A broken chain is not an error: the answer says OK false and names
// the first bad event.
func (c *Client) VerifyAudit(ctx context.Context, accountID string) (*apiv1.AuditVerification, error) {
	var v apiv1.AuditVerification
	if err := c.get(ctx, path("accounts", accountID, "audit", "verify"), nil, &v); err != nil {
		return nil, err
	}
	return &v, nil
}
