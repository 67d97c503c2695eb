// Package app owns applications: one workload, of one of the five app types,
// whose releases are registered as images. It enforces the per-type rules of
// the API (which image names a type needs), name uniqueness per account, and
// the certificate settings attested instances receive.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/openccm/openccm/internal/approval"
	"github.com/openccm/openccm/internal/audit"
	"github.com/openccm/openccm/internal/errs"
	"github.com/openccm/openccm/internal/ids"
	"github.com/openccm/openccm/internal/image"
	"github.com/openccm/openccm/internal/store"
	"github.com/openccm/openccm/internal/valid"
)

// Limits of the API contract.
const (
	MaxDomains         = 32
	MaxValidityDays    = 825
	DefaultValidityDay = 30
)

// Config configures a Service.
type Config struct {
	Store     store.Store
	Approvals *approval.Service
	Images    *image.Service
	Audit     *audit.Log
	Log       *slog.Logger
	Now       func() time.Time
}

// Service manages applications.
type Service struct {
	st     store.Store
	tasks  *approval.Service
	images *image.Service
	audit  *audit.Log
	log    *slog.Logger
	now    func() time.Time
}

// New returns a Service.
func New(c Config) (*Service, error) {
	if c.Store == nil || c.Approvals == nil || c.Images == nil || c.Audit == nil {
		return nil, errors.New("app: a collaborator is missing")
	}
	s := &Service{st: c.Store, tasks: c.Approvals, images: c.Images, audit: c.Audit, log: c.Log, now: c.Now}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	return s, nil
}

// CertificatePatch changes some certificate settings.
type CertificatePatch struct {
	Enabled      *bool
	ValidityDays *int
	KeyPath      *string
	CertPath     *string
}

// Input is an app as a request gives it. On create, nil means the default;
// on update, nil means unchanged.
type Input struct {
	Name            *string
	Type            *string
	Description     *string
	Domains         *[]string
	InputImageName  *string
	OutputImageName *string
	Certificate     *CertificatePatch
	Labels          *map[string]string
}

// Create makes an app. Its domains wait for a domain approval task.
func (s *Service) Create(ctx context.Context, accountID, userID string, in Input) (*store.App, error) {
	if in.Name == nil {
		return nil, errs.Invalidf("name", "is required")
	}
	if in.Type == nil || *in.Type == "" {
		return nil, errs.Invalidf("type", "is required")
	}
	t := store.AppType(*in.Type)
	if !t.Valid() {
		return nil, errs.Invalidf("type", "must be one of enclave_os, edp, aci, sev_snp, azure_cvm")
	}
	now := s.nowUTC()
	a := &store.App{
		ID: ids.New(), AccountID: accountID, Type: t,
		Domains: []string{}, ApprovedDomains: []string{}, Labels: map[string]string{},
		Certificate: store.CertificateSettings{Enabled: true, ValidityDays: DefaultValidityDay},
		CreatedAt:   now, UpdatedAt: now,
	}
	in.Type = nil
	if err := apply(a, in); err != nil {
		return nil, err
	}
	err := s.st.WithTx(ctx, func(tx store.Store) error {
		if err := tx.CreateApp(ctx, a); err != nil {
			return err
		}
		if err := s.audit.Append(ctx, tx, audit.Event{AccountID: accountID, Action: "app.create", SubjectType: "app", SubjectID: a.ID,
			Details: map[string]any{"name": a.Name, "type": string(a.Type), "domains": a.Domains}}); err != nil {
			return err
		}
		if len(a.Domains) == 0 {
			return nil
		}
		if _, err := s.tasks.OpenDomainTask(ctx, tx, a, userID, a.Domains, nil); err != nil {
			return err
		}
		return tx.UpdateApp(ctx, a)
	})
	if err != nil {
		return nil, conflictErr(err)
	}
	s.log.Info("app created", "account_id", accountID, "app_id", a.ID, "type", string(a.Type))
	return a, nil
}

// Get returns an app of the account.
func (s *Service) Get(ctx context.Context, accountID, appID string) (*store.App, error) {
	if !ids.Valid(appID) {
		return nil, errs.NotFoundf("no such app")
	}
	a, err := s.st.GetApp(ctx, accountID, appID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, errs.NotFoundf("no such app")
	}
	return a, err
}

