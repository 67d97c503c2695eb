package sgx

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/openccm/openccm/internal/platform"
	"github.com/openccm/openccm/internal/platform/platformtest"
)

var testBinding = [32]byte{0: 0x0b, 1: 0x1d, 31: 0xff}

func testReport() platformtest.SGXReport {
	r := platformtest.SGXReport{ISVProdID: 2, ISVSVN: 5}
	copy(r.MREnclave[:], "openccm test enclave measurement")
	copy(r.MRSigner[:], "openccm test enclave signer key.")
	return r
}

func newTestVerifier(t testing.TB, cas ...*platformtest.SGXCA) *DCAPVerifier {
	t.Helper()
	var roots [][]byte
	for _, ca := range cas {
		roots = append(roots, ca.RootsPEM())
	}
	v, err := NewDCAPVerifier(DCAPConfig{Roots: roots})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func mustCollateral(t testing.TB, b []byte) *Collateral {
	t.Helper()
	c, err := decodeCollateral(b)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestVerifyFakeQuotes(t *testing.T) {
	ca := platformtest.NewSGX(t)
	v := newTestVerifier(t, ca)
	ctx := context.Background()
	quote := ca.Quote(testReport(), testBinding)
	opts := platform.Options{Binding: &testBinding}

	t.Run("accepts a quote with its binding and reports the enclave's identity", func(t *testing.T) {
		c, err := v.Verify(ctx, ca.Evidence(quote, nil), opts)
		if err != nil {
			t.Fatal(err)
		}
		want := testReport()
		if c.Platform != platform.SGX || c.MREnclave != hexOf(want.MREnclave[:]) || c.MRSigner != hexOf(want.MRSigner[:]) ||
			*c.ISVProdID != 2 || *c.ISVSVN != 5 || c.Debug || c.TCBStatus != TCBStatusUnknown {
			t.Errorf("claims %+v", c)
		}
		if c.ReportData != hexOf(testBinding[:])+strings.Repeat("0", 64) {
			t.Errorf("report data %s", c.ReportData)
		}
	})
	t.Run("accepts the quote in URL-safe unpadded base64", func(t *testing.T) {
		ev, _ := json.Marshal(map[string]string{"quote": base64.RawURLEncoding.EncodeToString(quote)})
		if _, err := v.Verify(ctx, ev, opts); err != nil {
			t.Error(err)
		}
	})
	t.Run("reports a debug enclave without refusing it", func(t *testing.T) {
		r := testReport()
		r.Debug = true
		c, err := v.VerifyQuote(ctx, ca.Quote(r, testBinding), nil, opts)
		if err != nil {
			t.Fatal(err)
		}
		if !c.Debug {
			t.Error("Debug is false for a quote with the DEBUG attribute")
		}
	})
	t.Run("accepts any report data when no binding is asked for", func(t *testing.T) {
		r := testReport()
		r.ReportData[63] = 1
		if _, err := v.VerifyQuote(ctx, ca.SignQuote(r), nil, platform.Options{}); err != nil {
			t.Error(err)
		}
	})

	tests := []struct {
		name   string
		quote  func() []byte
		opts   platform.Options
		reason string
	}{
		{"rejects a quote carrying another binding", func() []byte { return ca.Quote(testReport(), [32]byte{1}) }, opts, platform.ReasonBindingMismatch},
		{"rejects a quote whose report_data[32:64] is not zero", func() []byte {
			r := testReport()
			copy(r.ReportData[:], testBinding[:])
			r.ReportData[40] = 1
			return ca.SignQuote(r)
		}, opts, platform.ReasonBindingMismatch},
		{"rejects a quote whose QE report does not vouch for the attestation key", func() []byte {
			r := testReport()
			r.BadQEReportData = true
			return ca.Quote(r, testBinding)
		}, opts, platform.ReasonSignatureInvalid},
		{"rejects a quote from a quoting enclave that is not Intel's", func() []byte {
			r := testReport()
			r.QEMRSigner = &[32]byte{1}
			return ca.Quote(r, testBinding)
		}, opts, platform.ReasonSignatureInvalid},
		{"rejects a quote whose PCK chain does not reach a trusted root", func() []byte {
			return platformtest.NewSGX(t).Quote(testReport(), testBinding)
		}, opts, platform.ReasonSignatureInvalid},
		{"rejects a quote whose PCK certificate expired at Now", func() []byte { return quote },
			platform.Options{Binding: &testBinding, Now: ca.PCK().NotAfter.Add(time.Second)}, platform.ReasonSignatureInvalid},
		{"rejects a quote whose PCK certificate is not valid yet at Now", func() []byte { return quote },
			platform.Options{Binding: &testBinding, Now: ca.PCK().NotBefore.Add(-time.Second)}, platform.ReasonSignatureInvalid},
		{"rejects a truncated quote", func() []byte { return quote[:len(quote)-1] }, opts, platform.ReasonMalformed},
		{"rejects a quote with a byte after it", func() []byte { return append(bytes.Clone(quote), 0) }, opts, platform.ReasonMalformed},
		{"rejects a quote whose chain is not PEM", func() []byte { return replaceChain(quote, []byte("not a certificate")) }, opts, platform.ReasonMalformed},
		{"rejects a quote whose chain starts with a CA certificate", func() []byte {
			chain := ca.PCKChainPEM()
			i := bytes.Index(chain[1:], []byte("-----BEGIN")) + 1
			return replaceChain(quote, chain[i:])
		}, opts, platform.ReasonSignatureInvalid},
		{"rejects a quote whose chain lacks the PCK Platform CA", func() []byte {
			chain := ca.PCKChainPEM()
			i := bytes.Index(chain[1:], []byte("-----BEGIN")) + 1
			return replaceChain(quote, chain[:i])
		}, opts, platform.ReasonSignatureInvalid},
		{"rejects a quote whose PCK certificate is another platform's", func() []byte {
			other := ca.WithPlatform(ca.Platform())
			return replaceChain(quote, other.PCKChainPEM())
		}, opts, platform.ReasonSignatureInvalid},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := v.Verify(ctx, ca.Evidence(tc.quote(), nil), tc.opts)
			wantReason(t, err, tc.reason)
		})
	}

	t.Run("rejects a quote with one byte flipped in any signed or signing part", func(t *testing.T) {
		sd := quoteSigDataOffset
		for name, off := range map[string]int{
			"header (QE SVN)":     hdrQESVN,
			"header (user data)":  hdrUserData,
			"report body":         quoteHeaderSize + rbISVSVN,
			"report data":         quoteHeaderSize + rbReportData + 40,
			"quote signature r":   sd + 1,
			"quote signature s":   sd + 40,
			"attestation key":     sd + ecdsaSigSize + 10,
			"QE report":           sd + 2*ecdsaSigSize + rbISVSVN,
			"QE report data":      sd + 2*ecdsaSigSize + rbReportData,
			"QE report signature": sd + 2*ecdsaSigSize + reportBodySize + 33,
			"QE auth data":        sd + qeAuthDataLenOffset + 2 + 5,
		} {
			q := bytes.Clone(quote)
			q[off] ^= 0x80
			_, err := v.VerifyQuote(ctx, q, nil, platform.Options{})
			if platform.ReasonOf(err) != platform.ReasonSignatureInvalid {
				t.Errorf("%s flipped: %v, want %s", name, err, platform.ReasonSignatureInvalid)
			}
		}
	})
	t.Run("accepts a PCK chain with the NUL terminator Intel's library may add", func(t *testing.T) {
		q := replaceChain(quote, append(ca.PCKChainPEM(), 0))
		if _, err := v.VerifyQuote(ctx, q, nil, opts); err != nil {
			t.Error(err)
		}
	})
	t.Run("rejects malformed evidence objects", func(t *testing.T) {
		b64 := base64.StdEncoding.EncodeToString(quote)
		for _, ev := range []string{
			``, `[]`, `{}`, `{"quote": ""}`, `{"quote": "!!"}`, `{"quote": 1}`,
			`{"quote": "` + b64 + `", "extra": 1}`,
			`{"quote": "` + b64 + `"} {}`,
			`{"quote": "` + b64 + `", "collateral": {}}`,
			`{"quote": "` + b64 + `", "collateral": {"tcb_info": "x"}}`,
			`{"quote": "` + b64 + `", "collateral": "x"}`,
			`{"quote": "` + strings.Repeat("A", maxEvidence) + `"}`,
		} {
			_, err := v.Verify(ctx, json.RawMessage(ev), opts)
			if platform.ReasonOf(err) != platform.ReasonMalformed {
				t.Errorf("%.80s: %v, want %s", ev, err, platform.ReasonMalformed)
			}
		}
		if _, err := v.Verify(ctx, json.RawMessage(`{"quote": "`+b64+`", "collateral": null}`), opts); err != nil {
			t.Errorf("null collateral: %v", err)
		}
	})
}

