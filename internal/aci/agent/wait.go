package agent

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"
)

// Defaults of WaitConfig.
const (
	// DefaultWaitInterval is how often WaitForFile looks for the file.
	DefaultWaitInterval = 250 * time.Millisecond
	// DefaultWaitReport is how often WaitForFile reports that it still
	// waits.
	DefaultWaitReport = 30 * time.Second
)

// ErrWaitTimedOut is the error of a WaitForFile that reached its timeout.
var ErrWaitTimedOut = errors.New("timed out")

// WaitConfig configures WaitForFile.
type WaitConfig struct {
	// Timeout bounds the wait; zero means no bound.
	Timeout time.Duration
	// Interval is how often to look for the file; zero means
	// DefaultWaitInterval.
	Interval time.Duration
	// ReportEvery is how often Report is called; zero means
	// DefaultWaitReport.
	ReportEvery time.Duration
	// Report, when set, is told how long WaitForFile has waited so far,
	// every ReportEvery.
	Report func(waited time.Duration)
}

// WaitForFile returns once path exists: nil, or an error wrapping
// ErrWaitTimedOut after c.Timeout, or ctx's error when ctx ends first.
// It polls (the shared volume is read-only for the app container, and
// polling works on every file system).
func WaitForFile(ctx context.Context, path string, c WaitConfig) error {
	if c.Interval <= 0 {
		c.Interval = DefaultWaitInterval
	}
	if c.ReportEvery <= 0 {
		c.ReportEvery = DefaultWaitReport
	}
	start := time.Now()
	var deadline <-chan time.Time
	if c.Timeout > 0 {
		t := time.NewTimer(c.Timeout)
		defer t.Stop()
		deadline = t.C
	}
	poll := time.NewTicker(c.Interval)
	defer poll.Stop()
	report := time.NewTicker(c.ReportEvery)
	defer report.Stop()
	for {
		if _, err := os.Stat(path); err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s: %w", path, ctx.Err())
		case <-deadline:
			return fmt.Errorf("waiting for %s: %w after %v", path, ErrWaitTimedOut, c.Timeout)
		case <-report.C:
			if c.Report != nil {
				c.Report(time.Since(start).Round(time.Second))
			}
		case <-poll.C:
		}
	}
}

// LookCommand returns the program argv0 names: argv0 itself when it holds
// a slash, or the first executable of that name in the directories of
// PATH, as a shell finds it.
func LookCommand(argv0 string) (string, error) {
	if argv0 == "" {
		return "", errors.New("no command")
	}
	if strings.Contains(argv0, "/") {
		return argv0, nil
	}
	p, err := exec.LookPath(argv0)
	if errors.Is(err, exec.ErrDot) {
		// A shell runs a program found through a relative PATH entry.
		err = nil
	}
	if err != nil {
		return "", err
	}
	return p, nil
}
