package workload

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// files returns the names in dir.
func files(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

func TestWriteFile(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("file modes are Unix's")
	}
	tests := []struct {
		name string
		path string // under a new temporary directory
		old  []byte // the file's content before, if any
		mode os.FileMode
	}{
		{name: "writes a key with its mode whatever the umask, creating its directory", path: "tls/private/key.pem", mode: 0o600},
		{name: "replaces a file, mode included", path: "cert.pem", old: []byte("old certificate, longer"), mode: 0o644},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), tc.path)
			if tc.old != nil {
				if err := os.WriteFile(path, tc.old, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			if err := WriteFile(path, []byte("new"), tc.mode, nil); err != nil {
				t.Fatal(err)
			}
			if b, err := os.ReadFile(path); err != nil || string(b) != "new" {
				t.Fatalf("read %q, %v", b, err)
			}
			if st, err := os.Stat(path); err != nil || st.Mode() != tc.mode {
				t.Errorf("mode %v, %v, want %v", st.Mode(), err, tc.mode)
			}
			if got := files(t, filepath.Dir(path)); len(got) != 1 {
				t.Errorf("the directory holds %v, want the file alone", got)
			}
		})
	}
}

func TestReplaceFile(t *testing.T) {
	t.Run("streams what write writes", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "ccm")
		err := ReplaceFile(path, 0o755, nil, func(w io.Writer) error {
			for _, s := range []string{"#!/bin/sh\n", "echo ccm\n"} {
				if _, err := io.WriteString(w, s); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if b, err := os.ReadFile(path); err != nil || string(b) != "#!/bin/sh\necho ccm\n" {
			t.Fatalf("read %q, %v", b, err)
		}
	})
	t.Run("leaves the old file and nothing else when write fails", func(t *testing.T) {
		dir := t.TempDir()
		path := filepath.Join(dir, "cert.pem")
		if err := os.WriteFile(path, []byte("old"), 0o644); err != nil {
			t.Fatal(err)
		}
		boom := errors.New("source vanished")
		err := ReplaceFile(path, 0o644, nil, func(w io.Writer) error {
			_, _ = io.WriteString(w, "part")
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatalf("ReplaceFile: %v, want the writer's error", err)
		}
		if b, err := os.ReadFile(path); err != nil || string(b) != "old" {
			t.Errorf("read %q, %v, want the old file", b, err)
		}
		if got := files(t, dir); len(got) != 1 {
			t.Errorf("the directory holds %v, want the old file alone", got)
		}
	})
}
