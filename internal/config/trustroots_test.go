package config

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func writeCert(t *testing.T, path string) {
	t.Helper()
	k, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test root"},
		NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestLoadTrustRoots(t *testing.T) {
	dir := t.TempDir()
	writeCert(t, filepath.Join(dir, "nitro.pem"))
	writeCert(t, filepath.Join(dir, "amd.pem"))
	yml := filepath.Join(dir, "roots.yaml")
	if err := os.WriteFile(yml, []byte("nitro: [nitro.pem]\namd: ["+filepath.Join(dir, "amd.pem")+"]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r, err := LoadTrustRoots(yml)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Nitro) != 1 || len(r.AMD) != 1 || r.Count() != 2 || r.Nitro[0].Subject.CommonName != "test root" {
		t.Fatalf("roots %+v", r)
	}
	for name, content := range map[string]string{
		"an unknown key":     "nitro: [nitro.pem]\nintel: [x.pem]\n",
		"a missing file":     "nitro: [missing.pem]\n",
		"a file without PEM": "nitro: [roots.yaml]\n",
	} {
		t.Run("refuses "+name, func(t *testing.T) {
			p := filepath.Join(dir, strings.ReplaceAll(name, " ", "-")+".yaml")
			if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
			if _, err := LoadTrustRoots(p); err == nil {
				t.Fatal("accepted")
			}
		})
	}
}
