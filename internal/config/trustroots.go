package config

import (
	"bytes"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"gopkg.in/yaml.v3"
)

// TrustRoots are vendor roots added to the built-in ones (`--trust-roots`),
// for private test infrastructure.
type TrustRoots struct {
	// Nitro roots (PEM certificates).
	Nitro []*x509.Certificate
	// AMD holds PEM bundles of ARK (and ASK) certificates, as given.
	AMD [][]byte
	// IntelSGX roots.
	IntelSGX []*x509.Certificate
}

// AMDCertificates returns the certificates of the AMD bundles (ARKs and ASKs).
func (t TrustRoots) AMDCertificates() []*x509.Certificate {
	var out []*x509.Certificate
	for _, b := range t.AMD {
		certs, _ := parsePEMCerts(b)
		out = append(out, certs...)
	}
	return out
}

// Count is the number of added roots.
func (t TrustRoots) Count() int { return len(t.Nitro) + len(t.AMD) + len(t.IntelSGX) }

type trustRootsFile struct {
	Nitro    []string `yaml:"nitro"`
	AMD      []string `yaml:"amd"`
	IntelSGX []string `yaml:"intel_sgx"`
}

// LoadTrustRoots reads a trust-roots YAML file: {nitro: [pem files], amd:
// [pem files], intel_sgx: [pem files]}, unknown keys refused, relative
// paths taken from the file's directory.
func LoadTrustRoots(path string) (TrustRoots, error) {
	var out TrustRoots
	b, err := os.ReadFile(path)
	if err != nil {
		return out, fmt.Errorf("trust roots: %w", err)
	}
	var f trustRootsFile
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		return out, fmt.Errorf("trust roots %s: %w", path, err)
	}
	dir := filepath.Dir(path)
	read := func(p string) ([]byte, error) {
		if !filepath.IsAbs(p) {
			p = filepath.Join(dir, p)
		}
		return os.ReadFile(p)
	}
	var errs []error
	for _, p := range f.Nitro {
		certs, err := readCerts(read, p)
		errs = append(errs, err)
		out.Nitro = append(out.Nitro, certs...)
	}
	for _, p := range f.IntelSGX {
		certs, err := readCerts(read, p)
		errs = append(errs, err)
		out.IntelSGX = append(out.IntelSGX, certs...)
	}
	for _, p := range f.AMD {
		b, err := read(p)
		if err == nil {
			_, err = parsePEMCerts(b)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("amd %s: %w", p, err))
			continue
		}
		out.AMD = append(out.AMD, b)
	}
	if err := errors.Join(errs...); err != nil {
		return TrustRoots{}, fmt.Errorf("trust roots %s: %w", path, err)
	}
	return out, nil
}

func readCerts(read func(string) ([]byte, error), p string) ([]*x509.Certificate, error) {
	b, err := read(p)
	if err != nil {
		return nil, err
	}
	certs, err := parsePEMCerts(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	return certs, nil
}

func parsePEMCerts(b []byte) ([]*x509.Certificate, error) {
	var out []*x509.Certificate
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			break
		}
		if blk.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, errors.New("no PEM certificate in the file")
	}
	return out, nil
}

// Fingerprint is the SHA-256 of a certificate, in hex.
func Fingerprint(c *x509.Certificate) string {
	s := sha256.Sum256(c.Raw)
	return hex.EncodeToString(s[:])
}
