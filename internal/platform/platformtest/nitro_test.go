package platformtest_test

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/openccm/openccm/internal/platform"
	"github.com/openccm/openccm/internal/platform/nitro"
	"github.com/openccm/openccm/internal/platform/platformtest"
)

func nitroVerify(t *testing.T, root *x509.Certificate, ev []byte) (*platform.Claims, error) {
	t.Helper()
	v, err := nitro.NewVerifier(nitro.Config{Roots: []*x509.Certificate{root}})
	if err != nil {
		t.Fatal(err)
	}
	return v.Verify(context.Background(), ev, platform.Options{})
}

func TestNitroCA(t *testing.T) {
	ca, err := platformtest.NewNitroCA()
	if err != nil {
		t.Fatal(err)
	}

	t.Run("makes evidence the nitro verifier accepts", func(t *testing.T) {
		binding := [32]byte{7}
		ev, err := ca.Evidence(platformtest.NitroDoc{UserData: binding[:]})
		if err != nil {
			t.Fatal(err)
		}
		c, err := nitroVerify(t, ca.Root(), ev)
		if err != nil {
			t.Fatal(err)
		}
		if c.Debug || len(c.PCRs) != 16 {
			t.Errorf("debug = %v, %d PCRs; want a production enclave's 16", c.Debug, len(c.PCRs))
		}
	})
	t.Run("gives its certificates sane validity", func(t *testing.T) {
		now := time.Now()
		for _, c := range []*x509.Certificate{ca.Root(), ca.Intermediate()} {
			if !c.NotBefore.Before(now) || !c.NotAfter.After(now.Add(300*24*time.Hour)) {
				t.Errorf("%s is valid %s to %s", c.Subject, c.NotBefore, c.NotAfter)
			}
		}
		if block, _ := pem.Decode(ca.RootPEM()); block == nil || string(block.Bytes) != string(ca.Root().Raw) {
			t.Error("RootPEM is not the root")
		}
	})
	t.Run("saves and loads", func(t *testing.T) {
		dir := t.TempDir()
		if err := ca.Save(dir); err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{platformtest.NitroRootKey, platformtest.NitroIntermediateKey} {
			fi, err := os.Stat(filepath.Join(dir, name))
			if err != nil {
				t.Fatal(err)
			}
			if fi.Mode().Perm() != 0o600 {
				t.Errorf("%s has mode %v, want 0600", name, fi.Mode().Perm())
			}
		}
		loaded, err := platformtest.LoadNitroCA(dir)
		if err != nil {
			t.Fatal(err)
		}
		if !loaded.Root().Equal(ca.Root()) || !loaded.Intermediate().Equal(ca.Intermediate()) {
			t.Fatal("the loaded CA has other certificates")
		}
		ev, err := loaded.Evidence(platformtest.NitroDoc{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := nitroVerify(t, ca.Root(), ev); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("issues a new intermediate when the saved one is missing", func(t *testing.T) {
		dir := t.TempDir()
		if err := ca.Save(dir); err != nil {
			t.Fatal(err)
		}
		if err := os.Remove(filepath.Join(dir, platformtest.NitroIntermediateFile)); err != nil {
			t.Fatal(err)
		}
		loaded, err := platformtest.LoadNitroCA(dir)
		if err != nil {
			t.Fatal(err)
		}
		if loaded.Intermediate().Equal(ca.Intermediate()) {
			t.Fatal("the intermediate was not renewed")
		}
		ev, err := loaded.Evidence(platformtest.NitroDoc{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := nitroVerify(t, ca.Root(), ev); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("refuses a key that is not its certificate's", func(t *testing.T) {
		other, err := platformtest.NewNitroCA()
		if err != nil {
			t.Fatal(err)
		}
		dir, otherDir := t.TempDir(), t.TempDir()
		if err := ca.Save(dir); err != nil {
			t.Fatal(err)
		}
		if err := other.Save(otherDir); err != nil {
			t.Fatal(err)
		}
		key, err := os.ReadFile(filepath.Join(otherDir, platformtest.NitroRootKey))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, platformtest.NitroRootKey), key, 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := platformtest.LoadNitroCA(dir); err == nil {
			t.Fatal("LoadNitroCA accepted another CA's root key")
		}
	})
}
