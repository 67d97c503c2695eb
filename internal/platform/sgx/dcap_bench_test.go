package sgx

import (
	"context"
	"crypto/ecdsa"
	"crypto/x509"
	"testing"

	"github.com/openccm/openccm/internal/platform"
	"github.com/openccm/openccm/internal/platform/platformtest"
)

// BenchmarkVerifyDCAP measures a whole verification of the evidence
// object, with the PCK chain already cached: JSON and base64 decoding,
// parsing, the QE report and quote signatures (two ECDSA P-256
// verifications), the QE identity and the binding.
func BenchmarkVerifyDCAP(b *testing.B) {
	ca := platformtest.NewSGX(b)
	v := newTestVerifier(b, ca)
	ev := ca.Evidence(ca.Quote(testReport(), testBinding), nil)
	benchVerify(b, v, ev)
}

// BenchmarkVerifyDCAPCollateral is BenchmarkVerifyDCAP with collateral,
// whose two documents are cached too: the TCB level and QE level are
// selected on every verification.
func BenchmarkVerifyDCAPCollateral(b *testing.B) {
	ca := platformtest.NewSGX(b)
	v := newTestVerifier(b, ca)
	ev := ca.Evidence(ca.Quote(testReport(), testBinding), ca.Collateral(platformtest.SGXCollateral{}))
	benchVerify(b, v, ev)
}

// BenchmarkVerifyDCAPCold measures a verification that meets empty caches:
// the PCK chain (two more ECDSA P-256 verifications) is built and checked,
// and the PCK certificates parsed, every time.
func BenchmarkVerifyDCAPCold(b *testing.B) {
	ca := platformtest.NewSGX(b)
	v := newTestVerifier(b, ca)
	ev := ca.Evidence(ca.Quote(testReport(), testBinding), nil)
	opts := platform.Options{Binding: &testBinding}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		v.pcks = newWindowCache[*verifiedPCK](0)
		if _, err := v.Verify(ctx, ev, opts); err != nil {
			b.Fatal(err)
		}
	}
}

func benchVerify(b *testing.B, v *DCAPVerifier, ev []byte) {
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

// BenchmarkDCAPSignaturesOnly measures the cryptographic floor of a
// verification without any cache: the two ECDSA P-256 verifications of the
// quote (QE report by the PCK key, quote by the attestation key) and the
// PCK certificate's chain to the root (two more), with the certificates
// already parsed.
func BenchmarkDCAPSignaturesOnly(b *testing.B) {
	ca := platformtest.NewSGX(b)
	q, err := parseQuote(ca.Quote(testReport(), testBinding))
	if err != nil {
		b.Fatal(err)
	}
	chain, err := parsePEMChain(q.certData)
	if err != nil {
		b.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca.Root())
	pckKey := chain[0].PublicKey.(*ecdsa.PublicKey)
	attKey, err := ecdsa.ParseUncompressedPublicKey(pckKey.Curve, append([]byte{4}, q.attKey[:]...))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := verifyLeaf(chain, roots, ca.PCK().NotBefore.Add(1)); err != nil {
			b.Fatal(err)
		}
		if !verifyP256(pckKey, q.qeReportRaw, &q.qeReportSig) || !verifyP256(attKey, q.signed(), &q.signature) {
			b.Fatal("a signature does not verify")
		}
	}
}

// BenchmarkDCAPQuoteSignaturesOnly measures the two ECDSA P-256
// verifications every verification makes, cache or not: the floor of a
// warm verification.
func BenchmarkDCAPQuoteSignaturesOnly(b *testing.B) {
	ca := platformtest.NewSGX(b)
	q, err := parseQuote(ca.Quote(testReport(), testBinding))
	if err != nil {
		b.Fatal(err)
	}
	pckKey := ca.PCK().PublicKey.(*ecdsa.PublicKey)
	attKey, err := ecdsa.ParseUncompressedPublicKey(pckKey.Curve, append([]byte{4}, q.attKey[:]...))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if !verifyP256(pckKey, q.qeReportRaw, &q.qeReportSig) || !verifyP256(attKey, q.signed(), &q.signature) {
			b.Fatal("a signature does not verify")
		}
	}
}