func TestVerifyFakeCollateral(t *testing.T) {
	ca := platformtest.NewSGX(t)
	v := newTestVerifier(t, ca)
	ctx := context.Background()
	quote := ca.Quote(testReport(), testBinding)
	p := ca.Platform()
	higher := p.TCB
	higher[1]++
	verify := func(col []byte, opts platform.Options) (*platform.Claims, error) {
		return v.Verify(ctx, ca.Evidence(quote, col), opts)
	}

	t.Run("TCB status follows Intel's level selection and QE combination", func(t *testing.T) {
		tests := []struct {
			name                     string
			levels                   []platformtest.SGXTCBLevel
			qeLevels                 []platformtest.SGXQELevel
			status, platform, qeStat string
		}{
			{name: "up to date", status: TCBUpToDate, platform: TCBUpToDate, qeStat: TCBUpToDate},
			{
				name: "the platform is below the newest level",
				levels: []platformtest.SGXTCBLevel{
					{TCB: higher, PCESVN: p.PCESVN, Status: TCBUpToDate},
					{TCB: p.TCB, PCESVN: p.PCESVN, Status: TCBOutOfDate, Advisories: []string{"INTEL-SA-00615", "INTEL-SA-00219"}},
				},
				status: TCBOutOfDate, platform: TCBOutOfDate, qeStat: TCBUpToDate,
			},
			{
				name: "the platform's PCESVN is below the newest level",
				levels: []platformtest.SGXTCBLevel{
					{TCB: p.TCB, PCESVN: p.PCESVN + 1, Status: TCBUpToDate},
					{TCB: p.TCB, PCESVN: p.PCESVN, Status: TCBSWHardeningNeeded},
				},
				status: TCBSWHardeningNeeded, platform: TCBSWHardeningNeeded, qeStat: TCBUpToDate,
			},
			{
				name:   "the platform's TCB is revoked",
				levels: []platformtest.SGXTCBLevel{{TCB: p.TCB, PCESVN: p.PCESVN, Status: TCBRevoked}},
				status: TCBRevoked, platform: TCBRevoked, qeStat: TCBUpToDate,
			},
			{
				name:     "an out-of-date QE makes a configuration-needed platform OutOfDateConfigurationNeeded",
				levels:   []platformtest.SGXTCBLevel{{TCB: p.TCB, PCESVN: p.PCESVN, Status: TCBConfigurationNeeded}},
				qeLevels: []platformtest.SGXQELevel{{ISVSVN: platformtest.SGXDefaultQESVN + 1, Status: TCBUpToDate}, {ISVSVN: 1, Status: TCBOutOfDate}},
				status:   TCBOutOfDateConfigurationNeeded, platform: TCBConfigurationNeeded, qeStat: TCBOutOfDate,
			},
			{
				name:     "a revoked QE revokes the quote",
				qeLevels: []platformtest.SGXQELevel{{ISVSVN: platformtest.SGXDefaultQESVN, Status: TCBRevoked}},
				status:   TCBRevoked, platform: TCBUpToDate, qeStat: TCBRevoked,
			},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				col := ca.Collateral(platformtest.SGXCollateral{TCBLevels: tc.levels, QELevels: tc.qeLevels})
				c, err := verify(col, platform.Options{Binding: &testBinding})
				if err != nil {
					t.Fatal(err)
				}
				if c.TCBStatus != tc.status || c.Extra["platform_tcb_status"] != tc.platform || c.Extra["qe_tcb_status"] != tc.qeStat {
					t.Errorf("status %q (platform %q, QE %q), want %q (%q, %q)", c.TCBStatus,
						c.Extra["platform_tcb_status"], c.Extra["qe_tcb_status"], tc.status, tc.platform, tc.qeStat)
				}
				if len(tc.levels) == 2 && tc.levels[1].Advisories != nil && c.Extra["advisory_ids"] != "INTEL-SA-00219,INTEL-SA-00615" {
					t.Errorf("advisory IDs %q", c.Extra["advisory_ids"])
				}
			})
		}
	})
	t.Run("accepts TCB info version 2 (PCS API v3)", func(t *testing.T) {
		c, err := verify(ca.Collateral(platformtest.SGXCollateral{TCBInfoVersion: 2}), platform.Options{})
		if err != nil || c.TCBStatus != TCBUpToDate {
			t.Errorf("claims %+v, %v", c, err)
		}
	})
	t.Run("accepts issuer chains URL-encoded as PCS's headers carry them", func(t *testing.T) {
		col := mustCollateral(t, ca.Collateral(platformtest.SGXCollateral{}))
		col.TCBInfoIssuerChain = url.PathEscape(col.TCBInfoIssuerChain)
		col.QEIdentityIssuerChain = url.QueryEscape(col.QEIdentityIssuerChain)
		if _, err := v.VerifyQuote(ctx, quote, col, platform.Options{}); err != nil {
			t.Error(err)
		}
	})

	other := platformtest.NewSGX(t)
	wrongFMSPC := [6]byte{0, 0x60, 0x6a, 0, 0, 0}
	nextUpdate := time.Now().Add(time.Hour).Truncate(time.Second)
	tests := []struct {
		name   string
		col    func() []byte
		opts   platform.Options
		reason string
	}{
		{"rejects TCB info for another FMSPC", func() []byte {
			return ca.Collateral(platformtest.SGXCollateral{FMSPC: &wrongFMSPC})
		}, platform.Options{}, platform.ReasonSignatureInvalid},
		{"rejects collateral whose nextUpdate has passed at Now", func() []byte {
			return ca.Collateral(platformtest.SGXCollateral{IssueDate: nextUpdate.Add(-time.Hour), NextUpdate: nextUpdate})
		}, platform.Options{Now: nextUpdate.Add(time.Second)}, platform.ReasonSignatureInvalid},
		{"rejects collateral signed under another root", func() []byte {
			return other.Collateral(platformtest.SGXCollateral{})
		}, platform.Options{}, platform.ReasonSignatureInvalid},
		{"rejects TCB info whose signed member was changed", func() []byte {
			return editCollateral(t, ca.Collateral(platformtest.SGXCollateral{}), func(c *Collateral) {
				c.TCBInfo = strings.Replace(c.TCBInfo, `"tcbEvaluationDataNumber":19`, `"tcbEvaluationDataNumber":20`, 1)
			})
		}, platform.Options{}, platform.ReasonSignatureInvalid},
		{"rejects TCB info whose signature was changed", func() []byte {
			return editCollateral(t, ca.Collateral(platformtest.SGXCollateral{}), func(c *Collateral) {
				i := strings.Index(c.TCBInfo, `"signature":"`) + len(`"signature":"`)
				c.TCBInfo = c.TCBInfo[:i] + flipHex(c.TCBInfo[i]) + c.TCBInfo[i+1:]
			})
		}, platform.Options{}, platform.ReasonSignatureInvalid},
		{"rejects a QE identity whose signature was changed", func() []byte {
			return editCollateral(t, ca.Collateral(platformtest.SGXCollateral{}), func(c *Collateral) {
				i := strings.LastIndex(c.QEIdentity, `"`) - 1
				c.QEIdentity = c.QEIdentity[:i] + flipHex(c.QEIdentity[i]) + c.QEIdentity[i+1:]
			})
		}, platform.Options{}, platform.ReasonSignatureInvalid},
		{"rejects a QE identity of another quoting enclave", func() []byte {
			return ca.Collateral(platformtest.SGXCollateral{QEMRSigner: &[32]byte{9}})
		}, platform.Options{}, platform.ReasonSignatureInvalid},
		{"rejects a platform below every TCB level", func() []byte {
			return ca.Collateral(platformtest.SGXCollateral{TCBLevels: []platformtest.SGXTCBLevel{{TCB: higher, PCESVN: p.PCESVN, Status: TCBUpToDate}}})
		}, platform.Options{}, platform.ReasonSignatureInvalid},
		{"rejects a QE below every QE identity level", func() []byte {
			return ca.Collateral(platformtest.SGXCollateral{QELevels: []platformtest.SGXQELevel{{ISVSVN: platformtest.SGXDefaultQESVN + 1, Status: TCBUpToDate}}})
		}, platform.Options{}, platform.ReasonSignatureInvalid},
		{"rejects TCB info with a status Intel does not define", func() []byte {
			return ca.Collateral(platformtest.SGXCollateral{TCBLevels: []platformtest.SGXTCBLevel{{TCB: p.TCB, PCESVN: p.PCESVN, Status: "Fine"}}})
		}, platform.Options{}, platform.ReasonMalformed},
		{"rejects a TCB info body that is not JSON", func() []byte {
			return editCollateral(t, ca.Collateral(platformtest.SGXCollateral{}), func(c *Collateral) { c.TCBInfo = "{" })
		}, platform.Options{}, platform.ReasonMalformed},
		{"rejects a TCB info signed by a PCK certificate instead of a TCB Signing one", func() []byte {
			return editCollateral(t, ca.Collateral(platformtest.SGXCollateral{}), func(c *Collateral) { c.TCBInfoIssuerChain = string(ca.PCKChainPEM()) })
		}, platform.Options{}, platform.ReasonSignatureInvalid},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := verify(tc.col(), tc.opts)
			wantReason(t, err, tc.reason)
		})
	}
}

