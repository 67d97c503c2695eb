package account

import (
	"context"
	"errors"

	"github.com/openccm/openccm/internal/audit"
	"github.com/openccm/openccm/internal/errs"
	"github.com/openccm/openccm/internal/identity"
	"github.com/openccm/openccm/internal/ids"
	"github.com/openccm/openccm/internal/store"
)

// ParseRole checks a role name from a request.
func ParseRole(field, r string) (store.Role, error) {
	role := store.Role(r)
	if !role.Valid() {
		return "", errs.Invalidf(field, "must be one of reader, writer, manager")
	}
	return role, nil
}

// Members lists an account's members.
func (s *Service) Members(ctx context.Context, accountID string, pg store.Page) ([]*store.Member, string, error) {
	rows, err := s.st.ListMembers(ctx, accountID, pg.Plus1())
	if err != nil {
		return nil, "", err
	}
	rows, next := store.Trim(rows, pg, func(m *store.Member) string { return m.UserID })
	return rows, next, nil
}

// AddMember adds a user to the account, creating the user when the email is
// new (then a password is required).
func (s *Service) AddMember(ctx context.Context, accountID, email string, role store.Role, password string) (*store.Member, error) {
	e, err := identity.NormalizeEmail("email", email)
	if err != nil {
		return nil, err
	}
	now := s.nowUTC()
	m := &store.Member{AccountID: accountID, Email: e, Role: role, CreatedAt: now}
	err = s.st.WithTx(ctx, func(tx store.Store) error {
		u, err := tx.GetUserByEmail(ctx, e)
		switch {
		case errors.Is(err, store.ErrNotFound):
			if password == "" {
				return errs.Invalidf("password", "is required to create the new user %s", e)
			}
			if u, err = s.id.NewUser(e, password); err != nil {
				return err
			}
			if err := tx.CreateUser(ctx, u); err != nil {
				return err
			}
		case err != nil:
			return err
		case password != "":
			// Never let one account's manager reset another user's password.
			return errs.Invalidf("password", "must be left out: the user already exists")
		}
		m.UserID = u.ID
		if err := tx.AddMember(ctx, m); err != nil {
			return err
		}
		return s.audit.Append(ctx, tx, audit.Event{AccountID: accountID, Action: "member.add", SubjectType: "user", SubjectID: u.ID,
			Details: map[string]any{"email": e, "role": string(role), "new_user": password != ""}})
	})
	if errors.Is(err, store.ErrConflict) {
		return nil, errs.Conflictf("%s is already a member of this account", e)
	}
	if err != nil {
		return nil, err
	}
	s.log.Info("member added", "account_id", accountID, "user_id", m.UserID, "role", string(role))
	return m, nil
}

// SetMemberRole changes a member's role. The last manager cannot be demoted.
func (s *Service) SetMemberRole(ctx context.Context, accountID, userID string, role store.Role) (*store.Member, error) {
	var m *store.Member
	err := s.st.WithTx(ctx, func(tx store.Store) error {
		var err error
		if m, err = s.lockMember(ctx, tx, accountID, userID); err != nil {
			return err
		}
		if m.Role == store.RoleManager && role != store.RoleManager {
			if err := lastManagerCheck(ctx, tx, accountID, "demoted"); err != nil {
				return err
			}
		}
		old := m.Role
		m.Role = role
		if err := tx.SetMemberRole(ctx, accountID, userID, role); err != nil {
			return err
		}
		return s.audit.Append(ctx, tx, audit.Event{AccountID: accountID, Action: "member.set_role", SubjectType: "user", SubjectID: userID,
			Details: map[string]any{"email": m.Email, "role": string(role), "previous_role": string(old)}})
	})
	if err != nil {
		return nil, memberErr(err)
	}
	s.log.Info("member role changed", "account_id", accountID, "user_id", userID, "role", string(role))
	return m, nil
}

// RemoveMember removes a member. The last manager cannot be removed.
func (s *Service) RemoveMember(ctx context.Context, accountID, userID string) error {
	err := s.st.WithTx(ctx, func(tx store.Store) error {
		m, err := s.lockMember(ctx, tx, accountID, userID)
		if err != nil {
			return err
		}
		if m.Role == store.RoleManager {
			if err := lastManagerCheck(ctx, tx, accountID, "removed"); err != nil {
				return err
			}
		}
		if err := tx.RemoveMember(ctx, accountID, userID); err != nil {
			return err
		}
		return s.audit.Append(ctx, tx, audit.Event{AccountID: accountID, Action: "member.remove", SubjectType: "user", SubjectID: userID,
			Details: map[string]any{"email": m.Email, "role": string(m.Role)}})
	})
	if err != nil {
		return memberErr(err)
	}
	s.log.Info("member removed", "account_id", accountID, "user_id", userID)
	return nil
}

// lockMember serialises membership changes of one account, then reads the member.
func (s *Service) lockMember(ctx context.Context, tx store.Store, accountID, userID string) (*store.Member, error) {
	if !ids.Valid(userID) {
		return nil, store.ErrNotFound
	}
	if err := tx.Lock(ctx, "members:"+accountID); err != nil {
		return nil, err
	}
	return tx.GetMember(ctx, accountID, userID)
}

func lastManagerCheck(ctx context.Context, tx store.Store, accountID, what string) error {
	n, err := tx.CountMembersWithRole(ctx, accountID, store.RoleManager)
	if err != nil {
		return err
	}
	if n <= 1 {
		return errs.Conflictf("the last manager of an account cannot be %s; make another member a manager first", what)
	}
	return nil
}

func memberErr(err error) error {
	if errors.Is(err, store.ErrNotFound) {
		return errs.NotFoundf("no such member")
	}
	return err
}
