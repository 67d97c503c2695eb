package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/openccm/openccm/internal/store"
)

func testTimes(t *testing.T, open func(t *testing.T) store.Store) {
	t.Run("times come back in UTC, truncated to microseconds", func(t *testing.T) {
		f := newFixture(t, open)
		in := time.Date(2025, 12, 31, 23, 59, 59, 999999999, time.FixedZone("IST", 5*3600+1800))
		a := &store.Account{ID: newID(), Name: "acme", CreatedAt: in, UpdatedAt: in.Add(-time.Nanosecond)}
		mustOK(t, f.s.CreateAccount(f.ctx, a))
		got, err := f.s.GetAccount(f.ctx, a.ID)
		mustOK(t, err)
		want := time.Date(2025, 12, 31, 18, 29, 59, 999999000, time.UTC)
		for _, tm := range []time.Time{got.CreatedAt, got.UpdatedAt} {
			if !tm.Equal(want) || tm.Location() != time.UTC {
				t.Errorf("got %v, want %v", tm, want)
			}
		}
	})

	t.Run("the zero time round-trips", func(t *testing.T) {
		f := newFixture(t, open)
		a := &store.Account{ID: newID(), Name: "acme"}
		mustOK(t, f.s.CreateAccount(f.ctx, a))
		got, err := f.s.GetAccount(f.ctx, a.ID)
		mustOK(t, err)
		if !got.CreatedAt.IsZero() || !got.UpdatedAt.IsZero() {
			t.Fatalf("got %v and %v, want the zero time", got.CreatedAt, got.UpdatedAt)
		}
	})

	t.Run("comparisons follow time order whatever the zone and precision", func(t *testing.T) {
		f := newFixture(t, open)
		u := f.user("ada@example.com")
		now := time.Date(2025, 6, 1, 8, 0, 0, 0, time.UTC)
		plus2, minus3 := time.FixedZone("+02", 2*3600), time.FixedZone("-03", -3*3600)
		cases := []struct {
			expires time.Time
			expired bool
		}{
			{time.Date(2025, 6, 1, 9, 0, 0, 0, plus2), true},    // 07:00Z
			{time.Date(2025, 6, 1, 7, 30, 0, 0, minus3), false}, // 10:30Z
			{time.Date(2025, 6, 1, 7, 59, 59, 999999000, time.UTC), true},
			{time.Date(2025, 6, 1, 8, 0, 0, 1000, time.UTC), false},
			{time.Date(2025, 5, 31, 23, 0, 0, 0, time.UTC), true},
			{time.Date(2025, 6, 10, 0, 0, 0, 0, time.UTC), false},
			{time.Date(999, 1, 1, 0, 0, 0, 0, time.UTC), true},
			{time.Date(2025, 6, 1, 8, 0, 0, 0, time.UTC).Add(10 * time.Second), false},
		}
		hashes := map[string]bool{}
		for i, c := range cases {
			h := fmt.Sprintf("h%d", i)
			mustOK(t, f.s.CreateSession(f.ctx, &store.Session{ID: newID(), UserID: u.ID, TokenHash: []byte(h), CreatedAt: t0, ExpiresAt: c.expires}))
			hashes[h] = c.expired
		}
		if _, err := f.s.DeleteExpiredSessions(f.ctx, now); err != nil {
			t.Fatal(err)
		}
		for h, expired := range hashes {
			_, err := f.s.GetSessionByHash(f.ctx, []byte(h))
			if gone := errors.Is(err, store.ErrNotFound); gone != expired {
				t.Errorf("session %s: deleted = %v, want %v (err %v)", h, gone, expired, err)
			}
		}
	})
}

