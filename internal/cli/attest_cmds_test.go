package cli

import (
	"crypto"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/openccm/openccm/pkg/apiv1"
	"github.com/openccm/openccm/pkg/client"
)

// echoEvidence is an evidence command that prints the binding and the nonce
// it was given, and says something on stderr.
const echoEvidence = `printf '{"binding": "%s", "nonce": "%s"}\n' "$OPENCCM_BINDING" "$OPENCCM_NONCE"; echo "asking the hardware" >&2`

// readPEMFile reads every PEM block of a file.
func readPEMFile(t *testing.T, path string) []*pem.Block {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []*pem.Block
	for {
		var blk *pem.Block
		if blk, b = pem.Decode(b); blk == nil {
			return out
		}
		out = append(out, blk)
	}
}

// checkIdentityFiles checks a key file (PKCS #8, mode 0600) and a
// certificate file (leaf for the key, then the fake CA) and returns the leaf.
func checkIdentityFiles(t *testing.T, f *fakeServer, keyFile, certFile string) *x509.Certificate {
	t.Helper()
	if st, err := os.Stat(keyFile); err != nil {
		t.Fatal(err)
	} else if runtime.GOOS != "windows" && st.Mode().Perm() != 0o600 {
		t.Errorf("key file mode %o, want 600", st.Mode().Perm())
	}
	keys := readPEMFile(t, keyFile)
	if len(keys) != 1 || keys[0].Type != "PRIVATE KEY" {
		t.Fatalf("key file holds %d blocks", len(keys))
	}
	key, err := x509.ParsePKCS8PrivateKey(keys[0].Bytes)
	if err != nil {
		t.Fatal(err)
	}
	certs := readPEMFile(t, certFile)
	if len(certs) != 2 || certs[0].Type != "CERTIFICATE" || certs[1].Type != "CERTIFICATE" {
		t.Fatalf("certificate file holds %d blocks, want the leaf and the CA", len(certs))
	}
	leaf, err := x509.ParseCertificate(certs[0].Bytes)
	if err != nil {
		t.Fatal(err)
	}
	signer, ok := key.(crypto.Signer)
	if !ok || !leaf.PublicKey.(interface{ Equal(crypto.PublicKey) bool }).Equal(signer.Public()) {
		t.Error("the certificate is not for the key in the key file")
	}
	if string(certs[1].Bytes) != string(f.attest.ca.Raw) {
		t.Error("the chain is not the fake CA")
	}
	return leaf
}

func TestAttest(t *testing.T) {
	h := newHarness(t)
	accountID := h.loginWithAccount()
	webID := h.newApp("web", "aci")
	dir := t.TempDir()
	keyFile, certFile := filepath.Join(dir, "tls", "key.pem"), filepath.Join(dir, "tls", "cert.pem")
	if err := os.Mkdir(filepath.Dir(keyFile), 0o700); err != nil {
		t.Fatal(err)
	}
	// An old key readable by others is replaced by a private one.
	os.WriteFile(keyFile, []byte("old"), 0o644)

	out, errOut, code := h.run("", "attest", "--platform", "aci", "--app", "web", "--evidence-cmd", echoEvidence,
		"--key-out", keyFile, "--cert-out", certFile)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if !strings.Contains(errOut, "asking the hardware") {
		t.Errorf("the evidence command's stderr was not passed through: %q", errOut)
	}

	// The server got a valid CSR for a P-256 key, and evidence carrying the
	// binding of its nonce and that key.
	recs := h.fake.attestations()
	if len(recs) != 1 {
		t.Fatalf("%d attestations", len(recs))
	}
	rec := recs[0]
	if rec.CSR == nil || rec.CSR.CheckSignature() != nil || rec.CSR.Subject.CommonName != client.WorkloadCommonName ||
		rec.CSR.PublicKeyAlgorithm != x509.ECDSA {
		t.Fatalf("CSR = %+v", rec.CSR)
	}
	var ev struct{ Binding, Nonce string }
	if err := json.Unmarshal(rec.Request.Evidence, &ev); err != nil {
		t.Fatal(err)
	}
	if ev.Binding != hex.EncodeToString(rec.Binding[:]) || ev.Nonce != rec.Request.Nonce {
		t.Errorf("evidence %s: want binding %x and nonce %s", rec.Request.Evidence, rec.Binding, rec.Request.Nonce)
	}
	if rec.Request.AccountID != accountID || rec.Request.AppID != webID || rec.Request.Platform != "aci" {
		t.Errorf("request = %+v", rec.Request)
	}
	// A workload sends no credentials, even when a user is logged in.
	for _, r := range h.fake.allRequests() {
		if strings.HasPrefix(r.Path, "/v1/attest") && r.Auth != "" {
			t.Errorf("%s %s sent Authorization %q", r.Method, r.Path, r.Auth)
		}
	}

	leaf := checkIdentityFiles(t, h.fake, keyFile, certFile)
	certID := h.fake.attest.certs[accountID][0].CertificateID
	for _, want := range []string{"Certificate:", certID, "Image:", "00000000-0000-4000-8000-0000000000bb",
		"web.example.com, www.example.com", "spiffe://acme/app/web", "Expires:", fmtTime(leaf.NotAfter), keyFile, certFile} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q:\n%s", want, out)
		}
	}
	if entries, _ := os.ReadDir(filepath.Dir(keyFile)); len(entries) != 2 {
		t.Errorf("%d files in the output directory, want the key and the certificate (no temporary files)", len(entries))
	}

	// -o json.
	var res attestResult
	h.decodeJSON(h.ok("", "attest", "--platform", "aci", "--evidence-cmd", echoEvidence, "--key-out", keyFile, "--cert-out", certFile,
		"-o", "json"), &res)
	if res.CertificateID == "" || res.CertificateID == certID || !strings.HasPrefix(res.Certificate, "-----BEGIN CERTIFICATE") ||
		len(res.Chain) != 1 || res.CommonName != "web.example.com" || len(res.DNSNames) != 2 || len(res.URIs) != 1 ||
		res.KeyFile != keyFile || res.CertificateFile != certFile || res.ImageID == "" || res.ExpiresAt.IsZero() {
		t.Errorf("-o json = %+v", res)
	}
	if recs := h.fake.attestations(); recs[1].Request.AppID != "" {
		t.Errorf("app sent without --app: %q", recs[1].Request.AppID)
	}
	checkIdentityFiles(t, h.fake, keyFile, certFile)
}

