package storetest

import (
	"testing"
	"time"

	"github.com/openccm/openccm/internal/store"
)

func testRegistries(t *testing.T, open func(t *testing.T) store.Store) {
	regID := func(r *store.Registry) string { return r.ID }

	t.Run("a registry reads back with every field, by ID and by URL", func(t *testing.T) {
		f := newFixture(t, open)
		a := f.account("acme")
		r := f.registry(a, "https://registry.example.com")
		got, err := f.s.GetRegistry(f.ctx, a.ID, r.ID)
		mustOK(t, err)
		wantEqual(t, got, r)
		got, err = f.s.GetRegistryByURL(f.ctx, a.ID, r.URL)
		mustOK(t, err)
		wantEqual(t, got, r)
	})

	t.Run("another account's registry is not found", func(t *testing.T) {
		f := newFixture(t, open)
		a, b := f.account("acme"), f.account("globex")
		r := f.registry(a, "https://registry.example.com")
		_, err := f.s.GetRegistry(f.ctx, b.ID, r.ID)
		wantNotFound(t, err)
		_, err = f.s.GetRegistryByURL(f.ctx, b.ID, r.URL)
		wantNotFound(t, err)
		upd := *r
		upd.AccountID = b.ID
		wantNotFound(t, f.s.UpdateRegistry(f.ctx, &upd))
		wantNotFound(t, f.s.DeleteRegistry(f.ctx, b.ID, r.ID))
		_, err = f.s.GetRegistry(f.ctx, a.ID, r.ID)
		mustOK(t, err)
	})

	t.Run("a URL is unique within an account only", func(t *testing.T) {
		f := newFixture(t, open)
		a, b := f.account("acme"), f.account("globex")
		r := f.registry(a, "https://registry.example.com")
		dup := *r
		dup.ID = newID()
		wantConflict(t, f.s.CreateRegistry(f.ctx, &dup), "registries.url")
		f.registry(b, "https://registry.example.com")
	})

	t.Run("a registry in a missing account is not found", func(t *testing.T) {
		f := newFixture(t, open)
		err := f.s.CreateRegistry(f.ctx, &store.Registry{ID: newID(), AccountID: newID(), URL: "u", CreatedAt: t0, UpdatedAt: t0})
		wantNotFound(t, err)
	})

	t.Run("an update replaces the mutable fields", func(t *testing.T) {
		f := newFixture(t, open)
		a := f.account("acme")
		r := f.registry(a, "https://registry.example.com")
		upd := &store.Registry{ID: r.ID, AccountID: a.ID, URL: "https://other.example.com", Username: "u2",
			Description: "d2", PasswordCiphertext: []byte("sealed2"), CreatedAt: t0.Add(time.Hour), UpdatedAt: t0.Add(time.Hour)}
		mustOK(t, f.s.UpdateRegistry(f.ctx, upd))
		got, err := f.s.GetRegistry(f.ctx, a.ID, r.ID)
		mustOK(t, err)
		want := *upd
		want.CreatedAt = r.CreatedAt
		wantEqual(t, got, &want)
		_, err = f.s.GetRegistryByURL(f.ctx, a.ID, r.URL)
		wantNotFound(t, err)
	})

	t.Run("changing a URL to one the account has conflicts on registries.url", func(t *testing.T) {
		f := newFixture(t, open)
		a := f.account("acme")
		f.registry(a, "https://one.example.com")
		r := f.registry(a, "https://two.example.com")
		r.URL = "https://one.example.com"
		wantConflict(t, f.s.UpdateRegistry(f.ctx, r), "registries.url")
	})

	t.Run("registries are listed by ID within the account, page by page", func(t *testing.T) {
		f := newFixture(t, open)
		a, b := f.account("acme"), f.account("globex")
		var want []string
		for i := range 5 {
			want = append(want, f.registry(a, "https://r"+string(rune('0'+i))+".example.com").ID)
		}
		f.registry(b, "https://r0.example.com")
		checkPaging(t, want, func(p store.Page) ([]string, error) {
			rs, err := f.s.ListRegistries(f.ctx, a.ID, p)
			return ids(rs, regID), err
		})
	})

	t.Run("a deleted registry is gone", func(t *testing.T) {
		f := newFixture(t, open)
		a := f.account("acme")
		r := f.registry(a, "https://registry.example.com")
		mustOK(t, f.s.DeleteRegistry(f.ctx, a.ID, r.ID))
		_, err := f.s.GetRegistry(f.ctx, a.ID, r.ID)
		wantNotFound(t, err)
		wantNotFound(t, f.s.DeleteRegistry(f.ctx, a.ID, r.ID))
	})
}

