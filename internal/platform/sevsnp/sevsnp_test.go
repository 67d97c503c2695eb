package sevsnp

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"math/big"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-sev-guest/verify/trust"

	"github.com/openccm/openccm/internal/errs"
	"github.com/openccm/openccm/internal/platform"
	"github.com/openccm/openccm/internal/platform/platformtest"
)

// Two fake AMD hierarchies, made once per test binary (RSA-4096 keys take
// a second or two).
var (
	testCA  = sync.OnceValues(platformtest.NewSNPCA)
	otherCA = sync.OnceValues(platformtest.NewSNPCA)
)

func mustCA(t testing.TB, f func() (*platformtest.SNPCA, error)) *platformtest.SNPCA {
	t.Helper()
	ca, err := f()
	if err != nil {
		t.Fatal(err)
	}
	return ca
}

// testNow is the pinned "now" of the fake-CA tests: the fake certificates
// are valid from an hour before they are made.
var testNow = time.Now()

func newTestVerifier(t testing.TB, p platform.Platform) *Verifier {
	t.Helper()
	v, err := NewVerifier(Config{
		Platform: p,
		Roots:    mustCA(t, testCA).RootsPEM(),
		Now:      func() time.Time { return testNow },
	})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

var (
	testBinding = sha256.Sum256([]byte("binding"))
	testChip    = [64]byte{0: 0xc1, 1: 0x1, 63: 0x9}
	otherChip   = [64]byte{0: 0xc2, 63: 0x7}
	// testTCB: bootloader 4, TEE 0, SNP 24, microcode 219 (Milan layout).
	testTCB = uint64(0xdb18000000000004)
)

func baseReport() platformtest.SNPReport {
	r := platformtest.SNPReport{
		VMPL:   0,
		ChipID: testChip,
		TCB:    testTCB,
	}
	for i := range r.Measurement {
		r.Measurement[i] = byte(i)
	}
	r.HostData[0] = 0xaa
	copy(r.ReportData[:32], testBinding[:])
	return r
}

// wireEvidence mirrors the evidence object, for tampering.
type wireEvidence struct {
	Report []byte          `json:"report"`
	VCEK   []byte          `json:"vcek"`
	ASK    []byte          `json:"ask,omitempty"`
	ARK    []byte          `json:"ark,omitempty"`
	GPU    json.RawMessage `json:"gpu,omitempty"`
}

func tamper(t testing.TB, ev []byte, f func(*wireEvidence)) []byte {
	t.Helper()
	var w wireEvidence
	if err := json.Unmarshal(ev, &w); err != nil {
		t.Fatal(err)
	}
	f(&w)
	out, err := json.Marshal(w)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func flip(off int) func(*wireEvidence) {
	return func(w *wireEvidence) { w.Report[off] ^= 0x01 }
}

type outcome struct {
	claims *platform.Claims
	reason string
	msg    string
}

func run(v *Verifier, ev []byte, opts platform.Options) outcome {
	c, err := v.Verify(context.Background(), ev, opts)
	if err == nil {
		return outcome{claims: c}
	}
	var e *errs.Error
	if !errors.As(err, &e) || e.Kind != errs.Rejected {
		return outcome{reason: "NOT A REJECTION", msg: err.Error()}
	}
	return outcome{reason: platform.ReasonOf(err), msg: e.Msg}
}

func TestVerify(t *testing.T) {
	ca := mustCA(t, testCA)
	other := mustCA(t, otherCA)
	later := testNow.Add(8 * 365 * 24 * time.Hour) // past the VCEK's 7 years
	mismatchedChip, mismatchedTCB := otherChip, testTCB-1

	tests := []struct {
		name     string
		platform platform.Platform
		ca       *platformtest.SNPCA // nil: testCA
		report   func(*platformtest.SNPReport)
		evidence func(t testing.TB, ev []byte) []byte
		opts     platform.Options
		// reason is the expected rejection reason, "" for acceptance.
		reason string
		msg    string // a substring of the rejection message
		check  func(t *testing.T, c *platform.Claims)
	}{
		{
			name:     "accepts generated sev_snp evidence carrying the binding",
			platform: platform.SEVSNP,
			opts:     platform.Options{Binding: &testBinding},
			check: func(t *testing.T, c *platform.Claims) {
				r := baseReport()
				want := &platform.Claims{
					Platform:    platform.SEVSNP,
					Measurement: hex.EncodeToString(r.Measurement[:]),
					VMPL:        new(int),
					HostData:    hex.EncodeToString(r.HostData[:]),
					Policy:      ptr(uint64(0x30000)),
					ChipID:      hex.EncodeToString(testChip[:]),
					TCB: map[string]uint8{
						"reported_bootloader": 4, "reported_tee": 0, "reported_snp": 24, "reported_microcode": 219,
						"current_bootloader": 4, "current_tee": 0, "current_snp": 24, "current_microcode": 219,
						"committed_bootloader": 4, "committed_tee": 0, "committed_snp": 24, "committed_microcode": 219,
						"launch_bootloader": 4, "launch_tee": 0, "launch_snp": 24, "launch_microcode": 219,
					},
					ReportData: hex.EncodeToString(r.ReportData[:]),
					Extra:      map[string]string{"report_version": "3", "guest_svn": "0", "product_line": "Milan"},
				}
				if !reflect.DeepEqual(c, want) {
					t.Errorf("claims:\n got %+v\nwant %+v", c, want)
				}
			},
		},
		{
			name:     "accepts generated aci evidence and names the aci platform",
			platform: platform.ACI,
			opts:     platform.Options{Binding: &testBinding},
			check: func(t *testing.T, c *platform.Claims) {
				if c.Platform != platform.ACI || c.HostData[:2] != "aa" {
					t.Errorf("claims = %+v, want platform aci and the host data", c)
				}
			},
		},
		{
			name:     "accepts evidence without ask and ark, which the server trusts already",
			platform: platform.SEVSNP,
			evidence: func(t testing.TB, ev []byte) []byte {
				return tamper(t, ev, func(w *wireEvidence) { w.ASK, w.ARK = nil, nil })
			},
			opts: platform.Options{Binding: &testBinding},
		},
		{
			name:     "accepts evidence without a binding to check (offline inspection)",
			platform: platform.SEVSNP,
			report:   func(r *platformtest.SNPReport) { r.ReportData[40] = 1 },
		},
		{
			name:     "reports a debug policy as Debug without rejecting it",
			platform: platform.SEVSNP,
			report:   func(r *platformtest.SNPReport) { r.Debug = true },
			opts:     platform.Options{Binding: &testBinding},
			check: func(t *testing.T, c *platform.Claims) {
				if !c.Debug || *c.Policy&(1<<19) == 0 {
					t.Errorf("Debug = %v, policy = %#x; want the debug bit reported", c.Debug, *c.Policy)
				}
			},
		},
		{
			name:     "reports a non-debug policy as not Debug",
			platform: platform.SEVSNP,
			report:   func(r *platformtest.SNPReport) { r.Policy = 0x3001f },
			check: func(t *testing.T, c *platform.Claims) {
				if c.Debug || *c.Policy != 0x3001f {
					t.Errorf("Debug = %v, policy = %#x; want false, 0x3001f", c.Debug, *c.Policy)
				}
			},
		},
		{
			name:     "passes the gpu object on in Extra",
			platform: platform.SEVSNP,
			evidence: func(t testing.TB, ev []byte) []byte {
				return tamper(t, ev, func(w *wireEvidence) { w.GPU = json.RawMessage(`{ "arch": "HOPPER" }`) })
			},
			check: func(t *testing.T, c *platform.Claims) {
				if c.Extra["gpu"] != `{"arch":"HOPPER"}` {
					t.Errorf("Extra[gpu] = %q", c.Extra["gpu"])
				}
			},
		},
		{
			name:     "reports the VMPL",
			platform: platform.SEVSNP,
			report:   func(r *platformtest.SNPReport) { r.VMPL = 2 },
			check: func(t *testing.T, c *platform.Claims) {
				if *c.VMPL != 2 {
					t.Errorf("VMPL = %d, want 2", *c.VMPL)
				}
			},
		},
		{
			name:     "rejects a report signed under a root it does not trust",
			platform: platform.SEVSNP,
			ca:       other,
			reason:   platform.ReasonSignatureInvalid,
			msg:      "sevsnp: VCEK does not chain to a trusted AMD root",
		},
		{
			name:     "rejects a report whose signature has one flipped byte",
			platform: platform.SEVSNP,
			evidence: func(t testing.TB, ev []byte) []byte { return tamper(t, ev, flip(0x2A0+5)) },
			reason:   platform.ReasonSignatureInvalid,
			msg:      "sevsnp: report signature does not verify with VCEK",
		},
		{
			name:     "rejects a report whose measurement has one flipped byte",
			platform: platform.SEVSNP,
			evidence: func(t testing.TB, ev []byte) []byte { return tamper(t, ev, flip(0x90)) },
			reason:   platform.ReasonSignatureInvalid,
			msg:      "sevsnp: report signature does not verify with VCEK",
		},
		{
			name:     "rejects a report signed by another VCEK than the one given",
			platform: platform.SEVSNP,
			evidence: func(t testing.TB, ev []byte) []byte {
				r := baseReport()
				r.ChipID = otherChip
				ev2, err := ca.Report(r)
				if err != nil {
					t.Fatal(err)
				}
				var w2 wireEvidence
				if err := json.Unmarshal(ev2, &w2); err != nil {
					t.Fatal(err)
				}
				return tamper(t, ev, func(w *wireEvidence) { w.VCEK = w2.VCEK })
			},
			reason: platform.ReasonSignatureInvalid,
			msg:    "sevsnp: report signature does not verify with VCEK",
		},
		{
			name:     "rejects report_data[0:32] that is not the binding",
			platform: platform.SEVSNP,
			report:   func(r *platformtest.SNPReport) { r.ReportData[0] ^= 0xff },
			opts:     platform.Options{Binding: &testBinding},
			reason:   platform.ReasonBindingMismatch,
			msg:      "report_data[0:32]",
		},
		{
			name:     "rejects report_data[32:64] that is not zero",
			platform: platform.SEVSNP,
			report:   func(r *platformtest.SNPReport) { r.ReportData[63] = 1 },
			opts:     platform.Options{Binding: &testBinding},
			reason:   platform.ReasonBindingMismatch,
			msg:      "report_data[32:64]",
		},
		{
			name:     "rejects a VCEK that expired before now",
			platform: platform.SEVSNP,
			report:   func(r *platformtest.SNPReport) { r.VCEKExpired = true },
			reason:   platform.ReasonSignatureInvalid,
			msg:      "sevsnp: VCEK does not chain to a trusted AMD root",
		},
		{
			name:     "rejects a VCEK that was valid when cached but has expired at now",
			platform: platform.SEVSNP,
			opts:     platform.Options{Now: later},
			reason:   platform.ReasonSignatureInvalid,
			msg:      "sevsnp: VCEK does not chain to a trusted AMD root",
		},
		{
			name:     "rejects a VCEK that is not valid yet at now",
			platform: platform.SEVSNP,
			opts:     platform.Options{Now: testNow.Add(-48 * time.Hour)},
			reason:   platform.ReasonSignatureInvalid,
			msg:      "sevsnp: VCEK does not chain to a trusted AMD root",
		},
		{
			name:     "rejects a VCEK issued for another chip",
			platform: platform.SEVSNP,
			report:   func(r *platformtest.SNPReport) { r.VCEKChipID = &mismatchedChip },
			reason:   platform.ReasonSignatureInvalid,
			msg:      "VCEK is for another chip",
		},
		{
			name:     "rejects a VCEK issued for another TCB",
			platform: platform.SEVSNP,
			report:   func(r *platformtest.SNPReport) { r.VCEKTCB = &mismatchedTCB },
			reason:   platform.ReasonSignatureInvalid,
			msg:      "REPORTED_TCB",
		},
		{
			name:     "rejects a report of the wrong length",
			platform: platform.SEVSNP,
			evidence: func(t testing.TB, ev []byte) []byte {
				return tamper(t, ev, func(w *wireEvidence) { w.Report = w.Report[:1183] })
			},
			reason: platform.ReasonMalformed,
			msg:    "1183 bytes",
		},
		{
			name:     "rejects a report with a non-zero reserved field",
			platform: platform.SEVSNP,
			evidence: func(t testing.TB, ev []byte) []byte { return tamper(t, ev, flip(0x19F)) },
			reason:   platform.ReasonMalformed,
		},
		{
			name:     "rejects an unsupported report version",
			platform: platform.SEVSNP,
			evidence: func(t testing.TB, ev []byte) []byte {
				return tamper(t, ev, func(w *wireEvidence) { w.Report[0] = 1 })
			},
			reason: platform.ReasonMalformed,
			msg:    "version",
		},
		{
			name:     "rejects a report that is not base64",
			platform: platform.SEVSNP,
			evidence: func(t testing.TB, ev []byte) []byte {
				return []byte(strings.Replace(string(ev), `"report":"`, `"report":"!!`, 1))
			},
			reason: platform.ReasonMalformed,
		},
		{
			name:     "rejects evidence with an unknown field",
			platform: platform.SEVSNP,
			evidence: func(t testing.TB, ev []byte) []byte {
				return []byte(strings.Replace(string(ev), `{`, `{"extra":1,`, 1))
			},
			reason: platform.ReasonMalformed,
			msg:    "unknown field",
		},
		{
			name:     "rejects evidence followed by more data",
			platform: platform.SEVSNP,
			evidence: func(t testing.TB, ev []byte) []byte { return append(ev, []byte(` {}`)...) },
			reason:   platform.ReasonMalformed,
		},
		{
			name:     "rejects evidence without a VCEK",
			platform: platform.SEVSNP,
			evidence: func(t testing.TB, ev []byte) []byte {
				return tamper(t, ev, func(w *wireEvidence) { w.VCEK = nil })
			},
			reason: platform.ReasonMalformed,
			msg:    "vcek is missing",
		},
		{
			name:     "rejects a VCEK that is not a certificate",
			platform: platform.SEVSNP,
			evidence: func(t testing.TB, ev []byte) []byte {
				return tamper(t, ev, func(w *wireEvidence) { w.VCEK = []byte("not DER") })
			},
			reason: platform.ReasonMalformed,
		},
		{
			name:     "ignores the evidence's ask and ark: trust comes from the configured roots",
			platform: platform.SEVSNP,
			evidence: func(t testing.TB, ev []byte) []byte {
				return tamper(t, ev, func(w *wireEvidence) { w.ASK, w.ARK = other.ASK().Raw, other.ARK().Raw })
			},
		},
		{
			name:     "rejects evidence that is not a JSON object",
			platform: platform.SEVSNP,
			evidence: func(testing.TB, []byte) []byte { return []byte(`"report"`) },
			reason:   platform.ReasonMalformed,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			signer := ca
			if tc.ca != nil {
				signer = tc.ca
			}
			r := baseReport()
			if tc.report != nil {
				tc.report(&r)
			}
			ev, err := signer.Report(r)
			if err != nil {
				t.Fatal(err)
			}
			if tc.evidence != nil {
				ev = tc.evidence(t, ev)
			}

			// Cold, then again on the same Verifier (a hit when the first
			// run cached the VCEK).
			cold := newTestVerifier(t, tc.platform)
			first := run(cold, ev, tc.opts)
			second := run(cold, ev, tc.opts)

			// Warm: the same VCEK verified first for a good report (at the
			// clock's now), so that this evidence meets a cached chain.
			warm := newTestVerifier(t, tc.platform)
			good := platformtest.SNPReport{ChipID: r.ChipID, TCB: r.TCB}
			if r.VCEKChipID != nil {
				good.ChipID = *r.VCEKChipID
			}
			if r.VCEKTCB != nil {
				good.TCB = *r.VCEKTCB
			}
			goodEv, err := signer.Report(good)
			if err != nil {
				t.Fatal(err)
			}
			run(warm, goodEv, platform.Options{})
			hits := warm.cache.hits
			third := run(warm, ev, tc.opts)
			warmHit := warm.cache.hits > hits

			if tc.reason == "" {
				if first.reason != "" {
					t.Fatalf("rejected: %s (%s)", first.reason, first.msg)
				}
				if tc.check != nil {
					tc.check(t, first.claims)
				}
				if cold.cache.hits != 1 || !warmHit {
					t.Errorf("cache hits: cold verifier %d (want 1), warm verifier hit = %v (want true)", cold.cache.hits, warmHit)
				}
			} else {
				if first.reason != tc.reason {
					t.Fatalf("reason = %q (%s), want %q", first.reason, first.msg, tc.reason)
				}
				if !strings.Contains(first.msg, tc.msg) {
					t.Errorf("message = %q, want it to contain %q", first.msg, tc.msg)
				}
			}
			if !reflect.DeepEqual(second, first) {
				t.Errorf("second run on the same verifier differs:\n got %+v\nwant %+v", second, first)
			}
			if !reflect.DeepEqual(third, first) {
				t.Errorf("run on a warm cache differs:\n got %+v\nwant %+v", third, first)
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

func TestNewVerifier(t *testing.T) {
	ca := mustCA(t, testCA)
	roots := ca.RootsPEM()
	ark, ask := pemBlocks(roots)
	tests := []struct {
		name    string
		cfg     Config
		wantErr string
	}{
		{"accepts sev_snp with no extra roots", Config{Platform: platform.SEVSNP}, ""},
		{"accepts aci with extra roots", Config{Platform: platform.ACI, Roots: roots}, ""},
		{"accepts the ASK before the ARK", Config{Platform: platform.SEVSNP, Roots: append([]byte(ask), ark...)}, ""},
		{"refuses another platform", Config{Platform: platform.Nitro}, "platform"},
		{"refuses an ARK without its ASK", Config{Platform: platform.SEVSNP, Roots: []byte(ark)}, "without an ASK"},
		{"refuses an ASK without its ARK", Config{Platform: platform.SEVSNP, Roots: []byte(ask)}, "not signed by any ARK"},
		{"refuses data that is not PEM", Config{Platform: platform.SEVSNP, Roots: []byte("roots")}, "not PEM"},
		{"refuses a PEM key among the roots", Config{Platform: platform.SEVSNP, Roots: append(roots, "-----BEGIN PRIVATE KEY-----\nAA==\n-----END PRIVATE KEY-----\n"...)}, "PRIVATE KEY"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewVerifier(tc.cfg)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("NewVerifier: %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("NewVerifier error = %v, want one containing %q", err, tc.wantErr)
			}
		})
	}
}

// pemBlocks splits RootsPEM's output into its ARK and ASK blocks.
func pemBlocks(b []byte) (ark, ask string) {
	s := string(b)
	i := strings.Index(s[1:], "-----BEGIN") + 1
	return s[:i], s[i:]
}

func TestCacheEvictsWhenFull(t *testing.T) {
	c := newVCEKCache(2)
	now := time.Unix(1000, 0)
	entry := func(notAfter time.Time) *verifiedVCEK {
		return &verifiedVCEK{notBefore: time.Unix(0, 0), notAfter: notAfter}
	}
	c.put(cacheKey{vcek: [32]byte{1}}, entry(time.Unix(500, 0)), now) // expired
	c.put(cacheKey{vcek: [32]byte{2}}, entry(time.Unix(5000, 0)), now)
	c.put(cacheKey{vcek: [32]byte{3}}, entry(time.Unix(5000, 0)), now)
	if len(c.m) != 2 || c.get(cacheKey{vcek: [32]byte{3}}, now) == nil || c.get(cacheKey{vcek: [32]byte{2}}, now) == nil {
		t.Errorf("cache holds %d entries; want the two unexpired ones", len(c.m))
	}
	c.put(cacheKey{vcek: [32]byte{4}}, entry(time.Unix(5000, 0)), now)
	if len(c.m) != 2 || c.get(cacheKey{vcek: [32]byte{4}}, now) == nil {
		t.Errorf("cache holds %d entries; want 2 including the newest", len(c.m))
	}
	if c.get(cacheKey{vcek: [32]byte{4}}, time.Unix(5001, 0)) != nil {
		t.Error("get returned an entry after its chain expired")
	}
}

// A VCEK whose DER ends with another certificate in PEM (here as its
// signature, which nobody checks: the chain check reads the VCEK anew) would
// be read as two different certificates: crypto/x509 sees the outer one,
// go-sev-guest's trust.ParseCert the inner one. The outer one, with the
// genuine VCEK's key but extensions of the sender's choosing, must not be
// used on the strength of the inner one's chain.
func TestVerifyRejectsAVCEKSmugglingAnother(t *testing.T) {
	ca := mustCA(t, testCA)
	r := baseReport()
	tcb := testTCB - 1 // the outer certificate will claim the report's TCB
	r.VCEKTCB = &tcb
	raw, genuine, err := ca.SignReport(r)
	if err != nil {
		t.Fatal(err)
	}
	exts, err := platformtest.SNPVCEKExtensions(r.ChipID, r.TCB)
	if err != nil {
		t.Fatal(err)
	}
	parentKey, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	parent := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: ca.ASK().Subject, NotAfter: testNow.Add(time.Hour), BasicConstraintsValid: true, IsCA: true}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: genuine.Subject, NotBefore: genuine.NotBefore, NotAfter: genuine.NotAfter, ExtraExtensions: exts}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, genuine.PublicKey, parentKey)
	if err != nil {
		t.Fatal(err)
	}
	var outer struct {
		TBS, Algorithm asn1.RawValue
		Signature      asn1.BitString
	}
	if _, err := asn1.Unmarshal(der, &outer); err != nil {
		t.Fatal(err)
	}
	smuggled := append([]byte("\n"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: genuine.Raw})...)
	outer.Signature = asn1.BitString{Bytes: smuggled, BitLength: 8 * len(smuggled)}
	if der, err = asn1.Marshal(outer); err != nil {
		t.Fatal(err)
	}
	if c, err := x509.ParseCertificate(der); err != nil || !c.PublicKey.(*ecdsa.PublicKey).Equal(genuine.PublicKey) {
		t.Fatalf("the outer certificate does not parse with the genuine key: %v", err)
	}
	if c, err := trust.ParseCert(der); err != nil || !bytes.Equal(c.Raw, genuine.Raw) {
		t.Fatalf("trust.ParseCert does not read the inner certificate: %v", err)
	}
	ev, err := json.Marshal(wireEvidence{Report: raw, VCEK: der})
	if err != nil {
		t.Fatal(err)
	}
	got := run(newTestVerifier(t, platform.SEVSNP), ev, platform.Options{})
	if got.reason != platform.ReasonMalformed {
		t.Errorf("reason = %q (%s), want %q", got.reason, got.msg, platform.ReasonMalformed)
	}
}

func TestVerifyConcurrently(t *testing.T) {
	ca := mustCA(t, testCA)
	v := newTestVerifier(t, platform.SEVSNP)
	var evs [][]byte
	for i := range 4 {
		r := baseReport()
		r.ChipID[1] = byte(i) // four machines, four VCEKs
		ev, err := ca.Report(r)
		if err != nil {
			t.Fatal(err)
		}
		evs = append(evs, ev)
	}
	var wg sync.WaitGroup
	errc := make(chan error, 32)
	for i := range 32 {
		wg.Go(func() {
			if _, err := v.Verify(context.Background(), evs[i%4], platform.Options{Binding: &testBinding}); err != nil {
				errc <- err
			}
		})
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Error(err)
	}
}
