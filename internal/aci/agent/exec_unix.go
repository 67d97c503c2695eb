//go:build unix

package agent

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"syscall"

	"github.com/openccm/openccm/internal/workload"
)

// Exec replaces the process with argv, argv[0] looked up as LookCommand
// does, with the environment env (the process's own when nil). It returns
// only when that fails, with the exit code a shell would give:
// workload.ExitNotFound when there is no such program,
// workload.ExitCannotRun when it cannot be run.
func Exec(argv, env []string) (int, error) {
	if len(argv) == 0 {
		return workload.ExitCannotRun, errors.New("no command to run")
	}
	if env == nil {
		env = os.Environ()
	}
	path, err := LookCommand(argv[0])
	if err != nil {
		return workload.ExitNotFound, err
	}
	err = syscall.Exec(path, argv, env)
	if errors.Is(err, fs.ErrNotExist) {
		return workload.ExitNotFound, fmt.Errorf("%s: %w", path, exec.ErrNotFound)
	}
	return workload.ExitCannotRun, fmt.Errorf("running %s: %w", path, err)
}
