// An internal test: it shares the package's SNPCA (sharedSNPCA), whose
// RSA-4096 keys take a second or two to make.
package platformtest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/openccm/openccm/internal/platform"
	"github.com/openccm/openccm/internal/platform/azurecvm"
)

func TestAzureCVMFiles(t *testing.T) {
	ca, err := sharedSNPCA()
	if err != nil {
		t.Fatal(err)
	}
	cvm, err := NewAzureCVMWith(ca)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := cvm.Save(dir); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{AzureAKKey, AzureEKKey} {
		if st, err := os.Stat(filepath.Join(dir, name)); err != nil || st.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v, %v", name, st, err)
		}
	}

	t.Run("loads the same VM: its AK, EK, chip and measurement", func(t *testing.T) {
		loaded, err := LoadAzureCVMWith(ca, dir)
		if err != nil {
			t.Fatal(err)
		}
		if !loaded.AK().Equal(cvm.AK()) || !loaded.ek.PublicKey.Equal(&cvm.ek.PublicKey) || loaded.chipID != cvm.chipID ||
			loaded.Measurement() != cvm.Measurement() {
			t.Fatal("the loaded VM differs from the saved one")
		}
		v, err := azurecvm.NewVerifier(azurecvm.Config{AMDRoots: ca.RootsPEM()})
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256([]byte("pcr 7"))
		pcrs := map[int]string{7: hex.EncodeToString(sum[:])}
		binding := sha256.Sum256([]byte("binding"))
		ev, err := loaded.Build(AzureCVMQuote{PCRs: pcrs, ExtraData: binding[:], AKPublic: true})
		if err != nil {
			t.Fatal(err)
		}
		c, err := v.Verify(context.Background(), ev, platform.Options{Binding: &binding})
		if err != nil {
			t.Fatal(err)
		}
		if c.PCRs[7] != pcrs[7] {
			t.Errorf("claims %+v", c)
		}
	})
	t.Run("refuses a key that is not RSA-2048", func(t *testing.T) {
		other := t.TempDir()
		if err := cvm.Save(other); err != nil {
			t.Fatal(err)
		}
		if err := ca.Save(other); err != nil {
			t.Fatal(err)
		}
		ask, _ := os.ReadFile(filepath.Join(other, SNPASKKey)) // RSA-4096
		if err := os.WriteFile(filepath.Join(other, AzureAKKey), ask, 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := LoadAzureCVMWith(ca, other); err == nil || !strings.Contains(err.Error(), "azure-ak.key is not an RSA-2048 key") {
			t.Errorf("got %v", err)
		}
		if _, err := LoadAzureCVMWith(ca, t.TempDir()); err == nil || !strings.Contains(err.Error(), "azure-ak.key") {
			t.Errorf("empty directory: got %v", err)
		}
	})
}