func TestAttestWithoutLogin(t *testing.T) {
	h := newHarness(t)
	accountID := h.fake.addAccount("acme")
	dir := t.TempDir()
	t.Chdir(dir)

	out := h.ok("", "attest", "--server", h.fake.URL, "--account", accountID, "--platform", "nitro", "--evidence-cmd", echoEvidence)
	if !strings.Contains(out, "key.pem") || !strings.Contains(out, "cert.pem") {
		t.Errorf("summary:\n%s", out)
	}
	checkIdentityFiles(t, h.fake, filepath.Join(dir, "key.pem"), filepath.Join(dir, "cert.pem"))
	for _, r := range h.fake.allRequests() {
		if r.Auth != "" {
			t.Errorf("%s %s sent Authorization %q", r.Method, r.Path, r.Auth)
		}
	}

	// $CCM_SERVER and an app ID work too; names need a login.
	t.Setenv(envServer, h.fake.URL)
	appID := "00000000-0000-4000-8000-000000000777"
	h.ok("", "attest", "--account", accountID, "--app", appID, "--platform", "nitro", "--evidence-cmd", echoEvidence)
	if recs := h.fake.attestations(); recs[len(recs)-1].Request.AppID != appID {
		t.Errorf("app ID = %q", recs[len(recs)-1].Request.AppID)
	}
	n := len(h.fake.allRequests())
	for _, tc := range []struct {
		args    []string
		wantErr string
	}{
		{[]string{"--account", "acme"}, `account "acme": without a login, give the account's ID`},
		{[]string{"--account", accountID, "--app", "web"}, `app "web": without a login, give the app's ID`},
		{nil, "no account selected"},
	} {
		args := append([]string{"attest", "--platform", "nitro", "--evidence-cmd", echoEvidence}, tc.args...)
		if _, errOut, code := h.run("", args...); code != 1 || !strings.Contains(errOut, tc.wantErr) {
			t.Errorf("%v: exit %d, %q", tc.args, code, errOut)
		}
	}
	if len(h.fake.allRequests()) != n {
		t.Error("requests were sent")
	}
}

