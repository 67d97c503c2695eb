package build

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/openccm/openccm/internal/account"
	"github.com/openccm/openccm/internal/app"
	"github.com/openccm/openccm/internal/core"
	"github.com/openccm/openccm/internal/identity"
	"github.com/openccm/openccm/internal/image"
	"github.com/openccm/openccm/internal/password"
	"github.com/openccm/openccm/internal/secret"
	"github.com/openccm/openccm/internal/store"
	"github.com/openccm/openccm/internal/store/sqlstore"
	"github.com/openccm/openccm/pkg/apiv1"
)

// fakeBuilder builds by calling fn.
type fakeBuilder struct {
	calls atomic.Int32
	fn    func(ctx context.Context, n int, p Progress) (image.BuildResult, error)
}

func (f *fakeBuilder) Kind() string { return "enclave_os_convert" }

func (f *fakeBuilder) Build(ctx context.Context, _ *store.Job, _ *store.Image, _ *store.App, p Progress) (image.BuildResult, error) {
	n := int(f.calls.Add(1))
	p.Step(50, "fake step %d", n)
	return f.fn(ctx, n, p)
}

func pcrs(b byte) image.BuildResult {
	h := strings.Repeat(string("0123456789abcdef"[b%16]), 96)
	return image.BuildResult{Measurements: store.Measurements{PCR0: h, PCR1: h, PCR2: h}, OutputDigest: "sha256:" + strings.Repeat("a", 64)}
}

type env struct {
	svc   *core.Services
	acct  string
	image string
	now   time.Time
}

