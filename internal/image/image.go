// Package image owns application images: one release of an app with the
// measurements attestation compares evidence with. It applies the per-type
// input rules of the API (SIGSTRUCT or values for SGX, measurement JSON or
// PCRs for Nitro, build settings and credentials for Enclave OS and ACI,
// launch measurement for SEV-SNP, PCR values for Azure CVM), the account-wide
// uniqueness of measurements, and opens the approval task once an image is
// ready. Images that need a build are queued as jobs.
package image

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/openccm/openccm/internal/approval"
	"github.com/openccm/openccm/internal/audit"
	"github.com/openccm/openccm/internal/errs"
	"github.com/openccm/openccm/internal/ids"
	"github.com/openccm/openccm/internal/registry"
	"github.com/openccm/openccm/internal/secret"
	"github.com/openccm/openccm/internal/store"
	"github.com/openccm/openccm/pkg/apiv1"
)

// Config configures a Service.
type Config struct {
	Store      store.Store
	Approvals  *approval.Service
	Registries *registry.Service
	Box        *secret.Box
	Audit      *audit.Log
	Log        *slog.Logger
	Now        func() time.Time
}

// Service manages images.
type Service struct {
	st    store.Store
	tasks *approval.Service
	regs  *registry.Service
	box   *secret.Box
	audit *audit.Log
	log   *slog.Logger
	now   func() time.Time
}

// New returns a Service.
func New(c Config) (*Service, error) {
	if c.Store == nil || c.Approvals == nil || c.Registries == nil || c.Box == nil || c.Audit == nil {
		return nil, errors.New("image: a collaborator is missing")
	}
	s := &Service{st: c.Store, tasks: c.Approvals, regs: c.Registries, box: c.Box, audit: c.Audit, log: c.Log, now: c.Now}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	return s, nil
}

func (s *Service) nowUTC() time.Time { return s.now().UTC().Truncate(time.Microsecond) }

// credentialsAAD binds inline credentials to their image.
func credentialsAAD(accountID, imageID string) []byte {
	return []byte("image-credentials:" + accountID + ":" + imageID)
}

// Create registers an image of an app. It returns the image; its Status
// says whether it is ready (measurements entered) or pending (a build job
// was queued).
func (s *Service) Create(ctx context.Context, accountID, appID, createdBy string, req apiv1.CreateImageRequest) (*store.Image, error) {
	if !ids.Valid(appID) {
		return nil, errs.NotFoundf("no such app")
	}
	app, err := s.st.GetApp(ctx, accountID, appID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, errs.NotFoundf("no such app")
	}
	if err != nil {
		return nil, err
	}
	now := s.nowUTC()
	img := &store.Image{
		ID: ids.New(), AccountID: accountID, AppID: appID, Type: app.Type,
		Status: store.ImageReady, ApprovalStatus: store.ApprovalPending,
		CreatedBy: createdBy, CreatedAt: now, UpdatedAt: now,
	}
	var creds *apiv1.RegistryCredentials
	switch app.Type {
	case store.AppEDP:
		err = s.edp(img, req)
	case store.AppEnclaveOS:
		creds, err = s.enclaveOS(ctx, app, img, req)
	case store.AppACI:
		creds, err = s.aci(ctx, app, img, req)
	case store.AppSEVSNP:
		err = sevSNP(img, req)
	case store.AppAzureCVM:
		err = azureCVM(img, req)
	default:
		err = fmt.Errorf("image: unknown app type %q", app.Type)
	}
	if err != nil {
		return nil, err
	}
	if creds != nil {
		sealed, err := s.box.Seal([]byte(creds.Username+"\x00"+creds.Password), credentialsAAD(accountID, img.ID))
		if err != nil {
			return nil, err
		}
		img.CredentialsCiphertext = sealed
		img.Settings.HasInlineCredentials = true
	}
	err = s.st.WithTx(ctx, func(tx store.Store) error {
		if err := tx.CreateImage(ctx, img); err != nil {
			return err
		}
		if err := s.audit.Append(ctx, tx, audit.Event{
			AccountID: accountID, Action: "image.create", SubjectType: "image", SubjectID: img.ID,
			Details: map[string]any{"app_id": appID, "type": string(img.Type), "platform": img.Platform, "version": img.Version, "status": string(img.Status)},
		}); err != nil {
			return err
		}
		if img.Status == store.ImageReady {
			_, err := s.tasks.OpenImageTask(ctx, tx, img)
			return err
		}
		return s.queueBuild(ctx, tx, img)
	})
	if err != nil {
		return nil, s.conflict(ctx, accountID, img, err)
	}
	s.log.Info("image created", "account_id", accountID, "app_id", appID, "image_id", img.ID, "status", string(img.Status))
	return img, nil
}