// List lists an account's apps, optionally of one type.
func (s *Service) List(ctx context.Context, accountID, appType string, pg store.Page) ([]*store.App, string, error) {
	f := store.AppFilter{Type: store.AppType(appType)}
	if appType != "" && !f.Type.Valid() {
		return nil, "", errs.Invalidf("type", "must be one of enclave_os, edp, aci, sev_snp, azure_cvm")
	}
	rows, err := s.st.ListApps(ctx, accountID, f, pg.Plus1())
	if err != nil {
		return nil, "", err
	}
	rows, next := store.Trim(rows, pg, func(a *store.App) string { return a.ID })
	return rows, next, nil
}

// Update changes an app. Its type cannot change. A change of domains opens
// a domain approval task: domains removed stop being approved at once (a
// removal only narrows trust), domains added wait for the task.
func (s *Service) Update(ctx context.Context, accountID, appID, userID string, in Input) (*store.App, error) {
	if in.Type != nil {
		return nil, errs.Invalidf("type", "cannot be changed; create a new app")
	}
	var a *store.App
	err := s.st.WithTx(ctx, func(tx store.Store) error {
		if !ids.Valid(appID) {
			return store.ErrNotFound
		}
		// Serialise changes of one app (domain changes and their approval
		// above all); taken before the audit lock, as everywhere.
		if err := tx.Lock(ctx, LockName(appID)); err != nil {
			return err
		}
		var err error
		if a, err = tx.GetApp(ctx, accountID, appID); err != nil {
			return err
		}
		before := append([]string(nil), a.Domains...)
		if err := apply(a, in); err != nil {
			return err
		}
		a.UpdatedAt = s.nowUTC()
		if err := s.domainChange(ctx, tx, a, before, userID); err != nil {
			return err
		}
		if err := tx.UpdateApp(ctx, a); err != nil {
			return err
		}
		return s.audit.Append(ctx, tx, audit.Event{AccountID: accountID, Action: "app.update", SubjectType: "app", SubjectID: a.ID,
			Details: map[string]any{"name": a.Name, "domains": a.Domains, "approved_domains": a.ApprovedDomains}})
	})
	if errors.Is(err, store.ErrNotFound) {
		return nil, errs.NotFoundf("no such app")
	}
	if err != nil {
		return nil, conflictErr(err)
	}
	s.log.Info("app updated", "account_id", accountID, "app_id", a.ID)
	return a, nil
}

// Delete removes an app. An app with images is removed only with cascade,
// which deletes its images first.
func (s *Service) Delete(ctx context.Context, accountID, appID string, cascade bool) error {
	if !ids.Valid(appID) {
		return errs.NotFoundf("no such app")
	}
	err := s.st.WithTx(ctx, func(tx store.Store) error {
		if err := tx.Lock(ctx, LockName(appID)); err != nil {
			return err
		}
		a, err := tx.GetApp(ctx, accountID, appID)
		if err != nil {
			return err
		}
		n, err := tx.CountAppImages(ctx, accountID, appID)
		if err != nil {
			return err
		}
		if n > 0 {
			if !cascade {
				return errs.Conflictf("the app has %d images; delete them first or use ?cascade=true", n)
			}
			if err := s.images.DeleteAppImages(ctx, tx, accountID, appID); err != nil {
				return err
			}
		}
		if err := tx.DeletePendingTasksFor(ctx, accountID, "app", appID); err != nil {
			return err
		}
		if err := tx.DeleteApp(ctx, accountID, appID); err != nil {
			return err
		}
		return s.audit.Append(ctx, tx, audit.Event{AccountID: accountID, Action: "app.delete", SubjectType: "app", SubjectID: appID,
			Details: map[string]any{"name": a.Name, "images_deleted": n}})
	})
	if errors.Is(err, store.ErrNotFound) {
		return errs.NotFoundf("no such app")
	}
	if err == nil {
		s.log.Info("app deleted", "account_id", accountID, "app_id", appID, "cascade", cascade)
	}
	return err
}

// LockName is the transaction lock that serialises changes of one app.
// Locks on objects are taken before the account's audit lock (which every
// audited write takes last), so that two writers never wait on each other
// in opposite orders.
func LockName(appID string) string { return "app:" + appID }

// domainChange applies a change of domains: removed domains leave the
// approved set at once, and any change that still needs approval opens a
// domain approval task (409 while another one is pending).
func (s *Service) domainChange(ctx context.Context, tx store.Store, a *store.App, before []string, userID string) error {
	if slices.Equal(before, a.Domains) {
		return nil
	}
	a.ApprovedDomains = keep(a.ApprovedDomains, a.Domains)
	added := minus(a.Domains, a.ApprovedDomains)
	removed := minus(before, a.Domains)
	if len(added) == 0 && len(removed) == 0 {
		return nil
	}
	_, err := s.tasks.OpenDomainTask(ctx, tx, a, userID, added, removed)
	return err
}