// newEnv makes an enclave_os image waiting for its build.
func newEnv(t *testing.T) *env {
	t.Helper()
	ctx := context.Background()
	db, err := sqlstore.Open(ctx, filepath.Join(t.TempDir(), "ccm.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	box, _ := secret.New(bytes.Repeat([]byte{4}, secret.KeySize))
	svc, err := core.New(core.Config{Store: db, Box: box, PasswordParams: password.Fast})
	if err != nil {
		t.Fatal(err)
	}
	u, err := svc.Identity.Signup(ctx, "a@example.com", "correct horse battery staple")
	if err != nil {
		t.Fatal(err)
	}
	a, err := svc.Accounts.Create(ctx, &identity.Principal{UserID: u.ID}, "acme", account.Patch{})
	if err != nil {
		t.Fatal(err)
	}
	name, typ, in, out := "web", "enclave_os", "docker.io/library/nginx", "registry.example.com/web-nitro"
	ap, err := svc.Apps.Create(ctx, a.ID, u.ID, app.Input{Name: &name, Type: &typ, InputImageName: &in, OutputImageName: &out})
	if err != nil {
		t.Fatal(err)
	}
	img, err := svc.Images.Create(ctx, a.ID, ap.ID, u.ID, apiv1.CreateImageRequest{InputTag: "1", OutputTag: "1-nitro",
		OutputCredentials: &apiv1.RegistryCredentials{Username: "ci", Password: "secret"}})
	if err != nil {
		t.Fatal(err)
	}
	return &env{svc: svc, acct: a.ID, image: img.ID, now: time.Now()}
}

func (e *env) runner(t *testing.T, b Builder, worker string, now func() time.Time) *Runner {
	t.Helper()
	r, err := New(Config{Store: e.svc.Store, Images: e.svc.Images, Builders: []Builder{b}, WorkerID: worker, Now: now,
		Lease: time.Minute, Backoff: func(int) time.Duration { return time.Minute }, MaxAttempts: 3})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func (e *env) state(t *testing.T) (*store.Image, *store.Job) {
	t.Helper()
	img, err := e.svc.Store.GetImage(context.Background(), e.acct, e.image)
	if err != nil {
		t.Fatal(err)
	}
	j, err := e.svc.Store.GetJobForImage(context.Background(), e.acct, e.image)
	if err != nil {
		t.Fatal(err)
	}
	return img, j
}

func TestABuildMakesTheImageReady(t *testing.T) {
	e := newEnv(t)
	r := e.runner(t, &fakeBuilder{fn: func(context.Context, int, Progress) (image.BuildResult, error) { return pcrs(1), nil }}, "w", time.Now)
	if ran, err := r.RunOnce(context.Background()); !ran || err != nil {
		t.Fatalf("RunOnce = %v, %v", ran, err)
	}
	img, j := e.state(t)
	if img.Status != store.ImageReady || img.Measurements.PCR0 == "" || img.TaskID == "" || img.OutputDigest == "" {
		t.Fatalf("image %+v", img)
	}
	if j.Status != store.JobSucceeded || j.Progress != 100 || len(j.Log) < 4 {
		t.Fatalf("job %+v", j)
	}
	if ran, _ := r.RunOnce(context.Background()); ran {
		t.Fatal("a finished job ran again")
	}
}

func TestTransientFailuresAreRetriedAfterTheBackoff(t *testing.T) {
	e := newEnv(t)
	now := time.Now()
	clock := func() time.Time { return now }
	b := &fakeBuilder{fn: func(_ context.Context, n int, _ Progress) (image.BuildResult, error) {
		if n == 1 {
			return image.BuildResult{}, errors.New("registry: 503 Service Unavailable")
		}
		return pcrs(2), nil
	}}
	r := e.runner(t, b, "w", clock)
	r.RunOnce(context.Background())
	img, j := e.state(t)
	if j.Status != store.JobQueued || !strings.Contains(j.Error, "503") || img.Status != store.ImageBuilding {
		t.Fatalf("after a transient failure: job %+v image %s", j, img.Status)
	}
	if ran, _ := r.RunOnce(context.Background()); ran {
		t.Fatal("retried before the backoff")
	}
	now = now.Add(2 * time.Minute)
	if ran, _ := r.RunOnce(context.Background()); !ran {
		t.Fatal("not retried after the backoff")
	}
	if img, j := e.state(t); img.Status != store.ImageReady || j.Status != store.JobSucceeded || j.Attempts != 2 {
		t.Fatalf("after the retry: image %s job %+v", img.Status, j)
	}
}

func TestPermanentFailuresFailTheImage(t *testing.T) {
	e := newEnv(t)
	r := e.runner(t, &fakeBuilder{fn: func(context.Context, int, Progress) (image.BuildResult, error) {
		return image.BuildResult{}, Permanent(errors.New("docker.io/library/nginx:1: 404 manifest unknown"))
	}}, "w", time.Now)
	r.RunOnce(context.Background())
	img, j := e.state(t)
	if img.Status != store.ImageFailed || !strings.Contains(img.Error, "manifest unknown") || j.Status != store.JobFailed || j.Attempts != 1 {
		t.Fatalf("image %+v job %+v", img, j)
	}
}

// TestAKilledWorkersJobIsFinishedOnce: a worker that claims a job and dies
// (kill -9: no update ever again) leaves it to another worker once the
// lease has expired; the dead worker's late writes are refused, and the
// build's effect (the approval task) happens once.
func TestAKilledWorkersJobIsFinishedOnce(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	now := time.Now()
	dead, err := e.svc.Store.ClaimJob(ctx, "dead-worker", []string{"enclave_os_convert"}, now, now.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	b := &fakeBuilder{fn: func(context.Context, int, Progress) (image.BuildResult, error) { return pcrs(3), nil }}
	early := e.runner(t, b, "w2", func() time.Time { return now.Add(30 * time.Second) })
	if ran, _ := early.RunOnce(ctx); ran {
		t.Fatal("a leased job was claimed before its lease expired")
	}
	late := e.runner(t, b, "w2", func() time.Time { return now.Add(2 * time.Minute) })
	if ran, _ := late.RunOnce(ctx); !ran {
		t.Fatal("the dead worker's job was not picked up after its lease")
	}
	dead.Status = store.JobSucceeded
	if err := e.svc.Store.UpdateJob(ctx, "dead-worker", dead); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("the dead worker's late update: %v", err)
	}
	img, j := e.state(t)
	if img.Status != store.ImageReady || j.Status != store.JobSucceeded || j.Attempts != 2 || b.calls.Load() != 1 {
		t.Fatalf("image %s job %+v calls %d", img.Status, j, b.calls.Load())
	}
	tasks, _, err := e.svc.Tasks.List(ctx, e.acct, "", "image_approval", store.Page{Limit: 10})
	if err != nil || len(tasks) != 1 {
		t.Fatalf("%d approval tasks (%v)", len(tasks), err)
	}
}

func TestADeletedImageStopsItsBuild(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	b := &fakeBuilder{fn: func(context.Context, int, Progress) (image.BuildResult, error) {
		// The image is deleted while the build runs.
		if err := e.svc.Images.Delete(ctx, e.acct, e.image); err != nil {
			t.Error(err)
		}
		return pcrs(4), nil
	}}
	r := e.runner(t, b, "w", time.Now)
	r.RunOnce(ctx)
	if _, err := e.svc.Store.GetImage(ctx, e.acct, e.image); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("the image is back: %v", err)
	}
	tasks, _, _ := e.svc.Tasks.List(ctx, e.acct, "", "image_approval", store.Page{Limit: 10})
	if len(tasks) != 0 {
		t.Fatalf("a deleted image's build opened %d tasks", len(tasks))
	}
}

func TestRunWorksUntilCancelled(t *testing.T) {
	e := newEnv(t)
	r := e.runner(t, &fakeBuilder{fn: func(context.Context, int, Progress) (image.BuildResult, error) { return pcrs(5), nil }}, "w", time.Now)
	r.c.Poll = 10 * time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if img, _ := e.state(t); img.Status == store.ImageReady {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if img, _ := e.state(t); img.Status != store.ImageReady {
		t.Fatalf("image %s", img.Status)
	}
}
