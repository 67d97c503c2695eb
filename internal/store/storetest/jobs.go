package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/openccm/openccm/internal/store"
)

func testJobQueue(t *testing.T, open func(t *testing.T) store.Store) {
	kinds := []string{"aci_policy", "enclave_os_convert"}
	newJob := func(f *fixture, img *store.Image, created time.Time) *store.Job {
		j := &store.Job{ID: newID(), AccountID: img.AccountID, ImageID: img.ID, Kind: "aci_policy", Status: store.JobQueued,
			Log: []string{"queued"}, CreatedAt: created, UpdatedAt: created}
		mustOK(t, f.s.CreateJob(f.ctx, j))
		return j
	}
	t.Run("jobs are claimed oldest first, once, and come back when their lease expires", func(t *testing.T) {
		f := newFixture(t, open)
		app := f.app(f.account("acme"), "api", store.AppACI)
		j1 := newJob(f, f.image(app, "1"), t0)
		j2 := newJob(f, f.image(app, "2"), t0.Add(time.Second))
		lease := t0.Add(time.Minute)
		got, err := f.s.ClaimJob(f.ctx, "w1", kinds, t0, lease)
		mustOK(t, err)
		if got.ID != j1.ID || got.Status != store.JobRunning || got.LeaseOwner != "w1" || got.Attempts != 1 || !got.LeaseUntil.Equal(lease) {
			t.Fatalf("first claim %+v", got)
		}
		got2, err := f.s.ClaimJob(f.ctx, "w2", kinds, t0, lease)
		mustOK(t, err)
		if got2.ID != j2.ID {
			t.Fatalf("second claim got %s", got2.ID)
		}
		if _, err := f.s.ClaimJob(f.ctx, "w3", kinds, t0, lease); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("a third claim: %v", err)
		}
		// w1 dies; after its lease w3 takes the job over, and w1's late update is refused.
		again, err := f.s.ClaimJob(f.ctx, "w3", kinds, lease.Add(time.Second), lease.Add(2*time.Minute))
		mustOK(t, err)
		if again.ID != j1.ID || again.Attempts != 2 || again.LeaseOwner != "w3" {
			t.Fatalf("reclaimed %+v", again)
		}
		got.Progress = 50
		var ce *store.ConflictError
		if err := f.s.UpdateJob(f.ctx, "w1", got); !errors.As(err, &ce) || ce.Constraint != "jobs.lease" {
			t.Fatalf("update by the old owner: %v", err)
		}
		again.Progress, again.Status, again.Log = 100, store.JobSucceeded, append(again.Log, "done")
		mustOK(t, f.s.UpdateJob(f.ctx, "w3", again))
		back, err := f.s.GetJobForImage(f.ctx, again.AccountID, again.ImageID)
		mustOK(t, err)
		if back.Status != store.JobSucceeded || back.Progress != 100 || len(back.Log) != 2 {
			t.Fatalf("after the update %+v", back)
		}
		if err := f.s.UpdateJob(f.ctx, "w3", again); !errors.As(err, &ce) {
			t.Fatalf("updating a finished job: %v", err)
		}
	})
	t.Run("a worker that claims its own expired job again fences off its older claim", func(t *testing.T) {
		f := newFixture(t, open)
		app := f.app(f.account("acme"), "api", store.AppACI)
		newJob(f, f.image(app, "1"), t0)
		first, err := f.s.ClaimJob(f.ctx, "w", kinds, t0, t0.Add(time.Minute))
		mustOK(t, err)
		second, err := f.s.ClaimJob(f.ctx, "w", kinds, t0.Add(2*time.Minute), t0.Add(3*time.Minute))
		mustOK(t, err)
		if second.Attempts != first.Attempts+1 {
			t.Fatalf("attempts %d then %d", first.Attempts, second.Attempts)
		}
		var ce *store.ConflictError
		first.Progress = 10
		if err := f.s.UpdateJob(f.ctx, "w", first); !errors.As(err, &ce) || ce.Constraint != "jobs.lease" {
			t.Fatalf("update under the older claim: %v", err)
		}
		second.Progress = 20
		mustOK(t, f.s.UpdateJob(f.ctx, "w", second))
	})
	t.Run("only jobs of the asked kinds are claimed", func(t *testing.T) {
		f := newFixture(t, open)
		app := f.app(f.account("acme"), "api", store.AppACI)
		newJob(f, f.image(app, "1"), t0)
		if _, err := f.s.ClaimJob(f.ctx, "w", []string{"enclave_os_convert"}, t0, t0.Add(time.Minute)); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("claimed a job of another kind: %v", err)
		}
		if _, err := f.s.ClaimJob(f.ctx, "w", nil, t0, t0.Add(time.Minute)); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("claimed with no kinds: %v", err)
		}
	})
	t.Run("a job retried later is not claimed before its time", func(t *testing.T) {
		f := newFixture(t, open)
		app := f.app(f.account("acme"), "api", store.AppACI)
		newJob(f, f.image(app, "1"), t0)
		j, err := f.s.ClaimJob(f.ctx, "w", kinds, t0, t0.Add(time.Minute))
		mustOK(t, err)
		j.Status, j.NextAttemptAt, j.Error, j.LeaseUntil, j.LeaseOwner = store.JobQueued, t0.Add(time.Hour), "registry unavailable", nil, ""
		mustOK(t, f.s.UpdateJob(f.ctx, "w", j))
		if _, err := f.s.ClaimJob(f.ctx, "w", kinds, t0.Add(30*time.Minute), t0.Add(31*time.Minute)); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("claimed before its next attempt: %v", err)
		}
		got, err := f.s.ClaimJob(f.ctx, "w", kinds, t0.Add(time.Hour), t0.Add(61*time.Minute))
		mustOK(t, err)
		if got.Error != "registry unavailable" || got.Attempts != 2 {
			t.Fatalf("retried job %+v", got)
		}
	})
	t.Run("concurrent workers never claim the same job", func(t *testing.T) {
		f := newFixture(t, open)
		app := f.app(f.account("acme"), "api", store.AppACI)
		const n = 6
		for i := range n {
			newJob(f, f.image(app, fmt.Sprint(i)), t0.Add(time.Duration(i)*time.Millisecond))
		}
		var mu sync.Mutex
		seen := map[string]string{}
		var wg sync.WaitGroup
		for w := range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				worker := fmt.Sprintf("w%d", w)
				for {
					j, err := f.s.ClaimJob(f.ctx, worker, kinds, t0, t0.Add(time.Minute))
					if errors.Is(err, store.ErrNotFound) {
						return
					}
					if err != nil {
						t.Error(err)
						return
					}
					mu.Lock()
					if other, dup := seen[j.ID]; dup {
						t.Errorf("job %s claimed by %s and %s", j.ID, other, worker)
					}
					seen[j.ID] = worker
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		if len(seen) != n {
			t.Fatalf("%d of %d jobs claimed", len(seen), n)
		}
	})
}
