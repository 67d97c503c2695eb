package e2e

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/openccm/openccm/internal/attest"
	"github.com/openccm/openccm/internal/platform/platformtest"
	"github.com/openccm/openccm/pkg/apiv1"
)

// attest2 is the attestation flow of the platforms of the second
// attestation issue: SGX DCAP quotes, Azure CVMs (vTPM + HCL report) and
// GPU evidence, over HTTPS against the built server, with fake Intel, AMD
// and NVIDIA roots added with --trust-roots and --gpu-jwks.
type attest2 struct {
	*attestFlow
	sgx *platformtest.SGXCA
	gpu *platformtest.GPU
	snp *platformtest.SNPCA
	cvm *platformtest.AzureCVM

	sgxImage [32]byte       // MRENCLAVE of the approved SGX image
	gpuVM    [48]byte       // measurement of the approved sev_snp image with gpu: required
	cvmPCRs  map[int]string // PCR index → SHA-256 hex of the approved Azure CVM image
}

func TestAttestationOfSGXAzureCVMAndGPU(t *testing.T) {
	t.Parallel()
	for _, b := range backends(t) {
		t.Run("on "+b.name, func(t *testing.T) {
			t.Parallel()
			f := &attest2{attestFlow: &attestFlow{flow: &flow{t: t, backend: b, rec: &recorder{}, dataDir: t.TempDir()}}}
			f.run(t)
		})
	}
}

