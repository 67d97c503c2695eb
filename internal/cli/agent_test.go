package cli

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/openccm/openccm/internal/aci/agent"
	"github.com/openccm/openccm/internal/aci/agent/agenttest"
)

// runAgentCmd runs `ccm agent ARGS` with deps.
func runAgentCmd(ctx context.Context, deps agentDeps, args ...string) (stderr string, err error) {
	cmd := newAgentCmdWith(deps)
	var out, errb bytes.Buffer
	cmd.SetArgs(args)
	cmd.SetIn(strings.NewReader(""))
	cmd.SetOut(&out)
	cmd.SetErr(&errb)
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	err = cmd.ExecuteContext(ctx)
	return errb.String(), err
}

func TestAgentACINamesTheMissingVariables(t *testing.T) {
	deps := defaultAgentDeps()
	deps.getenv = func(k string) string {
		if k == agent.EnvServerURL {
			return "https://ccm.example.com"
		}
		return ""
	}
	_, err := runAgentCmd(t.Context(), deps, "aci", "--dir", t.TempDir())
	if err == nil || !strings.Contains(err.Error(), "CCM_ACCOUNT_ID is not set") || !strings.Contains(err.Error(), "CCM_APP_ID is not set") ||
		strings.Contains(err.Error(), "CCM_SERVER_URL") {
		t.Fatalf("error %v", err)
	}
}

func TestAgentACIRefusesABadKeyOwner(t *testing.T) {
	for _, owner := range []string{"app", "1000:", "-1", "1:2:3"} {
		if _, err := runAgentCmd(t.Context(), defaultAgentDeps(), "aci", "--key-owner", owner); err == nil || !strings.Contains(err.Error(), "--key-owner") {
			t.Errorf("--key-owner %q: %v", owner, err)
		}
	}
}

func TestAgentACIAttestsWritesTheFilesAndStopsOnSignal(t *testing.T) {
	srv := agenttest.NewServer(t)
	dev, err := agenttest.NewDevice()
	if err != nil {
		t.Fatal(err)
	}
	sc, err := dev.WriteSecurityContext(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	exe := filepath.Join(t.TempDir(), "ccm")
	if err := os.WriteFile(exe, []byte("ccm"), 0o755); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{
		agent.EnvServerURL: srv.URL(), agent.EnvAccountID: agenttest.AccountID, agent.EnvAppID: agenttest.AppID,
		agent.EnvServerCA: srv.TLSCertificatePEM(), agent.EnvAccountCA: srv.AccountCAPEM(),
		agent.EnvSecurityContextDir: sc,
	}
	deps := agentDeps{getenv: func(k string) string { return env[k] }, device: dev, executable: exe}
	dir := t.TempDir()

	ctx, stop := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		_, err := runAgentCmd(ctx, deps, "aci", "--dir", dir)
		done <- err
	}()
	ready := filepath.Join(dir, agent.ReadyFile)
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if _, err := os.Stat(ready); err == nil {
			break
		}
		select {
		case err := <-done:
			t.Fatalf("the agent stopped: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("no ready file")
		}
	}
	for _, f := range []string{agent.KeyFile, agent.CertFile, agent.BinaryFile} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Error(err)
		}
	}
	if n := len(srv.Issued()); n != 1 {
		t.Errorf("%d certificates issued", n)
	}
	stop() // what SIGTERM does, through Main's context
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("after the signal: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the agent did not stop")
	}
}

// waitHelperEnv makes TestWaitHelperProcess run ccm with the arguments
// after "--", in a process of its own, which `ccm wait` may replace.
const waitHelperEnv = "CCM_TEST_WAIT_HELPER"

func TestWaitHelperProcess(t *testing.T) {
	if os.Getenv(waitHelperEnv) != "1" {
		t.Skip("runs as a helper process only")
	}
	i := slices.Index(os.Args, "--")
	os.Exit(Main(os.Args[i+1:], os.Stdin, os.Stdout, os.Stderr))
}

