package sevsnp

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/x509"
	"time"

	"github.com/google/go-sev-guest/abi"
	"github.com/google/go-sev-guest/kds"
	spb "github.com/google/go-sev-guest/proto/sevsnp"
	"github.com/google/go-sev-guest/verify"
	"github.com/google/go-sev-guest/verify/trust"

	"github.com/openccm/openccm/internal/platform"
)

// verifiedVCEK is a VCEK whose chain to a trusted AMD root verified.
type verifiedVCEK struct {
	cert *x509.Certificate
	ext  *kds.Extensions
	// productLine is the product line the chain was verified for.
	productLine string
	// notBefore and notAfter bound the times at which the chain that
	// verified (VCEK, ASK, ARK) is valid: the intersection of the three
	// certificates' validity.
	notBefore, notAfter time.Time
}

// verifyChain checks that the report is signed by the VCEK and that the
// VCEK chains to a trusted AMD root at now. It is the only cryptographic
// step; on a cache hit it costs one ECDSA P-384 verification.
//
// Why a hit is never laxer than a miss. A miss runs, in order:
//
//  0. the parse of the VCEK, which go-sev-guest must read as the same
//     certificate;
//  1. the report signature with the VCEK, over the raw bytes;
//  2. go-sev-guest's verify.SnpAttestation with fetching disabled: the
//     VCEK's form (version, RSASSA-PSS, P-384, AMD names, KDS extensions),
//     its issuer, its chain to a root of roots[product line] at now, and
//     the signature again, over the report re-encoded from its fields.
//
// Step 0 depends on the VCEK's bytes alone. Given the Verifier's fixed
// roots, step 2 depends only on the VCEK, the product line the report names
// (from its CPUID fields; "" for version 2 reports) and now — no other
// report field — since parseReport guarantees that the re-encoded report is
// the raw one. The cache is keyed by (SHA-256 of the VCEK, that product
// line), and a hit is taken only when now lies in the validity window of a
// chain that verified, where that same chain verifies again; outside it
// everything runs again. A hit still runs step 1, and matchVCEK (chip ID
// and TCB against this report) runs after either path.
func (v *Verifier) verifyChain(ctx context.Context, r *report, vcekDER []byte, now time.Time) (*verifiedVCEK, error) {
	if r.signer.SigningKey != abi.VcekReportSigner {
		return nil, platform.Reject(platform.ReasonSignatureInvalid, "sevsnp: report is signed by the %v key; only VCEK-signed reports are supported", r.signer.SigningKey)
	}
	key := cacheKey{vcek: sha256.Sum256(vcekDER), productLine: r.productLine}
	if e := v.cache.get(key, now); e != nil {
		if err := verify.SnpReportSignature(r.raw, e.cert); err != nil {
			return nil, reject(platform.ReasonSignatureInvalid, err, "sevsnp: report signature does not verify with VCEK")
		}
		return e, nil
	}

	// A VCEK seen before parsed then; this one has to parse now.
	vcek, err := x509.ParseCertificate(vcekDER)
	if err != nil {
		return nil, platform.Reject(platform.ReasonMalformed, "sevsnp: evidence is malformed: vcek: %v", err)
	}
	// go-sev-guest reads the VCEK with trust.ParseCert, which takes the
	// first PEM block found anywhere in the bytes: make sure it sees the
	// very certificate whose key and extensions are used and cached here.
	if libs, err := trust.ParseCert(vcekDER); err != nil || !bytes.Equal(libs.Raw, vcek.Raw) {
		return nil, platform.Reject(platform.ReasonMalformed, "sevsnp: evidence is malformed: vcek is not a plain DER certificate")
	}
	if err := verify.SnpReportSignature(r.raw, vcek); err != nil {
		return nil, reject(platform.ReasonSignatureInvalid, err, "sevsnp: report signature does not verify with VCEK")
	}
	att := &spb.Attestation{
		Report:           r.pb,
		CertificateChain: &spb.CertificateChain{VcekCert: vcekDER},
	}
	opts := &verify.Options{
		// The VCEK comes in the evidence and the roots are configured:
		// never ask AMD's KDS for anything.
		DisableCertFetching: true,
		Now:                 now,
		TrustedRoots:        v.roots,
	}
	if err := verify.SnpAttestationContext(ctx, att, opts); err != nil {
		return nil, reject(platform.ReasonSignatureInvalid, err, "sevsnp: VCEK does not chain to a trusted AMD root")
	}
	ext, err := kds.VcekCertificateExtensions(vcek)
	if err != nil { // SnpAttestation has parsed them: not expected
		return nil, reject(platform.ReasonSignatureInvalid, err, "sevsnp: VCEK extensions are invalid")
	}
	e := &verifiedVCEK{cert: vcek, ext: ext, productLine: r.productLine}
	if e.productLine == "" {
		e.productLine = kds.ProductLineOfProductName(ext.ProductName)
	}
	if v.chainWindow(e, now) {
		v.cache.put(key, e, now)
	}
	return e, nil
}

// chainWindow finds, as go-sev-guest does, the first root of e's product
// line that the VCEK chains to at now, and sets e's validity window to that
// chain's. It reports whether it found one.
func (v *Verifier) chainWindow(e *verifiedVCEK, now time.Time) bool {
	for _, root := range v.roots[e.productLine] {
		opts := root.X509Options(now, abi.VcekReportSigner)
		if opts == nil {
			continue
		}
		chains, err := e.cert.Verify(*opts)
		if err != nil || len(chains) == 0 {
			continue
		}
		e.notBefore, e.notAfter = e.cert.NotBefore, e.cert.NotAfter
		for _, c := range chains[0] {
			if c.NotBefore.After(e.notBefore) {
				e.notBefore = c.NotBefore
			}
			if c.NotAfter.Before(e.notAfter) {
				e.notAfter = c.NotAfter
			}
		}
		return true
	}
	return false
}