// queueBuild queues the job that builds an image (it runs in the build workers).
func (s *Service) queueBuild(ctx context.Context, tx store.Store, img *store.Image) error {
	kind := store.JobEnclaveOSConvert
	if img.Type == store.AppACI {
		kind = store.JobACIPolicy
	}
	j := &store.Job{ID: ids.New(), AccountID: img.AccountID, ImageID: img.ID, Kind: kind, Status: store.JobQueued,
		Log: []string{"queued"}, CreatedAt: img.CreatedAt, UpdatedAt: img.CreatedAt}
	if err := tx.CreateJob(ctx, j); err != nil {
		return err
	}
	return s.audit.Append(ctx, tx, audit.Event{
		AccountID: img.AccountID, Action: "build.queue", SubjectType: "image", SubjectID: img.ID,
		Details: map[string]any{"job_id": j.ID, "kind": kind},
	})
}

// conflict turns a uniqueness violation into a 409 that names the rule.
func (s *Service) conflict(ctx context.Context, accountID string, img *store.Image, err error) error {
	var ce *store.ConflictError
	if !errors.As(err, &ce) {
		return err
	}
	switch ce.Constraint {
	case "images.version":
		field, msg := "version", fmt.Sprintf("the app already has an image with version %q", img.Version)
		switch img.Type {
		case store.AppACI:
			field, msg = "tag", fmt.Sprintf("the app already has an image with tag %q: use a new tag value", img.Version)
		case store.AppEnclaveOS:
			field = "output_tag"
			msg = fmt.Sprintf("the app already has an image with output tag %q", img.Version)
		}
		return &errs.Error{Kind: errs.Conflict, Field: field, Msg: msg}
	case "images.measurement_key":
		msg := "an image of this account already has these measurements"
		if other, err := s.st.GetImageByMeasurementKey(ctx, accountID, img.MeasurementKey); err == nil {
			msg = fmt.Sprintf("image %s (version %q) of this account already has these measurements", other.ID, other.Version)
		}
		return &errs.Error{Kind: errs.Conflict, Field: measurementField(img), Msg: msg}
	}
	return errs.Conflictf("the image conflicts with an existing one")
}

func measurementField(img *store.Image) string {
	switch {
	case img.Type == store.AppAzureCVM:
		return "pcrs"
	case img.Type == store.AppSEVSNP:
		return "measurement"
	case img.Platform == "sgx":
		return "mrenclave"
	}
	return "pcr0"
}

// Get returns an image of the account.
func (s *Service) Get(ctx context.Context, accountID, imageID string) (*store.Image, error) {
	if !ids.Valid(imageID) {
		return nil, errs.NotFoundf("no such image")
	}
	img, err := s.st.GetImage(ctx, accountID, imageID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, errs.NotFoundf("no such image")
	}
	return img, err
}

// List lists images; appID limits it to one app (which must exist).
func (s *Service) List(ctx context.Context, accountID string, f store.ImageFilter, pg store.Page) ([]*store.Image, string, error) {
	if f.AppID != "" {
		if !ids.Valid(f.AppID) {
			return nil, "", errs.NotFoundf("no such app")
		}
		if _, err := s.st.GetApp(ctx, accountID, f.AppID); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return nil, "", errs.NotFoundf("no such app")
			}
			return nil, "", err
		}
	}
	switch f.Status {
	case "", store.ImagePending, store.ImageBuilding, store.ImageReady, store.ImageFailed:
	default:
		return nil, "", errs.Invalidf("status", "must be pending, building, ready or failed")
	}
	switch f.ApprovalStatus {
	case "", store.ApprovalPending, store.ApprovalApproved, store.ApprovalDenied:
	default:
		return nil, "", errs.Invalidf("approval_status", "must be pending, approved or denied")
	}
	if f.Type != "" && !f.Type.Valid() {
		return nil, "", errs.Invalidf("type", "must be one of enclave_os, edp, aci, sev_snp, azure_cvm")
	}
	rows, err := s.st.ListImages(ctx, accountID, f, pg.Plus1())
	if err != nil {
		return nil, "", err
	}
	rows, next := store.Trim(rows, pg, func(i *store.Image) string { return i.ID })
	return rows, next, nil
}

