package secret

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func newBox(t *testing.T, fill byte) *Box {
	t.Helper()
	b, err := New(bytes.Repeat([]byte{fill}, KeySize))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestSealOpen(t *testing.T) {
	b := newBox(t, 1)
	sealed, err := b.Seal([]byte("hunter2"), []byte("registry:a:1"))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sealed, []byte("hunter2")) {
		t.Fatal("sealed value contains the plaintext")
	}
	got, err := b.Open(sealed, []byte("registry:a:1"))
	if err != nil || string(got) != "hunter2" {
		t.Fatalf("Open = %q, %v", got, err)
	}

	t.Run("a value moved to another row does not open", func(t *testing.T) {
		if _, err := b.Open(sealed, []byte("registry:a:2")); !errors.Is(err, ErrOpen) {
			t.Fatalf("err = %v, want ErrOpen", err)
		}
	})
	t.Run("another key does not open it", func(t *testing.T) {
		if _, err := newBox(t, 2).Open(sealed, []byte("registry:a:1")); !errors.Is(err, ErrOpen) {
			t.Fatalf("err = %v, want ErrOpen", err)
		}
	})
	t.Run("every flipped byte is detected", func(t *testing.T) {
		for i := range sealed {
			c := bytes.Clone(sealed)
			c[i] ^= 0x01
			if _, err := b.Open(c, []byte("registry:a:1")); !errors.Is(err, ErrOpen) {
				t.Fatalf("byte %d flipped: err = %v, want ErrOpen", i, err)
			}
		}
	})
	t.Run("truncated values are rejected", func(t *testing.T) {
		for n := 0; n < len(sealed); n++ {
			if _, err := b.Open(sealed[:n], []byte("registry:a:1")); !errors.Is(err, ErrOpen) {
				t.Fatalf("len %d: err = %v", n, err)
			}
		}
	})
	t.Run("two seals of one value differ", func(t *testing.T) {
		s2, _ := b.Seal([]byte("hunter2"), []byte("registry:a:1"))
		if bytes.Equal(sealed, s2) {
			t.Fatal("nonce reuse: identical ciphertexts")
		}
	})
}

func TestNewRejectsShortKeys(t *testing.T) {
	if _, err := New(make([]byte, 16)); err == nil {
		t.Fatal("New accepted a 16-byte key")
	}
}

func TestKeyFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "master.key")
	k1, created, err := LoadOrCreateKeyFile(path)
	if err != nil || !created {
		t.Fatalf("first call: created=%v err=%v", created, err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode = %v, want 0600", fi.Mode().Perm())
	}
	k2, created, err := LoadOrCreateKeyFile(path)
	if err != nil || created || !bytes.Equal(k1, k2) {
		t.Fatalf("second call: created=%v err=%v same=%v", created, err, bytes.Equal(k1, k2))
	}

	t.Run("a world-readable key file is refused", func(t *testing.T) {
		if err := os.Chmod(path, 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := LoadKeyFile(path); err == nil {
			t.Fatal("loaded a world-readable key")
		}
	})
	t.Run("a malformed key file is refused", func(t *testing.T) {
		bad := filepath.Join(t.TempDir(), "bad.key")
		if err := os.WriteFile(bad, []byte("not base64!"), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := LoadKeyFile(bad); err == nil {
			t.Fatal("loaded a malformed key")
		}
	})
}

func FuzzOpen(f *testing.F) {
	b, _ := New(bytes.Repeat([]byte{7}, KeySize))
	s, _ := b.Seal([]byte("x"), []byte("ctx"))
	f.Add(s)
	f.Add([]byte{1, 2, 3})
	f.Fuzz(func(t *testing.T, in []byte) {
		pt, err := b.Open(in, []byte("ctx"))
		if err == nil && !bytes.Equal(pt, []byte("x")) {
			// Only a genuine seal of "x" under ctx may open.
			t.Fatalf("forged value opened to %q", pt)
		}
	})
}
