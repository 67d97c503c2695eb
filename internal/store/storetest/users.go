package storetest

import (
	"testing"

	"github.com/openccm/openccm/internal/store"
)

func testUsers(t *testing.T, open func(t *testing.T) store.Store) {
	t.Run("a user reads back with every field, by ID and by email", func(t *testing.T) {
		f := newFixture(t, open)
		u := &store.User{ID: newID(), Email: "Ada@Example.com", PasswordHash: "$argon2id$x", IsAdmin: true, CreatedAt: t0}
		mustOK(t, f.s.CreateUser(f.ctx, u))
		got, err := f.s.GetUser(f.ctx, u.ID)
		mustOK(t, err)
		wantEqual(t, got, u)
		got, err = f.s.GetUserByEmail(f.ctx, "Ada@Example.com")
		mustOK(t, err)
		wantEqual(t, got, u)
	})

	t.Run("email look-up ignores case and keeps the email as given", func(t *testing.T) {
		f := newFixture(t, open)
		u := f.user("Grace.Hopper@Example.COM")
		for _, e := range []string{"grace.hopper@example.com", "GRACE.HOPPER@EXAMPLE.COM"} {
			got, err := f.s.GetUserByEmail(f.ctx, e)
			mustOK(t, err)
			if got.ID != u.ID || got.Email != "Grace.Hopper@Example.COM" {
				t.Errorf("GetUserByEmail(%q) = %+v", e, got)
			}
		}
	})

	t.Run("a second user whose email differs only in case conflicts on users.email", func(t *testing.T) {
		f := newFixture(t, open)
		f.user("ada@example.com")
		err := f.s.CreateUser(f.ctx, &store.User{ID: newID(), Email: "ADA@example.com", CreatedAt: t0})
		wantConflict(t, err, "users.email")
	})

	t.Run("missing users are not found", func(t *testing.T) {
		f := newFixture(t, open)
		f.user("ada@example.com")
		_, err := f.s.GetUser(f.ctx, newID())
		wantNotFound(t, err)
		_, err = f.s.GetUserByEmail(f.ctx, "bob@example.com")
		wantNotFound(t, err)
	})

	t.Run("users are counted", func(t *testing.T) {
		f := newFixture(t, open)
		n, err := f.s.CountUsers(f.ctx)
		mustOK(t, err)
		if n != 0 {
			t.Fatalf("CountUsers = %d on an empty store", n)
		}
		f.user("a@example.com")
		f.user("b@example.com")
		n, err = f.s.CountUsers(f.ctx)
		mustOK(t, err)
		if n != 2 {
			t.Fatalf("CountUsers = %d, want 2", n)
		}
	})
}