// Delete removes an image: from then on nothing attests as it. Its pending
// approval task goes with it; decided tasks stay as history.
func (s *Service) Delete(ctx context.Context, accountID, imageID string) error {
	if !ids.Valid(imageID) {
		return errs.NotFoundf("no such image")
	}
	err := s.st.WithTx(ctx, func(tx store.Store) error {
		if err := tx.Lock(ctx, "image:"+imageID); err != nil {
			return err
		}
		img, err := tx.GetImage(ctx, accountID, imageID)
		if err != nil {
			return err
		}
		if err := s.deleteIn(ctx, tx, img); err != nil {
			return err
		}
		return nil
	})
	if errors.Is(err, store.ErrNotFound) {
		return errs.NotFoundf("no such image")
	}
	if err == nil {
		s.log.Info("image deleted", "account_id", accountID, "image_id", imageID)
	}
	return err
}

// DeleteAppImages removes every image of an app in the caller's
// transaction (deleting an app with cascade).
func (s *Service) DeleteAppImages(ctx context.Context, tx store.Store, accountID, appID string) error {
	for {
		rows, err := tx.ListImages(ctx, accountID, store.ImageFilter{AppID: appID}, store.Page{Limit: store.MaxPageLimit})
		if err != nil {
			return err
		}
		if len(rows) == 0 {
			return nil
		}
		for _, img := range rows {
			if err := s.deleteIn(ctx, tx, img); err != nil {
				return err
			}
		}
	}
}

func (s *Service) deleteIn(ctx context.Context, tx store.Store, img *store.Image) error {
	if err := tx.DeletePendingTasksFor(ctx, img.AccountID, "image", img.ID); err != nil {
		return err
	}
	if err := tx.DeleteImage(ctx, img.AccountID, img.ID); err != nil {
		return err
	}
	// From now on nothing attests as the image, and what it attested no longer holds.
	revoked, err := tx.RevokeImageCertificates(ctx, img.AccountID, img.ID, s.nowUTC(), "image deleted")
	if err != nil {
		return err
	}
	return s.audit.Append(ctx, tx, audit.Event{
		AccountID: img.AccountID, Action: "image.delete", SubjectType: "image", SubjectID: img.ID,
		Details: map[string]any{"app_id": img.AppID, "version": img.Version, "certificates_revoked": revoked},
	})
}

// Build returns the build job of an image.
func (s *Service) Build(ctx context.Context, accountID, imageID string) (*store.Job, error) {
	if _, err := s.Get(ctx, accountID, imageID); err != nil {
		return nil, err
	}
	j, err := s.st.GetJobForImage(ctx, accountID, imageID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, errs.NotFoundf("this image has no build: its measurements were entered directly")
	}
	return j, err
}

// Policy returns an ACI image's generated ARM template (format "" or
// "arm") or its CCE policy in Rego (format "rego"), with the file name a
// download should get.
func (s *Service) Policy(ctx context.Context, accountID, imageID, format string) ([]byte, string, error) {
	kind, ext := store.ArtifactARMTemplate, "json"
	switch format {
	case "", "arm":
	case "rego":
		kind, ext = store.ArtifactCCEPolicy, "rego"
	default:
		return nil, "", errs.Invalidf("format", "must be arm (the default) or rego")
	}
	img, err := s.Get(ctx, accountID, imageID)
	if err != nil {
		return nil, "", err
	}
	if img.Type != store.AppACI {
		return nil, "", errs.NotFoundf("only aci images have a confidential-computing policy")
	}
	switch img.Status {
	case store.ImageReady:
	case store.ImageFailed:
		return nil, "", errs.Conflictf("the image's build failed, so it has no policy: %s", img.Error)
	default:
		return nil, "", errs.Conflictf("the policy is written by the image's build, which is %s; try again when the image is ready", img.Status)
	}
	b, err := s.st.GetImageArtifact(ctx, accountID, imageID, kind)
	if errors.Is(err, store.ErrNotFound) {
		return nil, "", errs.NotFoundf("the image's build stored no %s", kind)
	}
	if err != nil {
		return nil, "", err
	}
	return b, fmt.Sprintf("%s-policy.%s", img.Version, ext), nil
}

// BuildResult is what a finished build produced for an image.
type BuildResult struct {
	// Measurements: pcr0..2 for enclave_os, policy_sha256 for aci.
	Measurements store.Measurements
	// OutputDigest is the pushed image's digest (enclave_os).
	OutputDigest string
	// Artifacts are files to keep for download (the ACI policy and template).
	Artifacts map[string][]byte
}

