package workload

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// Owner is a numeric user and group.
type Owner struct {
	UID, GID int
}

// WriteFile replaces path with data, mode and, when owner is not nil,
// owner, as ReplaceFile does.
func WriteFile(path string, data []byte, mode os.FileMode, owner *Owner) error {
	return ReplaceFile(path, mode, owner, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

// ReplaceFile replaces path with what write writes, creating its directory
// (mode 0755 before the umask) when it is missing. The file is written
// under a temporary name in that directory, with mode (and owner, when not
// nil) from the start, so that a key is never readable by others even
// briefly; it is synced, then renamed over path: a reader sees the old
// file or the new one, never a part.
func ReplaceFile(path string, mode os.FileMode, owner *Owner, write func(io.Writer) error) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("creating %s: %w", dir, err)
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+"-*")
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	defer os.Remove(f.Name()) // after a successful rename, there is nothing to remove
	err = f.Chmod(mode)
	if err == nil && owner != nil {
		err = f.Chown(owner.UID, owner.GID)
	}
	if err == nil {
		err = write(f)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}
