//go:build !unix

package agent

import "errors"

// Exec fails: replacing the process needs a Unix system, which the
// containers of a container group are.
func Exec(argv, env []string) (int, error) {
	return ExitCannotRun, errors.New("replacing the process needs a Unix system")
}