func testTx(t *testing.T, open func(t *testing.T) store.Store) {
	t.Run("a committed transaction's writes are visible afterwards", func(t *testing.T) {
		f := newFixture(t, open)
		a := &store.Account{ID: newID(), Name: "acme", CreatedAt: t0, UpdatedAt: t0}
		err := f.s.WithTx(f.ctx, func(tx store.Store) error {
			if err := tx.CreateAccount(f.ctx, a); err != nil {
				return err
			}
			// The transaction sees its own writes.
			_, err := tx.GetAccount(f.ctx, a.ID)
			return err
		})
		mustOK(t, err)
		_, err = f.s.GetAccount(f.ctx, a.ID)
		mustOK(t, err)
	})

	t.Run("an error from the function rolls every write back and is returned", func(t *testing.T) {
		f := newFixture(t, open)
		boom := errors.New("boom")
		a := &store.Account{ID: newID(), Name: "acme", CreatedAt: t0, UpdatedAt: t0}
		u := &store.User{ID: newID(), Email: "ada@example.com", CreatedAt: t0}
		err := f.s.WithTx(f.ctx, func(tx store.Store) error {
			mustOK(t, tx.CreateAccount(f.ctx, a))
			mustOK(t, tx.CreateUser(f.ctx, u))
			mustOK(t, tx.AddMember(f.ctx, &store.Member{AccountID: a.ID, UserID: u.ID, Role: store.RoleManager, CreatedAt: t0}))
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatalf("WithTx returned %v, want the function's error", err)
		}
		_, err = f.s.GetAccount(f.ctx, a.ID)
		wantNotFound(t, err)
		_, err = f.s.GetUser(f.ctx, u.ID)
		wantNotFound(t, err)
		n, err := f.s.CountUsers(f.ctx)
		mustOK(t, err)
		if n != 0 {
			t.Fatalf("%d users after a rollback", n)
		}
	})

	t.Run("a panic in the function rolls back and goes on panicking", func(t *testing.T) {
		f := newFixture(t, open)
		a := &store.Account{ID: newID(), Name: "acme", CreatedAt: t0, UpdatedAt: t0}
		func() {
			defer func() {
				if r := recover(); r != "boom" {
					t.Fatalf("recovered %v, want the function's panic", r)
				}
			}()
			f.s.WithTx(f.ctx, func(tx store.Store) error {
				mustOK(t, tx.CreateAccount(f.ctx, a))
				panic("boom")
			})
		}()
		_, err := f.s.GetAccount(f.ctx, a.ID)
		wantNotFound(t, err)
		// The store still works.
		f.account("acme")
	})

	t.Run("a store error inside a transaction is returned and rolls back", func(t *testing.T) {
		f := newFixture(t, open)
		f.account("acme")
		b := &store.Account{ID: newID(), Name: "globex", CreatedAt: t0, UpdatedAt: t0}
		err := f.s.WithTx(f.ctx, func(tx store.Store) error {
			mustOK(t, tx.CreateAccount(f.ctx, b))
			return tx.CreateAccount(f.ctx, &store.Account{ID: newID(), Name: "acme", CreatedAt: t0, UpdatedAt: t0})
		})
		wantConflict(t, err, "accounts.name")
		_, err = f.s.GetAccount(f.ctx, b.ID)
		wantNotFound(t, err)
	})

	t.Run("a nested WithTx runs in the same transaction", func(t *testing.T) {
		f := newFixture(t, open)
		a := &store.Account{ID: newID(), Name: "acme", CreatedAt: t0, UpdatedAt: t0}
		boom := errors.New("boom")
		err := f.s.WithTx(f.ctx, func(tx store.Store) error {
			mustOK(t, tx.WithTx(f.ctx, func(inner store.Store) error {
				return inner.CreateAccount(f.ctx, a)
			}))
			if _, err := tx.GetAccount(f.ctx, a.ID); err != nil {
				return err
			}
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatalf("WithTx returned %v", err)
		}
		_, err = f.s.GetAccount(f.ctx, a.ID)
		wantNotFound(t, err)
	})

	t.Run("Lock works inside a transaction and fails outside one", func(t *testing.T) {
		f := newFixture(t, open)
		if err := f.s.Lock(f.ctx, "signup"); err == nil {
			t.Fatal("Lock outside a transaction succeeded")
		}
		mustOK(t, f.s.WithTx(f.ctx, func(tx store.Store) error {
			if err := tx.Lock(f.ctx, "signup"); err != nil {
				return err
			}
			// Taking it again in the same transaction does not deadlock.
			if err := tx.Lock(f.ctx, "signup"); err != nil {
				return err
			}
			return tx.Lock(f.ctx, "another")
		}))
	})

	t.Run("concurrent count-then-insert under a lock inserts exactly once", func(t *testing.T) {
		f := newFixture(t, open)
		const n = 8
		var (
			wg       sync.WaitGroup
			mu       sync.Mutex
			errs     []error
			inserted int
		)
		start := make(chan struct{})
		for i := range n {
			wg.Go(func() {
				<-start
				err := f.s.WithTx(f.ctx, func(tx store.Store) error {
					if err := tx.Lock(f.ctx, "first-user"); err != nil {
						return err
					}
					c, err := tx.CountUsers(f.ctx)
					if err != nil || c > 0 {
						return err
					}
					// Give the others time to count too, were the lock not held.
					time.Sleep(20 * time.Millisecond)
					u := &store.User{ID: newID(), Email: fmt.Sprintf("user%d@example.com", i), IsAdmin: true, CreatedAt: t0}
					if err := tx.CreateUser(f.ctx, u); err != nil {
						return err
					}
					mu.Lock()
					inserted++
					mu.Unlock()
					return nil
				})
				if err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
			})
		}
		close(start)
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			t.Fatal(err)
		}
		c, err := f.s.CountUsers(f.ctx)
		mustOK(t, err)
		if c != 1 || inserted != 1 {
			t.Fatalf("%d users, %d inserts; want exactly one", c, inserted)
		}
	})

	t.Run("concurrent demotions under a lock keep the last manager", func(t *testing.T) {
		f := newFixture(t, open)
		a := f.account("acme")
		const n = 6
		var users []*store.User
		for i := range n {
			u := f.user(fmt.Sprintf("m%d@example.com", i))
			f.member(a, u, store.RoleManager)
			users = append(users, u)
		}
		var (
			wg   sync.WaitGroup
			mu   sync.Mutex
			errs []error
		)
		start := make(chan struct{})
		for _, u := range users {
			wg.Go(func() {
				<-start
				err := f.s.WithTx(f.ctx, func(tx store.Store) error {
					if err := tx.Lock(f.ctx, "managers:"+a.ID); err != nil {
						return err
					}
					c, err := tx.CountMembersWithRole(f.ctx, a.ID, store.RoleManager)
					if err != nil || c <= 1 {
						return err
					}
					time.Sleep(5 * time.Millisecond)
					return tx.SetMemberRole(f.ctx, a.ID, u.ID, store.RoleReader)
				})
				if err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
			})
		}
		close(start)
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			t.Fatal(err)
		}
		c, err := f.s.CountMembersWithRole(f.ctx, a.ID, store.RoleManager)
		mustOK(t, err)
		if c != 1 {
			t.Fatalf("%d managers remain, want 1", c)
		}
	})
}

func testSchema(t *testing.T, open func(t *testing.T) store.Store) {
	t.Run("a new store is migrated and answers pings", func(t *testing.T) {
		f := newFixture(t, open)
		v, err := f.s.SchemaVersion(f.ctx)
		mustOK(t, err)
		if v < 1 {
			t.Fatalf("SchemaVersion = %d", v)
		}
		mustOK(t, f.s.Ping(f.ctx))
		mustOK(t, f.s.WithTx(f.ctx, func(tx store.Store) error {
			tv, err := tx.SchemaVersion(f.ctx)
			if err == nil && tv != v {
				err = fmt.Errorf("SchemaVersion in a transaction = %d, want %d", tv, v)
			}
			return errors.Join(err, tx.Ping(f.ctx))
		}))
	})
}