func TestAttestFailures(t *testing.T) {
	h := newHarness(t)
	h.loginWithAccount()
	dir := t.TempDir()
	keyFile, certFile := filepath.Join(dir, "key.pem"), filepath.Join(dir, "cert.pem")
	files := []string{"--key-out", keyFile, "--cert-out", certFile}

	tests := []struct {
		name     string
		args     []string
		wantErr  string
		attested int // attestations sent
	}{
		{"needs a platform", []string{"--evidence-cmd", echoEvidence}, "--platform is required", 0},
		{"needs an evidence command", []string{"--platform", "nitro"}, "--evidence-cmd is required", 0},
		{"needs two files", []string{"--platform", "nitro", "--evidence-cmd", echoEvidence, "--key-out", "x.pem", "--cert-out", "x.pem"},
			"must be different files", 0},
		{"reports a failing evidence command", []string{"--platform", "nitro", "--evidence-cmd", "echo no hardware >&2; exit 3"},
			"the evidence command failed: exit status 3", 0},
		{"refuses output that is not JSON", []string{"--platform", "nitro", "--evidence-cmd", "echo hello"},
			`the evidence command's output is not a JSON object: "hello"`, 0},
		{"refuses empty output", []string{"--platform", "nitro", "--evidence-cmd", "true"}, "the evidence command printed nothing", 0},
		{"reports a rejection", []string{"--platform", "nitro", "--evidence-cmd", `echo '{"binding": "00"}'`},
			"attestation_failed (binding_mismatch): fake: the evidence's binding is not the request's binding (HTTP 422", 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := len(h.fake.attestations())
			args := append(append([]string{"attest"}, files...), tc.args...)
			_, errOut, code := h.run("", args...)
			if code != 1 || !strings.Contains(errOut, tc.wantErr) {
				t.Errorf("exit %d, stderr %q; want %q", code, errOut, tc.wantErr)
			}
			if n := len(h.fake.attestations()) - before; n != tc.attested {
				t.Errorf("%d attestations sent, want %d", n, tc.attested)
			}
			for _, f := range []string{keyFile, certFile} {
				if _, err := os.Stat(f); !os.IsNotExist(err) {
					t.Errorf("%s written after a failure", f)
				}
			}
		})
	}
}

func TestCACommands(t *testing.T) {
	h := newHarness(t)
	accountID := h.loginWithAccount()
	ca := h.fake.attest.ca

	out := h.ok("", "ca", "show")
	for _, want := range []string{"Subject:", "CN=acme CA,O=OpenCCM fake", "ECDSA P-256", "Not after:", client.Fingerprint(ca.Raw)} {
		if !strings.Contains(out, want) {
			t.Errorf("ca show lacks %q:\n%s", want, out)
		}
	}
	if out := h.ok("", "ca", "show", "--pem"); out != caPEM(ca) {
		t.Errorf("ca show --pem = %q", out)
	}
	var c apiv1.CACertificate
	h.decodeJSON(h.ok("", "ca", "show", "-o", "json"), &c)
	if c.Certificate != caPEM(ca) {
		t.Errorf("ca show -o json = %+v", c)
	}

	// Public: no login needed with the account's ID, and none sent.
	h2 := newHarness(t)
	h2.fake = h.fake
	if out := h2.ok("", "ca", "show", "--pem", "--server", h.fake.URL, "--account", accountID); out != caPEM(ca) {
		t.Errorf("ca show without a login = %q", out)
	}
	if r, _ := h.fake.last("GET", "/v1/accounts/"+accountID+"/ca"); r.Auth != "" {
		t.Errorf("Authorization %q sent without a login", r.Auth)
	}
	if _, errOut, code := h2.run("", "ca", "show", "--server", h.fake.URL, "--account", "acme"); code != 1 ||
		!strings.Contains(errOut, "without a login, give the account's ID") {
		t.Errorf("ca show by name without a login: exit %d, %q", code, errOut)
	}
}

