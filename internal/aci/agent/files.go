package agent

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

// writeFileAtomic replaces path with data, mode and, when owner is not
// nil, owner.
func writeFileAtomic(path string, data []byte, mode os.FileMode, owner *Owner) error {
	return replaceFile(path, mode, owner, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

// copyFileAtomic replaces dst with a copy of src, with mode.
func copyFileAtomic(dst, src string, mode os.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	return replaceFile(dst, mode, nil, func(w io.Writer) error {
		_, err := io.Copy(w, in)
		return err
	})
}

// replaceFile writes path under a temporary name in its directory, with
// mode (and owner) from the start, so that a key is never readable by
// others even briefly, then renames it over path: a reader sees the old
// file or the new one, never a part. (It is the enclave agent's
// writeFileAtomic, with an owner and a streaming writer.)
func replaceFile(path string, mode os.FileMode, owner *Owner, write func(io.Writer) error) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+"-*")
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
