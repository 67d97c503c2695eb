package sgx

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/openccm/openccm/internal/platform"
)

// The recorded real quotes and collateral of testdata/dcap (see its
// SOURCES.md). All were made on real SGX machines and signed through
// Intel's production PKI: the PCK chains and the TCB Signing certificates
// end in the Intel SGX Root CA (its first issue, valid to 2033, with the
// same key as the one built in).
//
// The PCK certificates of the two quotes with a chain are valid from
// 2020-05-05 and 2020-05-18 to 2027; the 2020 collateral (TCB info for
// FMSPC 00906EA10000 and the QE identity, evaluation number 8) from
// 2020-05-18T17:49:24Z to 2020-06-17T17:49:21Z. sampleNow lies in all of
// them.
var sampleNow = time.Date(2020, 6, 1, 0, 0, 0, 0, time.UTC)

func readSample(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "dcap", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// sampleCollateral is the real 2020 collateral for FMSPC 00906EA10000.
func sampleCollateral(t testing.TB) *Collateral {
	chain := string(readSample(t, "tcb_signing_chain_2020.pem"))
	return &Collateral{
		TCBInfo:               string(readSample(t, "tcb_info_00906ea10000_2020.json")),
		TCBInfoIssuerChain:    chain,
		QEIdentity:            string(readSample(t, "qe_identity_2020.json")),
		QEIdentityIssuerChain: chain,
	}
}

func newIntelVerifier(t testing.TB) *DCAPVerifier {
	t.Helper()
	v, err := NewDCAPVerifier(DCAPConfig{})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestIntelRoot(t *testing.T) {
	root, err := IntelRoot()
	if err != nil {
		t.Fatal(err)
	}
	if root.Subject.CommonName != "Intel SGX Root CA" || root.CheckSignatureFrom(root) != nil {
		t.Errorf("built-in root %s is not the self-signed Intel SGX Root CA", root.Subject)
	}
	if !root.NotAfter.Equal(time.Date(2049, 12, 31, 23, 59, 59, 0, time.UTC)) {
		t.Errorf("built-in root expires %s, want 2049-12-31T23:59:59Z", root.NotAfter)
	}

	t.Run("is the key that ends the chains of the real quotes", func(t *testing.T) {
		q, err := parseQuote(readSample(t, "pcs_quote.bin"))
		if err != nil {
			t.Fatal(err)
		}
		chain, err := parsePEMChain(q.certData)
		if err != nil {
			t.Fatal(err)
		}
		old := chain[len(chain)-1]
		if old.Subject.CommonName != "Intel SGX Root CA" {
			t.Fatalf("last certificate of the sample chain is %s", old.Subject)
		}
		sum := sha256.Sum256(old.Raw)
		if hex.EncodeToString(sum[:]) == IntelRootFingerprint {
			t.Fatal("the sample's root is expected to be Intel's first issue of the root, not the current one")
		}
		if !bytes.Equal(old.RawSubject, root.RawSubject) || !bytes.Equal(old.RawSubjectPublicKeyInfo, root.RawSubjectPublicKeyInfo) {
			t.Error("the sample chain's root has another name or key than the built-in Intel root")
		}
	})
	t.Run("refuses to start with a tampered embedded root", func(t *testing.T) {
		saved := intelRootPEM
		t.Cleanup(func() { intelRootPEM = saved })
		intelRootPEM = bytes.Replace(saved, []byte("MIICjzCC"), []byte("MIICjzCD"), 1)
		if _, err := NewDCAPVerifier(DCAPConfig{}); err == nil {
			t.Error("NewDCAPVerifier accepted an embedded root with another fingerprint")
		}
	})
}

func TestRealQuotes(t *testing.T) {
	const sgxDebugMode64 = "07000000000000001f00000000000000" // INIT|DEBUG|MODE64BIT, XFRM 0x1f
	const sampleMRSigner = "9affcfae47b848ec2caf1c49b4b283531e1cc425f93582b36806e52a43d78d1a"
	tests := []struct {
		name, file            string
		mrEnclave, reportData string
		pckCPUSVN, pckPCESVN  string
		qeSVN                 string
		status, platform, qe  string
		tcbDate               string
	}{
		{
			name: "dcap-ql quote with PCK chain", file: "quote_pck_cert_chain.bin",
			mrEnclave:  "04d285fd1b0f11a7e29392d7481f2d94dcdb298ba7619b04e7fc320d81f2970e",
			reportData: "c75bf95cdeb81cfeaf79c3bebd9d88cfc90f4916883515ffe8420230d16747e8" + strings.Repeat("0", 64),
			pckCPUSVN:  "06060204018001000000000000000000", pckPCESVN: "7", qeSVN: "2",
			// TCB level {6,6,2,4,1,128,1}, PCESVN 7: OutOfDate; QE ISVSVN 2: OutOfDate.
			status: TCBOutOfDate, platform: TCBOutOfDate, qe: TCBOutOfDate, tcbDate: "2019-05-15T00:00:00Z",
		},
		{
			name: "pcs quote", file: "pcs_quote.bin",
			mrEnclave:  "2531fd89facb97c6bab5f343805afe4dc051c2bef0d11309ac553c404326dda2",
			reportData: "240aebbc42245d152a01d2aa755750dae361dd19ffcaf7eb0c14deab93d59820" + strings.Repeat("0", 64),
			pckCPUSVN:  "0e0e0204018007000000000000000000", pckPCESVN: "10", qeSVN: "5",
			// TCB level {14,14,2,4,1,128,7}, PCESVN 10: SWHardeningNeeded; QE ISVSVN 5: UpToDate.
			status: TCBSWHardeningNeeded, platform: TCBSWHardeningNeeded, qe: TCBUpToDate, tcbDate: "2019-12-11T00:00:00Z",
		},
	}
	v := newIntelVerifier(t)
	ctx := context.Background()
	for _, tc := range tests {
		t.Run(tc.name+" verifies to Intel's root and carries the sample enclave's identity", func(t *testing.T) {
			quote := readSample(t, tc.file)
			for _, col := range []*Collateral{nil, sampleCollateral(t)} {
				c, err := v.VerifyQuote(ctx, quote, col, platform.Options{Now: sampleNow})
				if err != nil {
					t.Fatalf("collateral %v: %v", col != nil, err)
				}
				if c.Platform != platform.SGX || c.MREnclave != tc.mrEnclave || c.MRSigner != sampleMRSigner ||
					*c.ISVProdID != 0 || *c.ISVSVN != 0 || c.ReportData != tc.reportData {
					t.Errorf("identity: %+v", c)
				}
				// Both samples come from debug enclaves.
				if !c.Debug || c.Attributes != sgxDebugMode64 {
					t.Errorf("debug %v, attributes %s; want a debug enclave", c.Debug, c.Attributes)
				}
				if c.CPUSVN != "0f0f0205ff8007000000000000000000" || c.FMSPC != "00906ea10000" {
					t.Errorf("CPUSVN %s, FMSPC %s", c.CPUSVN, c.FMSPC)
				}
				if c.Extra["pce_id"] != "0000" || c.Extra["pck_cpusvn"] != tc.pckCPUSVN || c.Extra["pck_pcesvn"] != tc.pckPCESVN ||
					c.Extra["qe_isvsvn"] != tc.qeSVN || c.Extra["miscselect"] != "0" {
					t.Errorf("extra claims: %v", c.Extra)
				}
				if col == nil {
					if c.TCBStatus != TCBStatusUnknown {
						t.Errorf("without collateral: TCB status %q, want unknown", c.TCBStatus)
					}
					continue
				}
				if c.TCBStatus != tc.status || c.Extra["platform_tcb_status"] != tc.platform || c.Extra["qe_tcb_status"] != tc.qe ||
					c.Extra["tcb_date"] != tc.tcbDate || c.Extra["tcb_evaluation_data_number"] != "8" ||
					c.Extra["collateral_next_update"] != "2020-06-17T17:49:21Z" {
					t.Errorf("with collateral: status %q, extra %v", c.TCBStatus, c.Extra)
				}
			}
		})
	}

	t.Run("the binding is checked against report_data", func(t *testing.T) {
		var binding [32]byte
		hex.Decode(binding[:], []byte("240aebbc42245d152a01d2aa755750dae361dd19ffcaf7eb0c14deab93d59820"))
		quote := readSample(t, "pcs_quote.bin")
		if _, err := v.VerifyQuote(ctx, quote, nil, platform.Options{Now: sampleNow, Binding: &binding}); err != nil {
			t.Errorf("the sample's own report data as binding: %v", err)
		}
		binding[31] ^= 1
		_, err := v.VerifyQuote(ctx, quote, nil, platform.Options{Now: sampleNow, Binding: &binding})
		wantReason(t, err, platform.ReasonBindingMismatch)
	})
	t.Run("rejects a real quote judged before its PCK certificate was issued", func(t *testing.T) {
		_, err := newIntelVerifier(t).VerifyQuote(ctx, readSample(t, "pcs_quote.bin"), nil, platform.Options{Now: time.Date(2020, 5, 1, 0, 0, 0, 0, time.UTC)})
		wantReason(t, err, platform.ReasonSignatureInvalid)
	})
	t.Run("rejects a real quote judged after its PCK certificate expired", func(t *testing.T) {
		_, err := newIntelVerifier(t).VerifyQuote(ctx, readSample(t, "pcs_quote.bin"), nil, platform.Options{Now: time.Date(2027, 5, 19, 0, 0, 0, 0, time.UTC)})
		wantReason(t, err, platform.ReasonSignatureInvalid)
	})
	t.Run("rejects the real collateral once its nextUpdate has passed", func(t *testing.T) {
		_, err := v.VerifyQuote(ctx, readSample(t, "pcs_quote.bin"), sampleCollateral(t), platform.Options{Now: time.Date(2020, 6, 18, 0, 0, 0, 0, time.UTC)})
		wantReason(t, err, platform.ReasonSignatureInvalid)
		if err != nil && !strings.Contains(err.Error(), "nextUpdate") {
			t.Errorf("error %q does not name nextUpdate", err)
		}
	})
	t.Run("rejects a real quote with one byte of a signature flipped", func(t *testing.T) {
		for name, off := range map[string]int{
			"report body":         quoteHeaderSize + rbMREnclave,
			"quote signature":     quoteSigDataOffset + 5,
			"QE report":           quoteSigDataOffset + 2*ecdsaSigSize + 40,
			"QE report signature": quoteSigDataOffset + 2*ecdsaSigSize + reportBodySize + 7,
			"attestation key":     quoteSigDataOffset + ecdsaSigSize + 3,
		} {
			q := bytes.Clone(readSample(t, "pcs_quote.bin"))
			q[off] ^= 0x01
			_, err := v.VerifyQuote(ctx, q, nil, platform.Options{Now: sampleNow})
			if platform.ReasonOf(err) != platform.ReasonSignatureInvalid {
				t.Errorf("%s flipped: %v, want %s", name, err, platform.ReasonSignatureInvalid)
			}
		}
	})
}

// TestRealCollateralV3 checks Intel's current collateral format (TCB info
// version 3, from the PCS v4 API) with a real 2025 TCB info and QE
// identity, signed by the TCB Signing certificate Intel issued in 2025 under
// the current root. No recorded quote has its FMSPC (00906ED50000), so a
// quote with it is refused for that reason, after both documents verify.
func TestRealCollateralV3(t *testing.T) {
	chain := string(readSample(t, "tcb_signing_chain_2025.pem"))
	col := &Collateral{
		TCBInfo:               string(readSample(t, "tcb_info_00906ed50000_2025.json")),
		TCBInfoIssuerChain:    chain,
		QEIdentity:            string(readSample(t, "qe_identity_2025.json")),
		QEIdentityIssuerChain: chain,
	}
	now := time.Date(2025, 6, 10, 0, 0, 0, 0, time.UTC)
	v := newIntelVerifier(t)
	ti, err := v.verifiedTCBInfo(col, now)
	if err != nil {
		t.Fatal(err)
	}
	if ti.version != 3 || hex.EncodeToString(ti.fmspc[:]) != "00906ed50000" || ti.evalNumber != 19 || len(ti.levels) != 21 {
		t.Errorf("TCB info: version %d, FMSPC %x, evaluation %d, %d levels", ti.version, ti.fmspc, ti.evalNumber, len(ti.levels))
	}
	first := ti.levels[0]
	if first.components != [16]uint8{22, 22, 2, 4, 1, 128, 14} || first.pceSVN != 13 || first.status != TCBSWHardeningNeeded ||
		strings.Join(first.advisories, ",") != "INTEL-SA-00334,INTEL-SA-00615" {
		t.Errorf("first TCB level: %+v", first)
	}
	qi, err := v.verifiedQEIdentity(col, now)
	if err != nil {
		t.Fatal(err)
	}
	if qi.mrSigner != intelQE.mrSigner || qi.isvProdID != 1 || qi.attributes != intelQE.attributes ||
		qi.attributesMask != intelQE.attributesMask || qi.miscSelectMask != 0xffffffff || qi.levels[0].isvSVN != 8 {
		t.Errorf("QE identity %+v is not Intel's QE3", qi)
	}

	_, err = v.VerifyQuote(context.Background(), readSample(t, "pcs_quote.bin"), col, platform.Options{Now: now})
	wantReason(t, err, platform.ReasonSignatureInvalid)
	if err != nil && !strings.Contains(err.Error(), "FMSPC 00906ED50000, the PCK certificate for 00906EA10000") {
		t.Errorf("error %q does not name the FMSPC mismatch", err)
	}

	t.Run("rejects the real TCB info with one signed byte changed", func(t *testing.T) {
		bad := *col
		bad.TCBInfo = strings.Replace(col.TCBInfo, `"tcbEvaluationDataNumber":19`, `"tcbEvaluationDataNumber":20`, 1)
		_, err := newIntelVerifier(t).verifiedTCBInfo(&bad, now)
		wantReason(t, err, platform.ReasonSignatureInvalid)
	})
	t.Run("accepts the real TCB info pretty-printed: Intel signs it without white space", func(t *testing.T) {
		pretty := *col
		pretty.TCBInfo = strings.ReplaceAll(col.TCBInfo, `,"`, ",\n  \"")
		if _, err := newIntelVerifier(t).verifiedTCBInfo(&pretty, now); err != nil {
			t.Error(err)
		}
	})
	t.Run("rejects the real TCB info with the QE identity's signature", func(t *testing.T) {
		sig := func(body string) string { return body[strings.LastIndex(body, `"signature":"`):] }
		bad := *col
		bad.TCBInfo = strings.Replace(col.TCBInfo, sig(col.TCBInfo), sig(col.QEIdentity), 1)
		_, err := newIntelVerifier(t).verifiedTCBInfo(&bad, now)
		wantReason(t, err, platform.ReasonSignatureInvalid)
	})
	t.Run("the 2025 TCB Signing certificate is a re-issue: the 2020 collateral verifies with it too", func(t *testing.T) {
		mixed := *sampleCollateral(t)
		mixed.TCBInfoIssuerChain = chain
		if _, err := newIntelVerifier(t).verifiedTCBInfo(&mixed, now); err != nil {
			t.Error(err)
		}
	})
}

// TestRealQuoteWithoutPCKChain: quote_raw_tcb.bin carries an encrypted PPID
// (certification data type 3) instead of the PCK certificate chain. Its PCK
// certificate has to be fetched from Intel with the PPID, which is
// encrypted to Intel's key, so the PCK-based checks (QE report signature,
// chain, FMSPC) cannot be made offline and the verifier refuses the quote
// as malformed evidence. What can be checked without the PCK is checked:
// the quote parses, the QE report vouches for the attestation key, and the
// attestation key signed the quote.
func TestRealQuoteWithoutPCKChain(t *testing.T) {
	b := readSample(t, "quote_raw_tcb.bin")
	q, err := parseQuote(b)
	if err != nil {
		t.Fatal(err)
	}
	if q.certType != certTypePPIDRSA3072 || len(q.certData) != 404 || q.qeSVN != 1 || q.pceSVN != 6 {
		t.Errorf("cert type %d (%d bytes), QE SVN %d, PCE SVN %d", q.certType, len(q.certData), q.qeSVN, q.pceSVN)
	}
	if hex.EncodeToString(q.body.mrEnclave[:]) != "d40c35b716c9ef1715d26100bb5e152d5045543017dacfcb492697028985cb7c" ||
		!q.body.debug() || q.qeReport.isvSVN != 1 || q.qeReport.mrSigner != intelQE.mrSigner {
		t.Errorf("report body %+v, QE report %+v", q.body, q.qeReport)
	}
	if err := checkAttestationKey(q); err != nil {
		t.Errorf("attestation key checks: %v", err)
	}
	if err := intelQE.match(&q.qeReport); err != nil {
		t.Errorf("QE identity: %v", err)
	}
	_, err = newIntelVerifier(t).VerifyQuote(context.Background(), b, nil, platform.Options{Now: sampleNow})
	wantReason(t, err, platform.ReasonMalformed)
	if err != nil && !strings.Contains(err.Error(), "type 3") {
		t.Errorf("error %q does not name the certification data type", err)
	}
}

func wantReason(t *testing.T, err error, reason string) {
	t.Helper()
	if got := platform.ReasonOf(err); got != reason {
		t.Errorf("error %v has reason %q, want %q", err, got, reason)
	}
}
