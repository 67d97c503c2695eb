package sqlstore

import (
	"context"
	"strings"

	"github.com/openccm/openccm/internal/store"
)

// emailKey is the form of an email address that is unique and looked up:
// lower case, so that addresses differing only in case are one user.
func emailKey(email string) string { return strings.ToLower(email) }

const userColumns = `id, email, password_hash, is_admin, created_at`

func scanUser(s scanner) (*store.User, error) {
	var u store.User
	if err := s.Scan(&u.ID, &u.Email, &u.PasswordHash, &u.IsAdmin, timeScan{&u.CreatedAt}); err != nil {
		return nil, err
	}
	return &u, nil
}

// CreateUser inserts u; ConflictError "users.email" when a user has the
// same email up to case.
func (q *queries) CreateUser(ctx context.Context, u *store.User) error {
	_, err := q.exec(ctx, `INSERT INTO users (id, email, email_key, password_hash, is_admin, created_at)
		VALUES (?, ?, ?, ?, ?, ?)`,
		u.ID, u.Email, emailKey(u.Email), u.PasswordHash, u.IsAdmin, q.d.time(u.CreatedAt))
	return wrap("creating user", err)
}

// GetUser returns the user with ID userID.
func (q *queries) GetUser(ctx context.Context, userID string) (*store.User, error) {
	u, err := scanUser(q.queryRow(ctx, `SELECT `+userColumns+` FROM users WHERE id = ?`, userID))
	if err != nil {
		return nil, wrap("getting user", err)
	}
	return u, nil
}

// GetUserByEmail looks the email up case-insensitively.
func (q *queries) GetUserByEmail(ctx context.Context, email string) (*store.User, error) {
	u, err := scanUser(q.queryRow(ctx, `SELECT `+userColumns+` FROM users WHERE email_key = ?`, emailKey(email)))
	if err != nil {
		return nil, wrap("getting user by email", err)
	}
	return u, nil
}

// CountUsers returns the number of users.
func (q *queries) CountUsers(ctx context.Context) (int, error) {
	var n int
	if err := q.queryRow(ctx, `SELECT count(*) FROM users`).Scan(&n); err != nil {
		return 0, wrap("counting users", err)
	}
	return n, nil
}

const memberColumns = `m.account_id, m.user_id, u.email, m.role, m.created_at`

func scanMember(s scanner) (*store.Member, error) {
	var m store.Member
	if err := s.Scan(&m.AccountID, &m.UserID, &m.Email, &m.Role, timeScan{&m.CreatedAt}); err != nil {
		return nil, err
	}
	return &m, nil
}

// AddMember inserts m (its Email is ignored); ConflictError "members.user"
// when the user is already a member, ErrNotFound when the account or the
// user does not exist.
func (q *queries) AddMember(ctx context.Context, m *store.Member) error {
	_, err := q.exec(ctx, `INSERT INTO members (account_id, user_id, role, created_at) VALUES (?, ?, ?, ?)`,
		m.AccountID, m.UserID, string(m.Role), q.d.time(m.CreatedAt))
	return wrap("adding member", err)
}

// GetMember returns the membership with the user's email filled in.
func (q *queries) GetMember(ctx context.Context, accountID, userID string) (*store.Member, error) {
	m, err := scanMember(q.queryRow(ctx, `SELECT `+memberColumns+`
		FROM members m JOIN users u ON u.id = m.user_id
		WHERE m.account_id = ? AND m.user_id = ?`, accountID, userID))
	if err != nil {
		return nil, wrap("getting member", err)
	}
	return m, nil
}

// ListMembers lists the account's members in user ID order; p.After is a
// user ID.
func (q *queries) ListMembers(ctx context.Context, accountID string, p store.Page) ([]*store.Member, error) {
	query, args := paged(`SELECT `+memberColumns+`
		FROM members m JOIN users u ON u.id = m.user_id
		WHERE m.account_id = ?`, []any{accountID}, "m.user_id", p)
	rows, err := q.query(ctx, query, args...)
	ms, err := collect(rows, err, scanMember)
	if err != nil {
		return nil, wrap("listing members", err)
	}
	return ms, nil
}

// SetMemberRole changes a member's role.
func (q *queries) SetMemberRole(ctx context.Context, accountID, userID string, role store.Role) error {
	return q.execOne(ctx, "setting member role",
		`UPDATE members SET role = ? WHERE account_id = ? AND user_id = ?`, string(role), accountID, userID)
}

// RemoveMember removes the membership; the user remains.
func (q *queries) RemoveMember(ctx context.Context, accountID, userID string) error {
	return q.execOne(ctx, "removing member",
		`DELETE FROM members WHERE account_id = ? AND user_id = ?`, accountID, userID)
}

// CountMembersWithRole counts the account's members whose role is role.
func (q *queries) CountMembersWithRole(ctx context.Context, accountID string, role store.Role) (int, error) {
	var n int
	err := q.queryRow(ctx, `SELECT count(*) FROM members WHERE account_id = ? AND role = ?`,
		accountID, string(role)).Scan(&n)
	if err != nil {
		return 0, wrap("counting members", err)
	}
	return n, nil
}

// ListUserAccounts lists the accounts userID belongs to, with the role, in
// account ID order; p.After is an account ID.
func (q *queries) ListUserAccounts(ctx context.Context, userID string, p store.Page) ([]*store.UserAccount, error) {
	query, args := paged(`SELECT m.role, a.id, a.name, a.trust_domain, a.required_approvals,
		a.allow_self_approval, a.azure_cvm_pcr_priority, a.sgx_accepted_tcb_statuses, a.created_at, a.updated_at
		FROM members m JOIN accounts a ON a.id = m.account_id
		WHERE m.user_id = ?`, []any{userID}, "m.account_id", p)
	rows, err := q.query(ctx, query, args...)
	uas, err := collect(rows, err, func(s scanner) (*store.UserAccount, error) {
		var (
			ua store.UserAccount
			a  store.Account
		)
		err := s.Scan(&ua.Role, &a.ID, &a.Name, &a.TrustDomain,
			&a.ApprovalPolicy.RequiredApprovals, &a.ApprovalPolicy.AllowSelfApproval,
			listScan[int]{&a.AzureCVMPCRPriority}, listScan[string]{&a.SGXAcceptedTCBStatuses},
			timeScan{&a.CreatedAt}, timeScan{&a.UpdatedAt})
		ua.Account = &a
		return &ua, err
	})
	if err != nil {
		return nil, wrap("listing user accounts", err)
	}
	return uas, nil
}
