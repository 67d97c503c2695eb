// Package core builds OpenCCM's domain services in dependency order on one
// store and master key, so that the server and the tests wire them the same
// way.
package core

import (
	"log/slog"
	"time"

	"github.com/openccm/openccm/internal/account"
	"github.com/openccm/openccm/internal/app"
	"github.com/openccm/openccm/internal/approval"
	"github.com/openccm/openccm/internal/attest"
	"github.com/openccm/openccm/internal/audit"
	"github.com/openccm/openccm/internal/ca"
	"github.com/openccm/openccm/internal/identity"
	"github.com/openccm/openccm/internal/image"
	"github.com/openccm/openccm/internal/password"
	"github.com/openccm/openccm/internal/platform"
	"github.com/openccm/openccm/internal/registry"
	"github.com/openccm/openccm/internal/secret"
	"github.com/openccm/openccm/internal/store"
)

// Config configures the services.
type Config struct {
	Store store.Store
	Box   *secret.Box
	Log   *slog.Logger
	// Now is the clock (default time.Now).
	Now            func() time.Time
	SessionTTL     time.Duration
	AllowSignup    bool
	PasswordParams password.Params
	// Verifiers check evidence, by platform.
	Verifiers map[platform.Platform]platform.Verifier
	// GPU verifies NVIDIA GPU attestation tokens (nil: none are accepted).
	GPU attest.GPUVerifier
	// NonceTTL is how long an attestation challenge lives (default 5 minutes).
	NonceTTL time.Duration
}

// Services are the domain services.
type Services struct {
	Store      store.Store
	Audit      *audit.Log
	Identity   *identity.Service
	Accounts   *account.Service
	Registries *registry.Service
	Tasks      *approval.Service
	Images     *image.Service
	Apps       *app.Service
	Attest     *attest.Service
	CA         *ca.Service
}

// New builds the services.
func New(c Config) (*Services, error) {
	s := &Services{Store: c.Store, Audit: audit.New(c.Now)}
	var err error
	if s.Identity, err = identity.New(identity.Config{Store: c.Store, Log: c.Log, Now: c.Now, Audit: s.Audit,
		SessionTTL: c.SessionTTL, AllowSignup: c.AllowSignup, PasswordParams: c.PasswordParams}); err != nil {
		return nil, err
	}
	if s.CA, err = ca.New(ca.Config{Store: c.Store, Box: c.Box, Log: c.Log, Now: c.Now}); err != nil {
		return nil, err
	}
	if s.Accounts, err = account.New(account.Config{Store: c.Store, Identity: s.Identity, CA: s.CA, Audit: s.Audit, Log: c.Log, Now: c.Now}); err != nil {
		return nil, err
	}
	if s.Registries, err = registry.New(registry.Config{Store: c.Store, Box: c.Box, Audit: s.Audit, Log: c.Log, Now: c.Now}); err != nil {
		return nil, err
	}
	if s.Tasks, err = approval.New(approval.Config{Store: c.Store, Audit: s.Audit, Log: c.Log, Now: c.Now}); err != nil {
		return nil, err
	}
	if s.Images, err = image.New(image.Config{Store: c.Store, Approvals: s.Tasks, Registries: s.Registries, Box: c.Box,
		Audit: s.Audit, Log: c.Log, Now: c.Now}); err != nil {
		return nil, err
	}
	if s.Apps, err = app.New(app.Config{Store: c.Store, Approvals: s.Tasks, Images: s.Images, Audit: s.Audit, Log: c.Log, Now: c.Now}); err != nil {
		return nil, err
	}
	if s.Attest, err = attest.New(attest.Config{Store: c.Store, CA: s.CA, Verifiers: c.Verifiers, GPU: c.GPU, Audit: s.Audit,
		Log: c.Log, Now: c.Now, NonceTTL: c.NonceTTL}); err != nil {
		return nil, err
	}
	return s, nil
}
