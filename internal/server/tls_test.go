package server

import (
	"crypto/x509"
	"net"
	"strings"
	"testing"
	"time"
)

func TestSelfSignedCertificateIsMadeOnceAndRenewed(t *testing.T) {
	dir := t.TempDir()
	now := time.Date(2026, 11, 29, 0, 0, 0, 0, time.UTC)
	c1, created, err := loadOrCreateSelfSigned(dir, "0.0.0.0:8443", now)
	if err != nil || !created {
		t.Fatalf("first: created=%v err=%v", created, err)
	}
	c2, created, err := loadOrCreateSelfSigned(dir, "0.0.0.0:8443", now.Add(24*time.Hour))
	if err != nil || created || Fingerprint(c1.Certificate[0]) != Fingerprint(c2.Certificate[0]) {
		t.Fatalf("second start made a new certificate (created=%v, err=%v)", created, err)
	}
	leaf, err := x509.ParseCertificate(c1.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	// The certificate verifies as its own root for localhost, so that
	// clients can trust it by file.
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	for _, name := range []string{"localhost", "127.0.0.1"} {
		if _, err := leaf.Verify(x509.VerifyOptions{Roots: pool, DNSName: name, CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err != nil {
			t.Errorf("verify for %s: %v", name, err)
		}
	}
	if !leaf.IPAddresses[0].Equal(net.IPv4(127, 0, 0, 1)) {
		t.Errorf("IPs %v", leaf.IPAddresses)
	}
	// Near expiry, a new one is made.
	_, created, err = loadOrCreateSelfSigned(dir, "0.0.0.0:8443", now.Add(selfSignedValidity-10*24*time.Hour))
	if err != nil || !created {
		t.Fatalf("renewal: created=%v err=%v", created, err)
	}
}

func TestFingerprintFormat(t *testing.T) {
	fp := Fingerprint([]byte("x"))
	if len(fp) != 95 || strings.Count(fp, ":") != 31 || strings.ToUpper(fp) != fp {
		t.Fatalf("fingerprint %q", fp)
	}
}