func testApps(t *testing.T, open func(t *testing.T) store.Store) {
	appID := func(a *store.App) string { return a.ID }

	t.Run("an app reads back with every field", func(t *testing.T) {
		f := newFixture(t, open)
		a := f.account("acme")
		app := f.app(a, "payments", store.AppEnclaveOS)
		got, err := f.s.GetApp(f.ctx, a.ID, app.ID)
		mustOK(t, err)
		wantEqual(t, got, app)
	})

	t.Run("nil lists and maps read back empty", func(t *testing.T) {
		f := newFixture(t, open)
		a := f.account("acme")
		app := &store.App{ID: newID(), AccountID: a.ID, Name: "bare", Type: store.AppSEVSNP, CreatedAt: t0, UpdatedAt: t0}
		mustOK(t, f.s.CreateApp(f.ctx, app))
		got, err := f.s.GetApp(f.ctx, a.ID, app.ID)
		mustOK(t, err)
		want := *app
		want.Domains, want.ApprovedDomains, want.Labels = []string{}, []string{}, map[string]string{}
		wantEqual(t, got, &want)
	})

	t.Run("another account's app is not found", func(t *testing.T) {
		f := newFixture(t, open)
		a, b := f.account("acme"), f.account("globex")
		app := f.app(a, "payments", store.AppEDP)
		_, err := f.s.GetApp(f.ctx, b.ID, app.ID)
		wantNotFound(t, err)
		upd := *app
		upd.AccountID = b.ID
		upd.Name = "stolen"
		wantNotFound(t, f.s.UpdateApp(f.ctx, &upd))
		wantNotFound(t, f.s.DeleteApp(f.ctx, b.ID, app.ID))
		got, err := f.s.GetApp(f.ctx, a.ID, app.ID)
		mustOK(t, err)
		wantEqual(t, got, app)
	})

	t.Run("a name is unique within an account only", func(t *testing.T) {
		f := newFixture(t, open)
		a, b := f.account("acme"), f.account("globex")
		app := f.app(a, "payments", store.AppACI)
		dup := *app
		dup.ID = newID()
		wantConflict(t, f.s.CreateApp(f.ctx, &dup), "apps.name")
		f.app(b, "payments", store.AppACI)
	})

	t.Run("an app in a missing account is not found", func(t *testing.T) {
		f := newFixture(t, open)
		err := f.s.CreateApp(f.ctx, &store.App{ID: newID(), AccountID: newID(), Name: "x", Type: store.AppACI, CreatedAt: t0, UpdatedAt: t0})
		wantNotFound(t, err)
	})

	t.Run("an update replaces the mutable fields and keeps the type and creation time", func(t *testing.T) {
		f := newFixture(t, open)
		a := f.account("acme")
		app := f.app(a, "payments", store.AppEnclaveOS)
		upd := &store.App{
			ID: app.ID, AccountID: a.ID, Name: "payments-v2", Type: store.AppACI, Description: "new",
			Domains: []string{"v2.example.com"}, ApprovedDomains: nil, PendingDomainTaskID: "",
			InputImageName: "in:2", OutputImageName: "out:2",
			Certificate: store.CertificateSettings{Enabled: false, ValidityDays: 7},
			Labels:      map[string]string{"tier": "2"},
			CreatedAt:   t0.Add(time.Hour), UpdatedAt: t0.Add(2 * time.Hour),
		}
		mustOK(t, f.s.UpdateApp(f.ctx, upd))
		got, err := f.s.GetApp(f.ctx, a.ID, app.ID)
		mustOK(t, err)
		want := *upd
		want.Type, want.CreatedAt, want.ApprovedDomains = app.Type, app.CreatedAt, []string{}
		wantEqual(t, got, &want)
	})

	t.Run("renaming an app to a taken name conflicts on apps.name", func(t *testing.T) {
		f := newFixture(t, open)
		a := f.account("acme")
		f.app(a, "one", store.AppEDP)
		app := f.app(a, "two", store.AppEDP)
		app.Name = "one"
		wantConflict(t, f.s.UpdateApp(f.ctx, app), "apps.name")
	})

	t.Run("apps are listed by ID within the account, page by page and by type", func(t *testing.T) {
		f := newFixture(t, open)
		a, b := f.account("acme"), f.account("globex")
		var all, aci []string
		for i := range 6 {
			typ := store.AppEDP
			if i%2 == 0 {
				typ = store.AppACI
			}
			app := f.app(a, "app"+string(rune('0'+i)), typ)
			all = append(all, app.ID)
			if typ == store.AppACI {
				aci = append(aci, app.ID)
			}
		}
		f.app(b, "app0", store.AppACI)
		checkPaging(t, all, func(p store.Page) ([]string, error) {
			as, err := f.s.ListApps(f.ctx, a.ID, store.AppFilter{}, p)
			return ids(as, appID), err
		})
		got, err := f.s.ListApps(f.ctx, a.ID, store.AppFilter{Type: store.AppACI}, store.Page{})
		mustOK(t, err)
		wantEqual(t, ids(got, appID), aci)
		got, err = f.s.ListApps(f.ctx, a.ID, store.AppFilter{Type: store.AppACI}, store.Page{Limit: 1, After: aci[0]})
		mustOK(t, err)
		wantEqual(t, ids(got, appID), aci[1:2])
		got, err = f.s.ListApps(f.ctx, a.ID, store.AppFilter{Type: store.AppAzureCVM}, store.Page{})
		mustOK(t, err)
		if got == nil || len(got) != 0 {
			t.Fatalf("no apps of a type: got %#v, want an empty list", got)
		}
	})

	t.Run("a deleted app is gone", func(t *testing.T) {
		f := newFixture(t, open)
		a := f.account("acme")
		app := f.app(a, "payments", store.AppEDP)
		mustOK(t, f.s.DeleteApp(f.ctx, a.ID, app.ID))
		_, err := f.s.GetApp(f.ctx, a.ID, app.ID)
		wantNotFound(t, err)
		wantNotFound(t, f.s.DeleteApp(f.ctx, a.ID, app.ID))
	})
}

