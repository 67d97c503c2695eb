package storetest

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/openccm/openccm/internal/store"
)

func testImages(t *testing.T, open func(t *testing.T) store.Store) {
	imageID := func(img *store.Image) string { return img.ID }

	t.Run("an image reads back with every field, by ID and by measurement key", func(t *testing.T) {
		f := newFixture(t, open)
		a := f.account("acme")
		img := f.image(f.app(a, "payments", store.AppEDP), "1.0")
		got, err := f.s.GetImage(f.ctx, a.ID, img.ID)
		mustOK(t, err)
		wantEqual(t, got, img)
		got, err = f.s.GetImageByMeasurementKey(f.ctx, a.ID, img.MeasurementKey)
		mustOK(t, err)
		wantEqual(t, got, img)
	})

	t.Run("measurements and settings read back as encoding/json gives them", func(t *testing.T) {
		zero, no := 0, false
		f := newFixture(t, open)
		a := f.account("acme")
		app := f.app(a, "payments", store.AppAzureCVM)
		allPCRs := map[int]string{}
		for i := range 23 {
			allPCRs[i] = fmt.Sprintf("%064x", i)
		}
		for _, tc := range []struct {
			name     string
			in, want store.Measurements
			settings store.ImageSettings
		}{
			{name: "PCR indexes 0 to 22 round-trip",
				in: store.Measurements{PCRs: allPCRs}, want: store.Measurements{PCRs: allPCRs}},
			{name: "an empty PCR map is omitted and reads back as nil",
				in: store.Measurements{PCRs: map[int]string{}}, want: store.Measurements{}},
			{name: "a nil PCR map reads back as nil",
				in: store.Measurements{MREnclave: "aa"}, want: store.Measurements{MREnclave: "aa"}},
			{name: "pointers to zero stay set, nil pointers stay nil",
				in:       store.Measurements{ISVSVN: &zero, VMPL: &zero},
				want:     store.Measurements{ISVSVN: &zero, VMPL: &zero},
				settings: store.ImageSettings{FilePersistence: &no}},
			{name: "no measurements at all",
				in: store.Measurements{}, want: store.Measurements{}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				img := &store.Image{ID: newID(), AccountID: a.ID, AppID: app.ID, Type: app.Type, Version: tc.name,
					Measurements: tc.in, Settings: tc.settings, CreatedAt: t0, UpdatedAt: t0}
				mustOK(t, f.s.CreateImage(f.ctx, img))
				got, err := f.s.GetImage(f.ctx, a.ID, img.ID)
				mustOK(t, err)
				wantEqual(t, got.Measurements, tc.want)
				wantEqual(t, got.Settings, tc.settings)

				// An update stores measurements the same way.
				upd := *got
				upd.Measurements = tc.in
				mustOK(t, f.s.UpdateImage(f.ctx, &upd))
				got, err = f.s.GetImage(f.ctx, a.ID, img.ID)
				mustOK(t, err)
				wantEqual(t, got.Measurements, tc.want)
			})
		}
	})

	t.Run("an image without a measurement key or credentials reads back with none", func(t *testing.T) {
		f := newFixture(t, open)
		a := f.account("acme")
		app := f.app(a, "payments", store.AppEnclaveOS)
		for _, creds := range [][]byte{nil, {}} {
			img := &store.Image{ID: newID(), AccountID: a.ID, AppID: app.ID, Type: app.Type, Version: newID(),
				Status: store.ImagePending, ApprovalStatus: store.ApprovalPending,
				CredentialsCiphertext: creds, CreatedAt: t0, UpdatedAt: t0}
			mustOK(t, f.s.CreateImage(f.ctx, img))
			got, err := f.s.GetImage(f.ctx, a.ID, img.ID)
			mustOK(t, err)
			want := *img
			want.CredentialsCiphertext = nil
			wantEqual(t, got, &want)
		}
		_, err := f.s.GetImageByMeasurementKey(f.ctx, a.ID, "")
		wantNotFound(t, err)
	})

	t.Run("any number of images may lack a measurement key", func(t *testing.T) {
		f := newFixture(t, open)
		a := f.account("acme")
		app := f.app(a, "payments", store.AppEnclaveOS)
		for i := range 3 {
			img := f.image(app, fmt.Sprint(i))
			img.MeasurementKey = ""
			mustOK(t, f.s.UpdateImage(f.ctx, img))
		}
		img := &store.Image{ID: newID(), AccountID: a.ID, AppID: app.ID, Type: app.Type, Version: "new", CreatedAt: t0, UpdatedAt: t0}
		mustOK(t, f.s.CreateImage(f.ctx, img))
	})

	t.Run("a measurement key is unique within an account only", func(t *testing.T) {
		f := newFixture(t, open)
		a, b := f.account("acme"), f.account("globex")
		appA, appB := f.app(a, "payments", store.AppEDP), f.app(b, "payments", store.AppEDP)
		img := f.image(appA, "1")
		dup := *img
		dup.ID, dup.Version = newID(), "2"
		wantConflict(t, f.s.CreateImage(f.ctx, &dup), "images.measurement_key")
		// Another app of the account is no different.
		dup.AppID = f.app(a, "other", store.AppEDP).ID
		wantConflict(t, f.s.CreateImage(f.ctx, &dup), "images.measurement_key")
		dup.AccountID, dup.AppID = b.ID, appB.ID
		mustOK(t, f.s.CreateImage(f.ctx, &dup))
	})

	t.Run("a version is unique within an app only", func(t *testing.T) {
		f := newFixture(t, open)
		a := f.account("acme")
		app, other := f.app(a, "payments", store.AppEDP), f.app(a, "billing", store.AppEDP)
		img := f.image(app, "1.0")
		dup := *img
		dup.ID, dup.MeasurementKey = newID(), ""
		wantConflict(t, f.s.CreateImage(f.ctx, &dup), "images.version")
		f.image(other, "1.0")
	})

	t.Run("an image of a missing account or app, or of another account's app, is not found", func(t *testing.T) {
		f := newFixture(t, open)
		a, b := f.account("acme"), f.account("globex")
		appA := f.app(a, "payments", store.AppEDP)
		appB := f.app(b, "payments", store.AppEDP)
		for _, tc := range []struct{ name, account, app string }{
			{"missing account", newID(), appA.ID},
			{"missing app", a.ID, newID()},
			{"another account's app", a.ID, appB.ID},
		} {
			err := f.s.CreateImage(f.ctx, &store.Image{ID: newID(), AccountID: tc.account, AppID: tc.app,
				Type: store.AppEDP, Version: "1", CreatedAt: t0, UpdatedAt: t0})
			if !errors.Is(err, store.ErrNotFound) {
				t.Errorf("%s: got %v, want store.ErrNotFound", tc.name, err)
			}
		}
		n, err := f.s.CountAppImages(f.ctx, b.ID, appB.ID)
		mustOK(t, err)
		if n != 0 {
			t.Fatalf("%d images in the other account's app", n)
		}
	})

	t.Run("another account's image is not found", func(t *testing.T) {
		f := newFixture(t, open)
		a, b := f.account("acme"), f.account("globex")
		app := f.app(a, "payments", store.AppEDP)
		img := f.image(app, "1")
		_, err := f.s.GetImage(f.ctx, b.ID, img.ID)
		wantNotFound(t, err)
		_, err = f.s.GetImageByMeasurementKey(f.ctx, b.ID, img.MeasurementKey)
		wantNotFound(t, err)
		upd := *img
		upd.AccountID, upd.ApprovalStatus = b.ID, store.ApprovalApproved
		wantNotFound(t, f.s.UpdateImage(f.ctx, &upd))
		wantNotFound(t, f.s.DeleteImage(f.ctx, b.ID, img.ID))
		imgs, err := f.s.ListImages(f.ctx, b.ID, store.ImageFilter{}, store.Page{})
		mustOK(t, err)
		wantEqual(t, ids(imgs, imageID), []string{})
		imgs, err = f.s.ListImages(f.ctx, b.ID, store.ImageFilter{AppID: app.ID}, store.Page{})
		mustOK(t, err)
		wantEqual(t, ids(imgs, imageID), []string{})
		imgs, err = f.s.ListImagesByType(f.ctx, b.ID, store.AppEDP)
		mustOK(t, err)
		wantEqual(t, ids(imgs, imageID), []string{})
		n, err := f.s.CountAppImages(f.ctx, b.ID, app.ID)
		mustOK(t, err)
		if n != 0 {
			t.Fatalf("CountAppImages from another account = %d", n)
		}
		got, err := f.s.GetImage(f.ctx, a.ID, img.ID)
		mustOK(t, err)
		wantEqual(t, got, img)
	})

	t.Run("an update replaces the mutable fields only", func(t *testing.T) {
		f := newFixture(t, open)
		a := f.account("acme")
		app := f.app(a, "payments", store.AppEnclaveOS)
		img := f.image(app, "1")
		upd := &store.Image{
			ID: img.ID, AccountID: a.ID,
			// Mutable.
			Status:         store.ImageFailed,
			ApprovalStatus: store.ApprovalDenied,
			Measurements:   store.Measurements{PCR0: "n0", PCR1: "n1", PCR2: "n2"},
			MeasurementKey: "nitro:n0n1n2",
			OutputDigest:   "sha256:4567",
			Error:          "conversion failed",
			TaskID:         newID(),
			UpdatedAt:      t0.Add(time.Hour),
			// Ignored.
			AppID:                 f.app(a, "other", store.AppACI).ID,
			Type:                  store.AppACI,
			Platform:              "nitro",
			Version:               "2",
			Settings:              store.ImageSettings{Tag: "changed"},
			CredentialsCiphertext: []byte("changed"),
			CreatedBy:             newID(),
			CreatedAt:             t0.Add(time.Hour),
		}
		mustOK(t, f.s.UpdateImage(f.ctx, upd))
		got, err := f.s.GetImage(f.ctx, a.ID, img.ID)
		mustOK(t, err)
		want := *img
		want.Status, want.ApprovalStatus, want.Measurements = upd.Status, upd.ApprovalStatus, upd.Measurements
		want.MeasurementKey, want.OutputDigest, want.Error = upd.MeasurementKey, upd.OutputDigest, upd.Error
		want.TaskID, want.UpdatedAt = upd.TaskID, upd.UpdatedAt
		wantEqual(t, got, &want)
		got, err = f.s.GetImageByMeasurementKey(f.ctx, a.ID, "nitro:n0n1n2")
		mustOK(t, err)
		wantEqual(t, got, &want)
		_, err = f.s.GetImageByMeasurementKey(f.ctx, a.ID, img.MeasurementKey)
		wantNotFound(t, err)
	})

	t.Run("updating to a measurement key another image has conflicts on images.measurement_key", func(t *testing.T) {
		f := newFixture(t, open)
		a := f.account("acme")
		app := f.app(a, "payments", store.AppEDP)
		one, two := f.image(app, "1"), f.image(app, "2")
		two.MeasurementKey = one.MeasurementKey
		wantConflict(t, f.s.UpdateImage(f.ctx, two), "images.measurement_key")
		// Clearing both keys is no conflict.
		one.MeasurementKey, two.MeasurementKey = "", ""
		mustOK(t, f.s.UpdateImage(f.ctx, one))
		mustOK(t, f.s.UpdateImage(f.ctx, two))
	})

	t.Run("updating a missing image is not found", func(t *testing.T) {
		f := newFixture(t, open)
		a := f.account("acme")
		wantNotFound(t, f.s.UpdateImage(f.ctx, &store.Image{ID: newID(), AccountID: a.ID, UpdatedAt: t0}))
	})

	t.Run("images are listed by ID within the account, page by page and by filter", func(t *testing.T) {
		f := newFixture(t, open)
		a, b := f.account("acme"), f.account("globex")
		edp, aci := f.app(a, "payments", store.AppEDP), f.app(a, "billing", store.AppACI)
		f.image(f.app(b, "payments", store.AppEDP), "0")
		type row struct {
			app      *store.App
			status   store.ImageStatus
			approval store.ApprovalStatus
		}
		rows := []row{
			{edp, store.ImageReady, store.ApprovalApproved},
			{aci, store.ImageBuilding, store.ApprovalPending},
			{edp, store.ImageReady, store.ApprovalPending},
			{aci, store.ImageReady, store.ApprovalApproved},
			{edp, store.ImageFailed, store.ApprovalDenied},
			{aci, store.ImageReady, store.ApprovalApproved},
		}
		var all []*store.Image
		for i, r := range rows {
			img := f.image(r.app, fmt.Sprint(i))
			img.Status, img.ApprovalStatus = r.status, r.approval
			mustOK(t, f.s.UpdateImage(f.ctx, img))
			all = append(all, img)
		}
		checkPaging(t, ids(all, imageID), func(p store.Page) ([]string, error) {
			imgs, err := f.s.ListImages(f.ctx, a.ID, store.ImageFilter{}, p)
			return ids(imgs, imageID), err
		})
		for _, tc := range []struct {
			name string
			f    store.ImageFilter
			want []int
		}{
			{"by app", store.ImageFilter{AppID: edp.ID}, []int{0, 2, 4}},
			{"by type", store.ImageFilter{Type: store.AppACI}, []int{1, 3, 5}},
			{"by status", store.ImageFilter{Status: store.ImageReady}, []int{0, 2, 3, 5}},
			{"by approval status", store.ImageFilter{ApprovalStatus: store.ApprovalApproved}, []int{0, 3, 5}},
			{"by every field", store.ImageFilter{AppID: aci.ID, Type: store.AppACI, Status: store.ImageReady, ApprovalStatus: store.ApprovalApproved}, []int{3, 5}},
			{"matching none", store.ImageFilter{Type: store.AppSEVSNP}, []int{}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				want := []string{}
				for _, i := range tc.want {
					want = append(want, all[i].ID)
				}
				imgs, err := f.s.ListImages(f.ctx, a.ID, tc.f, store.Page{})
				mustOK(t, err)
				wantEqual(t, ids(imgs, imageID), want)
				if len(want) > 1 {
					imgs, err = f.s.ListImages(f.ctx, a.ID, tc.f, store.Page{Limit: 1, After: want[0]})
					mustOK(t, err)
					wantEqual(t, ids(imgs, imageID), want[1:2])
				}
			})
		}
	})

	t.Run("images of a type are listed whole, in ID order, within the account", func(t *testing.T) {
		f := newFixture(t, open)
		a, b := f.account("acme"), f.account("globex")
		edp, aci := f.app(a, "payments", store.AppEDP), f.app(a, "billing", store.AppACI)
		f.image(f.app(b, "payments", store.AppEDP), "0")
		f.image(aci, "0")
		var want []string
		// More than a page: the list is not paged.
		mustOK(t, f.s.WithTx(f.ctx, func(tx store.Store) error {
			for i := range store.DefaultPageLimit + 1 {
				img := &store.Image{ID: newID(), AccountID: a.ID, AppID: edp.ID, Type: edp.Type,
					Version: fmt.Sprint(i), MeasurementKey: "sgx:" + newID(), CreatedAt: t0, UpdatedAt: t0}
				if err := tx.CreateImage(f.ctx, img); err != nil {
					return err
				}
				want = append(want, img.ID)
			}
			return nil
		}))
		imgs, err := f.s.ListImagesByType(f.ctx, a.ID, store.AppEDP)
		mustOK(t, err)
		wantEqual(t, ids(imgs, imageID), want)
		wantEqual(t, imgs[0].Measurements, store.Measurements{})
		imgs, err = f.s.ListImagesByType(f.ctx, a.ID, store.AppAzureCVM)
		mustOK(t, err)
		wantEqual(t, ids(imgs, imageID), []string{})
	})

	t.Run("an app's images are counted", func(t *testing.T) {
		f := newFixture(t, open)
		a := f.account("acme")
		app, other := f.app(a, "payments", store.AppEDP), f.app(a, "billing", store.AppEDP)
		count := func(app *store.App) int {
			t.Helper()
			n, err := f.s.CountAppImages(f.ctx, a.ID, app.ID)
			mustOK(t, err)
			return n
		}
		if n := count(app); n != 0 {
			t.Fatalf("CountAppImages = %d before any image", n)
		}
		f.image(app, "1")
		f.image(app, "2")
		f.image(other, "1")
		if n := count(app); n != 2 {
			t.Fatalf("CountAppImages = %d, want 2", n)
		}
	})

	t.Run("the image set stamp changes with every create, approval, build and delete", func(t *testing.T) {
		f := newFixture(t, open)
		a := f.account("acme")
		app := f.app(a, "vm", store.AppEDP)
		other := f.app(f.account("globex"), "vm", store.AppEDP)
		stamp := func() string {
			t.Helper()
			s, err := f.s.ImageSetStamp(f.ctx, a.ID, store.AppEDP)
			mustOK(t, err)
			return s
		}
		// A cache keeps the stamp it was built at: every change must make
		// the current stamp differ from the one just before it.
		prev := stamp()
		changed := func(what string) {
			t.Helper()
			s := stamp()
			if s == prev {
				t.Fatalf("the stamp %q did not change after %s", s, what)
			}
			prev = s
		}
		img := f.image(app, "1")
		changed("a create")
		f.image(other, "1")
		if stamp() != prev {
			t.Fatal("another account's image changed the stamp")
		}
		// Approval with an updated_at from a slow clock still changes it.
		img.ApprovalStatus = store.ApprovalApproved
		img.UpdatedAt = img.CreatedAt
		mustOK(t, f.s.UpdateImage(f.ctx, img))
		changed("an approval")
		img2 := f.image(app, "2")
		changed("a second create")
		mustOK(t, f.s.DeleteImage(f.ctx, a.ID, img2.ID))
		changed("a delete")
		mustOK(t, f.s.DeleteApp(f.ctx, a.ID, app.ID))
		changed("deleting the app, which deletes its images")
		if s, err := f.s.ImageSetStamp(f.ctx, f.account("initech").ID, store.AppAzureCVM); err != nil || s != "0" {
			t.Fatalf("stamp of a type without images = %q, %v", s, err)
		}
	})

	t.Run("image artifacts are stored, replaced, isolated by account, and go with their image", func(t *testing.T) {
		f := newFixture(t, open)
		a := f.account("acme")
		img := f.image(f.app(a, "aci", store.AppACI), "1")
		if _, err := f.s.GetImageArtifact(f.ctx, a.ID, img.ID, store.ArtifactCCEPolicy); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("missing artifact: %v", err)
		}
		mustOK(t, f.s.PutImageArtifact(f.ctx, a.ID, img.ID, store.ArtifactCCEPolicy, []byte("package policy\n"), t0))
		mustOK(t, f.s.PutImageArtifact(f.ctx, a.ID, img.ID, store.ArtifactCCEPolicy, []byte("package policy\nv2\n"), t0))
		mustOK(t, f.s.PutImageArtifact(f.ctx, a.ID, img.ID, store.ArtifactARMTemplate, []byte(`{"a":1}`), t0))
		got, err := f.s.GetImageArtifact(f.ctx, a.ID, img.ID, store.ArtifactCCEPolicy)
		mustOK(t, err)
		if string(got) != "package policy\nv2\n" {
			t.Fatalf("artifact = %q", got)
		}
		other := f.account("globex")
		if _, err := f.s.GetImageArtifact(f.ctx, other.ID, img.ID, store.ArtifactCCEPolicy); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("another account read the artifact: %v", err)
		}
		if err := f.s.PutImageArtifact(f.ctx, other.ID, img.ID, store.ArtifactCCEPolicy, []byte("x"), t0); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("another account wrote an artifact: %v", err)
		}
		mustOK(t, f.s.DeleteImage(f.ctx, a.ID, img.ID))
		if _, err := f.s.GetImageArtifact(f.ctx, a.ID, img.ID, store.ArtifactARMTemplate); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("artifact of a deleted image: %v", err)
		}
	})

	t.Run("a deleted image is gone with its jobs, and its tasks stay", func(t *testing.T) {
		f := newFixture(t, open)
		a := f.account("acme")
		app := f.app(a, "payments", store.AppEDP)
		img, kept := f.image(app, "1"), f.image(app, "2")
		f.job(img, t0)
		keptJob := f.job(kept, t0)
		tk := f.task(a, "image", img.ID)
		mustOK(t, f.s.DeleteImage(f.ctx, a.ID, img.ID))
		_, err := f.s.GetImage(f.ctx, a.ID, img.ID)
		wantNotFound(t, err)
		_, err = f.s.GetJobForImage(f.ctx, a.ID, img.ID)
		wantNotFound(t, err)
		wantNotFound(t, f.s.DeleteImage(f.ctx, a.ID, img.ID))
		// Tasks name their subject without a foreign key: deleting the
		// subject's pending tasks is the caller's job.
		got, err := f.s.GetTask(f.ctx, a.ID, tk.ID)
		mustOK(t, err)
		wantEqual(t, got, tk)
		j, err := f.s.GetJobForImage(f.ctx, a.ID, kept.ID)
		mustOK(t, err)
		wantEqual(t, j, keptJob)
	})

	t.Run("deleting an app deletes its images and their jobs, not their tasks", func(t *testing.T) {
		f := newFixture(t, open)
		a := f.account("acme")
		app, other := f.app(a, "payments", store.AppEDP), f.app(a, "billing", store.AppEDP)
		img, kept := f.image(app, "1"), f.image(other, "1")
		f.job(img, t0)
		f.job(kept, t0)
		imgTask, appTask := f.task(a, "image", img.ID), f.task(a, "app", app.ID)

		mustOK(t, f.s.DeleteApp(f.ctx, a.ID, app.ID))

		_, err := f.s.GetImage(f.ctx, a.ID, img.ID)
		wantNotFound(t, err)
		_, err = f.s.GetImageByMeasurementKey(f.ctx, a.ID, img.MeasurementKey)
		wantNotFound(t, err)
		_, err = f.s.GetJobForImage(f.ctx, a.ID, img.ID)
		wantNotFound(t, err)
		n, err := f.s.CountAppImages(f.ctx, a.ID, app.ID)
		mustOK(t, err)
		if n != 0 {
			t.Fatalf("%d images of the deleted app remain", n)
		}
		for _, tk := range []*store.Task{imgTask, appTask} {
			_, err = f.s.GetTask(f.ctx, a.ID, tk.ID)
			mustOK(t, err)
		}
		_, err = f.s.GetImage(f.ctx, a.ID, kept.ID)
		mustOK(t, err)
		_, err = f.s.GetJobForImage(f.ctx, a.ID, kept.ID)
		mustOK(t, err)
		// The freed measurement key can be used again.
		again := *img
		again.ID, again.AppID, again.Version = newID(), other.ID, "2"
		mustOK(t, f.s.CreateImage(f.ctx, &again))
	})
}

