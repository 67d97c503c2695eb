package nitro

import (
	"context"
	"crypto/ecdsa"
	"testing"
	"time"

	"github.com/openccm/openccm/internal/platform"
	"github.com/openccm/openccm/internal/platform/platformtest"
)

// BenchmarkVerifyNitro measures a whole verification of the evidence JSON:
// warm (the issuer is cached: the leaf's signature check and the COSE
// signature check) and cold (the whole chain every time).
func BenchmarkVerifyNitro(b *testing.B) {
	now := time.Now()
	ca := newCA(b)
	binding := [32]byte{1}
	generated := evidence(makeDocument(b, ca, platformtest.NitroDoc{Timestamp: now, UserData: binding[:]}))
	real := evidence(readTestdata(b, "request_proper.bin"))

	for _, bc := range []struct {
		name string
		ev   []byte
		opts platform.Options
	}{
		{"generated", generated, platform.Options{Binding: &binding}},
		{"real", real, platform.Options{}}, // a four-certificate bundle
	} {
		for _, cache := range []string{"warm", "cold"} {
			b.Run(bc.name+"/"+cache, func(b *testing.B) {
				v := newVerifier(b, now, ca.Root())
				if cache == "cold" {
					v.cache = nil
				}
				ctx := context.Background()
				if _, err := v.Verify(ctx, bc.ev, bc.opts); err != nil {
					b.Fatal(err)
				}
				b.ReportAllocs()
				for b.Loop() {
					if _, err := v.Verify(ctx, bc.ev, bc.opts); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkNitroSignatureOnly measures the ES384 check of the COSE
// signature alone: the cost no cache can avoid.
func BenchmarkNitroSignatureOnly(b *testing.B) {
	doc, err := parseDocument(makeDocument(b, newCA(b), platformtest.NitroDoc{}))
	if err != nil {
		b.Fatal(err)
	}
	key := doc.leaf.PublicKey.(*ecdsa.PublicKey)
	b.ReportAllocs()
	for b.Loop() {
		if err := verifySignature(doc.msg, key); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkParseDocument measures decoding a real document, its five
// certificates included.
func BenchmarkParseDocument(b *testing.B) {
	raw := readTestdata(b, "request_proper.bin")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := parseDocument(raw); err != nil {
			b.Fatal(err)
		}
	}
}
