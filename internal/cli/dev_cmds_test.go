package cli

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
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/openccm/openccm/internal/attest"
	"github.com/openccm/openccm/internal/config"
	"github.com/openccm/openccm/internal/platform"
	"github.com/openccm/openccm/internal/platform/gpu"
	"github.com/openccm/openccm/internal/platform/platformtest"
	"github.com/openccm/openccm/internal/verifiers"
)

// runCCM runs ccm offline (no harness, no server) and returns its outputs
// and exit code.
func runCCM(args ...string) (stdout, stderr string, code int) {
	var out, errb bytes.Buffer
	code = Main(args, strings.NewReader(""), &out, &errb)
	return out.String(), errb.String(), code
}

func mustRun(t *testing.T, args ...string) string {
	t.Helper()
	out, errOut, code := runCCM(args...)
	if code != 0 {
		t.Fatalf("ccm %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, out, errOut)
	}
	return out
}

// sharedRoots is the output of one ccm dev roots, shared by the tests of
// this file (the fake AMD keys take a second or two).
type sharedRoots struct{ dir, stdout, stderr string }

// devRootsTemp is the temporary directory of devRoots, once made.
var devRootsTemp string

var devRoots = sync.OnceValues(func() (sharedRoots, error) {
	dir, err := os.MkdirTemp("", "ccm-dev-roots-")
	if err != nil {
		return sharedRoots{}, err
	}
	devRootsTemp = dir
	r := sharedRoots{dir: filepath.Join(dir, "roots")}
	var code int
	if r.stdout, r.stderr, code = runCCM("dev", "roots", r.dir); code != 0 {
		return r, &exitError{code: code, msg: r.stderr}
	}
	return r, nil
})

func testRoots(t *testing.T) string {
	t.Helper()
	r, err := devRoots()
	if err != nil {
		t.Fatal(err)
	}
	return r.dir
}

func TestMain(m *testing.M) {
	code := m.Run()
	if devRootsTemp != "" {
		os.RemoveAll(devRootsTemp)
	}
	os.Exit(code)
}

func writeFile(t *testing.T, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// inspect runs ccm evidence inspect and returns the claims it printed.
func inspect(t *testing.T, args ...string) (claims map[string]any, stderr string, code int) {
	t.Helper()
	out, errOut, code := runCCM(append([]string{"evidence", "inspect"}, args...)...)
	if out != "" {
		if err := json.Unmarshal([]byte(out), &claims); err != nil {
			t.Fatalf("output is not JSON: %v\n%s", err, out)
		}
	}
	return claims, errOut, code
}

func TestDevRoots(t *testing.T) {
	r, err := devRoots()
	if err != nil {
		t.Fatal(err)
	}
	dir, out, errOut := r.dir, r.stdout, r.stderr
	serverFlags := "ccm server --trust-roots " + filepath.Join(dir, "trust-roots.yaml") + " --gpu-jwks " + filepath.Join(dir, "gpu-jwks.json")
	for _, want := range []string{"nitro-root.pem", "snp-roots.pem", "sgx-root.pem", "azure-ak.key", "gpu-jwks.json", "trust-roots.yaml", serverFlags,
		"--platform nitro|sev_snp|aci|sgx|azure_cvm"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if !strings.Contains(errOut, "WARNING: THESE ROOTS ARE FOR TESTING ONLY") {
		t.Errorf("no warning: %q", errOut)
	}
	if st, err := os.Stat(dir); err != nil || st.Mode().Perm() != 0o700 {
		t.Errorf("directory: %v, %v", st, err)
	}
	for _, key := range []string{platformtest.NitroRootKey, platformtest.NitroIntermediateKey, platformtest.SNPASKKey,
		platformtest.AzureAKKey, platformtest.AzureEKKey, platformtest.SGXRootKey, platformtest.SGXPCKCAKey, platformtest.SGXPCKKey,
		platformtest.SGXTCBSigningKey, platformtest.SGXAttestationKey, platformtest.GPUKeyFile} {
		if st, err := os.Stat(filepath.Join(dir, key)); err != nil || st.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v, %v", key, st, err)
		}
	}
	yaml, _ := os.ReadFile(filepath.Join(dir, "trust-roots.yaml"))
	if !strings.Contains(string(yaml), "nitro: [nitro-root.pem]\namd: [snp-roots.pem]\nintel_sgx: [sgx-root.pem]\n") {
		t.Errorf("trust-roots.yaml:\n%s", yaml)
	}
	roots, err := config.LoadTrustRoots(filepath.Join(dir, "trust-roots.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(roots.Nitro) != 1 || len(roots.AMD) != 1 || len(roots.IntelSGX) != 1 || roots.Nitro[0].Subject.CommonName != "openccm-test.nitro-enclaves" {
		t.Errorf("trust roots = %+v", roots)
	}
	if _, err := verifiers.New(roots, nil); err != nil {
		t.Errorf("verifiers refuse the roots: %v", err)
	}
	if _, err := platformtest.LoadNitroCA(dir); err != nil {
		t.Error(err)
	}
	if snp, err := platformtest.LoadSNPCA(dir); err != nil {
		t.Error(err)
	} else if _, err := platformtest.LoadAzureCVMWith(snp, dir); err != nil {
		t.Error(err)
	}
	if _, err := platformtest.LoadSGXCA(dir); err != nil {
		t.Error(err)
	}
	if _, err := platformtest.LoadGPU(dir); err != nil {
		t.Error(err)
	}
	if _, err := gpu.LoadJWKS(filepath.Join(dir, "gpu-jwks.json")); err != nil {
		t.Errorf("--gpu-jwks would refuse the key set: %v", err)
	}

	// Existing roots are kept unless --force (on a copy: the other tests
	// use these).
	copied := filepath.Join(t.TempDir(), "roots")
	if err := os.CopyFS(copied, os.DirFS(dir)); err != nil {
		t.Fatal(err)
	}
	dir = copied
	before, _ := os.ReadFile(filepath.Join(dir, platformtest.NitroRootFile))
	_, errOut, code := runCCM("dev", "roots", dir)
	if code != 1 || !strings.Contains(errOut, "already exists") || !strings.Contains(errOut, "--force") {
		t.Errorf("second run: exit %d, %q", code, errOut)
	}
	if after, _ := os.ReadFile(filepath.Join(dir, platformtest.NitroRootFile)); !bytes.Equal(before, after) {
		t.Error("the roots were replaced without --force")
	}
	// Even a lone trust-roots file counts.
	other := t.TempDir()
	os.WriteFile(filepath.Join(other, "trust-roots.yaml"), nil, 0o644)
	if _, errOut, code := runCCM("dev", "roots", other); code != 1 || !strings.Contains(errOut, "trust-roots.yaml already exists") {
		t.Errorf("lone trust-roots.yaml: exit %d, %q", code, errOut)
	}
	mustRun(t, "dev", "roots", dir, "--force")
	if after, _ := os.ReadFile(filepath.Join(dir, platformtest.NitroRootFile)); bytes.Equal(before, after) {
		t.Error("--force did not replace the roots")
	}
}

// verifyWithBinding checks evidence as the server does: with the binding.
func verifyWithBinding(t *testing.T, roots, p string, evidence []byte, binding [32]byte) (*platform.Claims, error) {
	t.Helper()
	tr, err := config.LoadTrustRoots(filepath.Join(roots, "trust-roots.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	vs, err := verifiers.New(tr, nil)
	if err != nil {
		t.Fatal(err)
	}
	return vs[platform.Platform(p)].Verify(context.Background(), evidence, platform.Options{Binding: &binding})
}

func TestDevEvidenceNitroRoundTrip(t *testing.T) {
	roots := testRoots(t)
	trust := filepath.Join(roots, "trust-roots.yaml")
	pcr := func(d string) string { return hexOf(d, 96) }
	var binding [32]byte
	rand.Read(binding[:])
	bindingHex := hex.EncodeToString(binding[:])

	out := mustRun(t, "dev", "evidence", "--platform", "nitro", "--roots", roots, "--binding", bindingHex,
		"--pcr0", pcr("a"), "--pcr1", pcr("b"), "--pcr2", pcr("c"))
	var ev struct{ Document string }
	dec := json.NewDecoder(strings.NewReader(out))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&ev); err != nil || ev.Document == "" {
		t.Fatalf("evidence %q: %v", out, err)
	}
	// What a server does with it, binding included.
	if _, err := verifyWithBinding(t, roots, "nitro", []byte(out), binding); err != nil {
		t.Fatalf("the server's verifier rejects it: %v", err)
	}

	evFile := writeFile(t, "nitro.json", []byte(out))
	claims, errOut, code := inspect(t, "--platform", "nitro", evFile, "--trust-roots", trust)
	if code != 0 || errOut != "verified: the evidence's signature chain is valid\n" {
		t.Fatalf("inspect: exit %d, %q", code, errOut)
	}
	pcrs, _ := claims["pcrs"].(map[string]any)
	if claims["platform"] != "nitro" || claims["debug"] != false || claims["user_data"] != bindingHex ||
		pcrs["0"] != pcr("a") || pcrs["1"] != pcr("b") || pcrs["2"] != pcr("c") || pcrs["3"] != hexOf("0", 96) {
		t.Errorf("claims = %v", claims)
	}

	// The raw document, as /dev/nsm returns it.
	doc, _ := base64.StdEncoding.DecodeString(ev.Document)
	rawFile := writeFile(t, "nitro.cose", doc)
	if _, errOut, code := inspect(t, "--platform", "nitro", rawFile, "--trust-roots", trust); code != 0 {
		t.Errorf("raw document: exit %d, %q", code, errOut)
	}
	out, _, code = runCCM("evidence", "inspect", "--platform", "nitro", rawFile, "--trust-roots", trust, "-o", "json")
	var res inspection
	if err := json.Unmarshal([]byte(out), &res); err != nil || code != 0 || !res.Verified || res.Reason != "" || res.Claims == nil ||
		res.Claims.UserData != bindingHex {
		t.Errorf("-o json: exit %d, %s", code, out)
	}

	// Not trusted without the trust-roots file.
	_, errOut, code = inspect(t, "--platform", "nitro", evFile)
	if code != 1 || !strings.HasPrefix(errOut, "NOT verified: signature_invalid: nitro: certificate chain does not verify") {
		t.Errorf("without the roots: exit %d, %q", code, errOut)
	}
	out, _, code = runCCM("evidence", "inspect", "--platform", "nitro", evFile, "-o", "json")
	res = inspection{}
	if err := json.Unmarshal([]byte(out), &res); err != nil || code != 1 || res.Verified || res.Reason != "signature_invalid" ||
		!strings.Contains(res.Message, "does not verify to a trusted Nitro root") || res.Claims != nil {
		t.Errorf("-o json without the roots: exit %d, %s", code, out)
	}

	// Tampered: the signature's last byte.
	bad := bytes.Clone(doc)
	bad[len(bad)-1] ^= 1
	for name, data := range map[string][]byte{
		"raw":  bad,
		"json": []byte(`{"document": "` + base64.StdEncoding.EncodeToString(bad) + `"}`),
	} {
		claims, errOut, code := inspect(t, "--platform", "nitro", writeFile(t, "bad", data), "--trust-roots", trust)
		if code != 1 || claims != nil || !strings.Contains(errOut, "NOT verified: signature_invalid: nitro: COSE signature does not verify") {
			t.Errorf("tampered %s: exit %d, %q", name, code, errOut)
		}
	}

	// A debug-mode enclave.
	out = mustRun(t, "dev", "evidence", "--platform", "nitro", "--roots", roots, "--binding", bindingHex, "--debug")
	claims, _, code = inspect(t, "--platform", "nitro", writeFile(t, "debug.json", []byte(out)), "--trust-roots", trust)
	if pcrs, _ := claims["pcrs"].(map[string]any); code != 0 || claims["debug"] != true || pcrs["0"] != hexOf("0", 96) {
		t.Errorf("--debug: exit %d, claims %v", code, claims)
	}
}

func TestDevEvidenceSNPRoundTrip(t *testing.T) {
	roots := testRoots(t)
	trust := filepath.Join(roots, "trust-roots.yaml")
	var binding [32]byte
	rand.Read(binding[:])
	bindingHex := hex.EncodeToString(binding[:])
	measurement, hostData := hexOf("4", 94)+"2a", hexOf("d", 64)

	out := mustRun(t, "dev", "evidence", "--platform", "sev_snp", "--roots", roots, "--binding", bindingHex,
		"--measurement", measurement, "--vmpl", "2", "--host-data", hostData)
	var ev struct{ Report, VCEK, ASK, ARK []byte }
	if err := json.Unmarshal([]byte(out), &ev); err != nil || len(ev.Report) != 1184 || len(ev.VCEK) == 0 || len(ev.ASK) == 0 || len(ev.ARK) == 0 {
		t.Fatalf("evidence %.100q: %v", out, err)
	}
	if _, err := verifyWithBinding(t, roots, "sev_snp", []byte(out), binding); err != nil {
		t.Fatalf("the server's verifier rejects it: %v", err)
	}

	claims, errOut, code := inspect(t, "--platform", "sev_snp", writeFile(t, "snp.json", []byte(out)), "--trust-roots", trust)
	if code != 0 || !strings.HasPrefix(errOut, "verified") {
		t.Fatalf("inspect: exit %d, %q", code, errOut)
	}
	if claims["platform"] != "sev_snp" || claims["debug"] != false || claims["measurement"] != measurement || claims["vmpl"] != 2.0 ||
		claims["host_data"] != hostData || claims["report_data"] != bindingHex+hexOf("0", 64) {
		t.Errorf("claims = %v", claims)
	}

	// The raw report, with the certificates as DER and PEM files.
	report := writeFile(t, "report.bin", ev.Report)
	vcekDER := writeFile(t, "vcek.der", ev.VCEK)
	askPEM := writeFile(t, "ask.pem", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ev.ASK}))
	arkPEM := writeFile(t, "ark.pem", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ev.ARK}))
	claims, errOut, code = inspect(t, "--platform", "sev_snp", report, "--vcek", vcekDER, "--ask", askPEM, "--ark", arkPEM, "--trust-roots", trust)
	if code != 0 || claims["measurement"] != measurement {
		t.Errorf("raw report: exit %d, %q, %v", code, errOut, claims)
	}
	if _, errOut, code := inspect(t, "--platform", "sev_snp", report, "--trust-roots", trust); code != 1 || !strings.Contains(errOut, "a raw report needs --vcek FILE") {
		t.Errorf("raw report without --vcek: exit %d, %q", code, errOut)
	}
	if _, errOut, code := inspect(t, "--platform", "sev_snp", report, "--vcek", vcekDER); code != 1 || !strings.HasPrefix(errOut, "NOT verified: signature_invalid") {
		t.Errorf("without the roots: exit %d, %q", code, errOut)
	}

	// Tampered: one byte of the measurement.
	bad := bytes.Clone(ev.Report)
	bad[0x90] ^= 1
	_, errOut, code = inspect(t, "--platform", "sev_snp", writeFile(t, "bad.bin", bad), "--vcek", vcekDER, "--trust-roots", trust)
	if code != 1 || !strings.HasPrefix(errOut, "NOT verified: signature_invalid") {
		t.Errorf("tampered report: exit %d, %q", code, errOut)
	}
	badJSON, _ := json.Marshal(map[string][]byte{"report": bad, "vcek": ev.VCEK})
	if _, errOut, code := inspect(t, "--platform", "sev_snp", writeFile(t, "bad.json", badJSON), "--trust-roots", trust); code != 1 ||
		!strings.HasPrefix(errOut, "NOT verified: signature_invalid") {
		t.Errorf("tampered evidence object: exit %d, %q", code, errOut)
	}
	if _, errOut, code := inspect(t, "--platform", "sev_snp", writeFile(t, "junk.json", []byte(`{"report": "AAAA"}`)), "--trust-roots", trust); code != 1 ||
		!strings.HasPrefix(errOut, "NOT verified: evidence_malformed") {
		t.Errorf("malformed evidence object: exit %d, %q", code, errOut)
	}

	// A debug policy.
	out = mustRun(t, "dev", "evidence", "--platform", "sev_snp", "--roots", roots, "--binding", bindingHex, "--measurement", measurement, "--debug")
	if claims, _, code := inspect(t, "--platform", "sev_snp", writeFile(t, "debug.json", []byte(out)), "--trust-roots", trust); code != 0 || claims["debug"] != true {
		t.Errorf("--debug: exit %d, %v", code, claims)
	}

	// ACI: matched on host data.
	out = mustRun(t, "dev", "evidence", "--platform", "aci", "--roots", roots, "--binding", bindingHex, "--host-data", hostData)
	claims, _, code = inspect(t, "--platform", "aci", writeFile(t, "aci.json", []byte(out)), "--trust-roots", trust)
	if code != 0 || claims["platform"] != "aci" || claims["host_data"] != hostData || claims["vmpl"] != 0.0 {
		t.Errorf("aci: exit %d, %v", code, claims)
	}
}

