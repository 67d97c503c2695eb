// Package registry owns saved registry credentials: it validates them,
// seals the password under the master key (bound to the row) before it
// reaches the store, and finds the saved registry for an image reference.
// No method returns a password except Credentials, which build jobs use.
package registry

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/openccm/openccm/internal/audit"
	"github.com/openccm/openccm/internal/errs"
	"github.com/openccm/openccm/internal/ids"
	"github.com/openccm/openccm/internal/secret"
	"github.com/openccm/openccm/internal/store"
	"github.com/openccm/openccm/internal/valid"
)

// DockerHub is the URL under which Docker Hub credentials are saved; image
// names without a registry host match it.
const DockerHub = "docker.io"

// Config configures a Service.
type Config struct {
	Store store.Store
	Box   *secret.Box
	Audit *audit.Log
	Log   *slog.Logger
	Now   func() time.Time
}

// Service manages saved registries.
type Service struct {
	st    store.Store
	box   *secret.Box
	audit *audit.Log
	log   *slog.Logger
	now   func() time.Time
}

// New returns a Service.
func New(c Config) (*Service, error) {
	if c.Store == nil || c.Box == nil {
		return nil, errors.New("registry: store and secret box are required")
	}
	s := &Service{st: c.Store, box: c.Box, audit: c.Audit, log: c.Log, now: c.Now}
	if s.audit == nil {
		s.audit = audit.New(c.Now)
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	return s, nil
}

// Input is a registry as a request gives it; nil fields are left alone on update.
type Input struct {
	URL         *string
	Username    *string
	Password    *string
	Description *string
}

func aad(accountID, registryID string) []byte {
	return []byte("registry:" + accountID + ":" + registryID)
}

// Create saves a registry credential.
func (s *Service) Create(ctx context.Context, accountID string, in Input) (*store.Registry, error) {
	for field, v := range map[string]*string{"url": in.URL, "username": in.Username, "password": in.Password} {
		if v == nil || *v == "" {
			return nil, errs.Invalidf(field, "is required")
		}
	}
	now := s.now().UTC().Truncate(time.Microsecond)
	r := &store.Registry{ID: ids.New(), AccountID: accountID, CreatedAt: now, UpdatedAt: now}
	if err := s.apply(r, in); err != nil {
		return nil, err
	}
	err := s.st.WithTx(ctx, func(tx store.Store) error {
		if err := tx.CreateRegistry(ctx, r); err != nil {
			return err
		}
		return s.audit.Append(ctx, tx, s.event("registry.create", r, true))
	})
	if err != nil {
		return nil, conflictErr(err)
	}
	s.log.Info("registry saved", "account_id", accountID, "registry_id", r.ID, "url", r.URL)
	return r, nil
}

// Get returns a saved registry (its password stays sealed).
func (s *Service) Get(ctx context.Context, accountID, registryID string) (*store.Registry, error) {
	if !ids.Valid(registryID) {
		return nil, errs.NotFoundf("no such registry")
	}
	r, err := s.st.GetRegistry(ctx, accountID, registryID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, errs.NotFoundf("no such registry")
	}
	return r, err
}

// List lists an account's saved registries.
func (s *Service) List(ctx context.Context, accountID string, pg store.Page) ([]*store.Registry, string, error) {
	rows, err := s.st.ListRegistries(ctx, accountID, pg.Plus1())
	if err != nil {
		return nil, "", err
	}
	rows, next := store.Trim(rows, pg, func(r *store.Registry) string { return r.ID })
	return rows, next, nil
}

// Update changes a saved registry; a new password replaces the old one.
func (s *Service) Update(ctx context.Context, accountID, registryID string, in Input) (*store.Registry, error) {
	var r *store.Registry
	err := s.st.WithTx(ctx, func(tx store.Store) error {
		var err error
		if !ids.Valid(registryID) {
			return store.ErrNotFound
		}
		if r, err = tx.GetRegistry(ctx, accountID, registryID); err != nil {
			return err
		}
		for field, v := range map[string]*string{"url": in.URL, "username": in.Username, "password": in.Password} {
			if v != nil && *v == "" {
				return errs.Invalidf(field, "must not be empty")
			}
		}
		if err := s.apply(r, in); err != nil {
			return err
		}
		r.UpdatedAt = s.now().UTC().Truncate(time.Microsecond)
		if err := tx.UpdateRegistry(ctx, r); err != nil {
			return err
		}
		return s.audit.Append(ctx, tx, s.event("registry.update", r, in.Password != nil))
	})
	if errors.Is(err, store.ErrNotFound) {
		return nil, errs.NotFoundf("no such registry")
	}
	if err != nil {
		return nil, conflictErr(err)
	}
	s.log.Info("registry updated", "account_id", accountID, "registry_id", r.ID, "password_changed", in.Password != nil)
	return r, nil
}

// Delete removes a saved registry.
func (s *Service) Delete(ctx context.Context, accountID, registryID string) error {
	r, err := s.Get(ctx, accountID, registryID)
	if err != nil {
		return err
	}
	err = s.st.WithTx(ctx, func(tx store.Store) error {
		if err := tx.DeleteRegistry(ctx, accountID, registryID); err != nil {
			return err
		}
		return s.audit.Append(ctx, tx, s.event("registry.delete", r, false))
	})
	if errors.Is(err, store.ErrNotFound) {
		return errs.NotFoundf("no such registry")
	}
	if err != nil {
		return err
	}
	s.log.Info("registry deleted", "account_id", accountID, "registry_id", registryID)
	return nil
}

// event describes a registry change for the audit log: never the password,
// only whether it changed.
func (s *Service) event(action string, r *store.Registry, passwordSet bool) audit.Event {
	return audit.Event{AccountID: r.AccountID, Action: action, SubjectType: "registry", SubjectID: r.ID,
		Details: map[string]any{"url": r.URL, "username": r.Username, "password_set": passwordSet}}
}

// Match returns the saved registry whose URL is the registry host of image.
func (s *Service) Match(ctx context.Context, accountID, image string) (*store.Registry, error) {
	host, err := HostOf(image)
	if err != nil {
		return nil, err
	}
	r, err := s.st.GetRegistryByURL(ctx, accountID, host)
	if errors.Is(err, store.ErrNotFound) {
		return nil, errs.NotFoundf("no saved registry for %s", host)
	}
	return r, err
}

// Credentials opens a saved registry's password, for pulling and pushing.
func (s *Service) Credentials(ctx context.Context, accountID, registryID string) (username, password string, err error) {
	r, err := s.Get(ctx, accountID, registryID)
	if err != nil {
		return "", "", err
	}
	pw, err := s.box.Open(r.PasswordCiphertext, aad(accountID, r.ID))
	if err != nil {
		return "", "", fmt.Errorf("registry: opening password of %s: %w", r.ID, err)
	}
	return r.Username, string(pw), nil
}

func (s *Service) apply(r *store.Registry, in Input) error {
	if in.URL != nil {
		u, err := NormalizeURL(*in.URL)
		if err != nil {
			return err
		}
		r.URL = u
	}
	if in.Username != nil {
		if err := valid.Text("username", *in.Username, 256); err != nil {
			return err
		}
		if strings.ContainsAny(*in.Username, "\r\n") {
			return errs.Invalidf("username", "must be on one line")
		}
		r.Username = *in.Username
	}
	if in.Description != nil {
		if err := valid.Text("description", *in.Description, 1000); err != nil {
			return err
		}
		r.Description = *in.Description
	}
	if in.Password != nil {
		if len(*in.Password) > 4096 {
			return errs.Invalidf("password", "must be at most 4096 bytes")
		}
		sealed, err := s.box.Seal([]byte(*in.Password), aad(r.AccountID, r.ID))
		if err != nil {
			return err
		}
		r.PasswordCiphertext = sealed
	}
	return nil
}

// NormalizeURL checks a registry URL ("host[:port]", an https:// prefix is
// dropped) and returns it lower-cased. Docker Hub's aliases become docker.io.
func NormalizeURL(raw string) (string, error) {
	bad := func(why string) error {
		return errs.Invalidf("url", "%s (want host[:port], e.g. registry.example.com:5000)", why)
	}
	u := strings.ToLower(strings.TrimSpace(raw))
	u = strings.TrimPrefix(u, "https://")
	u = strings.TrimSuffix(u, "/")
	if u == "" {
		return "", bad("is empty")
	}
	if strings.Contains(u, "://") {
		return "", bad("must not have a scheme other than https")
	}
	if strings.ContainsAny(u, "/?#@ \t") {
		return "", bad("must be a host without path, user or query")
	}
	host, port := u, ""
	if h, p, err := net.SplitHostPort(u); err == nil {
		host, port = h, p
	} else if strings.HasPrefix(u, "[") || strings.Count(u, ":") > 0 {
		return "", bad("has a malformed port")
	}
	if port != "" {
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return "", bad("has a port outside 1..65535")
		}
	}
	if net.ParseIP(host) == nil && !validHostname(host) {
		return "", bad("is not a host name")
	}
	switch u {
	case "index.docker.io", "registry-1.docker.io", "registry.hub.docker.com":
		return DockerHub, nil
	}
	return u, nil
}

func validHostname(h string) bool {
	if len(h) == 0 || len(h) > 253 {
		return false
	}
	for _, label := range strings.Split(h, ".") {
		if len(label) == 0 || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, c := range label {
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}

// HostOf returns the registry host of an image reference as saved
// registries name it: Docker Hub names (with or without host) give docker.io.
func HostOf(image string) (string, error) {
	image = strings.TrimSpace(image)
	if image == "" {
		return "", errs.Invalidf("image", "is required")
	}
	ref, err := name.ParseReference(image)
	if err != nil {
		return "", errs.Invalidf("image", "is not an image reference")
	}
	host := ref.Context().RegistryStr()
	if host == name.DefaultRegistry {
		return DockerHub, nil
	}
	return strings.ToLower(host), nil
}

func conflictErr(err error) error {
	if errors.Is(err, store.ErrConflict) {
		return &errs.Error{Kind: errs.Conflict, Field: "url", Msg: "a registry with this URL is already saved in this account"}
	}
	return err
}
