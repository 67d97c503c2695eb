//go:build unix

package workload

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

func TestWriteFileGivesTheFileToItsOwner(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("changing a file's owner needs root")
	}
	path := filepath.Join(t.TempDir(), "key.pem")
	if err := WriteFile(path, []byte("key"), 0o600, &Owner{UID: 1234, GID: 5678}); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if sys := st.Sys().(*syscall.Stat_t); sys.Uid != 1234 || sys.Gid != 5678 || st.Mode() != 0o600 {
		t.Errorf("owner %d:%d, mode %v", sys.Uid, sys.Gid, st.Mode())
	}
}
