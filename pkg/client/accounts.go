package client

import (
	"context"

	"github.com/openccm/openccm/pkg/apiv1"
)

// CreateAccount creates an account; the caller becomes its manager.
func (c *Client) CreateAccount(ctx context.Context, req apiv1.CreateAccountRequest) (*apiv1.Account, error) {
	var a apiv1.Account
	if err := c.post(ctx, path("accounts"), req, &a); err != nil {
		return nil, err
	}
	return &a, nil
}

// ListAccounts lists the accounts the caller belongs to.
func (c *Client) ListAccounts(ctx context.Context, opts ListOptions) (*apiv1.List[apiv1.Account], error) {
	return list[apiv1.Account](ctx, c, path("accounts"), nil, opts)
}

// GetAccount returns one account.
func (c *Client) GetAccount(ctx context.Context, accountID string) (*apiv1.Account, error) {
	var a apiv1.Account
	if err := c.get(ctx, path("accounts", accountID), nil, &a); err != nil {
		return nil, err
	}
	return &a, nil
}

// UpdateAccount changes the fields of an account that req sets.
func (c *Client) UpdateAccount(ctx context.Context, accountID string, req apiv1.UpdateAccountRequest) (*apiv1.Account, error) {
	var a apiv1.Account
	if err := c.patch(ctx, path("accounts", accountID), req, &a); err != nil {
		return nil, err
	}
	return &a, nil
}

// DeleteAccount deletes an account.
func (c *Client) DeleteAccount(ctx context.Context, accountID string) error {
	return c.del(ctx, path("accounts", accountID), nil)
}

// ListMembers lists the members of an account.
func (c *Client) ListMembers(ctx context.Context, accountID string, opts ListOptions) (*apiv1.List[apiv1.Member], error) {
	return list[apiv1.Member](ctx, c, path("accounts", accountID, "members"), nil, opts)
}

// AddMember adds a user to an account, creating the user when req carries a
// password and the email is new.
func (c *Client) AddMember(ctx context.Context, accountID string, req apiv1.AddMemberRequest) (*apiv1.Member, error) {
	var m apiv1.Member
	if err := c.post(ctx, path("accounts", accountID, "members"), req, &m); err != nil {
		return nil, err
	}
	return &m, nil
}

// SetMemberRole changes a member's role.
func (c *Client) SetMemberRole(ctx context.Context, accountID, userID, role string) (*apiv1.Member, error) {
	var m apiv1.Member
	err := c.patch(ctx, path("accounts", accountID, "members", userID), apiv1.SetRoleRequest{Role: role}, &m)
	if err != nil {
		return nil, err
	}
	return &m, nil
}

// RemoveMember removes a user from an account.
func (c *Client) RemoveMember(ctx context.Context, accountID, userID string) error {
	return c.del(ctx, path("accounts", accountID, "members", userID), nil)
}
