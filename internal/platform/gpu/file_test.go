package gpu_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/openccm/openccm/internal/platform"
	"github.com/openccm/openccm/internal/platform/gpu"
	"github.com/openccm/openccm/internal/platform/platformtest"
)

func TestFileVerifierPicksUpARotatedKeySet(t *testing.T) {
	old, rotated := platformtest.NewGPU(t), platformtest.NewGPU(t)
	path := filepath.Join(t.TempDir(), "jwks.json")
	if err := os.WriteFile(path, old.JWKS(), 0o644); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	v, err := gpu.NewFileVerifier(path, gpu.FileConfig{Config: gpu.Config{Now: func() time.Time { return now }}, Recheck: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	var binding [32]byte
	binding[0] = 7
	ctx := context.Background()
	if _, err := v.Verify(ctx, old.Token(binding), binding); err != nil {
		t.Fatalf("a token of the loaded keys: %v", err)
	}

	// NVIDIA rotates its keys; a job rewrites the file.
	if err := os.WriteFile(path, rotated.JWKS(), 0o644); err != nil {
		t.Fatal(err)
	}
	os.Chtimes(path, now.Add(time.Second), now.Add(time.Second))
	if _, err := v.Verify(ctx, rotated.Token(binding), binding); platform.ReasonOf(err) != gpu.ReasonGPUAttestationFailed {
		t.Fatalf("before the recheck interval the old keys stay: %v", err)
	}
	now = now.Add(2 * time.Minute)
	if _, err := v.Verify(ctx, rotated.Token(binding), binding); err != nil {
		t.Fatalf("after the recheck, a token of the rotated keys: %v", err)
	}

	// A broken file keeps the keys loaded last.
	if err := os.WriteFile(path, []byte("{not json"), 0o644); err != nil {
		t.Fatal(err)
	}
	os.Chtimes(path, now.Add(time.Minute), now.Add(time.Minute))
	now = now.Add(2 * time.Minute)
	if _, err := v.Verify(ctx, rotated.Token(binding), binding); err != nil {
		t.Fatalf("a broken file dropped the keys: %v", err)
	}
	if _, err := gpu.NewFileVerifier(path, gpu.FileConfig{}); err == nil {
		t.Fatal("NewFileVerifier accepted an invalid file")
	}
}