func TestCertCommandsAndCRL(t *testing.T) {
	h := newHarness(t)
	accountID := h.loginWithAccount()
	webID := h.newApp("web", "aci")
	dir := t.TempDir()
	for _, app := range []string{"web", ""} {
		args := []string{"attest", "--platform", "aci", "--evidence-cmd", echoEvidence,
			"--key-out", filepath.Join(dir, "k.pem"), "--cert-out", filepath.Join(dir, "c.pem")}
		if app != "" {
			args = append(args, "--app", app)
		}
		h.ok("", args...)
	}
	certs := h.fake.attest.certs[accountID]
	first, second := certs[0], certs[1]
	path := "/v1/accounts/" + accountID + "/certificates"

	out := h.ok("", "cert", "list")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "ID ") || !strings.Contains(lines[0], "COMMON NAME") ||
		!strings.HasPrefix(lines[1], first.CertificateID) || !strings.Contains(lines[1], "web.example.com") ||
		!strings.Contains(lines[1], webID) || !strings.Contains(lines[1], "issued") || !strings.Contains(lines[1], fmtTime(first.ExpiresAt)) {
		t.Errorf("cert list:\n%s", out)
	}
	var list []apiv1.Certificate
	h.decodeJSON(h.ok("", "cert", "list", "--app", "web", "--image", first.ImageID, "--status", "issued", "-o", "json"), &list)
	if len(list) != 1 || list[0].CertificateID != first.CertificateID {
		t.Errorf("filtered list = %+v", list)
	}
	req, _ := h.fake.last("GET", path)
	if req.Query != "app_id="+webID+"&image_id="+first.ImageID+"&limit=500&status=issued" {
		t.Errorf("query = %q", req.Query)
	}
	if _, errOut, code := h.run("", "cert", "list", "--status", "valid"); code != 1 || !strings.Contains(errOut, `--status "valid": use issued, revoked or expired`) {
		t.Errorf("bad --status: exit %d, %q", code, errOut)
	}

	out = h.ok("", "cert", "show", second.CertificateID)
	for _, want := range []string{"ID:", second.CertificateID, "DNS names:", "web.example.com, www.example.com", "spiffe://acme/app/web",
		"Serial:", second.Serial, "Status:", "issued"} {
		if !strings.Contains(out, want) {
			t.Errorf("cert show lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "Revoked") {
		t.Errorf("an issued certificate shows revocation lines:\n%s", out)
	}
	if out := h.ok("", "cert", "show", second.CertificateID, "--pem"); out != second.Certificate {
		t.Errorf("cert show --pem = %q", out)
	}
	if _, errOut, code := h.run("", "cert", "show", "nope"); code != 1 || !strings.Contains(errOut, "certificate not found") {
		t.Errorf("unknown certificate: exit %d, %q", code, errOut)
	}

	// An empty CRL first.
	out = h.ok("", "ca", "crl")
	if !strings.Contains(out, "Issuer:") || !strings.Contains(out, "CN=acme CA") || !strings.Contains(out, "Number:") ||
		!strings.Contains(out, "No revoked certificates.") {
		t.Errorf("empty crl:\n%s", out)
	}

	out = h.ok("", "cert", "revoke", second.CertificateID, "--reason", "key leaked")
	if req, _ := h.fake.last("POST", path+"/"+second.CertificateID+"/revoke"); req.Body != `{"reason":"key leaked"}` {
		t.Errorf("revoke body = %s", req.Body)
	}
	for _, want := range []string{"Status:", "revoked", "Revoked:", "Revocation reason:", "key leaked"} {
		if !strings.Contains(out, want) {
			t.Errorf("cert revoke lacks %q:\n%s", want, out)
		}
	}
	var revoked apiv1.Certificate
	h.decodeJSON(h.ok("", "cert", "revoke", first.CertificateID, "-o", "json"), &revoked)
	if req, _ := h.fake.last("POST", path+"/"+first.CertificateID+"/revoke"); req.Body != `{}` {
		t.Errorf("revoke without a reason sent %s", req.Body)
	}
	if revoked.Status != "revoked" || revoked.RevokedAt == nil {
		t.Errorf("revoke -o json = %+v", revoked)
	}

	out = h.ok("", "ca", "crl")
	lines = strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) < 3 || !strings.HasPrefix(lines[len(lines)-3], "SERIAL") || !strings.Contains(out, second.Serial) ||
		!strings.Contains(out, first.Serial) || !strings.Contains(out, fmtTime(*revoked.RevokedAt)) {
		t.Errorf("crl:\n%s", out)
	}
	var sum crlSummary
	h.decodeJSON(h.ok("", "ca", "crl", "-o", "json"), &sum)
	if len(sum.Entries) != 2 || sum.Number != "7" || sum.NextUpdate.IsZero() {
		t.Errorf("crl -o json = %+v", sum)
	}
	crlFile := filepath.Join(dir, "ca.crl")
	out = h.ok("", "ca", "crl", "-f", crlFile)
	der, err := os.ReadFile(crlFile)
	if err != nil {
		t.Fatal(err)
	}
	crl, err := x509.ParseRevocationList(der)
	if err != nil || len(crl.RevokedCertificateEntries) != 2 || crl.CheckSignatureFrom(h.fake.attest.ca) != nil {
		t.Errorf("saved CRL: %v", err)
	}
	if !strings.Contains(out, "2 revoked certificates") || !strings.Contains(out, crlFile) {
		t.Errorf("crl -f: %q", out)
	}
	if crl, err := x509.ParseRevocationList([]byte(h.ok("", "ca", "crl", "-f", "-"))); err != nil || len(crl.RevokedCertificateEntries) != 2 {
		t.Errorf("crl -f - did not write the DER: %v", err)
	}

	// Public, like the CA.
	h2 := newHarness(t)
	h2.fake = h.fake
	if out := h2.ok("", "ca", "crl", "--server", h.fake.URL, "--account", accountID); !strings.Contains(out, second.Serial) {
		t.Errorf("crl without a login:\n%s", out)
	}

	// Certificates are not public.
	if _, errOut, code := h2.run("", "cert", "list", "--server", h.fake.URL, "--account", accountID); code != 1 || !strings.Contains(errOut, "not logged in") {
		t.Errorf("cert list without a login: exit %d, %q", code, errOut)
	}
}
