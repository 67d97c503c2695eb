package e2e

import (
	"context"
	"errors"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// cli runs the ccm binary as a client, with a config file and a home of its
// own, and keeps everything it printed.
type cli struct {
	ConfigPath string
	home       string

	mu      sync.Mutex
	outputs []string // stdout and stderr of every run
}

func newCLI(t *testing.T) *cli {
	home := t.TempDir()
	return &cli{ConfigPath: filepath.Join(t.TempDir(), "config.json"), home: home}
}

// cliRun is the result of one ccm run.
type cliRun struct {
	Stdout, Stderr string
	Code           int
}

// run runs `ccm args...` with stdin and the extra environment variables.
func (c *cli) run(t *testing.T, stdin string, env []string, args ...string) cliRun {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, ccmBin, args...)
	cmd.Env = cleanEnv(append([]string{"CCM_CONFIG=" + c.ConfigPath, "HOME=" + c.home, "XDG_CONFIG_HOME=" + filepath.Join(c.home, ".config")}, env...)...)
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	r := cliRun{Stdout: stdout.String(), Stderr: stderr.String()}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		r.Code = ee.ExitCode()
	default:
		t.Fatalf("ccm %s: %v", strings.Join(args, " "), err)
	}
	if ctx.Err() != nil {
		t.Fatalf("ccm %s: no answer within 30s", strings.Join(args, " "))
	}
	c.mu.Lock()
	c.outputs = append(c.outputs, r.Stdout, r.Stderr)
	c.mu.Unlock()
	return r
}

// ok runs ccm and fails t unless it exits 0.
func (c *cli) ok(t *testing.T, stdin string, env []string, args ...string) cliRun {
	t.Helper()
	r := c.run(t, stdin, env, args...)
	if r.Code != 0 {
		t.Fatalf("ccm %s: exit code %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), r.Code, r.Stdout, r.Stderr)
	}
	return r
}

// allOutput is everything every run printed.
func (c *cli) allOutput() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return strings.Join(c.outputs, "\n")
}