// startWait starts `ccm wait ARGS` in a helper process.
func startWait(t *testing.T, args ...string) (*exec.Cmd, *bytes.Buffer, *bytes.Buffer) {
	t.Helper()
	cmd := exec.Command(os.Args[0], append([]string{"-test.run=^TestWaitHelperProcess$", "--", "wait"}, args...)...)
	cmd.Env = append(os.Environ(), waitHelperEnv+"=1")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	})
	return cmd, &out, &errb
}

func exitCodeOf(t *testing.T, err error) int {
	t.Helper()
	var ee *exec.ExitError
	if err == nil {
		return 0
	}
	if !errors.As(err, &ee) {
		t.Fatalf("wait: %v", err)
	}
	return ee.ExitCode()
}

func TestWaitRunsTheCommandInItsPlaceOnceTheFileExists(t *testing.T) {
	if _, err := os.Stat("/bin/sh"); err != nil {
		t.Skip("no /bin/sh")
	}
	file := filepath.Join(t.TempDir(), "ready")
	cmd, out, errb := startWait(t, "--file", file, "--", "/bin/sh", "-c", `echo "pid $$"; exit 3`)

	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	select {
	case err := <-exited:
		t.Fatalf("ccm wait exited before the file existed: %v\n%s", err, errb)
	case <-time.After(300 * time.Millisecond):
	}
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	var err error
	select {
	case err = <-exited:
	case <-time.After(10 * time.Second):
		t.Fatal("ccm wait did not run the command")
	}
	if code := exitCodeOf(t, err); code != 3 {
		t.Errorf("exit status %d, want the command's 3\nstderr: %s", code, errb)
	}
	// The shell ran as the very process that was ccm wait.
	if want := "pid " + strconv.Itoa(cmd.Process.Pid) + "\n"; out.String() != want {
		t.Errorf("stdout %q, want %q", out, want)
	}
	if !strings.Contains(errb.String(), "ccm wait: waiting for "+file) {
		t.Errorf("stderr %q", errb)
	}
}

func TestWaitLooksTheCommandUpInPATH(t *testing.T) {
	if _, err := exec.LookPath("sh"); err != nil {
		t.Skip("no sh in PATH")
	}
	file := filepath.Join(t.TempDir(), "ready")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd, _, errb := startWait(t, "--file", file, "--", "sh", "-c", "exit 7")
	if code := exitCodeOf(t, cmd.Wait()); code != 7 {
		t.Errorf("exit status %d, want 7\nstderr: %s", code, errb)
	}
}

func TestWaitFailures(t *testing.T) {
	dir := t.TempDir()
	exists := filepath.Join(dir, "ready")
	if err := os.WriteFile(exists, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	notExec := filepath.Join(dir, "data.txt")
	if err := os.WriteFile(notExec, []byte("data"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		args   []string
		code   int
		stderr string
	}{
		{name: "times out with status 124", args: []string{"--file", filepath.Join(dir, "never"), "--timeout", "100ms", "--", "true"},
			code: 124, stderr: "timed out after 100ms"},
		{name: "exits 127 when the command is not in PATH", args: []string{"--file", exists, "--", "no-such-program-anywhere"},
			code: 127, stderr: "no-such-program-anywhere"},
		{name: "exits 127 when the command's path does not exist", args: []string{"--file", exists, "--", filepath.Join(dir, "missing")},
			code: 127, stderr: "missing"},
		{name: "exits 126 when the command cannot run", args: []string{"--file", exists, "--", notExec},
			code: 126, stderr: "permission denied"},
		{name: "needs a command", args: []string{"--file", exists}, code: 1, stderr: "requires at least 1 arg"},
		{name: "needs --file", args: []string{"--", "true"}, code: 1, stderr: `"file" not set`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// These never replace the process: they run in the test's.
			_, errOut, code := runCCM(append([]string{"wait"}, tc.args...)...)
			if code != tc.code || !strings.Contains(errOut, tc.stderr) {
				t.Errorf("exit %d, stderr %q; want %d and %q", code, errOut, tc.code, tc.stderr)
			}
		})
	}
}