func (f *attest2) run(t *testing.T) {
	f.sgx, f.gpu = platformtest.NewSGX(t), platformtest.NewGPU(t)
	var err error
	if f.snp, err = platformtest.NewSNPCA(); err != nil {
		t.Fatal(err)
	}
	if f.cvm, err = platformtest.NewAzureCVMWith(f.snp); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	write := func(name string, b []byte) {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("sgx-root.pem", f.sgx.RootsPEM())
	write("amd-roots.pem", f.snp.RootsPEM())
	write("trust-roots.yaml", []byte("intel_sgx: [sgx-root.pem]\namd: [amd-roots.pem]\n"))
	write("gpu-jwks.json", f.gpu.JWKS())

	f.db = f.backend.database(t)
	f.srv = startServer(t, f.dataDir, f.db, "--trust-roots", filepath.Join(dir, "trust-roots.yaml"), "--gpu-jwks", filepath.Join(dir, "gpu-jwks.json"))
	f.api = newAPI(t, f.srv, f.rec)
	f.anon = f.api.client(t, "")
	mustStep(t, "a manager registers and approves an SGX, a GPU VM and an Azure CVM image", f.setUp2, func() bool { return f.acct != nil && f.cvmPCRs != nil })
	t.Run("sgx", f.sgxFlow)
	t.Run("gpu", f.gpuFlow)
	t.Run("azure_cvm", f.cvmFlow)
}

func (f *attest2) setUp2(t *testing.T) {
	ctx := t.Context()
	f.admin = &user{Email: "admin@attest2.example.com", Password: "pw-admin-" + randomHex(8)}
	if _, err := f.anon.Signup(ctx, apiv1.Credentials{Email: f.admin.Email, Password: f.admin.Password}); err != nil {
		t.Fatal(err)
	}
	f.login(t, f.admin)
	c := f.admin.c
	var err error
	if f.acct, err = c.CreateAccount(ctx, apiv1.CreateAccountRequest{Name: "Attest Two"}); err != nil {
		t.Fatal(err)
	}
	acct := f.acct.AccountID
	approve := func(img *apiv1.Image) {
		t.Helper()
		if task, err := c.ApproveTask(ctx, acct, img.TaskID, "ok"); err != nil || task.Status != "approved" {
			t.Fatalf("approving %s: %+v, %v", img.Version, task, err)
		}
	}
	app := func(name, typ string) *apiv1.App {
		t.Helper()
		a, err := c.CreateApp(ctx, acct, apiv1.CreateAppRequest{Name: name, Type: typ})
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	image := func(a *apiv1.App, req apiv1.CreateImageRequest) *apiv1.Image {
		t.Helper()
		img, err := c.CreateImage(ctx, acct, a.AppID, req)
		if err != nil {
			t.Fatalf("image of %s: %v", a.Name, err)
		}
		approve(img)
		return img
	}

	rand.Read(f.sgxImage[:])
	prod, svn := 3, 2
	image(app("enclave", "edp"), apiv1.CreateImageRequest{Version: "1", Platform: "sgx", MREnclave: hex.EncodeToString(f.sgxImage[:]),
		MRSigner: hex.EncodeToString(bytes.Repeat([]byte{0x11}, 32)), ISVProdID: &prod, ISVSVN: &svn})
	rand.Read(f.gpuVM[:])
	vmpl := 0
	image(app("gpu-vm", "sev_snp"), apiv1.CreateImageRequest{Version: "1", Measurement: hex.EncodeToString(f.gpuVM[:]), VMPL: &vmpl, GPU: "required"})

	pcrs, cvm := map[string]string{}, map[int]string{}
	for _, i := range []int{0, 7} {
		v := make([]byte, 32)
		rand.Read(v)
		cvm[i] = hex.EncodeToString(v)
		pcrs[fmt.Sprintf("pcr%d", i)] = cvm[i]
	}
	image(app("cvm", "azure_cvm"), apiv1.CreateImageRequest{Version: "1", PCRs: pcrs})
	f.cvmPCRs = cvm
}

func (f *attest2) sgxQuote(t *testing.T, r platformtest.SGXReport, b [32]byte, collateral bool) json.RawMessage {
	t.Helper()
	var col []byte
	if collateral {
		col = f.sgx.Collateral(platformtest.SGXCollateral{})
	}
	return json.RawMessage(f.sgx.Evidence(f.sgx.Quote(r, b), col))
}

func (f *attest2) sgxFlow(t *testing.T) {
	good := platformtest.SGXReport{MREnclave: f.sgxImage, MRSigner: [32]byte(bytes.Repeat([]byte{0x11}, 32)), ISVProdID: 3, ISVSVN: 5}
	try := func(r platformtest.SGXReport, collateral bool, bindingOf func(b [32]byte) [32]byte) apiv1.AttestRequest {
		k := newWorkloadKey(t)
		nonce := f.challenge(t)
		b := attest.Binding(nonce, k.spki)
		if bindingOf != nil {
			b = bindingOf(b)
		}
		return f.attestReq("sgx", nonce, k, f.sgxQuote(t, r, b, collateral))
	}
	t.Run("a quote with Intel's collateral for an approved MRENCLAVE gets a certificate", func(t *testing.T) {
		res := f.accept(t, try(good, true, nil))
		if res.Certificate == "" || res.ImageID == "" {
			t.Fatalf("answer %+v", res)
		}
	})
	t.Run("without collateral the TCB status is unknown, which the account does not accept", func(t *testing.T) {
		f.reject(t, "a quote without collateral", try(good, false, nil), reasonSignatureInvalid)
	})
	t.Run("a debug enclave is debug_not_allowed", func(t *testing.T) {
		r := good
		r.Debug = true
		f.reject(t, "a debug quote", try(r, true, nil), reasonDebugNotAllowed)
	})
	t.Run("a quote for another key is binding_mismatch", func(t *testing.T) {
		f.reject(t, "another binding", try(good, true, func(b [32]byte) [32]byte { b[0] ^= 1; return b }), reasonBindingMismatch)
	})
	t.Run("an ISVSVN below the image's is no_matching_image", func(t *testing.T) {
		r := good
		r.ISVSVN = 1
		f.reject(t, "an old ISVSVN", try(r, true, nil), reasonNoMatchingImage)
	})
	t.Run("a quote from a PKI the server does not trust is signature_invalid", func(t *testing.T) {
		other := platformtest.NewSGX(t)
		k := newWorkloadKey(t)
		nonce := f.challenge(t)
		ev := other.Evidence(other.Quote(good, attest.Binding(nonce, k.spki)), other.Collateral(platformtest.SGXCollateral{}))
		f.reject(t, "an untrusted PCK chain", f.attestReq("sgx", nonce, k, ev), reasonSignatureInvalid)
	})
}

// gpuEvidence is SEV-SNP evidence of the GPU VM with a gpu member holding
// token (none when empty).
func (f *attest2) gpuEvidence(t *testing.T, b [32]byte, token string) json.RawMessage {
	t.Helper()
	r := platformtest.SNPReport{Measurement: f.gpuVM, TCB: 0xdb18000000000004}
	copy(r.ReportData[:32], b[:])
	copy(r.ChipID[:], bytes.Repeat([]byte{0x5a}, 64))
	ev, err := f.snp.Report(r)
	if err != nil {
		t.Fatal(err)
	}
	if token == "" {
		return ev
	}
	var m map[string]any
	if err := json.Unmarshal(ev, &m); err != nil {
		t.Fatal(err)
	}
	m["gpu"] = map[string]string{"token": token}
	out, _ := json.Marshal(m)
	return out
}

func (f *attest2) gpuFlow(t *testing.T) {
	req := func(token func(b [32]byte) string) apiv1.AttestRequest {
		k := newWorkloadKey(t)
		nonce := f.challenge(t)
		b := attest.Binding(nonce, k.spki)
		tok := ""
		if token != nil {
			tok = token(b)
		}
		return f.attestReq("sev_snp", nonce, k, f.gpuEvidence(t, b, tok))
	}
	t.Run("an image with gpu: required and NVIDIA's token for this binding gets a certificate", func(t *testing.T) {
		f.accept(t, req(func(b [32]byte) string { return f.gpu.Token(b) }))
	})
	t.Run("without GPU evidence it is gpu_evidence_missing", func(t *testing.T) {
		f.reject(t, "no gpu evidence", req(nil), "gpu_evidence_missing")
	})
	t.Run("a token for another nonce, a failed GPU or another signer is gpu_attestation_failed", func(t *testing.T) {
		f.reject(t, "another nonce", req(func(b [32]byte) string { b[0] ^= 1; return f.gpu.Token(b) }), "gpu_attestation_failed")
		f.reject(t, "a failed GPU", req(func(b [32]byte) string { return f.gpu.Token(b, platformtest.GPUResultFalse()) }), "gpu_attestation_failed")
		f.reject(t, "another signer", req(func(b [32]byte) string { return platformtest.NewGPU(t).Token(b) }), "gpu_attestation_failed")
	})
}

func (f *attest2) cvmFlow(t *testing.T) {
	req := func(pcrs map[int]string, flip bool) apiv1.AttestRequest {
		k := newWorkloadKey(t)
		nonce := f.challenge(t)
		b := attest.Binding(nonce, k.spki)
		if flip {
			b[0] ^= 1
		}
		return f.attestReq("azure_cvm", nonce, k, f.cvm.Evidence(pcrs, &b))
	}
	t.Run("a VM whose PCRs match an approved image gets a certificate", func(t *testing.T) {
		f.accept(t, req(f.cvmPCRs, false))
	})
	t.Run("a quote for another key is binding_mismatch", func(t *testing.T) {
		f.reject(t, "another binding", req(f.cvmPCRs, true), reasonBindingMismatch)
	})
	t.Run("a VM anchored on PCR0 whose PCR7 differs is pcr_mismatch", func(t *testing.T) {
		other := map[int]string{0: f.cvmPCRs[0], 7: hex.EncodeToString(bytes.Repeat([]byte{7}, 32))}
		f.reject(t, "another PCR7", req(other, false), "pcr_mismatch")
	})
	t.Run("a VM with other PCRs matches no image", func(t *testing.T) {
		other := map[int]string{0: hex.EncodeToString(bytes.Repeat([]byte{8}, 32)), 7: hex.EncodeToString(bytes.Repeat([]byte{7}, 32))}
		f.reject(t, "other PCRs", req(other, false), reasonNoMatchingImage)
	})
}
