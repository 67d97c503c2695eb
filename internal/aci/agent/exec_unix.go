//go:build unix

package agent

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"syscall"
)

// Exec replaces the process with argv, argv[0] looked up as LookCommand
// does, with the environment env (the process's own when nil). It returns
// only when that fails, with the exit code a shell would give:
// ExitNotFound when there is no such program, ExitCannotRun when it cannot
// be run.
func Exec(argv, env []string) (int, error) {
	if len(argv) == 0 {
		return ExitCannotRun, errors.New("no command to run")
	}
	if env == nil {
		env = os.Environ()
	}
	path, err := LookCommand(argv[0])
	if err != nil {
		return ExitNotFound, err
	}
	err = syscall.Exec(path, argv, env)
	if errors.Is(err, fs.ErrNotExist) {
		return ExitNotFound, fmt.Errorf("%s: %w", path, exec.ErrNotFound)
	}
	return ExitCannotRun, fmt.Errorf("running %s: %w", path, err)
}
