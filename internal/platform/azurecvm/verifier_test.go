package azurecvm

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/openccm/openccm/internal/platform"
	"github.com/openccm/openccm/internal/platform/platformtest"
)

var (
	testBinding = sha256.Sum256([]byte("binding"))
	otherKey    = sync.OnceValues(func() (*rsa.PrivateKey, error) { return rsa.GenerateKey(rand.Reader, 2048) })
)

// testPCRs are a VM's PCR values: PCRs 0 to 7, 11 and 14, each the SHA-256
// of its name.
func testPCRs() map[int]string {
	m := map[int]string{}
	for _, i := range []int{0, 1, 2, 3, 4, 5, 6, 7, 11, 14} {
		sum := sha256.Sum256(fmt.Appendf(nil, "PCR%d", i))
		m[i] = hex.EncodeToString(sum[:])
	}
	return m
}

func newTestVerifier(t testing.TB, cvm *platformtest.AzureCVM) *Verifier {
	t.Helper()
	v, err := NewVerifier(Config{AMDRoots: cvm.RootsPEM()})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func decodeWire(t testing.TB, b []byte) wire {
	t.Helper()
	var w wire
	if err := json.Unmarshal(b, &w); err != nil {
		t.Fatal(err)
	}
	return w
}

// runtimeOffset returns where s sits in the HCL report's runtime claims.
func runtimeOffset(t testing.TB, hcl []byte, s string) int {
	t.Helper()
	i := bytes.Index(hcl[hclRuntimeOffset:], []byte(s))
	if i < 0 {
		t.Fatalf("%q is not in the runtime claims", s)
	}
	return hclRuntimeOffset + i
}

func TestVerify(t *testing.T) {
	cvm := platformtest.NewAzureCVM(t)
	v := newTestVerifier(t, cvm)
	other, err := otherKey()
	if err != nil {
		t.Fatal(err)
	}
	wrongBinding := testBinding
	wrongBinding[0] ^= 1
	flip := func(b []byte, i int) {
		if i < 0 {
			i += len(b)
		}
		b[i] ^= 1
	}
	base := func() platformtest.AzureCVMQuote {
		return platformtest.AzureCVMQuote{PCRs: testPCRs(), ExtraData: testBinding[:], AKPublic: true}
	}

	tests := []struct {
		name     string
		quote    func(*platformtest.AzureCVMQuote)
		mutate   func(t *testing.T, w *wire)
		verifier *Verifier
		binding  *[32]byte // nil: testBinding
		noBind   bool      // verify without a binding
		reason   string
		msg      string // part of the error message
	}{
		{name: "accepts a quote of the given PCRs carrying the binding"},
		{name: "accepts an RSASSA-PSS quote signature", quote: func(q *platformtest.AzureCVMQuote) { q.PSS = true }},
		{name: "accepts evidence without ak_public", quote: func(q *platformtest.AzureCVMQuote) { q.AKPublic = false }},
		{
			name: "accepts ak_public as the TPM2B_PUBLIC tpm2_readpublic writes",
			mutate: func(t *testing.T, w *wire) {
				w.AKPublic = append(binary.BigEndian.AppendUint16(nil, uint16(len(w.AKPublic))), w.AKPublic...)
			},
		},
		{name: "accepts runtime claims hashed with SHA-384", quote: func(q *platformtest.AzureCVMQuote) { q.RuntimeHash = crypto.SHA384 }},
		{name: "accepts runtime claims hashed with SHA-512", quote: func(q *platformtest.AzureCVMQuote) { q.RuntimeHash = crypto.SHA512 }},
		{
			name: "accepts PCR values in upper case with a 0x prefix",
			mutate: func(t *testing.T, w *wire) {
				w.PCRs["pcr7"] = "0x" + strings.ToUpper(w.PCRs["pcr7"])
			},
		},
		{
			name:   "accepts any extraData when there is no binding to check",
			quote:  func(q *platformtest.AzureCVMQuote) { q.ExtraData = []byte("challenge") },
			noBind: true,
		},

		// The chain from AMD's root to the PCR values.
		{
			name:   "rejects a flipped byte in the quote signature",
			mutate: func(t *testing.T, w *wire) { flip(w.Signature, -1) },
			reason: platform.ReasonSignatureInvalid, msg: "quote signature does not verify",
		},
		{
			name:   "rejects a flipped byte in the quote's PCR digest",
			mutate: func(t *testing.T, w *wire) { flip(w.Quote, -1) },
			reason: platform.ReasonSignatureInvalid, msg: "quote signature does not verify",
		},
		{
			name:   "rejects a quote signed by a key other than the HCL report's AK",
			quote:  func(q *platformtest.AzureCVMQuote) { q.SignWith = other; q.AKPublic = false },
			reason: platform.ReasonSignatureInvalid, msg: "quote signature does not verify with the HCL report's HCLAkPub key",
		},
		{
			name:   "rejects ak_public that is not the HCL report's AK",
			quote:  func(q *platformtest.AzureCVMQuote) { q.AKPublicKey = &other.PublicKey },
			reason: platform.ReasonSignatureInvalid, msg: "ak_public is not the HCL report's HCLAkPub key",
		},
		{
			name:   "rejects another key's quote even when ak_public names that key",
			quote:  func(q *platformtest.AzureCVMQuote) { q.SignWith = other; q.AKPublicKey = &other.PublicKey },
			reason: platform.ReasonSignatureInvalid, msg: "ak_public is not the HCL report's HCLAkPub key",
		},
		{
			name: "rejects a flipped byte in the HCL runtime claims (their hash is not the report_data)",
			mutate: func(t *testing.T, w *wire) {
				flip(w.HCLReport, runtimeOffset(t, w.HCLReport, `"vmUniqueId":"`)+len(`"vmUniqueId":"`))
			},
			reason: platform.ReasonSignatureInvalid, msg: "report_data is not the SHA-256 of the runtime claims",
		},
		{
			name: "rejects a flipped byte in the AK's modulus in the runtime claims",
			mutate: func(t *testing.T, w *wire) {
				i := runtimeOffset(t, w.HCLReport, `"n":"`) + len(`"n":"`) + 10
				if w.HCLReport[i] == 'A' { // another base64url digit: the claims still parse
					w.HCLReport[i] = 'B'
				} else {
					w.HCLReport[i] = 'A'
				}
			},
			reason: platform.ReasonSignatureInvalid, msg: "report_data is not the SHA-256 of the runtime claims",
		},
		{
			name:   "rejects a flipped byte in the SEV-SNP report's signature",
			mutate: func(t *testing.T, w *wire) { flip(w.HCLReport, hclHeaderSize+0x2A0) },
			reason: platform.ReasonSignatureInvalid, msg: "report signature does not verify with VCEK",
		},
		{
			name:   "rejects a flipped byte in the SEV-SNP report's measurement",
			mutate: func(t *testing.T, w *wire) { flip(w.HCLReport, hclHeaderSize+0x90) },
			reason: platform.ReasonSignatureInvalid, msg: "the HCL report's SEV-SNP report: sevsnp:",
		},
		{
			name:   "rejects a SEV-SNP report from VMPL 2 (the guest, not the paravisor)",
			quote:  func(q *platformtest.AzureCVMQuote) { q.VMPL = 2 },
			reason: platform.ReasonSignatureInvalid, msg: "VMPL 2, not the paravisor's VMPL 0",
		},
		{
			name:     "rejects a SEV-SNP report that does not chain to a trusted AMD root",
			verifier: mustVerifier(t, Config{}),
			reason:   platform.ReasonSignatureInvalid, msg: "does not chain to a trusted AMD root",
		},
		{
			name:   "rejects a changed PCR value (the digest does not match)",
			mutate: func(t *testing.T, w *wire) { w.PCRs["pcr7"] = strings.Repeat("ab", 32) },
			reason: platform.ReasonSignatureInvalid, msg: "PCR digest is not the digest of the PCR values given",
		},

		// The binding.
		{
			name:    "rejects a quote whose extraData is another binding",
			binding: &wrongBinding,
			reason:  platform.ReasonBindingMismatch, msg: "extraData is not the request's binding",
		},
		{
			name:   "rejects a quote without extraData when a binding is expected",
			quote:  func(q *platformtest.AzureCVMQuote) { q.ExtraData = nil },
			reason: platform.ReasonBindingMismatch,
		},

		// Malformed evidence.
		{
			name:   "rejects pcrs missing a PCR the quote selects",
			mutate: func(t *testing.T, w *wire) { delete(w.PCRs, "pcr11") },
			reason: platform.ReasonMalformed, msg: "the quote selects PCR11, which pcrs does not give",
		},
		{
			name:   "rejects pcrs with a PCR the quote does not select",
			mutate: func(t *testing.T, w *wire) { w.PCRs["pcr9"] = strings.Repeat("00", 32) },
			reason: platform.ReasonMalformed, msg: "pcrs gives PCR9, which the quote does not select",
		},
		{
			name:   "rejects a PCR key out of range",
			mutate: func(t *testing.T, w *wire) { w.PCRs["pcr24"] = strings.Repeat("00", 32) },
			reason: platform.ReasonMalformed, msg: `key "pcr24" is not pcr0 to pcr23`,
		},
		{
			name:   "rejects a PCR key with a leading zero",
			mutate: func(t *testing.T, w *wire) { w.PCRs["pcr07"] = w.PCRs["pcr7"]; delete(w.PCRs, "pcr7") },
			reason: platform.ReasonMalformed,
		},
		{
			name:   "rejects a PCR value that is not 32 bytes",
			mutate: func(t *testing.T, w *wire) { w.PCRs["pcr7"] = w.PCRs["pcr7"][:62] },
			reason: platform.ReasonMalformed, msg: "pcr7 is not 64 hex digits",
		},
		{
			name:   "rejects a truncated quote",
			mutate: func(t *testing.T, w *wire) { w.Quote = w.Quote[:len(w.Quote)-1] },
			reason: platform.ReasonMalformed, msg: "quote:",
		},
		{
			name:   "rejects a quote with a trailing byte",
			mutate: func(t *testing.T, w *wire) { w.Quote = append(w.Quote, 0) },
			reason: platform.ReasonMalformed, msg: "quote: 1 bytes after the structure",
		},
		{
			name:   "rejects a TPMS_ATTEST that is not a quote",
			mutate: func(t *testing.T, w *wire) { binary.BigEndian.PutUint16(w.Quote[4:], 0x8017) }, // TPM_ST_ATTEST_CERTIFY
			reason: platform.ReasonMalformed, msg: "quote:",
		},
		{
			name:   "rejects a TPMS_ATTEST without TPM_GENERATED_VALUE",
			mutate: func(t *testing.T, w *wire) { flip(w.Quote, 0) },
			reason: platform.ReasonMalformed, msg: "not TPM_GENERATED_VALUE",
		},
		{
			name:   "rejects a signature with a trailing byte",
			mutate: func(t *testing.T, w *wire) { w.Signature = append(w.Signature, 0) },
			reason: platform.ReasonMalformed, msg: "signature: 1 bytes after the structure",
		},
		{
			name:   "rejects a signature hashed with SHA-1",
			mutate: func(t *testing.T, w *wire) { binary.BigEndian.PutUint16(w.Signature[2:], 0x0004) },
			reason: platform.ReasonMalformed, msg: "is not SHA-256",
		},
		{
			name:   "rejects a truncated HCL report",
			mutate: func(t *testing.T, w *wire) { w.HCLReport = w.HCLReport[:hclRuntimeOffset+10] },
			reason: platform.ReasonMalformed, msg: "hcl_report: runtime claims end at",
		},
		{
			name:   "rejects an HCL report with non-zero bytes after its end",
			mutate: func(t *testing.T, w *wire) { w.HCLReport[len(w.HCLReport)-1] = 1 },
			reason: platform.ReasonMalformed, msg: "are not zero",
		},
		{
			name:   "rejects an HCL report whose size field disagrees with its request data",
			mutate: func(t *testing.T, w *wire) { binary.LittleEndian.PutUint32(w.HCLReport[8:], 2000) },
			reason: platform.ReasonMalformed, msg: "report size 2000",
		},
		{
			name:   "rejects an HCL report without the HCLA signature",
			mutate: func(t *testing.T, w *wire) { w.HCLReport[0] = 'X' },
			reason: platform.ReasonMalformed, msg: `signature is "XCLA"`,
		},
		{
			name: "rejects runtime claims without an HCLAkPub key",
			mutate: func(t *testing.T, w *wire) {
				flip(w.HCLReport, runtimeOffset(t, w.HCLReport, `"HCLAkPub"`)+8)
			},
			reason: platform.ReasonMalformed, msg: "no HCLAkPub key",
		},
		{
			name: "refuses an HCL report of a TDX VM",
			mutate: func(t *testing.T, w *wire) {
				binary.LittleEndian.PutUint32(w.HCLReport[hclRequestDataOffset+8:], hclReportTypeTDX)
			},
			reason: platform.ReasonMalformed, msg: "TDX HCL reports are not supported yet",
		},
		{
			name:   "rejects a malformed ak_public",
			mutate: func(t *testing.T, w *wire) { w.AKPublic = w.AKPublic[:20] },
			reason: platform.ReasonMalformed, msg: "ak_public:",
		},
		{
			name:   "rejects evidence without a VCEK",
			mutate: func(t *testing.T, w *wire) { w.VCEK = nil },
			reason: platform.ReasonMalformed, msg: "vcek is missing",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			q := base()
			if tc.quote != nil {
				tc.quote(&q)
			}
			ev, err := cvm.Build(q)
			if err != nil {
				t.Fatal(err)
			}
			if tc.mutate != nil {
				w := decodeWire(t, ev)
				tc.mutate(t, &w)
				if ev, err = json.Marshal(w); err != nil {
					t.Fatal(err)
				}
			}
			vv := v
			if tc.verifier != nil {
				vv = tc.verifier
			}
			opts := platform.Options{Binding: &testBinding}
			if tc.binding != nil {
				opts.Binding = tc.binding
			}
			if tc.noBind {
				opts.Binding = nil
			}
			c, err := vv.Verify(context.Background(), ev, opts)
			if got := platform.ReasonOf(err); got != tc.reason || (err == nil) != (tc.reason == "") {
				t.Fatalf("reason = %q (%v), want %q", got, err, tc.reason)
			}
			if err != nil {
				if !strings.Contains(err.Error(), tc.msg) || !strings.HasPrefix(err.Error(), "azurecvm: ") {
					t.Errorf("error %q does not start with azurecvm: and say %q", err, tc.msg)
				}
				return
			}
			m := cvm.Measurement()
			if c.Platform != platform.AzureCVM || c.Measurement != hex.EncodeToString(m[:]) || c.VMPL == nil || *c.VMPL != 0 || c.Debug {
				t.Errorf("claims = %+v", c)
			}
			want := testPCRs()
			if len(c.PCRs) != len(want) {
				t.Errorf("PCRs = %v, want %v", c.PCRs, want)
			}
			for i, v := range want {
				if c.PCRs[i] != v {
					t.Errorf("PCR%d = %q, want %q", i, c.PCRs[i], v)
				}
			}
			if c.Extra["hcl_user_data"] != strings.Repeat("00", 64) || !strings.Contains(c.Extra["vm_configuration"], `"secure-boot":true`) ||
				c.Extra["quote_extra_data"] != hex.EncodeToString(q.ExtraData) || c.Extra["product_line"] != "Milan" {
				t.Errorf("extra = %v", c.Extra)
			}
		})
	}
}

