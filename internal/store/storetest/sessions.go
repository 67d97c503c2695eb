package storetest

import (
	"slices"
	"testing"
	"time"

	"github.com/openccm/openccm/internal/store"
)

func testSessions(t *testing.T, open func(t *testing.T) store.Store) {
	newSession := func(f *fixture, u *store.User, expires time.Time) *store.Session {
		f.t.Helper()
		s := &store.Session{ID: newID(), UserID: u.ID, TokenHash: []byte("h-" + newID()), CreatedAt: t0, ExpiresAt: expires}
		mustOK(f.t, f.s.CreateSession(f.ctx, s))
		return s
	}

	t.Run("a session is found by its token hash", func(t *testing.T) {
		f := newFixture(t, open)
		u := f.user("ada@example.com")
		s := newSession(f, u, t0.Add(time.Hour))
		got, err := f.s.GetSessionByHash(f.ctx, s.TokenHash)
		mustOK(t, err)
		wantEqual(t, got, s)
		_, err = f.s.GetSessionByHash(f.ctx, []byte("other"))
		wantNotFound(t, err)
	})

	t.Run("a second session with the same token hash conflicts", func(t *testing.T) {
		f := newFixture(t, open)
		u := f.user("ada@example.com")
		s := newSession(f, u, t0)
		err := f.s.CreateSession(f.ctx, &store.Session{ID: newID(), UserID: u.ID, TokenHash: s.TokenHash, CreatedAt: t0, ExpiresAt: t0})
		wantConflict(t, err, "sessions.token_hash")
	})

	t.Run("a deleted session is gone and deleting it again is not found", func(t *testing.T) {
		f := newFixture(t, open)
		s := newSession(f, f.user("ada@example.com"), t0.Add(time.Hour))
		mustOK(t, f.s.DeleteSession(f.ctx, s.ID))
		_, err := f.s.GetSessionByHash(f.ctx, s.TokenHash)
		wantNotFound(t, err)
		wantNotFound(t, f.s.DeleteSession(f.ctx, s.ID))
	})

	t.Run("only sessions that expired before now are deleted", func(t *testing.T) {
		f := newFixture(t, open)
		u := f.user("ada@example.com")
		now := t0
		expired := []*store.Session{
			newSession(f, u, now.Add(-time.Microsecond)),
			newSession(f, u, now.Add(-10*time.Hour)),
			newSession(f, u, now.AddDate(-1, 0, 0)),
		}
		live := []*store.Session{
			newSession(f, u, now), // expires at now: not before it
			newSession(f, u, now.Add(time.Microsecond)),
			newSession(f, u, now.Add(9*time.Hour)),
			newSession(f, u, now.AddDate(1, 0, 0)),
		}
		n, err := f.s.DeleteExpiredSessions(f.ctx, now)
		mustOK(t, err)
		if n != len(expired) {
			t.Fatalf("DeleteExpiredSessions = %d, want %d", n, len(expired))
		}
		for _, s := range expired {
			_, err := f.s.GetSessionByHash(f.ctx, s.TokenHash)
			wantNotFound(t, err)
		}
		for _, s := range live {
			_, err := f.s.GetSessionByHash(f.ctx, s.TokenHash)
			mustOK(t, err)
		}
	})
}

