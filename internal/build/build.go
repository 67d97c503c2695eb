// Package build runs the build jobs of images that are made rather than
// entered (Enclave OS conversions, ACI policies): workers lease jobs from
// the store's queue, renew their lease while they work, report progress
// and log lines, retry transient failures with backoff, and record the
// outcome on the image. A worker that dies leaves its job to be claimed
// again when the lease expires; a worker that lost its lease stops without
// recording anything, so a job's effects happen once.
package build

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/openccm/openccm/internal/errs"
	"github.com/openccm/openccm/internal/image"
	"github.com/openccm/openccm/internal/oci"
	"github.com/openccm/openccm/internal/store"
)

// Builder builds the jobs of one kind.
type Builder interface {
	Kind() string
	// Build does the work. Errors marked Permanent are not retried.
	Build(ctx context.Context, j *store.Job, img *store.Image, app *store.App, p Progress) (image.BuildResult, error)
}

// Progress receives a builder's progress (0..100) and log lines.
type Progress interface {
	Step(percent int, format string, args ...any)
}

type permanent struct{ err error }

func (p permanent) Error() string { return p.err.Error() }
func (p permanent) Unwrap() error { return p.err }

// Permanent marks an error that retrying cannot fix (401, 404, a bad image).
func Permanent(err error) error { return permanent{err} }

// IsPermanent reports whether err was marked Permanent.
func IsPermanent(err error) bool {
	var p permanent
	return errors.As(err, &p)
}

// Config configures a Runner.
type Config struct {
	Store    store.Store
	Images   *image.Service
	Builders []Builder
	// Workers is how many jobs run at once (default 2).
	Workers int
	// Lease is how long a claim lasts without renewal (default 2 minutes).
	Lease time.Duration
	// Poll is how often an idle runner looks for work (default 1 second).
	Poll time.Duration
	// MaxAttempts bounds retries of transient failures (default 5).
	MaxAttempts int
	// Backoff is the wait before attempt n+1 (default 15s·2^(n-1), at most 10 minutes).
	Backoff func(attempt int) time.Duration
	// WorkerID names this runner in leases (default: random).
	WorkerID string
	Log      *slog.Logger
	Now      func() time.Time
}

// Runner runs build jobs.
type Runner struct {
	c        Config
	builders map[string]Builder
	kinds    []string
}

// New returns a Runner.
func New(c Config) (*Runner, error) {
	if c.Store == nil || c.Images == nil {
		return nil, errors.New("build: store and images are required")
	}
	if c.Workers <= 0 {
		c.Workers = 2
	}
	if c.Lease <= 0 {
		c.Lease = 2 * time.Minute
	}
	if c.Poll <= 0 {
		c.Poll = time.Second
	}
	if c.MaxAttempts <= 0 {
		c.MaxAttempts = 5
	}
	if c.Backoff == nil {
		c.Backoff = func(n int) time.Duration {
			d := 15 * time.Second << min(n-1, 6)
			return min(d, 10*time.Minute)
		}
	}
	if c.WorkerID == "" {
		b := make([]byte, 6)
		_, _ = rand.Read(b)
		c.WorkerID = "worker-" + hex.EncodeToString(b)
	}
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	r := &Runner{c: c, builders: map[string]Builder{}}
	for _, b := range c.Builders {
		r.builders[b.Kind()] = b
		r.kinds = append(r.kinds, b.Kind())
	}
	return r, nil
}

// Run works until ctx ends, with at most Workers jobs at once.
func (r *Runner) Run(ctx context.Context) error {
	if len(r.kinds) == 0 {
		<-ctx.Done()
		return nil
	}
	slots := make(chan struct{}, r.c.Workers)
	var wg sync.WaitGroup
	defer wg.Wait()
	t := time.NewTicker(r.c.Poll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case slots <- struct{}{}:
		}
		j, err := r.claim(ctx)
		if err != nil || j == nil {
			<-slots
			if err != nil && ctx.Err() == nil {
				r.c.Log.Warn("claiming a build job failed", "error", err)
			}
			select {
			case <-ctx.Done():
				return nil
			case <-t.C:
			}
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-slots }()
			r.run(ctx, j)
		}()
	}
}

// RunOnce claims one job and runs it to the end; false when there was none.
func (r *Runner) RunOnce(ctx context.Context) (bool, error) {
	j, err := r.claim(ctx)
	if err != nil || j == nil {
		return false, err
	}
	r.run(ctx, j)
	return true, nil
}

func (r *Runner) claim(ctx context.Context) (*store.Job, error) {
	now := r.c.Now()
	j, err := r.c.Store.ClaimJob(ctx, r.c.WorkerID, r.kinds, now, now.Add(r.c.Lease))
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	return j, err
}

// job is a claimed job with its lease renewal.
type job struct {
	r      *Runner
	mu     sync.Mutex
	j      *store.Job
	lost   bool
	cancel context.CancelFunc
}

// save writes the job back, renewing the lease; a lost lease cancels the work.
func (jb *job) save(ctx context.Context) bool {
	jb.mu.Lock()
	defer jb.mu.Unlock()
	if jb.lost {
		return false
	}
	now := jb.r.c.Now()
	if jb.j.Status == store.JobRunning {
		until := now.Add(jb.r.c.Lease)
		jb.j.LeaseUntil = &until
	}
	jb.j.UpdatedAt = now.UTC().Truncate(time.Microsecond)
	if err := jb.r.c.Store.UpdateJob(ctx, jb.r.c.WorkerID, jb.j); err != nil {
		if errors.Is(err, store.ErrConflict) {
			jb.lost = true
			jb.cancel()
			jb.r.c.Log.Warn("build job lease lost; stopping", "job_id", jb.j.ID)
			return false
		}
		jb.r.c.Log.Warn("saving a build job failed", "job_id", jb.j.ID, "error", err)
	}
	return true
}

