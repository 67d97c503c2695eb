package agent_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/openccm/openccm/internal/aci/agent"
)

func TestWaitForFile(t *testing.T) {
	t.Run("returns once the file appears, reporting meanwhile", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "ready")
		time.AfterFunc(100*time.Millisecond, func() { _ = os.WriteFile(path, nil, 0o644) })
		var reports atomic.Int32
		err := agent.WaitForFile(t.Context(), path, agent.WaitConfig{
			Interval: 5 * time.Millisecond, ReportEvery: 10 * time.Millisecond,
			Report: func(time.Duration) { reports.Add(1) },
		})
		if err != nil {
			t.Fatal(err)
		}
		if reports.Load() == 0 {
			t.Error("no report while waiting")
		}
	})
	t.Run("returns at once when the file exists", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "ready")
		if err := os.WriteFile(path, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := agent.WaitForFile(t.Context(), path, agent.WaitConfig{Timeout: time.Nanosecond}); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("times out", func(t *testing.T) {
		err := agent.WaitForFile(t.Context(), filepath.Join(t.TempDir(), "ready"), agent.WaitConfig{Timeout: 30 * time.Millisecond, Interval: 5 * time.Millisecond})
		if !errors.Is(err, agent.ErrWaitTimedOut) {
			t.Fatalf("error %v, want ErrWaitTimedOut", err)
		}
	})
	t.Run("stops when the context ends", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Millisecond)
		defer cancel()
		err := agent.WaitForFile(ctx, filepath.Join(t.TempDir(), "ready"), agent.WaitConfig{Interval: 5 * time.Millisecond})
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("error %v", err)
		}
	})
}

func TestLookCommand(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh in PATH")
	}
	for _, tc := range []struct {
		name, argv0, want string
		notFound          bool
	}{
		{name: "looks a bare name up in PATH", argv0: "sh", want: sh},
		{name: "takes a name with a slash as it is", argv0: "./nowhere/prog", want: "./nowhere/prog"},
		{name: "reports a name that is nowhere in PATH", argv0: "no-such-program-anywhere", notFound: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := agent.LookCommand(tc.argv0)
			if tc.notFound {
				if !errors.Is(err, exec.ErrNotFound) {
					t.Fatalf("error %v, want ErrNotFound", err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("got %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}
