package runtime

import (
	"errors"
	"io/fs"
	"os/exec"
	"syscall"
	"time"

	"github.com/openccm/openccm/internal/workload"
)

// childWaitDelay bounds how long Wait copies a finished command's output
// when it goes through pipes held open by the command's own children.
const childWaitDelay = 5 * time.Second

// startExitCode returns the exit code of a command that could not start.
func startExitCode(err error) int {
	if errors.Is(err, exec.ErrNotFound) || errors.Is(err, fs.ErrNotExist) {
		return workload.ExitNotFound
	}
	return workload.ExitCannotRun
}

// exitCode returns the exit code of a finished command, from the error of
// its Wait: its own, or 128 plus the signal that killed it, as shells
// report it.
func exitCode(err error) int {
	if err == nil {
		return 0
	}
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		return 1
	}
	if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	if c := ee.ExitCode(); c >= 0 {
		return c
	}
	return 1
}
