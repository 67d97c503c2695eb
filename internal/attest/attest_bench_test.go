package attest

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/openccm/openccm/internal/ca"
	"github.com/openccm/openccm/internal/image"
	"github.com/openccm/openccm/internal/platform"
	"github.com/openccm/openccm/internal/platform/azurecvm"
	"github.com/openccm/openccm/internal/platform/nitro"
	"github.com/openccm/openccm/internal/platform/platformtest"
	"github.com/openccm/openccm/internal/platform/sevsnp"
	"github.com/openccm/openccm/internal/platform/sgx"
	"github.com/openccm/openccm/internal/secret"
	"github.com/openccm/openccm/internal/store"
	"github.com/openccm/openccm/internal/store/sqlstore"
)

// rig is the attestation service with the real verifiers, trusting fake
// vendor roots, on a temp SQLite store with one account, app and approved
// image per platform.
type rig struct {
	s       *Service
	st      store.Store
	account string
	nitro   *platformtest.NitroCA
	snp     *platformtest.SNPCA
	sgx     *platformtest.SGXCA
	cvm     *platformtest.AzureCVM
	cvmPCRs map[int]string
	csr     string
	spki    []byte
	meas    [48]byte
}

func newRig(tb testing.TB) *rig {
	tb.Helper()
	ctx := context.Background()
	path := filepath.Join(tb.TempDir(), "ccm.db")
	st, err := sqlstore.Open(ctx, path, nil)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { st.Close() })
	nca, err := platformtest.NewNitroCA()
	if err != nil {
		tb.Fatal(err)
	}
	sca, err := platformtest.NewSNPCA()
	if err != nil {
		tb.Fatal(err)
	}
	nv, err := nitro.NewVerifier(nitro.Config{Roots: []*x509.Certificate{nca.Root()}})
	if err != nil {
		tb.Fatal(err)
	}
	sv, err := sevsnp.NewVerifier(sevsnp.Config{Platform: platform.SEVSNP, Roots: sca.RootsPEM()})
	if err != nil {
		tb.Fatal(err)
	}
	xca := platformtest.NewSGX(tb)
	xv, err := sgx.NewDCAPVerifier(sgx.DCAPConfig{Roots: [][]byte{xca.RootsPEM()}})
	if err != nil {
		tb.Fatal(err)
	}
	cvm, err := platformtest.NewAzureCVMWith(sca)
	if err != nil {
		tb.Fatal(err)
	}
	cv, err := azurecvm.NewVerifier(azurecvm.Config{AMDRoots: sca.RootsPEM()})
	if err != nil {
		tb.Fatal(err)
	}
	box, _ := secret.New(bytes.Repeat([]byte{3}, secret.KeySize))
	cas, _ := ca.New(ca.Config{Store: st, Box: box})
	s, err := New(Config{Store: st, CA: cas, Verifiers: map[platform.Platform]platform.Verifier{
		platform.Nitro: nv, platform.SEVSNP: sv, platform.SGX: xv, platform.AzureCVM: cv}})
	if err != nil {
		tb.Fatal(err)
	}
	r := &rig{s: s, st: st, nitro: nca, snp: sca, sgx: xca, cvm: cvm, account: "01a00000-0000-7000-8000-0000000000a1",
		cvmPCRs: map[int]string{0: strings.Repeat("0a", 32), 7: strings.Repeat("7b", 32)}}
	copy(r.meas[:], bytes.Repeat([]byte{0x5a}, 48))
	now := time.Now().UTC().Truncate(time.Microsecond)
	acct := &store.Account{ID: r.account, Name: "bench", TrustDomain: "bench", ApprovalPolicy: store.ApprovalPolicy{RequiredApprovals: 1},
		AzureCVMPCRPriority: []int{}, SGXAcceptedTCBStatuses: []string{"UpToDate"}, CreatedAt: now, UpdatedAt: now}
	vmpl := 0
	err = st.WithTx(ctx, func(tx store.Store) error {
		if err := tx.CreateAccount(ctx, acct); err != nil {
			return err
		}
		if err := cas.Create(ctx, tx, acct); err != nil {
			return err
		}
		for i, spec := range []struct {
			typ store.AppType
			p   string
			m   store.Measurements
			key string
		}{
			{store.AppEDP, "nitro", store.Measurements{PCR0: hex.EncodeToString(platformtest.NitroPCR(0)), PCR1: hex.EncodeToString(platformtest.NitroPCR(1)), PCR2: hex.EncodeToString(platformtest.NitroPCR(2))}, ""},
			{store.AppSEVSNP, "sev_snp", store.Measurements{Measurement: hex.EncodeToString(r.meas[:]), VMPL: &vmpl}, ""},
			{store.AppEDP, "sgx", store.Measurements{MREnclave: hex.EncodeToString(r.meas[:32]), MRSigner: hex.EncodeToString(r.meas[16:48]), ISVProdID: &vmpl, ISVSVN: &vmpl}, ""},
			{store.AppAzureCVM, "azure_cvm", store.Measurements{PCRs: r.cvmPCRs}, ""},
		} {
			app := &store.App{ID: fmt.Sprintf("01a00000-0000-7000-8000-0000000000b%d", i), AccountID: acct.ID, Name: spec.p, Type: spec.typ,
				Domains: []string{"api.example.com"}, ApprovedDomains: []string{"api.example.com"}, Labels: map[string]string{},
				Certificate: store.CertificateSettings{Enabled: true, ValidityDays: 1}, CreatedAt: now, UpdatedAt: now}
			if err := tx.CreateApp(ctx, app); err != nil {
				return err
			}
			key := "nitro:" + spec.m.PCR0 + ":" + spec.m.PCR1 + ":" + spec.m.PCR2
			switch spec.p {
			case "sev_snp":
				key = fmt.Sprintf("sev_snp:%s:0", spec.m.Measurement)
			case "sgx":
				key = "sgx:" + spec.m.MREnclave
			case "azure_cvm":
				key = image.AzureCVMKey(spec.m.PCRs)
			}
			img := &store.Image{ID: fmt.Sprintf("01a00000-0000-7000-8000-0000000000c%d", i), AccountID: acct.ID, AppID: app.ID, Type: spec.typ,
				Platform: spec.p, Version: "1", Status: store.ImageReady, ApprovalStatus: store.ApprovalApproved,
				Measurements: spec.m, MeasurementKey: key, CreatedAt: now, UpdatedAt: now}
			if err := tx.CreateImage(ctx, img); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, _ := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{}, k)
	csr, _ := x509.ParseCertificateRequest(der)
	r.csr = string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}))
	r.spki = csr.RawSubjectPublicKeyInfo
	return r
}

