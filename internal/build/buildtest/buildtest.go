// Package buildtest sets up what builder tests need: the core services on
// a fresh SQLite database with one account and its owner, and a way to run
// one build job to its end.
package buildtest

import (
	"bytes"
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/openccm/openccm/internal/account"
	"github.com/openccm/openccm/internal/build"
	"github.com/openccm/openccm/internal/core"
	"github.com/openccm/openccm/internal/identity"
	"github.com/openccm/openccm/internal/password"
	"github.com/openccm/openccm/internal/secret"
	"github.com/openccm/openccm/internal/store"
	"github.com/openccm/openccm/internal/store/sqlstore"
)

// Env is the core services with one account.
type Env struct {
	Svc       *core.Services
	AccountID string
	UserID    string
}

// New returns an Env on a database removed when t ends.
func New(t testing.TB) *Env {
	t.Helper()
	ctx := context.Background()
	db, err := sqlstore.Open(ctx, filepath.Join(t.TempDir(), "ccm.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	box, err := secret.New(bytes.Repeat([]byte{4}, secret.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	svc, err := core.New(core.Config{Store: db, Box: box, PasswordParams: password.Fast})
	if err != nil {
		t.Fatal(err)
	}
	u, err := svc.Identity.Signup(ctx, "builder@example.com", "correct horse battery staple")
	if err != nil {
		t.Fatal(err)
	}
	a, err := svc.Accounts.Create(ctx, &identity.Principal{UserID: u.ID}, "acme", account.Patch{})
	if err != nil {
		t.Fatal(err)
	}
	return &Env{Svc: svc, AccountID: a.ID, UserID: u.ID}
}

// Run runs the oldest runnable job with b (retries wait an hour) and
// returns its image and job afterwards.
func (e *Env) Run(t testing.TB, b build.Builder, imageID string) (*store.Image, *store.Job) {
	t.Helper()
	ctx := context.Background()
	r, err := build.New(build.Config{Store: e.Svc.Store, Images: e.Svc.Images, Builders: []build.Builder{b},
		Backoff: func(int) time.Duration { return time.Hour }})
	if err != nil {
		t.Fatal(err)
	}
	if ran, err := r.RunOnce(ctx); !ran || err != nil {
		t.Fatalf("RunOnce = %v, %v", ran, err)
	}
	img, err := e.Svc.Store.GetImage(ctx, e.AccountID, imageID)
	if err != nil {
		t.Fatal(err)
	}
	j, err := e.Svc.Store.GetJobForImage(ctx, e.AccountID, imageID)
	if err != nil {
		t.Fatal(err)
	}
	return img, j
}
