package platformtest

import (
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
)

// file is one file a fake CA saves.
type file struct {
	name string
	data []byte
	mode os.FileMode
}

// certFile is a PEM certificate file, readable by all.
func certFile(name string, c *x509.Certificate) file {
	return file{name, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw}), 0o644}
}

// keyFile is a PKCS#8 PEM private key file, readable by its owner only.
func keyFile(name, what string, key crypto.PrivateKey) (file, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return file{}, fmt.Errorf("platformtest: encoding the %s key: %w", what, err)
	}
	return file{name, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600}, nil
}

// saveFiles writes files to dir, creating it if missing.
func saveFiles(dir string, files ...file) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("platformtest: %w", err)
	}
	for _, f := range files {
		if err := os.WriteFile(filepath.Join(dir, f.name), f.data, f.mode); err != nil {
			return fmt.Errorf("platformtest: %w", err)
		}
	}
	return nil
}

// readCert reads a PEM certificate file that Save wrote.
func readCert(path string) (*x509.Certificate, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("platformtest: %w", err)
	}
	block, _ := pem.Decode(b)
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, fmt.Errorf("platformtest: %s: no CERTIFICATE block", path)
	}
	c, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("platformtest: %s: %w", path, err)
	}
	return c, nil
}

// readKey reads a PKCS #8 PEM private key file that Save wrote. Unless
// owner is "", the key must be the private half of pub, the key of owner
// (a file name, for the error).
func readKey(path string, pub crypto.PublicKey, owner string) (crypto.Signer, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("platformtest: %w", err)
	}
	block, _ := pem.Decode(b)
	if block == nil || block.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("platformtest: %s: no PRIVATE KEY block", path)
	}
	key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("platformtest: %s: %w", path, err)
	}
	signer, ok := key.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("platformtest: %s: %T is not a signing key", path, key)
	}
	if owner == "" {
		return signer, nil
	}
	if p, ok := signer.Public().(interface{ Equal(crypto.PublicKey) bool }); !ok || !p.Equal(pub) {
		return nil, fmt.Errorf("platformtest: %s is not the key of %s", filepath.Base(path), owner)
	}
	return signer, nil
}

// failure is what a noTB's Fatalf panics with.
type failure struct{ err error }

// noTB is the TB of a fake made without a test (for ccm dev). The fakes
// built for tests (SGXCA, GPU) report failures through their TB's Fatalf,
// which never returns: noTB's panics with a failure, and catch, deferred by
// the functions that return errors, turns it back into one.
type noTB struct{}

func (noTB) Helper() {}

func (noTB) Fatalf(format string, args ...any) { panic(failure{fmt.Errorf(format, args...)}) }

// catch, deferred, recovers a noTB failure into *err. Other panics go on.
func catch(err *error) {
	if r := recover(); r != nil {
		f, ok := r.(failure)
		if !ok {
			panic(r)
		}
		*err = f.err
	}
}