func TestDevEvidenceFromNonceAndCSR(t *testing.T) {
	roots := testRoots(t)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	csrDER, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{}, key)
	if err != nil {
		t.Fatal(err)
	}
	csr, _ := x509.ParseCertificateRequest(csrDER)
	nonce := make([]byte, 32)
	rand.Read(nonce)
	binding := attest.Binding(nonce, csr.RawSubjectPublicKeyInfo)
	for name, data := range map[string][]byte{
		"pem": pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: csrDER}),
		"der": csrDER,
	} {
		csrFile := writeFile(t, "csr."+name, data)
		out := mustRun(t, "dev", "evidence", "--platform", "aci", "--roots", roots, "--nonce", base64.StdEncoding.EncodeToString(nonce),
			"--csr", csrFile, "--host-data", hexOf("1", 64))
		if _, err := verifyWithBinding(t, roots, "aci", []byte(out), binding); err != nil {
			t.Errorf("%s CSR: the binding of the nonce and the CSR's key is not in the evidence: %v", name, err)
		}
	}
}

func TestDevEvidenceSGXRoundTrip(t *testing.T) {
	roots := testRoots(t)
	trust := filepath.Join(roots, "trust-roots.yaml")
	var binding [32]byte
	rand.Read(binding[:])
	bindingHex := hex.EncodeToString(binding[:])
	mrenclave, mrsigner := hexOf("e", 62)+"01", hexOf("5", 64)
	args := []string{"dev", "evidence", "--platform", "sgx", "--roots", roots, "--binding", bindingHex, "--mrenclave", mrenclave, "--mrsigner", mrsigner}

	out := mustRun(t, append(args, "--isvprodid", "7", "--isvsvn", "65535")...)
	var ev struct {
		Quote      []byte
		Collateral map[string]string
	}
	if err := json.Unmarshal([]byte(out), &ev); err != nil || len(ev.Quote) == 0 || len(ev.Collateral) != 4 {
		t.Fatalf("evidence %.100q: %v", out, err)
	}
	if _, err := verifyWithBinding(t, roots, "sgx", []byte(out), binding); err != nil {
		t.Fatalf("the server's verifier rejects it: %v", err)
	}
	claims, errOut, code := inspect(t, "--platform", "sgx", writeFile(t, "sgx.json", []byte(out)), "--trust-roots", trust)
	if code != 0 || errOut != "verified: the evidence's signature chain is valid\n" {
		t.Fatalf("inspect: exit %d, %q", code, errOut)
	}
	if claims["platform"] != "sgx" || claims["debug"] != false || claims["mrenclave"] != mrenclave || claims["mrsigner"] != mrsigner ||
		claims["isvprodid"] != 7.0 || claims["isvsvn"] != 65535.0 || claims["tcb_status"] != "UpToDate" ||
		claims["fmspc"] != "00906ed50000" || claims["report_data"] != bindingHex+hexOf("0", 64) {
		t.Errorf("claims = %v", claims)
	}

	// Not trusted without the trust-roots file: the PCK chain ends at the fake root.
	if _, errOut, code := inspect(t, "--platform", "sgx", writeFile(t, "sgx.json", []byte(out))); code != 1 || !strings.HasPrefix(errOut, "NOT verified: signature_invalid") {
		t.Errorf("without the roots: exit %d, %q", code, errOut)
	}

	// The quote alone, and a debug enclave.
	out = mustRun(t, append(args, "--no-collateral", "--debug")...)
	if strings.Contains(out, "collateral") {
		t.Errorf("--no-collateral: %.200s", out)
	}
	claims, errOut, code = inspect(t, "--platform", "sgx", writeFile(t, "debug.json", []byte(out)), "--trust-roots", trust)
	if code != 0 || claims["debug"] != true || claims["tcb_status"] != "unknown" || claims["isvprodid"] != 0.0 || claims["isvsvn"] != 0.0 {
		t.Errorf("--no-collateral --debug: exit %d, %q, %v", code, errOut, claims)
	}
}