func testMembers(t *testing.T, open func(t *testing.T) store.Store) {
	t.Run("a member reads back with the user's email", func(t *testing.T) {
		f := newFixture(t, open)
		a := f.account("acme")
		u := f.user("ada@example.com")
		m := f.member(a, u, store.RoleWriter)
		got, err := f.s.GetMember(f.ctx, a.ID, u.ID)
		mustOK(t, err)
		wantEqual(t, got, m)
	})

	t.Run("adding a member twice conflicts on members.user", func(t *testing.T) {
		f := newFixture(t, open)
		a := f.account("acme")
		u := f.user("ada@example.com")
		f.member(a, u, store.RoleWriter)
		err := f.s.AddMember(f.ctx, &store.Member{AccountID: a.ID, UserID: u.ID, Role: store.RoleReader, CreatedAt: t0})
		wantConflict(t, err, "members.user")
	})

	t.Run("adding a member to a missing account or a missing user is not found", func(t *testing.T) {
		f := newFixture(t, open)
		a := f.account("acme")
		u := f.user("ada@example.com")
		wantNotFound(t, f.s.AddMember(f.ctx, &store.Member{AccountID: newID(), UserID: u.ID, Role: store.RoleReader, CreatedAt: t0}))
		wantNotFound(t, f.s.AddMember(f.ctx, &store.Member{AccountID: a.ID, UserID: newID(), Role: store.RoleReader, CreatedAt: t0}))
	})

	t.Run("a user who is not a member, or a member of another account, is not found", func(t *testing.T) {
		f := newFixture(t, open)
		a := f.account("acme")
		b := f.account("globex")
		u := f.user("ada@example.com")
		f.member(b, u, store.RoleManager)
		_, err := f.s.GetMember(f.ctx, a.ID, u.ID)
		wantNotFound(t, err)
	})

	t.Run("members are listed by user ID, page by page", func(t *testing.T) {
		f := newFixture(t, open)
		a := f.account("acme")
		other := f.account("globex")
		var want []string
		for i := range 5 {
			u := f.user(string(rune('a'+i)) + "@example.com")
			f.member(a, u, store.RoleReader)
			want = append(want, u.ID)
		}
		f.member(other, f.user("z@example.com"), store.RoleReader)
		checkPaging(t, want, func(p store.Page) ([]string, error) {
			ms, err := f.s.ListMembers(f.ctx, a.ID, p)
			for _, m := range ms {
				if m.Email == "" || m.AccountID != a.ID {
					t.Errorf("listed member %+v", m)
				}
			}
			return ids(ms, func(m *store.Member) string { return m.UserID }), err
		})
	})

	t.Run("a role change sticks and a missing member cannot be changed", func(t *testing.T) {
		f := newFixture(t, open)
		a := f.account("acme")
		u := f.user("ada@example.com")
		f.member(a, u, store.RoleReader)
		mustOK(t, f.s.SetMemberRole(f.ctx, a.ID, u.ID, store.RoleManager))
		got, err := f.s.GetMember(f.ctx, a.ID, u.ID)
		mustOK(t, err)
		if got.Role != store.RoleManager {
			t.Fatalf("role = %q, want manager", got.Role)
		}
		wantNotFound(t, f.s.SetMemberRole(f.ctx, a.ID, newID(), store.RoleManager))
		wantNotFound(t, f.s.SetMemberRole(f.ctx, newID(), u.ID, store.RoleManager))
	})

	t.Run("removing a member keeps the user", func(t *testing.T) {
		f := newFixture(t, open)
		a := f.account("acme")
		u := f.user("ada@example.com")
		f.member(a, u, store.RoleReader)
		mustOK(t, f.s.RemoveMember(f.ctx, a.ID, u.ID))
		_, err := f.s.GetMember(f.ctx, a.ID, u.ID)
		wantNotFound(t, err)
		_, err = f.s.GetUser(f.ctx, u.ID)
		mustOK(t, err)
		wantNotFound(t, f.s.RemoveMember(f.ctx, a.ID, u.ID))
	})

	t.Run("members are counted by role within one account", func(t *testing.T) {
		f := newFixture(t, open)
		a := f.account("acme")
		b := f.account("globex")
		f.member(a, f.user("m1@example.com"), store.RoleManager)
		f.member(a, f.user("m2@example.com"), store.RoleManager)
		f.member(a, f.user("w@example.com"), store.RoleWriter)
		f.member(b, f.user("m3@example.com"), store.RoleManager)
		for role, want := range map[store.Role]int{store.RoleManager: 2, store.RoleWriter: 1, store.RoleReader: 0} {
			n, err := f.s.CountMembersWithRole(f.ctx, a.ID, role)
			mustOK(t, err)
			if n != want {
				t.Errorf("CountMembersWithRole(%s) = %d, want %d", role, n, want)
			}
		}
	})

	t.Run("a user's accounts are listed with the role, page by page", func(t *testing.T) {
		f := newFixture(t, open)
		u := f.user("ada@example.com")
		roles := []store.Role{store.RoleReader, store.RoleWriter, store.RoleManager, store.RoleReader, store.RoleWriter}
		var want []*store.UserAccount
		for i, r := range roles {
			a := f.account("acct" + string(rune('a'+i)))
			f.member(a, u, r)
			want = append(want, &store.UserAccount{Account: a, Role: r})
		}
		f.account("not-a-member")
		got, err := f.s.ListUserAccounts(f.ctx, u.ID, store.Page{})
		mustOK(t, err)
		wantEqual(t, got, want)
		checkPaging(t, ids(want, func(ua *store.UserAccount) string { return ua.Account.ID }),
			func(p store.Page) ([]string, error) {
				uas, err := f.s.ListUserAccounts(f.ctx, u.ID, p)
				return ids(uas, func(ua *store.UserAccount) string { return ua.Account.ID }), err
			})
	})
}