// request makes a challenge and evidence for it on platform p.
func (r *rig) request(tb testing.TB, p platform.Platform, mutate func(nd *platformtest.NitroDoc, sr *platformtest.SNPReport)) Request {
	tb.Helper()
	nonce, _, err := r.s.Challenge(context.Background(), r.account)
	if err != nil {
		tb.Fatal(err)
	}
	b := Binding(nonce, r.spki)
	var ev []byte
	nd := platformtest.NitroDoc{UserData: b[:]}
	sr := platformtest.SNPReport{Measurement: r.meas}
	copy(sr.ReportData[:], b[:])
	if mutate != nil {
		mutate(&nd, &sr)
	}
	switch p {
	case platform.Nitro:
		ev, err = r.nitro.Evidence(nd)
	case platform.SEVSNP:
		ev, err = r.snp.Report(sr)
	case platform.SGX:
		xr := platformtest.SGXReport{MRSigner: [32]byte(r.meas[16:48]), Debug: sr.Debug}
		copy(xr.MREnclave[:], sr.Measurement[:32])
		var rb [32]byte
		copy(rb[:], sr.ReportData[:32])
		ev = r.sgx.Evidence(r.sgx.Quote(xr, rb), r.sgx.Collateral(platformtest.SGXCollateral{}))
	case platform.AzureCVM:
		var rb [32]byte
		copy(rb[:], sr.ReportData[:32])
		pcrs := map[int]string{0: r.cvmPCRs[0], 7: r.cvmPCRs[7]}
		if sr.Measurement != r.meas {
			pcrs[7] = strings.Repeat("ee", 32)
		}
		ev = r.cvm.Evidence(pcrs, &rb)
	}
	if err != nil {
		tb.Fatal(err)
	}
	return Request{AccountID: r.account, Platform: string(p), Nonce: base64.StdEncoding.EncodeToString(nonce), CSR: r.csr, Evidence: json.RawMessage(ev)}
}

