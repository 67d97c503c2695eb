package azurecvm

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"os"
	"testing"

	"github.com/google/go-sev-guest/verify"

	"github.com/openccm/openccm/internal/platform"
	"github.com/openccm/openccm/internal/platform/platformtest"
)

// BenchmarkVerifyAzureCVM measures a whole verification with the VCEK's
// chain already cached: parsing, the SEV-SNP report's ECDSA P-384
// signature, the runtime claims' hash, the quote's RSA-2048 signature and
// the PCR digest.
func BenchmarkVerifyAzureCVM(b *testing.B) {
	cvm := platformtest.NewAzureCVM(b)
	v := newTestVerifier(b, cvm)
	ev := cvm.Evidence(testPCRs(), &testBinding)
	opts := platform.Options{Binding: &testBinding}
	ctx := context.Background()
	if _, err := v.Verify(ctx, ev, opts); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(ctx, ev, opts); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerifyAzureCVMSample is BenchmarkVerifyAzureCVM on the real
// sample (24 PCRs, AMD's real Milan chain).
func BenchmarkVerifyAzureCVMSample(b *testing.B) {
	s := loadAzureSamples(b)[0]
	ev, err := os.ReadFile("testdata/" + s.file)
	if err != nil {
		b.Fatal(err)
	}
	v := mustVerifier(b, Config{})
	opts := platform.Options{Now: s.at}
	ctx := context.Background()
	if _, err := v.Verify(ctx, ev, opts); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(ctx, ev, opts); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAzureCVMSignaturesOnly measures the two signature checks alone,
// the floor of a warm verification: the quote's RSASSA-PKCS1-v1_5 SHA-256
// (RSA-2048) and the SEV-SNP report's ECDSA P-384 SHA-384.
func BenchmarkAzureCVMSignaturesOnly(b *testing.B) {
	cvm := platformtest.NewAzureCVM(b)
	w := decodeWire(b, cvm.Evidence(testPCRs(), &testBinding))
	sig, err := parseSignature(w.Signature)
	if err != nil {
		b.Fatal(err)
	}
	vcek, err := x509.ParseCertificate(w.VCEK)
	if err != nil {
		b.Fatal(err)
	}
	report := w.HCLReport[hclHeaderSize:hclRequestDataOffset]
	ak := cvm.AK()
	b.ReportAllocs()
	for b.Loop() {
		d := sha256.Sum256(w.Quote)
		if err := rsa.VerifyPKCS1v15(ak, crypto.SHA256, d[:], sig.sig); err != nil {
			b.Fatal(err)
		}
		if err := verify.SnpReportSignature(report, vcek); err != nil {
			b.Fatal(err)
		}
	}
}