func mustVerifier(t testing.TB, cfg Config) *Verifier {
	t.Helper()
	v, err := NewVerifier(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestVerifyClaims(t *testing.T) {
	cvm := platformtest.NewAzureCVM(t)
	v := newTestVerifier(t, cvm)
	ctx := context.Background()

	t.Run("reports a debug SEV-SNP policy", func(t *testing.T) {
		ev, err := cvm.Build(platformtest.AzureCVMQuote{PCRs: testPCRs(), Debug: true})
		if err != nil {
			t.Fatal(err)
		}
		c, err := v.Verify(ctx, ev, platform.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if !c.Debug || *c.Policy&(1<<19) == 0 {
			t.Errorf("debug = %v, policy = %#x", c.Debug, *c.Policy)
		}
	})
	t.Run("passes the gpu object on in Extra", func(t *testing.T) {
		ev := cvm.Evidence(testPCRs(), &testBinding)
		var m map[string]json.RawMessage
		if err := json.Unmarshal(ev, &m); err != nil {
			t.Fatal(err)
		}
		m["gpu"] = json.RawMessage(`{ "evidence": "x" }`)
		ev, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		c, err := v.Verify(ctx, ev, platform.Options{Binding: &testBinding})
		if err != nil {
			t.Fatal(err)
		}
		if c.Extra["gpu"] != `{"evidence":"x"}` {
			t.Errorf("gpu = %q", c.Extra["gpu"])
		}
	})
	t.Run("rejects an unknown field", func(t *testing.T) {
		ev := cvm.Evidence(testPCRs(), &testBinding)
		ev = append(ev[:len(ev)-1], `,"nonce":"x"}`...)
		if _, err := v.Verify(ctx, ev, platform.Options{}); platform.ReasonOf(err) != platform.ReasonMalformed {
			t.Errorf("err = %v, want evidence_malformed", err)
		}
	})
	t.Run("rejects data after the evidence object", func(t *testing.T) {
		ev := append(cvm.Evidence(testPCRs(), nil), "{}"...)
		if _, err := v.Verify(ctx, ev, platform.Options{}); platform.ReasonOf(err) != platform.ReasonMalformed {
			t.Errorf("err = %v, want evidence_malformed", err)
		}
	})
	t.Run("says which platform it verifies", func(t *testing.T) {
		if v.Platform() != platform.AzureCVM {
			t.Errorf("Platform() = %q", v.Platform())
		}
	})
}

func TestNewVerifierRejectsBadRoots(t *testing.T) {
	if _, err := NewVerifier(Config{AMDRoots: []byte("not PEM")}); err == nil || !strings.HasPrefix(err.Error(), "azurecvm: ") {
		t.Errorf("err = %v, want an azurecvm error", err)
	}
}

// TestVerifyTDXSample refuses trustee's real HCL report of a TDX VM with a
// clear message.
func TestVerifyTDXSample(t *testing.T) {
	hcl, err := os.ReadFile("testdata/az-tdx-hcl-report.bin")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := parseHCLReport(hcl); err != errTDX {
		t.Fatalf("parseHCLReport = %v, want %v", err, errTDX)
	}
	s := loadAzureSamples(t)[0]
	w := s.evidence()
	w.HCLReport = hcl
	_, err = mustVerifier(t, Config{}).Verify(context.Background(), marshal(t, w), platform.Options{Now: s.at})
	if platform.ReasonOf(err) != platform.ReasonMalformed || err.Error() != "azurecvm: TDX HCL reports are not supported yet" {
		t.Errorf("err = %v, want evidence_malformed: azurecvm: TDX HCL reports are not supported yet", err)
	}
}