func testDeleteAccount(t *testing.T, open func(t *testing.T) store.Store) {
	t.Run("removes the account's members, tokens, registries, apps, images, jobs and tasks and keeps the rest", func(t *testing.T) {
		f := newFixture(t, open)
		a, b := f.account("acme"), f.account("globex")
		ada := f.user("ada@example.com")
		f.member(a, ada, store.RoleManager)
		f.member(b, ada, store.RoleReader)
		tokA, tokB := f.token(a, ada), f.token(b, ada)
		regA, regB := f.registry(a, "https://r.example.com"), f.registry(b, "https://r.example.com")
		appA, appB := f.app(a, "payments", store.AppEDP), f.app(b, "payments", store.AppEDP)
		imgA, imgB := f.image(appA, "1"), f.image(appB, "1")
		f.job(imgA, t0)
		jobB := f.job(imgB, t0)
		taskA, taskB := f.task(a, "image", imgA.ID), f.task(b, "image", imgB.ID)
		f.decide(taskA, ada, store.DecisionApprove, t0)
		taskB.Decisions = []store.TaskDecision{f.decide(taskB, ada, store.DecisionApprove, t0)}
		auditA := f.audit(a.ID, 1)

		mustOK(t, f.s.DeleteAccount(f.ctx, a.ID))

		_, err := f.s.GetMember(f.ctx, a.ID, ada.ID)
		wantNotFound(t, err)
		_, err = f.s.GetToken(f.ctx, tokA.ID)
		wantNotFound(t, err)
		_, err = f.s.GetRegistry(f.ctx, a.ID, regA.ID)
		wantNotFound(t, err)
		_, err = f.s.GetApp(f.ctx, a.ID, appA.ID)
		wantNotFound(t, err)
		_, err = f.s.GetImage(f.ctx, a.ID, imgA.ID)
		wantNotFound(t, err)
		_, err = f.s.GetJobForImage(f.ctx, a.ID, imgA.ID)
		wantNotFound(t, err)
		_, err = f.s.GetTask(f.ctx, a.ID, taskA.ID)
		wantNotFound(t, err)
		uas, err := f.s.ListUserAccounts(f.ctx, ada.ID, store.Page{})
		mustOK(t, err)
		if len(uas) != 1 || uas[0].Account.ID != b.ID {
			t.Fatalf("ada's accounts after the delete: %+v", uas)
		}

		_, err = f.s.GetUser(f.ctx, ada.ID)
		mustOK(t, err)
		_, err = f.s.GetMember(f.ctx, b.ID, ada.ID)
		mustOK(t, err)
		_, err = f.s.GetToken(f.ctx, tokB.ID)
		mustOK(t, err)
		_, err = f.s.GetRegistry(f.ctx, b.ID, regB.ID)
		mustOK(t, err)
		_, err = f.s.GetApp(f.ctx, b.ID, appB.ID)
		mustOK(t, err)
		got, err := f.s.GetImage(f.ctx, b.ID, imgB.ID)
		mustOK(t, err)
		wantEqual(t, got, imgB)
		gotJob, err := f.s.GetJobForImage(f.ctx, b.ID, imgB.ID)
		mustOK(t, err)
		wantEqual(t, gotJob, jobB)
		gotTask, err := f.s.GetTask(f.ctx, b.ID, taskB.ID)
		mustOK(t, err)
		wantEqual(t, gotTask, taskB)
		// The audit log is history: it outlives the account.
		last, err := f.s.LastAudit(f.ctx, a.ID)
		mustOK(t, err)
		wantEqual(t, last, auditA)

		// The freed names can be used again.
		f.account("acme")
	})
}