func TestDevEvidenceAzureCVMRoundTrip(t *testing.T) {
	roots := testRoots(t)
	trust := filepath.Join(roots, "trust-roots.yaml")
	var binding [32]byte
	rand.Read(binding[:])
	bindingHex := hex.EncodeToString(binding[:])
	pcr0, pcr7 := hexOf("3d", 32), hexOf("a1", 32)
	args := []string{"dev", "evidence", "--platform", "azure_cvm", "--roots", roots, "--binding", bindingHex, "--pcr", "0=" + pcr0, "--pcr", "PCR7=" + strings.ToUpper(pcr7)}

	out := mustRun(t, args...)
	var ev struct {
		Quote     []byte            `json:"quote"`
		HCLReport []byte            `json:"hcl_report"`
		AKPublic  []byte            `json:"ak_public"`
		PCRs      map[string]string `json:"pcrs"`
	}
	if err := json.Unmarshal([]byte(out), &ev); err != nil || len(ev.Quote) == 0 || len(ev.HCLReport) == 0 || len(ev.AKPublic) == 0 ||
		len(ev.PCRs) != 2 || ev.PCRs["pcr7"] != pcr7 {
		t.Fatalf("evidence %.100q: %v", out, err)
	}
	if _, err := verifyWithBinding(t, roots, "azure_cvm", []byte(out), binding); err != nil {
		t.Fatalf("the server's verifier rejects it: %v", err)
	}
	claims, errOut, code := inspect(t, "--platform", "azure_cvm", writeFile(t, "cvm.json", []byte(out)), "--trust-roots", trust)
	if code != 0 || errOut != "verified: the evidence's signature chain is valid\n" {
		t.Fatalf("inspect: exit %d, %q", code, errOut)
	}
	pcrs, _ := claims["pcrs"].(map[string]any)
	extra, _ := claims["extra"].(map[string]any)
	if claims["platform"] != "azure_cvm" || claims["debug"] != false || claims["vmpl"] != 0.0 || len(pcrs) != 2 || pcrs["0"] != pcr0 || pcrs["7"] != pcr7 ||
		extra["quote_extra_data"] != bindingHex || extra["gpu"] != nil {
		t.Errorf("claims = %v", claims)
	}
	if _, errOut, code := inspect(t, "--platform", "azure_cvm", writeFile(t, "cvm.json", []byte(out))); code != 1 || !strings.HasPrefix(errOut, "NOT verified: signature_invalid") {
		t.Errorf("without the roots: exit %d, %q", code, errOut)
	}

	// The VM keeps its AK: the next evidence names the same one.
	out = mustRun(t, append(args, "--debug")...)
	var again struct {
		AKPublic []byte `json:"ak_public"`
	}
	if err := json.Unmarshal([]byte(out), &again); err != nil || !bytes.Equal(again.AKPublic, ev.AKPublic) {
		t.Errorf("a second call has another AK (%v)", err)
	}
	if claims, _, code := inspect(t, "--platform", "azure_cvm", writeFile(t, "debug.json", []byte(out)), "--trust-roots", trust); code != 0 || claims["debug"] != true {
		t.Errorf("--debug: exit %d, %v", code, claims)
	}
}