// keep returns the elements of a that are in b, in a's order.
func keep(a, b []string) []string {
	out := []string{}
	for _, x := range a {
		if slices.Contains(b, x) {
			out = append(out, x)
		}
	}
	return out
}

// minus returns the elements of a that are not in b, in a's order.
func minus(a, b []string) []string {
	out := []string{}
	for _, x := range a {
		if !slices.Contains(b, x) {
			out = append(out, x)
		}
	}
	return out
}

func (s *Service) nowUTC() time.Time { return s.now().UTC().Truncate(time.Microsecond) }

func apply(a *store.App, in Input) error {
	if in.Name != nil {
		n, err := valid.Name("name", *in.Name)
		if err != nil {
			return err
		}
		a.Name = n
	}
	if in.Description != nil {
		if err := valid.Text("description", *in.Description, 2000); err != nil {
			return err
		}
		a.Description = *in.Description
	}
	if in.Domains != nil {
		d, err := valid.DNSNames("domains", *in.Domains, MaxDomains)
		if err != nil {
			return err
		}
		a.Domains = d
	}
	if in.InputImageName != nil {
		a.InputImageName = strings.TrimSpace(*in.InputImageName)
	}
	if in.OutputImageName != nil {
		a.OutputImageName = strings.TrimSpace(*in.OutputImageName)
	}
	if err := checkImageNames(a); err != nil {
		return err
	}
	if c := in.Certificate; c != nil {
		if c.Enabled != nil {
			a.Certificate.Enabled = *c.Enabled
		}
		if c.ValidityDays != nil {
			if v := *c.ValidityDays; v < 1 || v > MaxValidityDays {
				return errs.Invalidf("certificate.validity_days", "must be between 1 and %d", MaxValidityDays)
			}
			a.Certificate.ValidityDays = *c.ValidityDays
		}
		if c.KeyPath != nil {
			if err := valid.AbsPath("certificate.key_path", *c.KeyPath); err != nil {
				return err
			}
			a.Certificate.KeyPath = *c.KeyPath
		}
		if c.CertPath != nil {
			if err := valid.AbsPath("certificate.cert_path", *c.CertPath); err != nil {
				return err
			}
			a.Certificate.CertPath = *c.CertPath
		}
	}
	if in.Labels != nil {
		if err := valid.Labels("labels", *in.Labels); err != nil {
			return err
		}
		a.Labels = map[string]string{}
		for k, v := range *in.Labels {
			a.Labels[k] = v
		}
	}
	return nil
}

// checkImageNames applies the per-type rules: enclave_os needs both image
// names, aci needs the input image name only, the other types take none.
func checkImageNames(a *store.App) error {
	need := map[store.AppType][2]bool{ // input, output
		store.AppEnclaveOS: {true, true},
		store.AppACI:       {true, false},
	}[a.Type]
	for i, f := range []struct {
		field, value string
	}{{"input_image_name", a.InputImageName}, {"output_image_name", a.OutputImageName}} {
		switch {
		case need[i] && f.value == "":
			return errs.Invalidf(f.field, "is required for %s apps", a.Type)
		case !need[i] && f.value != "":
			return errs.Invalidf(f.field, "is not used by %s apps; leave it out", a.Type)
		case f.value != "":
			if err := checkRepository(f.field, f.value); err != nil {
				return err
			}
		}
	}
	return nil
}

// checkRepository accepts an image repository without tag or digest
// (docker.io/library/nginx, registry.example.com:5000/team/app).
func checkRepository(field, repo string) error {
	if len(repo) > 512 {
		return errs.Invalidf(field, "must be at most 512 characters")
	}
	last := repo[strings.LastIndexByte(repo, '/')+1:]
	if strings.ContainsRune(repo, '@') || strings.ContainsRune(last, ':') {
		return errs.Invalidf(field, "must be a repository without tag or digest (the tag is given per image)")
	}
	if _, err := name.NewRepository(repo); err != nil {
		return errs.Invalidf(field, "%s", strings.TrimPrefix(fmt.Sprint(err), "repository "))
	}
	return nil
}

func conflictErr(err error) error {
	if errors.Is(err, store.ErrConflict) {
		return &errs.Error{Kind: errs.Conflict, Field: "name", Msg: "an app with this name already exists in this account"}
	}
	return err
}