// FinishBuild records a successful build: the image gets its measurements
// and becomes ready, and its approval task opens. Measurements another
// image of the account already has fail the image instead, naming that
// image, as uniqueness requires.
func (s *Service) FinishBuild(ctx context.Context, accountID, imageID string, res BuildResult) (*store.Image, error) {
	var out *store.Image
	var dup *store.Image
	err := s.st.WithTx(ctx, func(tx store.Store) error {
		if err := tx.Lock(ctx, "image:"+imageID); err != nil {
			return err
		}
		img, err := tx.GetImage(ctx, accountID, imageID)
		if err != nil {
			return err
		}
		if img.Status != store.ImagePending && img.Status != store.ImageBuilding {
			return errs.Conflictf("the image is %s, not being built", img.Status)
		}
		switch img.Type {
		case store.AppEnclaveOS:
			img.MeasurementKey = nitroKey(res.Measurements)
		case store.AppACI:
			img.MeasurementKey = "aci:" + res.Measurements.PolicySHA256
		default:
			return fmt.Errorf("image: %s images have no build", img.Type)
		}
		if other, err := tx.GetImageByMeasurementKey(ctx, accountID, img.MeasurementKey); err == nil && other.ID != img.ID {
			dup = other
			return nil
		} else if err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		img.Measurements, img.OutputDigest, img.Status, img.Error = res.Measurements, res.OutputDigest, store.ImageReady, ""
		img.UpdatedAt = s.nowUTC()
		if err := tx.UpdateImage(ctx, img); err != nil {
			return err
		}
		for kind, b := range res.Artifacts {
			if err := tx.PutImageArtifact(ctx, accountID, imageID, kind, b, img.UpdatedAt); err != nil {
				return err
			}
		}
		if err := s.audit.Append(ctx, tx, audit.Event{AccountID: accountID, Action: "build.succeed", SubjectType: "image",
			SubjectID: imageID, Actor: &audit.Actor{Type: audit.ActorSystem}, Details: map[string]any{"output_digest": res.OutputDigest}}); err != nil {
			return err
		}
		if _, err := s.tasks.OpenImageTask(ctx, tx, img); err != nil {
			return err
		}
		out = img
		return nil
	})
	if errors.Is(err, store.ErrNotFound) {
		return nil, errs.NotFoundf("no such image")
	}
	if err != nil {
		return nil, err
	}
	if dup != nil {
		return s.FailBuild(ctx, accountID, imageID, fmt.Sprintf("the build produced the measurements of image %s (version %q); an account's measurements are unique", dup.ID, dup.Version))
	}
	return out, nil
}

// FailBuild records a failed build: the image is failed with msg.
func (s *Service) FailBuild(ctx context.Context, accountID, imageID, msg string) (*store.Image, error) {
	var out *store.Image
	err := s.st.WithTx(ctx, func(tx store.Store) error {
		if err := tx.Lock(ctx, "image:"+imageID); err != nil {
			return err
		}
		img, err := tx.GetImage(ctx, accountID, imageID)
		if err != nil {
			return err
		}
		img.Status, img.Error, img.UpdatedAt = store.ImageFailed, msg, s.nowUTC()
		if err := tx.UpdateImage(ctx, img); err != nil {
			return err
		}
		out = img
		return s.audit.Append(ctx, tx, audit.Event{AccountID: accountID, Action: "build.fail", SubjectType: "image",
			SubjectID: imageID, Outcome: audit.Failure, Actor: &audit.Actor{Type: audit.ActorSystem}, Details: map[string]any{"error": msg}})
	})
	if errors.Is(err, store.ErrNotFound) {
		return nil, errs.NotFoundf("no such image")
	}
	return out, err
}

// StartBuild marks an image as being built (a worker claimed its job).
func (s *Service) StartBuild(ctx context.Context, accountID, imageID string, attempt int) error {
	err := s.st.WithTx(ctx, func(tx store.Store) error {
		if err := tx.Lock(ctx, "image:"+imageID); err != nil {
			return err
		}
		img, err := tx.GetImage(ctx, accountID, imageID)
		if err != nil {
			return err
		}
		if img.Status != store.ImagePending && img.Status != store.ImageBuilding {
			return errs.Conflictf("the image is %s, not waiting for a build", img.Status)
		}
		img.Status, img.UpdatedAt = store.ImageBuilding, s.nowUTC()
		if err := tx.UpdateImage(ctx, img); err != nil {
			return err
		}
		return s.audit.Append(ctx, tx, audit.Event{AccountID: accountID, Action: "build.start", SubjectType: "image",
			SubjectID: imageID, Actor: &audit.Actor{Type: audit.ActorSystem}, Details: map[string]any{"attempt": attempt}})
	})
	if errors.Is(err, store.ErrNotFound) {
		return errs.NotFoundf("no such image")
	}
	return err
}
