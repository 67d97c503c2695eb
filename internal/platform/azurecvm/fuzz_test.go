package azurecvm

import (
	"bytes"
	"crypto/rsa"
	"encoding/binary"
	"os"
	"slices"
	"testing"

	"github.com/google/go-tpm/tpm2"

	"github.com/openccm/openccm/internal/platform/platformtest"
)

// fuzzSeeds returns the real samples' parts and variants of them: an
// RSASSA-PSS signature, a quote of PCR23 alone, ak_public, and the TDX HCL
// report. Nothing here makes keys: fuzz workers start fast.
func fuzzSeeds(f *testing.F) (ak *rsa.PublicKey, quotes, sigs, hcls [][]byte) {
	for _, s := range loadAzureSamples(f) {
		quotes = append(quotes, s.message)
		sigs = append(sigs, tpmSignature(s.rawSig))
		hcls = append(hcls, s.hcl)
	}
	h, err := parseHCLReport(hcls[0])
	if err != nil {
		f.Fatal(err)
	}
	ak = h.ak

	pss := bytes.Clone(sigs[0])
	binary.BigEndian.PutUint16(pss, uint16(tpm2.TPMAlgRSAPSS))
	one := bytes.Clone(quotes[0])
	sel := bytes.Index(one, []byte{0x00, 0x0b, 0x03, 0xff, 0xff, 0xff})
	if sel < 0 {
		f.Fatal("the sample quote does not select PCRs 0 to 23")
	}
	copy(one[sel+3:], []byte{0x00, 0x00, 0x80})
	quotes = append(quotes, one)
	sigs = append(sigs, pss, platformtest.RSAPublicArea(ak))

	tdx, err := os.ReadFile("testdata/az-tdx-hcl-report.bin")
	if err != nil {
		f.Fatal(err)
	}
	return ak, quotes, sigs, append(hcls, tdx)
}

// FuzzParseQuote feeds the TPM structure parsers arbitrary bytes: they must
// never panic, and what they accept must be exactly one structure, the one
// encoding of its value, with a usable PCR selection or signature.
func FuzzParseQuote(f *testing.F) {
	ak, quotes, sigs, _ := fuzzSeeds(f)
	for i, q := range quotes {
		f.Add(q, sigs[i%len(sigs)])
	}
	f.Add([]byte{}, []byte{})
	f.Add([]byte{0xff, 0x54, 0x43, 0x47, 0x80, 0x18}, []byte{0x00, 0x14, 0x00, 0x0b})
	f.Fuzz(func(t *testing.T, q, sig []byte) {
		if r, err := parseQuote(q); err == nil {
			a, err := tpm2.Unmarshal[tpm2.TPMSAttest](q)
			if err != nil || !slices.Equal(tpm2.Marshal(*a), q) {
				t.Fatalf("accepted a quote that does not re-encode to its bytes: %v", err)
			}
			if !increasing(r.pcrs) || r.pcrs[0] < 0 || r.pcrs[len(r.pcrs)-1] > MaxPCR {
				t.Fatalf("accepted a selection of PCRs %v", r.pcrs)
			}
			values := map[int][]byte{}
			for _, i := range r.pcrs {
				values[i] = make([]byte, 32)
			}
			if err := matchSelection(r, values); err != nil {
				t.Fatalf("the quote's own selection does not match: %v", err)
			}
			_ = checkPCRDigest(r, values)
			_ = checkBinding(r, &testBinding)
		}
		if s, err := parseSignature(sig); err == nil {
			if s.scheme != tpm2.TPMAlgRSASSA && s.scheme != tpm2.TPMAlgRSAPSS {
				t.Fatalf("accepted signature scheme %#x", s.scheme)
			}
			_ = s.verify(ak, q)
		}
		if pub, err := parseAKPublic(sig); err == nil && pub.N.BitLen() < minAKBits {
			t.Fatalf("accepted an AK of %d bits", pub.N.BitLen())
		}
	})
}

// FuzzParseHCLReport feeds parseHCLReport arbitrary bytes: it must never
// panic, and what it accepts must hold a whole SEV-SNP report, runtime
// claims inside the bytes, and an RSA AK.
func FuzzParseHCLReport(f *testing.F) {
	_, _, _, hcls := fuzzSeeds(f)
	for _, h := range hcls {
		f.Add(h)
	}
	f.Add([]byte("HCLA"))
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := parseHCLReport(b)
		if err != nil {
			return
		}
		if len(h.snpReport) != hclSNPReportSize || hclRuntimeOffset+len(h.runtimeData) > len(b) {
			t.Fatalf("accepted a report with a %d-byte SEV-SNP report and %d bytes of runtime claims in %d bytes", len(h.snpReport), len(h.runtimeData), len(b))
		}
		if h.ak == nil || h.ak.N.BitLen() < minAKBits || h.ak.E < 3 {
			t.Fatalf("accepted AK %v", h.ak)
		}
		_ = checkRuntimeData(h)
	})
}

// increasing reports whether l is not empty and strictly increasing.
func increasing(l []int) bool {
	for i := 1; i < len(l); i++ {
		if l[i] <= l[i-1] {
			return false
		}
	}
	return len(l) > 0
}
