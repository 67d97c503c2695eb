package storetest

import (
	"testing"
	"time"

	"github.com/openccm/openccm/internal/store"
)

func testAccounts(t *testing.T, open func(t *testing.T) store.Store) {
	t.Run("an account reads back with every field", func(t *testing.T) {
		f := newFixture(t, open)
		a := f.account("acme")
		got, err := f.s.GetAccount(f.ctx, a.ID)
		mustOK(t, err)
		wantEqual(t, got, a)
	})

	t.Run("nil lists read back as empty lists", func(t *testing.T) {
		f := newFixture(t, open)
		a := &store.Account{ID: newID(), Name: "bare", CreatedAt: t0, UpdatedAt: t0}
		mustOK(t, f.s.CreateAccount(f.ctx, a))
		got, err := f.s.GetAccount(f.ctx, a.ID)
		mustOK(t, err)
		if got.AzureCVMPCRPriority == nil || len(got.AzureCVMPCRPriority) != 0 {
			t.Errorf("AzureCVMPCRPriority = %#v, want an empty slice", got.AzureCVMPCRPriority)
		}
		if got.SGXAcceptedTCBStatuses == nil || len(got.SGXAcceptedTCBStatuses) != 0 {
			t.Errorf("SGXAcceptedTCBStatuses = %#v, want an empty slice", got.SGXAcceptedTCBStatuses)
		}
	})

	t.Run("a missing account is not found", func(t *testing.T) {
		f := newFixture(t, open)
		_, err := f.s.GetAccount(f.ctx, newID())
		wantNotFound(t, err)
	})

	t.Run("a second account with the same name conflicts on accounts.name", func(t *testing.T) {
		f := newFixture(t, open)
		f.account("acme")
		err := f.s.CreateAccount(f.ctx, &store.Account{ID: newID(), Name: "acme", CreatedAt: t0, UpdatedAt: t0})
		wantConflict(t, err, "accounts.name")
	})

	t.Run("rows with a taken ID conflict on the table's id", func(t *testing.T) {
		f := newFixture(t, open)
		a := f.account("acme")
		wantConflict(t, f.s.CreateAccount(f.ctx, &store.Account{ID: a.ID, Name: "other", CreatedAt: t0, UpdatedAt: t0}), "accounts.id")
		u := f.user("ada@example.com")
		wantConflict(t, f.s.CreateUser(f.ctx, &store.User{ID: u.ID, Email: "bob@example.com", CreatedAt: t0}), "users.id")
		app := f.app(a, "payments", store.AppEDP)
		wantConflict(t, f.s.CreateApp(f.ctx, &store.App{ID: app.ID, AccountID: a.ID, Name: "other", Type: store.AppEDP, CreatedAt: t0, UpdatedAt: t0}), "apps.id")
		r := f.registry(a, "https://r.example.com")
		wantConflict(t, f.s.CreateRegistry(f.ctx, &store.Registry{ID: r.ID, AccountID: a.ID, URL: "https://other.example.com", CreatedAt: t0, UpdatedAt: t0}), "registries.id")
		img := f.image(app, "1")
		wantConflict(t, f.s.CreateImage(f.ctx, &store.Image{ID: img.ID, AccountID: a.ID, AppID: app.ID, Type: store.AppEDP, Version: "2", CreatedAt: t0, UpdatedAt: t0}), "images.id")
		j := f.job(img, t0)
		wantConflict(t, f.s.CreateJob(f.ctx, &store.Job{ID: j.ID, AccountID: a.ID, ImageID: img.ID, CreatedAt: t0, UpdatedAt: t0}), "jobs.id")
	})

	t.Run("an update replaces the mutable fields and keeps the creation time", func(t *testing.T) {
		f := newFixture(t, open)
		a := f.account("acme")
		upd := &store.Account{
			ID:                     a.ID,
			Name:                   "acme-renamed",
			TrustDomain:            "new.example.com",
			ApprovalPolicy:         store.ApprovalPolicy{RequiredApprovals: 1},
			AzureCVMPCRPriority:    []int{0},
			SGXAcceptedTCBStatuses: nil,
			CreatedAt:              t0.Add(time.Hour), // ignored
			UpdatedAt:              t0.Add(2 * time.Hour),
		}
		mustOK(t, f.s.UpdateAccount(f.ctx, upd))
		got, err := f.s.GetAccount(f.ctx, a.ID)
		mustOK(t, err)
		want := *upd
		want.CreatedAt = a.CreatedAt
		want.SGXAcceptedTCBStatuses = []string{}
		wantEqual(t, got, &want)
	})

	t.Run("updating a missing account is not found", func(t *testing.T) {
		f := newFixture(t, open)
		err := f.s.UpdateAccount(f.ctx, &store.Account{ID: newID(), Name: "x", CreatedAt: t0, UpdatedAt: t0})
		wantNotFound(t, err)
	})

	t.Run("renaming an account to a taken name conflicts on accounts.name", func(t *testing.T) {
		f := newFixture(t, open)
		f.account("acme")
		b := f.account("globex")
		b.Name = "acme"
		wantConflict(t, f.s.UpdateAccount(f.ctx, b), "accounts.name")
	})

	t.Run("a deleted account is gone", func(t *testing.T) {
		f := newFixture(t, open)
		a := f.account("acme")
		mustOK(t, f.s.DeleteAccount(f.ctx, a.ID))
		_, err := f.s.GetAccount(f.ctx, a.ID)
		wantNotFound(t, err)
		wantNotFound(t, f.s.DeleteAccount(f.ctx, a.ID))
	})
}