func TestDevEvidenceGPUToken(t *testing.T) {
	roots := testRoots(t)
	jwks, err := gpu.LoadJWKS(filepath.Join(roots, "gpu-jwks.json"))
	if err != nil {
		t.Fatal(err)
	}
	v, err := gpu.NewVerifier(gpu.Config{JWKS: jwks})
	if err != nil {
		t.Fatal(err)
	}
	var binding [32]byte
	rand.Read(binding[:])
	bindingHex := hex.EncodeToString(binding[:])
	for _, tc := range []struct {
		platform string
		args     []string
	}{
		{"sev_snp", []string{"--measurement", hexOf("4", 96)}},
		{"azure_cvm", []string{"--pcr", "7=" + hexOf("a", 64)}},
	} {
		t.Run(tc.platform, func(t *testing.T) {
			out := mustRun(t, append([]string{"dev", "evidence", "--platform", tc.platform, "--roots", roots, "--binding", bindingHex, "--gpu"}, tc.args...)...)
			token, ok, err := gpu.Evidence(json.RawMessage(out))
			if err != nil || !ok {
				t.Fatalf("no gpu.token in %.100q: %v", out, err)
			}
			r, err := v.Verify(context.Background(), token, binding)
			if err != nil {
				t.Fatalf("the token does not verify with DIR/gpu-jwks.json: %v", err)
			}
			if len(r.Devices) != 1 || r.Devices[0].ID != "GPU-0" {
				t.Errorf("result = %+v", r)
			}
			if _, err := v.Verify(context.Background(), token, [32]byte{1}); platform.ReasonOf(err) != gpu.ReasonGPUAttestationFailed {
				t.Errorf("for another binding: %v", err)
			}
			// The CPU evidence is unchanged by the gpu member.
			if _, err := verifyWithBinding(t, roots, tc.platform, []byte(out), binding); err != nil {
				t.Errorf("the server's verifier rejects it: %v", err)
			}
		})
	}
}

