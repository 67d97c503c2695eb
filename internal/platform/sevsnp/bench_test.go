package sevsnp

import (
	"context"
	"testing"

	"github.com/google/go-sev-guest/verify"

	"github.com/openccm/openccm/internal/platform"
)

// BenchmarkVerifySEVSNP measures a whole verification with the VCEK's chain
// already cached: the common case, one ECDSA P-384 check plus parsing.
func BenchmarkVerifySEVSNP(b *testing.B) {
	v := newTestVerifier(b, platform.SEVSNP)
	ev, err := mustCA(b, testCA).Report(baseReport())
	if err != nil {
		b.Fatal(err)
	}
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

// BenchmarkVerifySEVSNPCold measures a verification that meets an empty
// cache: the VCEK's chain (two RSA-4096 PSS signatures) is verified too.
func BenchmarkVerifySEVSNPCold(b *testing.B) {
	v := newTestVerifier(b, platform.SEVSNP)
	ev, err := mustCA(b, testCA).Report(baseReport())
	if err != nil {
		b.Fatal(err)
	}
	opts := platform.Options{Binding: &testBinding}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		v.cache = newVCEKCache(0)
		if _, err := v.Verify(ctx, ev, opts); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSNPReportSignatureOnly measures the report signature check
// alone (ECDSA P-384 over the first 0x2A0 bytes), the floor of a warm
// verification.
func BenchmarkSNPReportSignatureOnly(b *testing.B) {
	raw, vcek, err := mustCA(b, testCA).SignReport(baseReport())
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := verify.SnpReportSignature(raw, vcek); err != nil {
			b.Fatal(err)
		}
	}
}
