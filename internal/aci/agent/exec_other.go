//go:build !unix

package agent

import (
	"errors"

	"github.com/openccm/openccm/internal/workload"
)

// Exec fails: replacing the process needs a Unix system, which the
// containers of a container group are.
func Exec(argv, env []string) (int, error) {
	return workload.ExitCannotRun, errors.New("replacing the process needs a Unix system")
}