func TestCaches(t *testing.T) {
	ca := platformtest.NewSGX(t)
	ctx := context.Background()
	quote := ca.Quote(testReport(), testBinding)
	col := mustCollateral(t, ca.Collateral(platformtest.SGXCollateral{}))

	t.Run("verifies a PCK chain and collateral once, then from the cache", func(t *testing.T) {
		v := newTestVerifier(t, ca)
		for range 3 {
			if _, err := v.VerifyQuote(ctx, quote, col, platform.Options{}); err != nil {
				t.Fatal(err)
			}
		}
		if v.pcks.hits != 2 || v.tcbInfos.hits != 2 || v.qeIDs.hits != 2 {
			t.Errorf("cache hits: PCK %d, TCB info %d, QE identity %d; want 2 each", v.pcks.hits, v.tcbInfos.hits, v.qeIDs.hits)
		}
	})
	t.Run("a cached chain is not used outside its validity", func(t *testing.T) {
		v := newTestVerifier(t, ca)
		if _, err := v.VerifyQuote(ctx, quote, nil, platform.Options{}); err != nil {
			t.Fatal(err)
		}
		_, err := v.VerifyQuote(ctx, quote, nil, platform.Options{Now: ca.PCK().NotAfter.Add(time.Minute)})
		wantReason(t, err, platform.ReasonSignatureInvalid)
	})
	t.Run("a cached chain still needs the quote's own signatures", func(t *testing.T) {
		v := newTestVerifier(t, ca)
		if _, err := v.VerifyQuote(ctx, quote, nil, platform.Options{}); err != nil {
			t.Fatal(err)
		}
		q := bytes.Clone(quote)
		q[quoteSigDataOffset+2*ecdsaSigSize+reportBodySize+1] ^= 1 // QE report signature
		_, err := v.VerifyQuote(ctx, q, nil, platform.Options{})
		wantReason(t, err, platform.ReasonSignatureInvalid)
		if v.pcks.hits != 1 {
			t.Errorf("PCK cache hits %d, want 1", v.pcks.hits)
		}
	})
	t.Run("stays within its bound", func(t *testing.T) {
		c := newWindowCache[int](2)
		now := time.Now()
		for i := range 5 {
			c.put([32]byte{byte(i)}, i, now.Add(-time.Hour), now.Add(time.Hour), now)
		}
		if c.len() != 2 {
			t.Errorf("cache holds %d entries, bound 2", c.len())
		}
		if v, ok := c.get([32]byte{4}, now); !ok || v != 4 {
			t.Errorf("the last entry put is not there: %v %v", v, ok)
		}
	})
}

