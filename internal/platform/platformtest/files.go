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
