package client

import (
	"context"
	"net/url"

	"github.com/openccm/openccm/pkg/apiv1"
)

// CreateApp creates an application.
func (c *Client) CreateApp(ctx context.Context, accountID string, req apiv1.CreateAppRequest) (*apiv1.App, error) {
	var a apiv1.App
	if err := c.post(ctx, path("accounts", accountID, "apps"), req, &a); err != nil {
		return nil, err
	}
	return &a, nil
}

// ListApps lists the applications of an account; appType, when not empty,
// keeps only the apps of that type.
func (c *Client) ListApps(ctx context.Context, accountID, appType string, opts ListOptions) (*apiv1.List[apiv1.App], error) {
	var q url.Values
	if appType != "" {
		q = url.Values{"type": {appType}}
	}
	return list[apiv1.App](ctx, c, path("accounts", accountID, "apps"), q, opts)
}

// GetApp returns one application.
func (c *Client) GetApp(ctx context.Context, accountID, appID string) (*apiv1.App, error) {
	var a apiv1.App
	if err := c.get(ctx, path("accounts", accountID, "apps", appID), nil, &a); err != nil {
		return nil, err
	}
	return &a, nil
}

// UpdateApp changes the fields of an application that req sets.
func (c *Client) UpdateApp(ctx context.Context, accountID, appID string, req apiv1.UpdateAppRequest) (*apiv1.App, error) {
	var a apiv1.App
	if err := c.patch(ctx, path("accounts", accountID, "apps", appID), req, &a); err != nil {
		return nil, err
	}
	return &a, nil
}

// DeleteApp deletes an application. Without cascade the server refuses
// (409) while the app has images; with it, they are deleted too.
func (c *Client) DeleteApp(ctx context.Context, accountID, appID string, cascade bool) error {
	var q url.Values
	if cascade {
		q = url.Values{"cascade": {"true"}}
	}
	return c.del(ctx, path("accounts", accountID, "apps", appID), q)
}
