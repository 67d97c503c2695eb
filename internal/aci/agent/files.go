package agent

import (
	"fmt"
	"io"
	"os"

	"github.com/openccm/openccm/internal/workload"
)

// makeDir creates dir (and its parents) and gives it mode 0755 whatever
// the umask: the app container, perhaps another user, reads through it.
func makeDir(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("creating %s: %w", dir, err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		return fmt.Errorf("creating %s: %w", dir, err)
	}
	return nil
}

// copyFileAtomic replaces dst with a copy of src, with mode.
func copyFileAtomic(dst, src string, mode os.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	return workload.ReplaceFile(dst, mode, nil, func(w io.Writer) error {
		_, err := io.Copy(w, in)
		return err
	})
}