// Step records progress and a log line.
func (jb *job) Step(percent int, format string, args ...any) {
	jb.mu.Lock()
	jb.j.Progress = max(jb.j.Progress, min(percent, 100))
	line := fmt.Sprintf(format, args...)
	jb.j.Log = append(jb.j.Log, jb.r.c.Now().UTC().Format(time.RFC3339)+" "+line)
	if len(jb.j.Log) > 500 {
		jb.j.Log = append(jb.j.Log[:1], jb.j.Log[len(jb.j.Log)-499:]...)
	}
	jb.mu.Unlock()
	jb.save(context.Background())
}

func (r *Runner) run(parent context.Context, j *store.Job) {
	ctx, cancel := context.WithCancel(parent)
	defer cancel()
	jb := &job{r: r, j: j, cancel: cancel}
	log := r.c.Log.With("job_id", j.ID, "image_id", j.ImageID, "kind", j.Kind, "attempt", j.Attempts)

	// Renew the lease while the builder works.
	done := make(chan struct{})
	defer close(done)
	go func() {
		t := time.NewTicker(r.c.Lease / 3)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				if !jb.save(ctx) {
					return
				}
			}
		}
	}()

	img, err := r.c.Store.GetImage(ctx, j.AccountID, j.ImageID)
	if err != nil {
		// The image was deleted (its job goes with it) or the store failed.
		log.Info("build job's image is gone; stopping", "error", err)
		return
	}
	app, err := r.c.Store.GetApp(ctx, j.AccountID, img.AppID)
	if err != nil {
		log.Info("build job's app is gone; stopping", "error", err)
		return
	}
	if err := r.c.Images.StartBuild(ctx, j.AccountID, j.ImageID, j.Attempts); err != nil {
		// A worker that died after recording the build but before closing
		// its job leaves the image ready: the job succeeded.
		status := store.JobFailed
		if img.Status == store.ImageReady {
			status = store.JobSucceeded
		}
		log.Info("the image does not wait for a build; closing the job", "error", err, "image_status", string(img.Status))
		r.finish(jb, status, "")
		return
	}
	jb.Step(1, "build started (attempt %d of %d) by %s", j.Attempts, r.c.MaxAttempts, r.c.WorkerID)
	res, err := r.builders[j.Kind].Build(ctx, j, img, app, jb)
	if jb.lost || parent.Err() != nil {
		return // another worker has the job, or the server is stopping: the lease will expire
	}
	if err != nil {
		if !IsPermanent(err) && j.Attempts < r.c.MaxAttempts {
			wait := r.c.Backoff(j.Attempts)
			jb.Step(jb.j.Progress, "attempt %d failed: %v; retrying in %s", j.Attempts, err, wait)
			jb.mu.Lock()
			jb.j.Status, jb.j.Error = store.JobQueued, err.Error()
			jb.j.NextAttemptAt = r.c.Now().Add(wait).UTC().Truncate(time.Microsecond)
			jb.j.LeaseUntil, jb.j.LeaseOwner = nil, ""
			jb.mu.Unlock()
			jb.save(context.Background())
			log.Warn("build failed; will retry", "error", err, "in", wait)
			return
		}
		jb.Step(jb.j.Progress, "build failed: %v", err)
		if _, ferr := r.c.Images.FailBuild(context.Background(), j.AccountID, j.ImageID, err.Error()); ferr != nil {
			log.Error("recording a failed build", "error", ferr)
		}
		r.finish(jb, store.JobFailed, err.Error())
		log.Warn("build failed", "error", err)
		return
	}
	jb.Step(99, "build done; recording the measurements")
	// Check the lease once more just before the effect that must happen once.
	if !jb.save(ctx) {
		return
	}
	out, err := r.c.Images.FinishBuild(context.Background(), j.AccountID, j.ImageID, res)
	switch {
	case err != nil:
		r.finish(jb, store.JobFailed, err.Error())
		log.Error("recording a finished build", "error", err)
	case out.Status == store.ImageFailed:
		r.finish(jb, store.JobFailed, out.Error)
	default:
		jb.Step(100, "image ready; its approval task is open")
		r.finish(jb, store.JobSucceeded, "")
		log.Info("build succeeded")
	}
}

func (r *Runner) finish(jb *job, status store.JobStatus, msg string) {
	jb.mu.Lock()
	jb.j.Status, jb.j.Error, jb.j.LeaseUntil = status, msg, nil
	jb.mu.Unlock()
	jb.save(context.Background())
}

// Classify marks err Permanent when retrying cannot fix it: the registry
// errors package oci calls permanent (401, 403, 404, invalid references
// and images) and invalid input (errs.Invalid). Other errors stay
// transient.
func Classify(err error) error {
	if err == nil || IsPermanent(err) {
		return err
	}
	if oci.IsPermanent(err) || errs.Is(errs.Invalid, err) {
		return Permanent(err)
	}
	return err
}

// Size formats a byte count for build logs ("12.5 MiB").
func Size(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