func testTokens(t *testing.T, open func(t *testing.T) store.Store) {
	t.Run("a token reads back with every field, by ID and by hash", func(t *testing.T) {
		f := newFixture(t, open)
		a := f.account("acme")
		u := f.user("ada@example.com")
		exp, used := t0.Add(24*time.Hour), t0.Add(time.Hour)
		tok := &store.Token{ID: newID(), Name: "deploy", UserID: u.ID, AccountID: a.ID, Role: store.RoleManager,
			TokenHash: []byte{0xde, 0xad, 0, 0xbe, 0xef}, CreatedAt: t0, ExpiresAt: &exp, LastUsedAt: &used}
		mustOK(t, f.s.CreateToken(f.ctx, tok))
		got, err := f.s.GetToken(f.ctx, tok.ID)
		mustOK(t, err)
		wantEqual(t, got, tok)
		got, err = f.s.GetTokenByHash(f.ctx, tok.TokenHash)
		mustOK(t, err)
		wantEqual(t, got, tok)
	})

	t.Run("a token without expiry or use reads back with nil times", func(t *testing.T) {
		f := newFixture(t, open)
		tok := f.token(f.account("acme"), f.user("ada@example.com"))
		got, err := f.s.GetToken(f.ctx, tok.ID)
		mustOK(t, err)
		if got.ExpiresAt != nil || got.LastUsedAt != nil {
			t.Fatalf("ExpiresAt = %v, LastUsedAt = %v, want nil", got.ExpiresAt, got.LastUsedAt)
		}
		wantEqual(t, got, tok)
	})

	t.Run("missing tokens are not found", func(t *testing.T) {
		f := newFixture(t, open)
		f.token(f.account("acme"), f.user("ada@example.com"))
		_, err := f.s.GetToken(f.ctx, newID())
		wantNotFound(t, err)
		_, err = f.s.GetTokenByHash(f.ctx, []byte("nope"))
		wantNotFound(t, err)
		wantNotFound(t, f.s.DeleteToken(f.ctx, newID()))
		wantNotFound(t, f.s.TouchToken(f.ctx, newID(), t0))
	})

	t.Run("a second token with the same hash conflicts", func(t *testing.T) {
		f := newFixture(t, open)
		a, u := f.account("acme"), f.user("ada@example.com")
		tok := f.token(a, u)
		dup := *tok
		dup.ID = newID()
		wantConflict(t, f.s.CreateToken(f.ctx, &dup), "tokens.token_hash")
	})

	t.Run("a token for a missing account or user is not found", func(t *testing.T) {
		f := newFixture(t, open)
		a, u := f.account("acme"), f.user("ada@example.com")
		wantNotFound(t, f.s.CreateToken(f.ctx, &store.Token{ID: newID(), UserID: u.ID, AccountID: newID(), Role: store.RoleReader, TokenHash: []byte("1"), CreatedAt: t0}))
		wantNotFound(t, f.s.CreateToken(f.ctx, &store.Token{ID: newID(), UserID: newID(), AccountID: a.ID, Role: store.RoleReader, TokenHash: []byte("2"), CreatedAt: t0}))
	})

	t.Run("touching a token records its last use", func(t *testing.T) {
		f := newFixture(t, open)
		tok := f.token(f.account("acme"), f.user("ada@example.com"))
		at := t0.Add(3 * time.Hour)
		mustOK(t, f.s.TouchToken(f.ctx, tok.ID, at))
		got, err := f.s.GetToken(f.ctx, tok.ID)
		mustOK(t, err)
		if got.LastUsedAt == nil || !got.LastUsedAt.Equal(at) {
			t.Fatalf("LastUsedAt = %v, want %v", got.LastUsedAt, at)
		}
	})

	t.Run("a deleted token is gone", func(t *testing.T) {
		f := newFixture(t, open)
		tok := f.token(f.account("acme"), f.user("ada@example.com"))
		mustOK(t, f.s.DeleteToken(f.ctx, tok.ID))
		_, err := f.s.GetToken(f.ctx, tok.ID)
		wantNotFound(t, err)
	})

	t.Run("the list holds the user's own tokens and every token of the managed accounts", func(t *testing.T) {
		f := newFixture(t, open)
		ada, bob := f.user("ada@example.com"), f.user("bob@example.com")
		acme, globex, initech := f.account("acme"), f.account("globex"), f.account("initech")
		adaAcme := f.token(acme, ada)
		adaInitech := f.token(initech, ada)
		bobAcme := f.token(acme, bob)
		bobGlobex := f.token(globex, bob)
		bobInitech := f.token(initech, bob)
		tokID := func(t *store.Token) string { return t.ID }

		for _, tc := range []struct {
			name    string
			managed []string
			want    []*store.Token
		}{
			{"no managed accounts", nil, []*store.Token{adaAcme, adaInitech}},
			{"an empty list of managed accounts", []string{}, []*store.Token{adaAcme, adaInitech}},
			{"one managed account", []string{acme.ID}, []*store.Token{adaAcme, adaInitech, bobAcme}},
			{"two managed accounts", []string{acme.ID, globex.ID}, []*store.Token{adaAcme, adaInitech, bobAcme, bobGlobex}},
			{"all accounts", []string{initech.ID, globex.ID, acme.ID}, []*store.Token{adaAcme, adaInitech, bobAcme, bobGlobex, bobInitech}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				got, err := f.s.ListTokens(f.ctx, ada.ID, tc.managed, store.Page{})
				mustOK(t, err)
				wantEqual(t, ids(got, tokID), ids(tc.want, tokID))
			})
		}
		all := []string{adaAcme.ID, adaInitech.ID, bobAcme.ID, bobGlobex.ID, bobInitech.ID}
		if !slices.IsSorted(all) {
			t.Fatal("fixture IDs are not in order")
		}
		checkPaging(t, all, func(p store.Page) ([]string, error) {
			ts, err := f.s.ListTokens(f.ctx, ada.ID, []string{acme.ID, globex.ID, initech.ID}, p)
			return ids(ts, tokID), err
		})
	})
}