func TestDevEvidenceFlagErrors(t *testing.T) {
	roots := testRoots(t)
	b := hexOf("1", 64)
	pcr := hexOf("a", 96)
	nitro := []string{"--platform", "nitro", "--roots", roots, "--binding", b}
	snp := []string{"--platform", "sev_snp", "--roots", roots, "--binding", b}
	sgxArgs := []string{"--platform", "sgx", "--roots", roots, "--binding", b}
	azArgs := []string{"--platform", "azure_cvm", "--roots", roots, "--binding", b}
	// Roots made before sgx, azure_cvm and GPU tokens: Nitro and AMD only.
	oldRoots := t.TempDir()
	for _, name := range []string{platformtest.NitroRootFile, platformtest.NitroRootKey, platformtest.NitroIntermediateFile,
		platformtest.NitroIntermediateKey, platformtest.SNPARKFile, platformtest.SNPASKFile, platformtest.SNPASKKey, platformtest.SNPRootsFile} {
		data, err := os.ReadFile(filepath.Join(roots, name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(oldRoots, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		args    []string
		wantErr string
	}{
		{[]string{"--roots", roots, "--binding", b}, "--platform is required: nitro, sev_snp, aci, sgx or azure_cvm"},
		{[]string{"--platform", "tdx", "--roots", roots, "--binding", b}, `--platform "tdx": ccm dev makes nitro, sev_snp, aci, sgx or azure_cvm evidence`},
		{[]string{"--platform", "nitro", "--binding", b, "--pcr0", pcr, "--pcr1", pcr, "--pcr2", pcr}, "--roots is required"},
		{[]string{"--platform", "nitro", "--roots", roots, "--pcr0", pcr, "--pcr1", pcr, "--pcr2", pcr}, "give the binding"},
		{append(nitro, "--pcr0", pcr, "--pcr1", pcr), "--pcr2 is required for nitro evidence"},
		{append(nitro, "--pcr0", "abcd", "--pcr1", pcr, "--pcr2", pcr), "--pcr0: want 96 hex digits (48 bytes)"},
		{append(nitro, "--pcr0", pcr, "--debug"), "--pcr0: a debug-mode enclave's PCRs are all zeros"},
		{append(nitro, "--measurement", hexOf("1", 96)), "--measurement does not apply to nitro evidence"},
		{append(snp, "--pcr0", pcr), "--pcr0 does not apply to sev_snp evidence"},
		{snp, "--measurement is required for sev_snp evidence"},
		{append(snp, "--measurement", hexOf("1", 96), "--vmpl", "4"), "--vmpl 4: want 0 to 3"},
		{append(snp, "--measurement", hexOf("1", 96), "--host-data", "zz"), "--host-data: want 64 hex digits"},
		{[]string{"--platform", "aci", "--roots", roots, "--binding", b}, "--host-data is required for aci evidence"},
		{[]string{"--platform", "sev_snp", "--roots", roots, "--binding", "123", "--measurement", hexOf("1", 96)}, "--binding: want 64 hex digits"},
		{append(nitro, "--nonce", "AAAA", "--csr", "x"), "none of the others can be"},
		{[]string{"--platform", "nitro", "--roots", roots, "--nonce", "AAAA"}, "must all be set"},
		{[]string{"--platform", "nitro", "--roots", roots, "--nonce", "!!", "--csr", "x"}, `--nonce "!!" is not base64`},
		{[]string{"--platform", "nitro", "--roots", t.TempDir(), "--binding", b, "--pcr0", pcr, "--pcr1", pcr, "--pcr2", pcr}, "loading the fake Nitro root"},

		// sgx
		{sgxArgs, "--mrenclave is required for sgx evidence (64 hex digits)"},
		{append(sgxArgs, "--mrenclave", b), "--mrsigner is required for sgx evidence"},
		{append(sgxArgs, "--mrenclave", b, "--mrsigner", "12"), "--mrsigner: want 64 hex digits (32 bytes)"},
		{append(sgxArgs, "--mrenclave", b, "--mrsigner", b, "--isvsvn", "65536"), "--isvsvn 65536: want 0 to 65535"},
		{append(sgxArgs, "--mrenclave", b, "--mrsigner", b, "--isvprodid", "-1"), "--isvprodid -1: want 0 to 65535"},
		{append(sgxArgs, "--measurement", hexOf("1", 96)), "--measurement does not apply to sgx evidence"},
		{append(sgxArgs, "--gpu"), "--gpu does not apply to sgx evidence"},
		{append(sgxArgs, "--pcr", "0="+b), "--pcr does not apply to sgx evidence"},
		{append(nitro, "--mrenclave", b), "--mrenclave does not apply to nitro evidence"},
		{append(snp, "--no-collateral"), "--no-collateral does not apply to sev_snp evidence"},
		{[]string{"--platform", "sgx", "--roots", t.TempDir(), "--binding", b, "--mrenclave", b, "--mrsigner", b}, "loading the fake Intel SGX PKI (ccm dev roots "},
		{[]string{"--platform", "sgx", "--roots", oldRoots, "--binding", b, "--mrenclave", b, "--mrsigner", b},
			"loading the fake Intel SGX PKI (made by an older ccm dev roots? ccm dev roots " + oldRoots + " --force makes a full set)"},

		// azure_cvm
		{azArgs, "--pcr N=HEX is required for azure_cvm evidence"},
		{append(azArgs, "--pcr", "24="+b), `--pcr "24=` + b + `": want N=HEX with N from 0 to 23`},
		{append(azArgs, "--pcr", "x"), `--pcr "x": want N=HEX`},
		{append(azArgs, "--pcr", "07="+b), `--pcr "07=`},
		{append(azArgs, "--pcr", "7="+b, "--pcr", "pcr7="+b), "--pcr: PCR 7 given twice"},
		{append(azArgs, "--pcr", "7="+hexOf("a", 96)), "--pcr 7: want 64 hex digits (32 bytes)"},
		{append(azArgs, "--pcr", "7="+b, "--vmpl", "0"), "--vmpl does not apply to azure_cvm evidence"},
		{append(azArgs, "--pcr0", pcr), "--pcr0 does not apply to azure_cvm evidence"},
		{append(azArgs, "--measurement", hexOf("1", 96)), "--measurement does not apply to azure_cvm evidence"},
		{append(nitro, "--pcr", "7="+b), "--pcr does not apply to nitro evidence"},
		{[]string{"--platform", "azure_cvm", "--roots", oldRoots, "--binding", b, "--pcr", "7=" + b}, "loading the fake Azure CVM's vTPM keys (made by an older ccm dev roots?"},

		// --gpu
		{append(nitro, "--gpu"), "--gpu does not apply to nitro evidence"},
		{[]string{"--platform", "aci", "--roots", roots, "--binding", b, "--host-data", b, "--gpu"}, "--gpu does not apply to aci evidence"},
		{append(snp, "--measurement", hexOf("1", 96), "--gpu", "--roots", oldRoots), "loading the fake NVIDIA key (made by an older ccm dev roots?"},
	}
	for _, tc := range tests {
		out, errOut, code := runCCM(append([]string{"dev", "evidence"}, tc.args...)...)
		if code != 1 || out != "" || !strings.Contains(errOut, tc.wantErr) {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want %q", tc.args, code, out, errOut, tc.wantErr)
		}
	}
}

func TestInspectRealNitroSample(t *testing.T) {
	const dir = "../platform/nitro/testdata"
	proper := filepath.Join(dir, "request_proper.bin")

	out, errOut, code := runCCM("evidence", "inspect", "--platform", "nitro", proper, "--at", "2021-09-09T10:30:00Z")
	if code != 0 || errOut != "verified: the evidence's signature chain is valid\n" {
		t.Fatalf("exit %d, %q", code, errOut)
	}
	if !strings.Contains(out, `"debug": true`) || !strings.Contains(out, `"module_id": "i-02e3a660059b27d87-enc017bca11991e5083"`) {
		t.Errorf("claims:\n%s", out)
	}
	out, _, code = runCCM("evidence", "inspect", "--platform", "nitro", proper, "--at", "2021-09-09T10:30:00Z", "-o", "json")
	var res inspection
	if err := json.Unmarshal([]byte(out), &res); err != nil || code != 0 || !res.Verified || res.Claims == nil || !res.Claims.Debug {
		t.Errorf("-o json: exit %d, %s", code, out)
	}

	// The same as an evidence object.
	doc, _ := os.ReadFile(proper)
	evFile := writeFile(t, "sample.json", []byte(`{"document": "`+base64.StdEncoding.EncodeToString(doc)+`"}`))
	if _, errOut, code := inspect(t, "--platform", "nitro", evFile, "--at", "2021-09-09T10:30:00Z"); code != 0 {
		t.Errorf("as JSON: exit %d, %q", code, errOut)
	}

	// Now, its certificates have long expired.
	out, errOut, code = runCCM("evidence", "inspect", "--platform", "nitro", proper)
	if code != 1 || out != "" || !strings.HasPrefix(errOut, "NOT verified: signature_invalid: ") || !strings.Contains(errOut, "expired") {
		t.Errorf("without --at: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	_, errOut, code = runCCM("evidence", "inspect", "--platform", "nitro", filepath.Join(dir, "tampered_signature.bin"), "--at", "2021-09-09T10:30:00Z")
	if code != 1 || !strings.Contains(errOut, "NOT verified: signature_invalid: nitro: COSE signature does not verify") {
		t.Errorf("tampered signature: exit %d, %q", code, errOut)
	}
	_, errOut, code = runCCM("evidence", "inspect", "--platform", "nitro", filepath.Join(dir, "tampered_certificate.bin"), "--at", "2021-09-09T10:30:00Z")
	if code != 1 || !strings.Contains(errOut, "NOT verified: evidence_malformed") {
		t.Errorf("tampered certificate: exit %d, %q", code, errOut)
	}

	for _, tc := range []struct {
		args    []string
		wantErr string
	}{
		{[]string{proper}, "--platform is required"},
		{[]string{"--platform", "tdx", proper}, `--platform "tdx": evidence inspect verifies sgx, nitro, sev_snp, aci or azure_cvm evidence`},
		{[]string{"--platform", "nitro", proper, "--at", "yesterday"}, "--at: want an RFC 3339 time"},
		{[]string{"--platform", "nitro", proper, "--vcek", proper}, "[--vcek] apply to sev_snp and aci reports"},
		{[]string{"--platform", "nitro", evFile, "--ark", proper}, "[--ark] apply to a raw report"},
		{[]string{"--platform", "nitro", proper, "--trust-roots", "/nonexistent.yaml"}, "trust roots"},
		{[]string{"--platform", "nitro", proper, "-o", "yaml"}, `unknown output format "yaml"`},
		{[]string{"--platform", "nitro", filepath.Join(dir, "missing.bin")}, "no such file"},
	} {
		out, errOut, code := runCCM(append([]string{"evidence", "inspect"}, tc.args...)...)
		if code != 1 || out != "" || !strings.Contains(errOut, tc.wantErr) {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want %q", tc.args, code, out, errOut, tc.wantErr)
		}
	}
}

func TestInspectRealSGXQuotes(t *testing.T) {
	const dir = "../platform/sgx/testdata/dcap"
	quote := filepath.Join(dir, "pcs_quote.bin")

	// A raw quote: the PCK chain verifies to Intel's real root; without
	// collateral the TCB status is unknown.
	out, errOut, code := runCCM("evidence", "inspect", "--platform", "sgx", quote, "--at", "2020-06-01T00:00:00Z")
	if code != 0 || errOut != "verified: the evidence's signature chain is valid\n" {
		t.Fatalf("exit %d, %q", code, errOut)
	}
	for _, want := range []string{`"mrenclave": "2531fd89`, `"mrsigner": "9affcfae`, `"fmspc": "00906ea10000"`, `"tcb_status": "unknown"`, `"debug": true`} {
		if !strings.Contains(out, want) {
			t.Errorf("claims lack %s:\n%s", want, out)
		}
	}

	// With Intel's collateral of the time, as an evidence object.
	read := func(name string) string {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	q, _ := os.ReadFile(quote)
	ev, _ := json.Marshal(map[string]any{"quote": q, "collateral": map[string]string{
		"tcb_info": read("tcb_info_00906ea10000_2020.json"), "tcb_info_issuer_chain": read("tcb_signing_chain_2020.pem"),
		"qe_identity": read("qe_identity_2020.json"), "qe_identity_issuer_chain": read("tcb_signing_chain_2020.pem"),
	}})
	evFile := writeFile(t, "sgx.json", ev)
	out, errOut, code = runCCM("evidence", "inspect", "--platform", "sgx", evFile, "--at", "2020-06-01T00:00:00Z")
	if code != 0 || !strings.Contains(out, `"tcb_status": "SWHardeningNeeded"`) {
		t.Errorf("with collateral: exit %d, %q\n%s", code, errOut, out)
	}

	// After the PCK certificate's end, and a quote with a flipped signature byte.
	if _, errOut, code := runCCM("evidence", "inspect", "--platform", "sgx", quote, "--at", "2028-01-01T00:00:00Z"); code != 1 || !strings.Contains(errOut, "signature_invalid") {
		t.Errorf("expired PCK: exit %d, %q", code, errOut)
	}
	bad := append([]byte(nil), q...)
	bad[48+384+4+10] ^= 1 // inside the quote signature
	if _, errOut, code := runCCM("evidence", "inspect", "--platform", "sgx", writeFile(t, "bad.bin", bad), "--at", "2020-06-01T00:00:00Z"); code != 1 || !strings.Contains(errOut, "signature_invalid") {
		t.Errorf("tampered quote: exit %d, %q", code, errOut)
	}
}

func TestInspectRealAzureCVMSample(t *testing.T) {
	const ev = "../platform/azurecvm/testdata/az-snp-evidence.json"
	out, errOut, code := runCCM("evidence", "inspect", "--platform", "azure_cvm", ev, "--at", "2024-06-01T00:00:00Z")
	if code != 0 || errOut != "verified: the evidence's signature chain is valid\n" {
		t.Fatalf("exit %d, %q", code, errOut)
	}
	for _, want := range []string{`"platform": "azure_cvm"`, `"measurement": "9ac48fca`, `"vmpl": 0`, `"0": "f3a7e99a`, `"7": "32fe42b3`} {
		if !strings.Contains(out, want) {
			t.Errorf("claims lack %s:\n%s", want, out)
		}
	}
	// The VCEK has expired long after; the file is evidence a raw flag cannot apply to.
	if _, errOut, code := runCCM("evidence", "inspect", "--platform", "azure_cvm", ev, "--at", "2040-01-01T00:00:00Z"); code != 1 || !strings.Contains(errOut, "signature_invalid") {
		t.Errorf("in 2040: exit %d, %q", code, errOut)
	}
	if _, errOut, code := runCCM("evidence", "inspect", "--platform", "azure_cvm", "../platform/azurecvm/testdata/az-snp-quote.bin"); code != 1 || !strings.Contains(errOut, "give the evidence object") {
		t.Errorf("a raw quote: exit %d, %q", code, errOut)
	}
}
