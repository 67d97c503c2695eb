package client

import (
	"context"

	"github.com/openccm/openccm/pkg/apiv1"
)

// Signup creates a user (the first user of a server, or any user when the
// server allows signup).
func (c *Client) Signup(ctx context.Context, creds apiv1.Credentials) (*apiv1.User, error) {
	var u apiv1.User
	if err := c.post(ctx, path("signup"), creds, &u); err != nil {
		return nil, err
	}
	return &u, nil
}

// Login opens a session. Use its token with WithToken or Config.Token.
func (c *Client) Login(ctx context.Context, creds apiv1.Credentials) (*apiv1.Session, error) {
	var s apiv1.Session
	if err := c.post(ctx, path("sessions"), creds, &s); err != nil {
		return nil, err
	}
	return &s, nil
}

// Logout ends the session of the client's token.
func (c *Client) Logout(ctx context.Context) error {
	return c.del(ctx, path("sessions", "current"), nil)
}

// Me returns the authenticated user and their accounts.
func (c *Client) Me(ctx context.Context) (*apiv1.User, error) {
	var u apiv1.User
	if err := c.get(ctx, path("me"), nil, &u); err != nil {
		return nil, err
	}
	return &u, nil
}

// Version returns the server's version.
func (c *Client) Version(ctx context.Context) (*apiv1.Version, error) {
	var v apiv1.Version
	if err := c.get(ctx, path("version"), nil, &v); err != nil {
		return nil, err
	}
	return &v, nil
}

// CreateToken creates an API token. The secret is in the result's Token
// field, and only there: the server never returns it again.
func (c *Client) CreateToken(ctx context.Context, req apiv1.CreateTokenRequest) (*apiv1.Token, error) {
	var t apiv1.Token
	if err := c.post(ctx, path("tokens"), req, &t); err != nil {
		return nil, err
	}
	return &t, nil
}

// ListTokens lists the caller's API tokens.
func (c *Client) ListTokens(ctx context.Context, opts ListOptions) (*apiv1.List[apiv1.Token], error) {
	return list[apiv1.Token](ctx, c, path("tokens"), nil, opts)
}

// DeleteToken revokes an API token.
func (c *Client) DeleteToken(ctx context.Context, tokenID string) error {
	return c.del(ctx, path("tokens", tokenID), nil)
}
