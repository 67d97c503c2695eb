package client

import (
	"context"
	"net/url"

	"github.com/openccm/openccm/pkg/apiv1"
)

// CreateRegistry saves registry credentials in an account.
func (c *Client) CreateRegistry(ctx context.Context, accountID string, req apiv1.CreateRegistryRequest) (*apiv1.Registry, error) {
	var r apiv1.Registry
	if err := c.post(ctx, path("accounts", accountID, "registries"), req, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// ListRegistries lists the saved registries of an account.
func (c *Client) ListRegistries(ctx context.Context, accountID string, opts ListOptions) (*apiv1.List[apiv1.Registry], error) {
	return list[apiv1.Registry](ctx, c, path("accounts", accountID, "registries"), nil, opts)
}

// GetRegistry returns one saved registry.
func (c *Client) GetRegistry(ctx context.Context, accountID, registryID string) (*apiv1.Registry, error) {
	var r apiv1.Registry
	if err := c.get(ctx, path("accounts", accountID, "registries", registryID), nil, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// UpdateRegistry changes the fields of a saved registry that req sets.
func (c *Client) UpdateRegistry(ctx context.Context, accountID, registryID string, req apiv1.UpdateRegistryRequest) (*apiv1.Registry, error) {
	var r apiv1.Registry
	if err := c.patch(ctx, path("accounts", accountID, "registries", registryID), req, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// DeleteRegistry deletes a saved registry.
func (c *Client) DeleteRegistry(ctx context.Context, accountID, registryID string) error {
	return c.del(ctx, path("accounts", accountID, "registries", registryID), nil)
}

// MatchRegistry returns the saved registry for the host of an image
// reference; an *Error with code not_found when there is none.
func (c *Client) MatchRegistry(ctx context.Context, accountID, image string) (*apiv1.Registry, error) {
	var r apiv1.Registry
	q := url.Values{"image": {image}}
	if err := c.get(ctx, path("accounts", accountID, "registries", "match"), q, &r); err != nil {
		return nil, err
	}
	return &r, nil
}