func testJobs(t *testing.T, open func(t *testing.T) store.Store) {
	t.Run("a job reads back with every field", func(t *testing.T) {
		f := newFixture(t, open)
		a := f.account("acme")
		img := f.image(f.app(a, "payments", store.AppEnclaveOS), "1")
		j := f.job(img, t0)
		got, err := f.s.GetJobForImage(f.ctx, a.ID, img.ID)
		mustOK(t, err)
		wantEqual(t, got, j)
	})

	t.Run("a nil log reads back empty and no lease stays none", func(t *testing.T) {
		f := newFixture(t, open)
		a := f.account("acme")
		img := f.image(f.app(a, "payments", store.AppACI), "1")
		j := &store.Job{ID: newID(), AccountID: a.ID, ImageID: img.ID, Kind: "aci_policy", Status: store.JobQueued, CreatedAt: t0, UpdatedAt: t0}
		mustOK(t, f.s.CreateJob(f.ctx, j))
		got, err := f.s.GetJobForImage(f.ctx, a.ID, img.ID)
		mustOK(t, err)
		want := *j
		want.Log = []string{}
		wantEqual(t, got, &want)
	})

	t.Run("an image's newest job is returned", func(t *testing.T) {
		f := newFixture(t, open)
		a := f.account("acme")
		app := f.app(a, "payments", store.AppEnclaveOS)
		img, other := f.image(app, "1"), f.image(app, "2")
		f.job(img, t0)
		newest := f.job(img, t0.Add(time.Hour))
		f.job(img, t0.Add(time.Minute)) // created later, but older
		f.job(other, t0.Add(2*time.Hour))
		got, err := f.s.GetJobForImage(f.ctx, a.ID, img.ID)
		mustOK(t, err)
		wantEqual(t, got, newest)

		// Jobs created at the same time: the higher (later) ID is newer.
		tie := f.job(img, t0.Add(time.Hour))
		got, err = f.s.GetJobForImage(f.ctx, a.ID, img.ID)
		mustOK(t, err)
		wantEqual(t, got, tie)
	})

	t.Run("an image without jobs, or another account's image, has no job", func(t *testing.T) {
		f := newFixture(t, open)
		a, b := f.account("acme"), f.account("globex")
		app := f.app(a, "payments", store.AppEnclaveOS)
		bare, img := f.image(app, "1"), f.image(app, "2")
		f.job(img, t0)
		_, err := f.s.GetJobForImage(f.ctx, a.ID, bare.ID)
		wantNotFound(t, err)
		_, err = f.s.GetJobForImage(f.ctx, b.ID, img.ID)
		wantNotFound(t, err)
	})

	t.Run("a job of a missing image, or of another account's image, is not found", func(t *testing.T) {
		f := newFixture(t, open)
		a, b := f.account("acme"), f.account("globex")
		img := f.image(f.app(a, "payments", store.AppEnclaveOS), "1")
		for _, j := range []*store.Job{
			{ID: newID(), AccountID: a.ID, ImageID: newID(), CreatedAt: t0, UpdatedAt: t0},
			{ID: newID(), AccountID: b.ID, ImageID: img.ID, CreatedAt: t0, UpdatedAt: t0},
			{ID: newID(), AccountID: newID(), ImageID: img.ID, CreatedAt: t0, UpdatedAt: t0},
		} {
			wantNotFound(t, f.s.CreateJob(f.ctx, j))
		}
	})
}