func TestNewDCAPVerifierRoots(t *testing.T) {
	ca := platformtest.NewSGX(t)
	der := ca.Root().Raw
	if _, err := NewDCAPVerifier(DCAPConfig{Roots: [][]byte{der}}); err != nil {
		t.Errorf("a DER root: %v", err)
	}
	for name, roots := range map[string][][]byte{
		"not a certificate":      {[]byte("hello")},
		"a PEM key":              {[]byte("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")},
		"PEM with trailing junk": {append(ca.RootsPEM(), "junk"...)},
		"a leaf certificate":     {ca.PCK().Raw},
	} {
		if _, err := NewDCAPVerifier(DCAPConfig{Roots: roots}); err == nil {
			t.Errorf("%s: accepted as a root", name)
		}
	}
}

// replaceChain returns q with its certification data replaced by chain
// (the lengths adjusted: the certification data is outside every
// signature).
func replaceChain(q, chain []byte) []byte {
	parsed, err := parseQuote(q)
	if err != nil {
		panic(err)
	}
	certStart := len(q) - len(parsed.certData)
	out := append(bytes.Clone(q[:certStart]), chain...)
	sigLen := len(out) - quoteSigDataOffset
	binary.LittleEndian.PutUint32(out[quoteSigLenOffset:], uint32(sigLen))
	binary.LittleEndian.PutUint32(out[certStart-4:], uint32(len(chain)))
	return out
}

func editCollateral(t testing.TB, b []byte, edit func(*Collateral)) []byte {
	t.Helper()
	c := mustCollateral(t, b)
	edit(c)
	out, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func flipHex(c byte) string {
	if c == '0' {
		return "1"
	}
	return "0"
}

func hexOf(b []byte) string { return hex.EncodeToString(b) }
