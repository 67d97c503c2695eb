package platformtest_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/openccm/openccm/internal/platform"
	"github.com/openccm/openccm/internal/platform/platformtest"
	"github.com/openccm/openccm/internal/platform/sgx"
)

func TestSGXCAFiles(t *testing.T) {
	ca, err := platformtest.NewSGXCA()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := ca.Save(dir); err != nil {
		t.Fatal(err)
	}
	r := platformtest.SGXReport{ISVProdID: 4, ISVSVN: 2}
	r.MREnclave[0], r.MRSigner[0] = 0xe1, 0x51
	binding := [32]byte{0: 0xb1, 31: 0xb2}

	t.Run("saves the keys readable by their owner only", func(t *testing.T) {
		for _, name := range []string{platformtest.SGXRootKey, platformtest.SGXPCKCAKey, platformtest.SGXPCKKey,
			platformtest.SGXTCBSigningKey, platformtest.SGXAttestationKey} {
			if st, err := os.Stat(filepath.Join(dir, name)); err != nil || st.Mode().Perm() != 0o600 {
				t.Errorf("%s: %v, %v", name, st, err)
			}
		}
	})
	t.Run("loads a CA whose quotes and collateral verify with the saved root", func(t *testing.T) {
		loaded, err := platformtest.LoadSGXCA(dir)
		if err != nil {
			t.Fatal(err)
		}
		if !loaded.Root().Equal(ca.Root()) || !loaded.PCK().Equal(ca.PCK()) || loaded.Platform() != ca.Platform() {
			t.Fatalf("loaded root, PCK or platform %+v differs from the saved %+v", loaded.Platform(), ca.Platform())
		}
		root, err := os.ReadFile(filepath.Join(dir, platformtest.SGXRootFile))
		if err != nil {
			t.Fatal(err)
		}
		v, err := sgx.NewDCAPVerifier(sgx.DCAPConfig{Roots: [][]byte{root}})
		if err != nil {
			t.Fatal(err)
		}
		ev, err := loaded.SignedEvidence(r, binding, &platformtest.SGXCollateral{})
		if err != nil {
			t.Fatal(err)
		}
		c, err := v.Verify(context.Background(), ev, platform.Options{Binding: &binding})
		if err != nil {
			t.Fatal(err)
		}
		if c.MREnclave != "e1"+zeros(31) || *c.ISVProdID != 4 || *c.ISVSVN != 2 || c.TCBStatus != sgx.TCBUpToDate || c.FMSPC != "00906ed50000" {
			t.Errorf("claims %+v", c)
		}
		ev, err = loaded.SignedEvidence(r, binding, nil)
		if err != nil {
			t.Fatal(err)
		}
		if c, err := v.Verify(context.Background(), ev, platform.Options{Binding: &binding}); err != nil || c.TCBStatus != sgx.TCBStatusUnknown {
			t.Errorf("without collateral: %+v, %v", c, err)
		}
	})
	t.Run("SignedEvidence returns failures rather than failing the test", func(t *testing.T) {
		for name, c := range map[string]*platformtest.SGXCA{"NewSGXCA": ca, "NewSGX": platformtest.NewSGX(t)} {
			_, err := c.SignedEvidence(r, binding, &platformtest.SGXCollateral{TCBInfoVersion: 9})
			if err == nil || !strings.Contains(err.Error(), "TCB info version 9") {
				t.Errorf("%s: got %v, want the TCB info version error", name, err)
			}
		}
	})
	t.Run("refuses a key that is not its certificate's", func(t *testing.T) {
		other := t.TempDir()
		if err := ca.Save(other); err != nil {
			t.Fatal(err)
		}
		stranger, err := platformtest.NewSGXCA()
		if err != nil {
			t.Fatal(err)
		}
		strangerDir := t.TempDir()
		if err := stranger.Save(strangerDir); err != nil {
			t.Fatal(err)
		}
		key, _ := os.ReadFile(filepath.Join(strangerDir, platformtest.SGXPCKKey))
		if err := os.WriteFile(filepath.Join(other, platformtest.SGXPCKKey), key, 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := platformtest.LoadSGXCA(other); err == nil || !strings.Contains(err.Error(), "sgx-pck.key is not the key of sgx-pck.pem") {
			t.Errorf("got %v", err)
		}
		// A PCK certificate of another PKI: a broken chain.
		cert, _ := os.ReadFile(filepath.Join(strangerDir, platformtest.SGXPCKFile))
		if err := os.WriteFile(filepath.Join(other, platformtest.SGXPCKFile), cert, 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := platformtest.LoadSGXCA(other); err == nil || !strings.Contains(err.Error(), "sgx-pck.pem is not signed by sgx-pck-ca.pem") {
			t.Errorf("got %v", err)
		}
	})
	t.Run("reads the platform of another PCK certificate", func(t *testing.T) {
		p := platformtest.SGXPlatform{FMSPC: [6]byte{0, 0x60, 0x6a, 0, 0, 0}, PCEID: [2]byte{0, 1}, TCB: [16]uint8{3, 3, 0, 9, 15: 200}, PCESVN: 11}
		d := t.TempDir()
		if err := platformtest.NewSGX(t).WithPlatform(p).Save(d); err != nil {
			t.Fatal(err)
		}
		loaded, err := platformtest.LoadSGXCA(d)
		if err != nil || loaded.Platform() != p {
			t.Errorf("got %+v, %v; want %+v", loaded.Platform(), err, p)
		}
	})
	t.Run("fails on a directory without a CA", func(t *testing.T) {
		if _, err := platformtest.LoadSGXCA(t.TempDir()); err == nil || !strings.Contains(err.Error(), "sgx-root.pem") {
			t.Errorf("got %v", err)
		}
	})
}