func TestAttestWithRealVerifiers(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	for _, p := range []platform.Platform{platform.Nitro, platform.SEVSNP, platform.SGX} {
		t.Run(string(p), func(t *testing.T) {
			res, err := r.s.Attest(ctx, r.request(t, p, nil))
			if err != nil {
				t.Fatalf("attest: %v", err)
			}
			if res.Leaf.DNSNames[0] != "api.example.com" || !strings.HasPrefix(res.Leaf.URIs[0].String(), "spiffe://bench/app/") {
				t.Fatalf("leaf %v %v", res.Leaf.DNSNames, res.Leaf.URIs)
			}
			cases := []struct {
				name   string
				mutate func(nd *platformtest.NitroDoc, sr *platformtest.SNPReport)
				reason string
			}{
				{"debug evidence is refused", func(nd *platformtest.NitroDoc, sr *platformtest.SNPReport) {
					nd.PCRs = map[int][]byte{0: make([]byte, 48), 1: make([]byte, 48), 2: make([]byte, 48)}
					sr.Debug = true
				}, ResultDebugNotAllowed},
				{"evidence for another key is refused", func(nd *platformtest.NitroDoc, sr *platformtest.SNPReport) {
					nd.UserData = bytes.Repeat([]byte{1}, 32)
					sr.ReportData[0] ^= 1
				}, platform.ReasonBindingMismatch},
				{"an unknown measurement has no image", func(nd *platformtest.NitroDoc, sr *platformtest.SNPReport) {
					nd.PCRs = map[int][]byte{0: bytes.Repeat([]byte{9}, 48), 1: platformtest.NitroPCR(1), 2: platformtest.NitroPCR(2)}
					sr.Measurement[0] ^= 1
				}, ResultNoMatchingImage},
			}
			for _, c := range cases {
				t.Run(c.name, func(t *testing.T) {
					_, err := r.s.Attest(ctx, r.request(t, p, c.mutate))
					if got := platform.ReasonOf(err); got != c.reason {
						t.Fatalf("reason %q (%v), want %q", got, err, c.reason)
					}
				})
			}
		})
	}
}

func benchmarkAttest(b *testing.B, p platform.Platform) {
	r := newRig(b)
	ctx := context.Background()
	if _, err := r.s.Attest(ctx, r.request(b, p, nil)); err != nil { // warm the caches
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		b.StopTimer()
		req := r.request(b, p, nil)
		b.StartTimer()
		if _, err := r.s.Attest(ctx, req); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAttestNitro is a whole warm attestation through the service:
// nonce, verification, selection, issuance and audit, on SQLite.
func BenchmarkAttestNitro(b *testing.B) { benchmarkAttest(b, platform.Nitro) }

// BenchmarkAttestSEVSNP is the same for SEV-SNP.
func BenchmarkAttestSEVSNP(b *testing.B) { benchmarkAttest(b, platform.SEVSNP) }

// BenchmarkAttestSGX is the same for an SGX DCAP quote with collateral.
func BenchmarkAttestSGX(b *testing.B) { benchmarkAttest(b, platform.SGX) }

// BenchmarkAttestAzureCVM is the same for Azure CVM evidence (vTPM quote,
// HCL report, SEV-SNP report), selected by PCR priority.
func BenchmarkAttestAzureCVM(b *testing.B) { benchmarkAttest(b, platform.AzureCVM) }

func TestAttestAzureCVMWithTheRealVerifier(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	res, err := r.s.Attest(ctx, r.request(t, platform.AzureCVM, nil))
	if err != nil || res.Image.Type != store.AppAzureCVM {
		t.Fatalf("attest: %+v, %v", res, err)
	}
	_, err = r.s.Attest(ctx, r.request(t, platform.AzureCVM, func(_ *platformtest.NitroDoc, sr *platformtest.SNPReport) { sr.ReportData[0] ^= 1 }))
	if platform.ReasonOf(err) != platform.ReasonBindingMismatch {
		t.Fatalf("another binding: %v", err)
	}
	_, err = r.s.Attest(ctx, r.request(t, platform.AzureCVM, func(_ *platformtest.NitroDoc, sr *platformtest.SNPReport) { sr.Measurement[0] ^= 1 }))
	if platform.ReasonOf(err) != ResultPCRMismatch {
		t.Fatalf("PCR7 changed: %v", err)
	}
}

func TestSGXTCBStatusMustBeAccepted(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	req := r.request(t, platform.SGX, nil)
	// The same quote without collateral: its TCB status is unknown.
	var ev struct {
		Quote []byte `json:"quote"`
	}
	if err := json.Unmarshal(req.Evidence, &ev); err != nil {
		t.Fatal(err)
	}
	req.Evidence, _ = json.Marshal(map[string]any{"quote": ev.Quote})
	_, err := r.s.Attest(ctx, req)
	if platform.ReasonOf(err) != platform.ReasonSignatureInvalid || !strings.Contains(err.Error(), "TCB status is unknown") || !strings.Contains(err.Error(), "collateral") {
		t.Fatalf("a quote without collateral: %v", err)
	}

	// An account that accepts unknown takes it.
	acct, err := r.st.GetAccount(ctx, r.account)
	if err != nil {
		t.Fatal(err)
	}
	acct.SGXAcceptedTCBStatuses = []string{"UpToDate", "unknown"}
	if err := r.st.UpdateAccount(ctx, acct); err != nil {
		t.Fatal(err)
	}
	req = r.request(t, platform.SGX, nil)
	json.Unmarshal(req.Evidence, &ev)
	req.Evidence, _ = json.Marshal(map[string]any{"quote": ev.Quote})
	if _, err := r.s.Attest(ctx, req); err != nil {
		t.Fatalf("with unknown accepted: %v", err)
	}
}
