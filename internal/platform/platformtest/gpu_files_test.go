package platformtest_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/openccm/openccm/internal/platform/gpu"
	"github.com/openccm/openccm/internal/platform/platformtest"
)

func TestGPUFiles(t *testing.T) {
	g, err := platformtest.NewGPUSigner()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := g.Save(dir); err != nil {
		t.Fatal(err)
	}
	binding := [32]byte{7, 8, 9}

	t.Run("saves the key readable by its owner only, and a JWKS that LoadJWKS accepts", func(t *testing.T) {
		if st, err := os.Stat(filepath.Join(dir, platformtest.GPUKeyFile)); err != nil || st.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v, %v", platformtest.GPUKeyFile, st, err)
		}
		if _, err := gpu.LoadJWKS(filepath.Join(dir, platformtest.GPUJWKSFile)); err != nil {
			t.Error(err)
		}
	})
	t.Run("loads a GPU whose tokens verify with the saved JWKS", func(t *testing.T) {
		loaded, err := platformtest.LoadGPU(dir)
		if err != nil {
			t.Fatal(err)
		}
		if loaded.KeyID() != g.KeyID() || !loaded.PublicKey().Equal(g.PublicKey()) {
			t.Fatalf("loaded kid %q, want %q", loaded.KeyID(), g.KeyID())
		}
		jwks, err := gpu.LoadJWKS(filepath.Join(dir, platformtest.GPUJWKSFile))
		if err != nil {
			t.Fatal(err)
		}
		v, err := gpu.NewVerifier(gpu.Config{JWKS: jwks})
		if err != nil {
			t.Fatal(err)
		}
		token, err := loaded.SignToken(binding)
		if err != nil {
			t.Fatal(err)
		}
		r, err := v.Verify(context.Background(), token, binding)
		if err != nil || len(r.Devices) != 1 {
			t.Errorf("got %+v, %v", r, err)
		}
		if _, err := v.Verify(context.Background(), token, [32]byte{1}); err == nil {
			t.Error("the token verifies for another binding")
		}
	})
	t.Run("refuses a key set without the key", func(t *testing.T) {
		other := t.TempDir()
		if err := g.Save(other); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(other, platformtest.GPUJWKSFile), platformtest.NewGPU(t).JWKS(), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := platformtest.LoadGPU(other); err == nil || !strings.Contains(err.Error(), "gpu-jwks.json does not hold the key of gpu-nras.key") {
			t.Errorf("got %v", err)
		}
	})
}