func testLoginFailures(t *testing.T, open func(t *testing.T) store.Store) {
	count := func(f *fixture, key string, since time.Time) int {
		f.t.Helper()
		n, err := f.s.CountLoginFailures(f.ctx, key, since)
		mustOK(f.t, err)
		return n
	}

	t.Run("failures are counted per key from a time on", func(t *testing.T) {
		f := newFixture(t, open)
		for _, d := range []time.Duration{0, time.Minute, 2 * time.Minute, time.Hour} {
			mustOK(t, f.s.RecordLoginFailure(f.ctx, "user:ada", t0.Add(d)))
		}
		mustOK(t, f.s.RecordLoginFailure(f.ctx, "addr:192.0.2.1", t0))
		if n := count(f, "user:ada", t0); n != 4 {
			t.Errorf("count since t0 = %d, want 4", n)
		}
		if n := count(f, "user:ada", t0.Add(time.Minute)); n != 3 {
			t.Errorf("count since t0+1m (inclusive) = %d, want 3", n)
		}
		if n := count(f, "user:ada", t0.Add(2*time.Hour)); n != 0 {
			t.Errorf("count since t0+2h = %d, want 0", n)
		}
		if n := count(f, "addr:192.0.2.1", t0.Add(-time.Hour)); n != 1 {
			t.Errorf("count of the other key = %d, want 1", n)
		}
		if n := count(f, "user:nobody", t0.Add(-time.Hour)); n != 0 {
			t.Errorf("count of an unknown key = %d, want 0", n)
		}
	})

	t.Run("clearing forgets one key's failures", func(t *testing.T) {
		f := newFixture(t, open)
		mustOK(t, f.s.RecordLoginFailure(f.ctx, "user:ada", t0))
		mustOK(t, f.s.RecordLoginFailure(f.ctx, "user:bob", t0))
		mustOK(t, f.s.ClearLoginFailures(f.ctx, "user:ada"))
		mustOK(t, f.s.ClearLoginFailures(f.ctx, "user:nobody"))
		if n := count(f, "user:ada", t0.Add(-time.Hour)); n != 0 {
			t.Errorf("cleared key counts %d", n)
		}
		if n := count(f, "user:bob", t0.Add(-time.Hour)); n != 1 {
			t.Errorf("other key counts %d, want 1", n)
		}
	})

	t.Run("pruning removes the failures recorded before a time", func(t *testing.T) {
		f := newFixture(t, open)
		for _, d := range []time.Duration{-2 * time.Hour, -time.Microsecond, 0, time.Hour} {
			mustOK(t, f.s.RecordLoginFailure(f.ctx, "user:ada", t0.Add(d)))
		}
		mustOK(t, f.s.PruneLoginFailures(f.ctx, t0))
		if n := count(f, "user:ada", time.Time{}); n != 2 {
			t.Errorf("after pruning %d remain, want 2", n)
		}
	})
}
