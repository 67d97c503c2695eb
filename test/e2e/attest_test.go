package e2e

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openccm/openccm/internal/attest"
	"github.com/openccm/openccm/internal/platform/platformtest"
	"github.com/openccm/openccm/pkg/apiv1"
	"github.com/openccm/openccm/pkg/client"
)

// Attestation reasons of API.md.
const (
	reasonNonceInvalid     = "nonce_invalid"
	reasonSignatureInvalid = "signature_invalid"
	reasonBindingMismatch  = "binding_mismatch"
	reasonDebugNotAllowed  = "debug_not_allowed"
	reasonNoMatchingImage  = "no_matching_image"
	reasonImageNotApproved = "image_not_approved"
	reasonVMPLMismatch     = "vmpl_mismatch"
)

// fakeVendors are the fake vendor PKIs of the attestation tests: the
// trusted ones are added to the server with --trust-roots, the others are
// not.
type fakeVendors struct {
	nitro, otherNitro *platformtest.NitroCA
	snp, otherSNP     *platformtest.SNPCA
	// rootsFile is the --trust-roots YAML naming the trusted Nitro and AMD
	// roots; nitroRootsFile names the Nitro root only.
	rootsFile, nitroRootsFile string

	// snpReady is closed when snp, otherSNP and rootsFile are ready, or
	// snpErr says why they are not.
	snpReady chan struct{}
	snpErr   error
}

// newFakeVendors makes the fake Nitro CAs (quick) and writes a trust roots
// file of the Nitro root, then makes the SNP CAs in the background: they
// make RSA-4096 keys, which takes seconds. waitSNP waits for them.
func newFakeVendors(t *testing.T) *fakeVendors {
	t.Helper()
	v := &fakeVendors{snpReady: make(chan struct{})}
	var err1, err2 error
	v.nitro, err1 = platformtest.NewNitroCA()
	v.otherNitro, err2 = platformtest.NewNitroCA()
	if err := errors.Join(err1, err2); err != nil {
		t.Fatalf("making the fake Nitro CAs: %v", err)
	}
	dir := t.TempDir()
	// Runs before dir's removal: the background work writes into dir.
	t.Cleanup(func() { <-v.snpReady })
	if err := v.nitro.Save(dir); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "nitro-root.pem")); err != nil {
		t.Fatalf("NitroCA.Save wrote no nitro-root.pem: %v", err)
	}
	// Relative paths: taken from the YAML file's directory.
	v.nitroRootsFile = filepath.Join(dir, "nitro-roots.yaml")
	if err := os.WriteFile(v.nitroRootsFile, []byte("nitro: [nitro-root.pem]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(v.snpReady)
		var wg sync.WaitGroup
		var err1, err2 error
		wg.Go(func() { v.snp, err1 = platformtest.NewSNPCA() })
		wg.Go(func() { v.otherSNP, err2 = platformtest.NewSNPCA() })
		wg.Wait()
		if v.snpErr = errors.Join(err1, err2); v.snpErr != nil {
			return
		}
		if v.snpErr = os.WriteFile(filepath.Join(dir, "snp-roots.pem"), v.snp.RootsPEM(), 0o644); v.snpErr != nil {
			return
		}
		rootsFile := filepath.Join(dir, "trust-roots.yaml")
		v.snpErr = os.WriteFile(rootsFile, []byte("nitro: [nitro-root.pem]\namd: [snp-roots.pem]\n"), 0o644)
		v.rootsFile = rootsFile
	}()
	return v
}

// waitSNP waits until the SNP CAs and the full trust roots file are ready.
func (v *fakeVendors) waitSNP(t *testing.T) {
	t.Helper()
	select {
	case <-v.snpReady:
	case <-t.Context().Done():
		t.Fatal("the test ended while the SNP CAs were being made")
	}
	if v.snpErr != nil {
		t.Fatalf("making the fake SNP CAs: %v", v.snpErr)
	}
}

// workloadKey is a workload's key and its CSR.
type workloadKey struct {
	key    *ecdsa.PrivateKey
	csrPEM string
	spki   []byte // the CSR's DER SubjectPublicKeyInfo
}

func newWorkloadKey(t *testing.T) *workloadKey {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "e2e workload"}}, key)
	if err != nil {
		t.Fatal(err)
	}
	csr, err := x509.ParseCertificateRequest(der)
	if err != nil {
		t.Fatal(err)
	}
	return &workloadKey{key: key, csrPEM: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})), spki: csr.RawSubjectPublicKeyInfo}
}

// target is what a piece of evidence claims to run: the PCRs of a Nitro
// enclave, or the measurement, VMPL and host data of an SNP guest.
type target struct {
	pcrs        [3][]byte
	measurement [48]byte
	vmpl        uint32
	hostData    [32]byte
}

// evidenceKind says how a piece of evidence is made.
type evidenceKind int

const (
	goodEvidence      evidenceKind = iota
	untrustedEvidence              // signed by a fake vendor CA the server does not trust
	flippedSignature               // one byte of the signature flipped
	debugEvidence                  // from a debug-mode workload
	expiredEvidence                // signed by a certificate expired at the evidence's time
)

// makeEvidence returns evidence of platform p for binding and tg, as the
// fake vendors make it.
func (v *fakeVendors) makeEvidence(t *testing.T, p string, kind evidenceKind, binding [32]byte, tg target) json.RawMessage {
	t.Helper()
	var ev json.RawMessage
	var err error
	switch p {
	case "nitro":
		pcrs := map[int][]byte{}
		for i := range 16 {
			pcrs[i] = make([]byte, 48)
		}
		for i := range 3 {
			pcrs[i] = slices.Clone(tg.pcrs[i])
		}
		doc := platformtest.NitroDoc{PCRs: pcrs, UserData: binding[:]}
		ca := v.nitro
		switch kind {
		case untrustedEvidence:
			ca = v.otherNitro
		case debugEvidence:
			pcrs[0] = make([]byte, 48)
		case expiredEvidence:
			doc.Timestamp = time.Now()
			doc.LeafNotBefore = doc.Timestamp.Add(-3 * time.Hour)
			doc.LeafNotAfter = doc.Timestamp.Add(-time.Hour)
		}
		ev, err = ca.Evidence(doc)
		if err == nil && kind == flippedSignature {
			ev = flipNitroSignature(t, ev)
		}
	case "sev_snp", "aci":
		r := platformtest.SNPReport{Measurement: tg.measurement, VMPL: tg.vmpl, HostData: tg.hostData, TCB: 0xdb18000000000004}
		copy(r.ReportData[:32], binding[:])
		copy(r.ChipID[:], bytes.Repeat([]byte{0x5a}, 64))
		ca := v.snp
		switch kind {
		case untrustedEvidence:
			ca = v.otherSNP
		case debugEvidence:
			r.Debug = true
		case expiredEvidence:
			r.VCEKExpired = true
		}
		ev, err = ca.Report(r)
		if err == nil && kind == flippedSignature {
			ev = flipSNPSignature(t, ev)
		}
	default:
		t.Fatalf("no fake evidence for platform %q", p)
	}
	if err != nil {
		t.Fatalf("making %s evidence: %v", p, err)
	}
	return ev
}

// flipNitroSignature flips one byte of the COSE_Sign1 signature, the last
// 96 bytes (ES384's r || s) of the document.
func flipNitroSignature(t *testing.T, ev json.RawMessage) json.RawMessage {
	t.Helper()
	var obj struct {
		Document []byte `json:"document"`
	}
	if err := json.Unmarshal(ev, &obj); err != nil {
		t.Fatal(err)
	}
	obj.Document[len(obj.Document)-20] ^= 0x01
	out, err := json.Marshal(obj)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// flipSNPSignature flips one byte of the report's signature (R, from
// offset 0x2A0).
func flipSNPSignature(t *testing.T, ev json.RawMessage) json.RawMessage {
	t.Helper()
	var obj struct {
		Report []byte `json:"report"`
		VCEK   []byte `json:"vcek"`
		ASK    []byte `json:"ask,omitempty"`
		ARK    []byte `json:"ark,omitempty"`
	}
	if err := json.Unmarshal(ev, &obj); err != nil {
		t.Fatal(err)
	}
	if len(obj.Report) != 0x4A0 {
		t.Fatalf("the fake SNP report has %d bytes, want 1184", len(obj.Report))
	}
	obj.Report[0x2A0+5] ^= 0x01
	out, err := json.Marshal(obj)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// attemptRecord is an attestation attempt the flow made, for the audit
// check: reason is empty for an accepted one.
type attemptRecord struct {
	platform, reason string
	imageID          string // accepted: the image attested as
	certificateID    string
}

// attestFlow is the state of one run of the attestation flow, on one
// backend. It reuses the main flow's helpers (login, the API conventions).
type attestFlow struct {
	*flow
	v *fakeVendors

	anon        *client.Client        // a workload: no token
	other       *apiv1.Account        // another account of the same manager
	apps        map[string]*apiv1.App // by a name of the flow's own (not flow.apps)
	img         map[string]*apiv1.Image
	tg          map[string]target // the measurements of each image, by image name
	validity    map[string]int    // the apps' certificate.validity_days
	attempts    []attemptRecord
	leafSerials map[string]*big.Int // by certificate ID
}

// TestAttestation runs the attestation flow of every platform — challenge,
// CSR, evidence signed by fake vendor roots added with --trust-roots,
// certificate, revocation, CRL, audit — and each way evidence is rejected,
// on every database backend. It also expires a nonce on a server with a
// short --nonce-ttl, and runs `ccm evidence inspect` on a recorded document.
func TestAttestation(t *testing.T) {
	t.Parallel()
	v := newFakeVendors(t)

	t.Run("an expired nonce is nonce_invalid", func(t *testing.T) {
		t.Parallel()
		expiredNonce(t, v)
	})
	t.Run("ccm evidence inspect verifies a recorded Nitro document offline", func(t *testing.T) {
		t.Parallel()
		evidenceInspect(t)
	})
	for _, b := range backends(t) {
		t.Run("on "+b.name, func(t *testing.T) {
			t.Parallel()
			f := &attestFlow{
				flow:        &flow{t: t, backend: b, rec: &recorder{}, dataDir: t.TempDir()},
				v:           v,
				apps:        map[string]*apiv1.App{},
				img:         map[string]*apiv1.Image{},
				tg:          map[string]target{},
				validity:    map[string]int{},
				leafSerials: map[string]*big.Int{},
			}
			f.run(t)
		})
	}
}

func (f *attestFlow) run(t *testing.T) {
	f.db = f.backend.database(t)
	f.v.waitSNP(t)
	f.srv = startServer(t, f.dataDir, f.db, "--trust-roots", f.v.rootsFile)
	f.api = newAPI(t, f.srv, f.rec)
	f.anon = f.api.client(t, "")

	t.Run("the server warns about each added trust root", f.checkRootWarnings)
	mustStep(t, "a manager sets up an account with apps, approved domains and approved images", f.setUp,
		func() bool {
			return f.img["nitro"] != nil && f.img["sev"] != nil && f.img["other-nitro"] != nil && f.img["other-sev"] != nil
		})
	t.Run("nitro", func(t *testing.T) { f.platformFlow(t, "nitro", "enclave", "nitro") })
	t.Run("sev_snp", func(t *testing.T) { f.platformFlow(t, "sev_snp", "vm", "sev") })
	t.Run("aci", f.aciFlow)
	t.Run("bad requests are 400 and an unknown account 404", f.badRequests)
	t.Run("every attempt is in the audit log with its reason", f.checkAttestAudit)
	t.Run("every response follows the conventions of the API", f.checkAttestConventions)
}

func (f *attestFlow) checkRootWarnings(t *testing.T) {
	roots := []struct {
		what, vendor string
		cert         *x509.Certificate
	}{
		{"the Nitro root", "Nitro", f.v.nitro.Root()},
		{"the ARK", "AMD", f.v.snp.ARK()},
		{"the ASK", "AMD", f.v.snp.ASK()},
	}
	fingerprint := func(c *x509.Certificate) string {
		sum := sha256.Sum256(c.Raw)
		return hex.EncodeToString(sum[:])
	}
	log, _ := f.srv.WaitStderr(fingerprint(f.v.snp.ASK()))
	for _, r := range roots {
		fp := fingerprint(r.cert)
		if !slices.ContainsFunc(strings.Split(log, "\n"), func(line string) bool {
			return strings.Contains(line, "level=WARN") && strings.Contains(line, r.vendor) && strings.Contains(line, fp)
		}) {
			t.Errorf("the server log has no warning naming %s added with --trust-roots (a WARN line with %q and its SHA-256 %s):\n%s", r.what, r.vendor, fp, log)
		}
	}
	if f.v.otherNitro != nil && strings.Contains(log, fingerprint(f.v.otherNitro.Root())) {
		t.Errorf("the log names a root that was not added")
	}
}

// pcrTarget is a Nitro target with random PCRs.
func pcrTarget() target {
	var tg target
	for i := range 3 {
		tg.pcrs[i] = make([]byte, 48)
		rand.Read(tg.pcrs[i])
	}
	return tg
}

// snpTarget is an SNP target with a random measurement at VMPL 0.
func snpTarget() target {
	var tg target
	rand.Read(tg.measurement[:])
	return tg
}

func (f *attestFlow) setUp(t *testing.T) {
	ctx := t.Context()
	f.admin = &user{Email: "admin@attest.example.com", Password: "pw-admin-" + randomHex(8)}
	u, err := f.anon.Signup(ctx, apiv1.Credentials{Email: f.admin.Email, Password: f.admin.Password})
	if err != nil {
		t.Fatalf("signup: %v", err)
	}
	f.admin.ID = u.UserID
	f.login(t, f.admin)
	c := f.admin.c
	f.acct, err = c.CreateAccount(ctx, apiv1.CreateAccountRequest{Name: "Attest Corp"})
	if err != nil {
		t.Fatalf("creating the account: %v", err)
	}
	if f.acct.TrustDomain != "attest-corp" {
		t.Errorf("trust_domain = %q, want attest-corp", f.acct.TrustDomain)
	}
	f.other, err = c.CreateAccount(ctx, apiv1.CreateAccountRequest{Name: "Other Corp"})
	if err != nil {
		t.Fatalf("creating the other account: %v", err)
	}

	days := func(n int) *apiv1.CertificateSettingsPatch { return &apiv1.CertificateSettingsPatch{ValidityDays: &n} }
	newApp := func(acct string, req apiv1.CreateAppRequest) *apiv1.App {
		t.Helper()
		a, err := c.CreateApp(ctx, acct, req)
		if err != nil {
			t.Fatalf("creating the %s app %s: %v", req.Type, req.Name, err)
		}
		if len(req.Domains) > 0 {
			if a.PendingDomainTaskID == "" {
				t.Fatalf("the app %s with domains has no domain task: %+v", req.Name, a)
			}
			if task, err := c.ApproveTask(ctx, acct, a.PendingDomainTaskID, "domains ok"); err != nil || task.Status != "approved" {
				t.Fatalf("approving the domains of %s: %+v, %v", req.Name, task, err)
			}
			if a, err = c.GetApp(ctx, acct, a.AppID); err != nil || !slices.Equal(a.ApprovedDomains, req.Domains) {
				t.Fatalf("the app %s after its domain task = %+v, %v; want approved_domains %v", req.Name, a, err, req.Domains)
			}
		}
		return a
	}
	acct := f.acct.AccountID
	f.apps["enclave"] = newApp(acct, apiv1.CreateAppRequest{Name: "enclave", Type: "edp",
		Domains: []string{"api.attest.example.com", "www.attest.example.com"}, Certificate: days(7)})
	f.validity["enclave"] = 7
	f.apps["vm"] = newApp(acct, apiv1.CreateAppRequest{Name: "vm fleet", Type: "sev_snp", Domains: []string{"vm.attest.example.com"}, Certificate: days(45)})
	f.validity["vm"] = 45
	f.apps["aci"] = newApp(acct, apiv1.CreateAppRequest{Name: "policy", Type: "aci", InputImageName: "myreg.azurecr.io/attest/policy"})
	f.apps["other-enclave"] = newApp(f.other.AccountID, apiv1.CreateAppRequest{Name: "enclave", Type: "edp"})
	f.apps["other-vm"] = newApp(f.other.AccountID, apiv1.CreateAppRequest{Name: "vm", Type: "sev_snp"})

	zero := 0
	newImage := func(name, acct, app string, tg target, approve bool) {
		t.Helper()
		req := apiv1.CreateImageRequest{Version: name}
		if tg.pcrs[0] != nil {
			req.Platform = "nitro"
			req.PCR0, req.PCR1, req.PCR2 = hex.EncodeToString(tg.pcrs[0]), hex.EncodeToString(tg.pcrs[1]), hex.EncodeToString(tg.pcrs[2])
		} else {
			req.Measurement, req.VMPL = hex.EncodeToString(tg.measurement[:]), &zero
		}
		img, err := c.CreateImage(ctx, acct, f.apps[app].AppID, req)
		if err != nil {
			t.Fatalf("creating the image %s: %v", name, err)
		}
		if img.Status != "ready" || img.TaskID == "" {
			t.Fatalf("the image %s = %+v, want ready with an approval task", name, img)
		}
		if approve {
			if task, err := c.ApproveTask(ctx, acct, img.TaskID, "release"); err != nil || task.Status != "approved" {
				t.Fatalf("approving the image %s: %+v, %v", name, task, err)
			}
			img.ApprovalStatus = "approved"
		}
		f.img[name], f.tg[name] = img, tg
	}
	newImage("nitro", acct, "enclave", pcrTarget(), true)
	newImage("nitro-pending", acct, "enclave", pcrTarget(), false)
	newImage("nitro-doomed", acct, "enclave", pcrTarget(), true)
	newImage("sev", acct, "vm", snpTarget(), true)
	newImage("sev-pending", acct, "vm", snpTarget(), false)
	newImage("sev-doomed", acct, "vm", snpTarget(), true)
	newImage("other-nitro", f.other.AccountID, "other-enclave", pcrTarget(), true)
	newImage("other-sev", f.other.AccountID, "other-vm", snpTarget(), true)

	// An ACI image is queued for a policy build, which this server cannot
	// run yet: it stays pending, without policy_sha256, so no ACI evidence
	// can match an image through the API.
	aci, err := c.CreateImage(ctx, acct, f.apps["aci"].AppID, apiv1.CreateImageRequest{Tag: "1.0"})
	if err != nil {
		t.Fatalf("creating the aci image: %v", err)
	}
	if st := f.rec.last(t).Status; st != 202 || aci.Status != "pending" {
		t.Errorf("the aci image: HTTP %d, status %q; want 202 and pending", st, aci.Status)
	}
}

// challenge asks for a nonce as a workload and checks the answer.
func (f *attestFlow) challenge(t *testing.T) []byte {
	t.Helper()
	before := time.Now()
	ch, err := f.anon.Challenge(t.Context(), f.acct.AccountID)
	if err != nil {
		t.Fatalf("challenge: %v", err)
	}
	if st := f.rec.last(t).Status; st != 201 {
		t.Errorf("challenge: HTTP %d, want 201", st)
	}
	nonce, err := base64.StdEncoding.DecodeString(ch.Nonce)
	if err != nil || len(nonce) != 32 {
		t.Fatalf("the nonce %q is not base64 of 32 bytes (%v)", ch.Nonce, err)
	}
	if lo, hi := before.Add(5*time.Minute-5*time.Second), time.Now().Add(5*time.Minute+5*time.Second); ch.ExpiresAt.Before(lo) || ch.ExpiresAt.After(hi) {
		t.Errorf("the nonce expires at %s, want 5 minutes from now", ch.ExpiresAt)
	}
	return nonce
}

// attestReq is an attestation request of the flow's account.
func (f *attestFlow) attestReq(p string, nonce []byte, k *workloadKey, ev json.RawMessage) apiv1.AttestRequest {
	return apiv1.AttestRequest{AccountID: f.acct.AccountID, Platform: p, Nonce: base64.StdEncoding.EncodeToString(nonce), CSR: k.csrPEM, Evidence: ev}
}

// accept sends req and expects a certificate.
func (f *attestFlow) accept(t *testing.T, req apiv1.AttestRequest) *apiv1.AttestResponse {
	t.Helper()
	res, err := f.anon.Attest(t.Context(), req)
	if err != nil {
		f.attempts = append(f.attempts, attemptRecord{platform: req.Platform, reason: reasonOf(err)})
		t.Fatalf("attesting on %s: %v", req.Platform, err)
	}
	f.attempts = append(f.attempts, attemptRecord{platform: req.Platform, imageID: res.ImageID, certificateID: res.CertificateID})
	if st := f.rec.last(t).Status; st != 200 {
		t.Errorf("attest: HTTP %d, want 200", st)
	}
	return res
}

// reject sends req and expects 422 attestation_failed with reason.
func (f *attestFlow) reject(t *testing.T, what string, req apiv1.AttestRequest, reason string) {
	t.Helper()
	_, err := f.anon.Attest(t.Context(), req)
	if err == nil {
		f.attempts = append(f.attempts, attemptRecord{platform: req.Platform})
		t.Errorf("%s: accepted, want 422 attestation_failed (%s)", what, reason)
		return
	}
	f.attempts = append(f.attempts, attemptRecord{platform: req.Platform, reason: reasonOf(err)})
	var ce *client.Error
	if !errors.As(err, &ce) || ce.Status != 422 || ce.Code != apiv1.CodeAttestationFailed || ce.Reason != reason || ce.Message == "" {
		t.Errorf("%s: %v; want HTTP 422 attestation_failed with reason %s and a message", what, err, reason)
	}
}

func reasonOf(err error) string {
	var ce *client.Error
	if errors.As(err, &ce) {
		if ce.Reason != "" {
			return ce.Reason
		}
		return ce.Code
	}
	return err.Error()
}

// fresh makes a new key, asks for a challenge, and returns a request whose
// evidence (of the given kind, for tg) carries the binding of both.
func (f *attestFlow) fresh(t *testing.T, p string, kind evidenceKind, tg target) apiv1.AttestRequest {
	t.Helper()
	k := newWorkloadKey(t)
	nonce := f.challenge(t)
	return f.attestReq(p, nonce, k, f.v.makeEvidence(t, p, kind, attest.Binding(nonce, k.spki), tg))
}

// platformFlow runs the accepted attestation and every rejection of
// platform p, whose images belong to app; name is the approved image.
func (f *attestFlow) platformFlow(t *testing.T, p, app, name string) {
	ctx := t.Context()
	acct := f.acct.AccountID
	tg := f.tg[name]

	var res *apiv1.AttestResponse
	var k *workloadKey
	var req apiv1.AttestRequest
	mustStep(t, "evidence carrying the binding of a fresh nonce and the CSR's key gets a certificate", func(t *testing.T) {
		k = newWorkloadKey(t)
		nonce := f.challenge(t)
		binding := attest.Binding(nonce, k.spki)
		if client.Binding(nonce, k.spki) != binding {
			t.Errorf("pkg/client's Binding differs from the server's")
		}
		req = f.attestReq(p, nonce, k, f.v.makeEvidence(t, p, goodEvidence, binding, tg))
		before := time.Now()
		res = f.accept(t, req)
		f.checkLeaf(t, res, k, app, name, before)
	}, func() bool { return res != nil })

	t.Run("the same request again is nonce_invalid: a nonce is single-use", func(t *testing.T) {
		f.reject(t, "a replayed request", req, reasonNonceInvalid)
	})

	t.Run("the certificate is listed and read back", func(t *testing.T) {
		l, err := f.admin.c.ListCertificates(ctx, acct, client.CertificateListOptions{AppID: f.apps[app].AppID})
		if err != nil {
			t.Fatal(err)
		}
		i := slices.IndexFunc(l.Items, func(c apiv1.Certificate) bool { return c.CertificateID == res.CertificateID })
		if i < 0 {
			t.Fatalf("?app_id= does not list certificate %s: %+v", res.CertificateID, l.Items)
		}
		got := l.Items[i]
		serial, ok := new(big.Int).SetString(got.Serial, 16)
		if got.Status != "issued" || got.ImageID != f.img[name].ImageID || !ok || serial.Cmp(f.leafSerials[res.CertificateID]) != 0 ||
			!got.ExpiresAt.Equal(res.ExpiresAt) || strings.TrimSpace(got.Certificate) != strings.TrimSpace(res.Certificate) {
			t.Errorf("the listed certificate = %+v; want issued, of image %s, serial %x, the leaf issued", got, f.img[name].ImageID, f.leafSerials[res.CertificateID])
		}
		one, err := f.admin.c.GetCertificate(ctx, acct, res.CertificateID)
		if err != nil || one.CertificateID != res.CertificateID || one.Status != "issued" {
			t.Errorf("GET the certificate = %+v, %v", one, err)
		}
		byImage, err := f.admin.c.ListCertificates(ctx, acct, client.CertificateListOptions{ImageID: f.img[name].ImageID, Status: "issued"})
		if err != nil || !slices.ContainsFunc(byImage.Items, func(c apiv1.Certificate) bool { return c.CertificateID == res.CertificateID }) {
			t.Errorf("?image_id=&status=issued does not list the certificate: %+v, %v", byImage, err)
		}
	})

	t.Run("a revoked certificate is on the CA's signed CRL", func(t *testing.T) {
		got, err := f.admin.c.RevokeCertificate(ctx, acct, res.CertificateID, "e2e: key retired")
		if err != nil {
			t.Fatalf("revoking: %v", err)
		}
		if got.Status != "revoked" || got.RevokedAt == nil || got.RevocationReason != "e2e: key retired" {
			t.Errorf("the revoked certificate = %+v", got)
		}
		f.wantOnCRL(t, res.CertificateID)
		l, err := f.admin.c.ListCertificates(ctx, acct, client.CertificateListOptions{Status: "revoked"})
		if err != nil || !slices.ContainsFunc(l.Items, func(c apiv1.Certificate) bool { return c.CertificateID == res.CertificateID }) {
			t.Errorf("?status=revoked does not list the certificate: %+v, %v", l, err)
		}
	})

	t.Run("a nonce this server never issued is nonce_invalid", func(t *testing.T) {
		k := newWorkloadKey(t)
		nonce := make([]byte, 32)
		rand.Read(nonce)
		ev := f.v.makeEvidence(t, p, goodEvidence, attest.Binding(nonce, k.spki), tg)
		f.reject(t, "an unknown nonce", f.attestReq(p, nonce, k, ev), reasonNonceInvalid)
	})
	f.evidenceRejections(t, p, tg)

	t.Run("a second image, not approved, is image_not_approved", func(t *testing.T) {
		f.reject(t, "the unapproved image", f.fresh(t, p, goodEvidence, f.tg[name+"-pending"]), reasonImageNotApproved)
	})
	t.Run("an image of another account is no_matching_image", func(t *testing.T) {
		f.reject(t, "the other account's image", f.fresh(t, p, goodEvidence, f.tg["other-"+name]), reasonNoMatchingImage)
	})
	if p == "sev_snp" {
		t.Run("the approved measurement at another VMPL is vmpl_mismatch", func(t *testing.T) {
			other := tg
			other.vmpl = 2
			f.reject(t, "VMPL 2", f.fresh(t, p, goodEvidence, other), reasonVMPLMismatch)
		})
	}
	t.Run("a deleted image is no_matching_image, and its certificates are revoked", func(t *testing.T) {
		doomed := f.img[name+"-doomed"]
		first := f.accept(t, f.fresh(t, p, goodEvidence, f.tg[name+"-doomed"]))
		if first.ImageID != doomed.ImageID {
			t.Errorf("attested as image %s, want %s", first.ImageID, doomed.ImageID)
		}
		if err := f.admin.c.DeleteImage(ctx, acct, doomed.ImageID); err != nil {
			t.Fatalf("deleting the image: %v", err)
		}
		f.reject(t, "the deleted image", f.fresh(t, p, goodEvidence, f.tg[name+"-doomed"]), reasonNoMatchingImage)
		got, err := f.admin.c.GetCertificate(ctx, acct, first.CertificateID)
		if err != nil || got.Status != "revoked" || got.RevokedAt == nil {
			t.Errorf("the certificate of the deleted image = %+v, %v; want revoked", got, err)
		}
		f.wantOnCRL(t, first.CertificateID)
	})
}

// evidenceRejections sends the evidence that fails before any image is
// selected: every platform rejects it the same way.
func (f *attestFlow) evidenceRejections(t *testing.T, p string, tg target) {
	t.Run("evidence for another key is binding_mismatch", func(t *testing.T) {
		k, other := newWorkloadKey(t), newWorkloadKey(t)
		nonce := f.challenge(t)
		ev := f.v.makeEvidence(t, p, goodEvidence, attest.Binding(nonce, other.spki), tg)
		f.reject(t, "evidence bound to another key", f.attestReq(p, nonce, k, ev), reasonBindingMismatch)
	})
	t.Run("evidence signed by a vendor CA not in the trust roots is signature_invalid", func(t *testing.T) {
		f.reject(t, "an untrusted vendor CA", f.fresh(t, p, untrustedEvidence, tg), reasonSignatureInvalid)
	})
	t.Run("one flipped byte in the evidence's signature is signature_invalid", func(t *testing.T) {
		f.reject(t, "a flipped signature byte", f.fresh(t, p, flippedSignature, tg), reasonSignatureInvalid)
	})
	t.Run("evidence of a debug-mode workload is debug_not_allowed", func(t *testing.T) {
		f.reject(t, "a debug workload", f.fresh(t, p, debugEvidence, tg), reasonDebugNotAllowed)
	})
	t.Run("evidence signed by an expired vendor certificate is signature_invalid", func(t *testing.T) {
		f.reject(t, "an expired signing certificate", f.fresh(t, p, expiredEvidence, tg), reasonSignatureInvalid)
	})
}

// aciFlow: ACI images only get their policy_sha256 from a build job that
// this server does not run yet, so no ACI evidence can be accepted through
// the API. What can be checked is that evidence for an unknown host_data is
// no_matching_image, and every rejection that comes before image selection.
func (f *attestFlow) aciFlow(t *testing.T) {
	var tg target
	rand.Read(tg.hostData[:])
	rand.Read(tg.measurement[:])
	var req apiv1.AttestRequest
	t.Run("evidence for an unknown host_data is no_matching_image", func(t *testing.T) {
		req = f.fresh(t, "aci", goodEvidence, tg)
		f.reject(t, "an unknown host_data", req, reasonNoMatchingImage)
	})
	t.Run("the same request again is nonce_invalid: the first attempt spent the nonce", func(t *testing.T) {
		f.reject(t, "a replayed request", req, reasonNonceInvalid)
	})
	t.Run("a nonce this server never issued is nonce_invalid", func(t *testing.T) {
		k := newWorkloadKey(t)
		nonce := make([]byte, 32)
		rand.Read(nonce)
		ev := f.v.makeEvidence(t, "aci", goodEvidence, attest.Binding(nonce, k.spki), tg)
		f.reject(t, "an unknown nonce", f.attestReq("aci", nonce, k, ev), reasonNonceInvalid)
	})
	f.evidenceRejections(t, "aci", tg)
	t.Run("an approved SEV-SNP image's measurement in aci evidence matches nothing: ACI matches on host_data", func(t *testing.T) {
		// An approved sev_snp image's measurement, sent as aci evidence,
		// matches nothing: ACI matches on host_data only.
		f.reject(t, "aci evidence with an sev_snp image's measurement", f.fresh(t, "aci", goodEvidence, f.tg["sev"]), reasonNoMatchingImage)
	})
}

// checkLeaf checks an issued certificate against the account's CA and the
// app, for key k.
func (f *attestFlow) checkLeaf(t *testing.T, res *apiv1.AttestResponse, k *workloadKey, app, name string, before time.Time) {
	t.Helper()
	a, img := f.apps[app], f.img[name]
	if res.AppID != a.AppID || res.ImageID != img.ImageID || !uuidRe.MatchString(res.CertificateID) {
		t.Errorf("attest answer = %+v; want app %s, image %s and a certificate ID", res, a.AppID, img.ImageID)
	}
	raw := mustJSON[map[string]json.RawMessage](t, []byte(f.rec.last(t).Body))
	for _, key := range []string{"certificate", "chain", "certificate_id", "app_id", "image_id", "expires_at"} {
		if raw[key] == nil {
			t.Errorf("the attest answer has no %q: %s", key, f.rec.last(t).Body)
		}
	}
	leaf := parseCertPEM(t, "the leaf", res.Certificate)
	ca := f.accountCA(t)
	if len(res.Chain) != 1 || !parseCertPEM(t, "the chain", res.Chain[0]).Equal(ca) {
		t.Errorf("the chain is not [the account's CA]: %d certificates", len(res.Chain))
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	for _, usage := range []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth} {
		if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{usage}, DNSName: a.ApprovedDomains[0]}); err != nil {
			t.Errorf("the leaf does not verify with the account's CA for %v: %v", usage, err)
		}
	}
	if !k.key.PublicKey.Equal(leaf.PublicKey) {
		t.Errorf("the leaf certifies another key than the CSR's")
	}
	if !slices.Equal(leaf.DNSNames, a.ApprovedDomains) || leaf.Subject.CommonName != a.ApprovedDomains[0] {
		t.Errorf("the leaf's DNS SANs %v and CN %q, want the approved domains %v", leaf.DNSNames, leaf.Subject.CommonName, a.ApprovedDomains)
	}
	wantURI := "spiffe://" + f.acct.TrustDomain + "/app/" + strings.ReplaceAll(a.Name, " ", "%20")
	var uris []string
	for _, u := range leaf.URIs {
		uris = append(uris, u.String())
	}
	if !slices.Equal(uris, []string{wantURI}) {
		t.Errorf("the leaf's URI SANs = %v, want [%s]", uris, wantURI)
	}
	if leaf.KeyUsage&x509.KeyUsageDigitalSignature == 0 || !slices.Contains(leaf.ExtKeyUsage, x509.ExtKeyUsageServerAuth) || !slices.Contains(leaf.ExtKeyUsage, x509.ExtKeyUsageClientAuth) {
		t.Errorf("the leaf's key usage %v and extended key usage %v; want digitalSignature, serverAuth and clientAuth", leaf.KeyUsage, leaf.ExtKeyUsage)
	}
	validity := time.Duration(f.validity[app]) * 24 * time.Hour
	if lo, hi := before.Add(validity).Add(-2*time.Second), time.Now().Add(validity).Add(time.Second); leaf.NotAfter.Before(lo) || leaf.NotAfter.After(hi) {
		t.Errorf("the leaf expires %s, want %d days after the attestation (%s)", leaf.NotAfter, f.validity[app], before.Add(validity))
	}
	if leaf.NotBefore.After(before) {
		t.Errorf("the leaf is valid from %s, after the attestation", leaf.NotBefore)
	}
	if !res.ExpiresAt.Equal(leaf.NotAfter) {
		t.Errorf("expires_at %s, but the leaf's NotAfter is %s", res.ExpiresAt, leaf.NotAfter)
	}
	f.leafSerials[res.CertificateID] = leaf.SerialNumber
}

// accountCA fetches the account's CA as a workload (the route is public),
// in JSON and in PEM.
func (f *attestFlow) accountCA(t *testing.T) *x509.Certificate {
	t.Helper()
	got, err := f.anon.GetCA(t.Context(), f.acct.AccountID)
	if err != nil {
		t.Fatalf("GET the account's CA without a token: %v", err)
	}
	ca := parseCertPEM(t, "the account's CA", got.Certificate)
	if !ca.IsCA || ca.CheckSignatureFrom(ca) != nil {
		t.Errorf("the account's CA is not a self-signed CA certificate")
	}
	if _, ok := ca.PublicKey.(*ecdsa.PublicKey); !ok {
		t.Errorf("the account's CA key is a %T, want ECDSA", ca.PublicKey)
	}
	body := f.api.wantStatus(t, 200, "GET", "/v1/accounts/"+f.acct.AccountID+"/ca?format=pem", "", "")
	if !parseCertPEM(t, "the CA in PEM", string(body)).Equal(ca) {
		t.Errorf("?format=pem is another certificate than the JSON's")
	}
	return ca
}

// wantOnCRL fetches the account's CRL as a workload and checks that it is
// signed by the CA, current, and lists the certificate.
func (f *attestFlow) wantOnCRL(t *testing.T, certificateID string) {
	t.Helper()
	der, err := f.anon.GetCRL(t.Context(), f.acct.AccountID)
	if err != nil {
		t.Fatalf("GET the CRL without a token: %v", err)
	}
	if ct := f.rec.last(t).Header.Get("Content-Type"); ct != "application/pkix-crl" {
		t.Errorf("the CRL's Content-Type is %q, want application/pkix-crl", ct)
	}
	crl, err := x509.ParseRevocationList(der)
	if err != nil {
		t.Fatalf("the CRL is not a DER CRL: %v", err)
	}
	if err := crl.CheckSignatureFrom(f.accountCA(t)); err != nil {
		t.Errorf("the CRL is not signed by the account's CA: %v", err)
	}
	now := time.Now()
	if !crl.NextUpdate.After(now) || crl.ThisUpdate.After(now) {
		t.Errorf("the CRL's thisUpdate %s and nextUpdate %s, want now inside them", crl.ThisUpdate, crl.NextUpdate)
	}
	serial := f.leafSerials[certificateID]
	if serial == nil {
		c, err := f.admin.c.GetCertificate(t.Context(), f.acct.AccountID, certificateID)
		if err != nil {
			t.Fatal(err)
		}
		serial = parseCertPEM(t, "the certificate", c.Certificate).SerialNumber
	}
	if !slices.ContainsFunc(crl.RevokedCertificateEntries, func(e x509.RevocationListEntry) bool { return e.SerialNumber.Cmp(serial) == 0 }) {
		t.Errorf("the CRL does not list the serial %x of certificate %s (%d entries)", serial, certificateID, len(crl.RevokedCertificateEntries))
	}
}

func parseCertPEM(t *testing.T, what, s string) *x509.Certificate {
	t.Helper()
	blk, _ := pem.Decode([]byte(s))
	if blk == nil || blk.Type != "CERTIFICATE" {
		t.Fatalf("%s is not a PEM certificate: %.200q", what, s)
	}
	c, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	return c
}

// badRequests checks the requests that are not attestations: 400 with the
// field, 404 for an account that does not exist.
func (f *attestFlow) badRequests(t *testing.T) {
	acct := f.acct.AccountID
	k := newWorkloadKey(t)
	csr, _ := json.Marshal(k.csrPEM)
	nonce := base64.StdEncoding.EncodeToString(make([]byte, 32))
	body := func(platform, csr string) string {
		return fmt.Sprintf(`{"account_id": %q, "platform": %q, "nonce": %q, "csr": %s, "evidence": {"document": "AA=="}}`, acct, platform, nonce, csr)
	}
	f.api.wantError(t, 400, apiv1.CodeValidationFailed, "platform", "POST", "/v1/attest", "", body("mainframe", string(csr)))
	f.api.wantError(t, 400, apiv1.CodeValidationFailed, "csr", "POST", "/v1/attest", "", body("nitro", `"not a CSR"`))
	// Attempts in an existing account, so audited too (internal/attest
	// records them with the reason invalid_request).
	f.attempts = append(f.attempts, attemptRecord{platform: "mainframe", reason: "invalid_request"}, attemptRecord{platform: "nitro", reason: "invalid_request"})
	f.api.wantError(t, 400, apiv1.CodeValidationFailed, "account_id", "POST", "/v1/attest/challenge", "", `{}`)
	f.api.wantError(t, 404, apiv1.CodeNotFound, "", "POST", "/v1/attest/challenge", "", `{"account_id": "00000000-0000-7000-8000-000000000000"}`)
	f.api.wantError(t, 404, apiv1.CodeNotFound, "", "GET", "/v1/accounts/00000000-0000-7000-8000-000000000000/ca", "", "")
	f.api.wantError(t, 404, apiv1.CodeNotFound, "", "GET", "/v1/accounts/00000000-0000-7000-8000-000000000000/ca/crl", "", "")
	// The certificates are the account's members' business.
	f.api.wantError(t, 401, apiv1.CodeUnauthenticated, "", "GET", "/v1/accounts/"+acct+"/certificates", "", "")
}

// checkAttestAudit matches the account's attestation events, in order, with
// the attempts the flow made.
func (f *attestFlow) checkAttestAudit(t *testing.T) {
	ctx := t.Context()
	acct := f.acct.AccountID
	events, err := client.ListAll(ctx, f.admin.c.AuditPages(acct, client.AuditListOptions{Order: "asc"}))
	if err != nil {
		t.Fatalf("listing the audit log: %v", err)
	}
	type details struct {
		Platform string          `json:"platform"`
		Reason   string          `json:"reason"`
		AppID    string          `json:"app_id"`
		Claims   json.RawMessage `json:"claims"`
	}
	var got []string
	issued := map[string]bool{}
	for _, e := range events {
		if e.Action == "certificate.issue" {
			issued[e.Subject.ID] = true
		}
		if e.Action != "attestation.accept" && e.Action != "attestation.reject" {
			continue
		}
		d := mustJSON[details](t, e.Details)
		if e.Actor.Type != "workload" {
			t.Errorf("the %s event %s has actor %+v, want a workload", e.Action, e.EventID, e.Actor)
		}
		switch e.Action {
		case "attestation.accept":
			got = append(got, fmt.Sprintf("%s accept %s", d.Platform, e.Subject.ID))
			if e.Outcome != "success" || len(d.Claims) == 0 {
				t.Errorf("the accept event %s has outcome %q and claims %s; want success with the verified claims", e.EventID, e.Outcome, d.Claims)
			}
		default:
			got = append(got, fmt.Sprintf("%s reject %s", d.Platform, d.Reason))
			if e.Outcome != "failure" {
				t.Errorf("the reject event %s has outcome %q, want failure", e.EventID, e.Outcome)
			}
		}
	}
	var want []string
	for _, a := range f.attempts {
		if a.reason == "" {
			want = append(want, fmt.Sprintf("%s accept %s", a.platform, a.imageID))
			if !issued[a.certificateID] {
				t.Errorf("no certificate.issue event for certificate %s", a.certificateID)
			}
		} else {
			want = append(want, fmt.Sprintf("%s reject %s", a.platform, a.reason))
		}
	}
	if len(want) < 30 {
		t.Errorf("the flow made only %d attempts", len(want))
	}
	if !slices.Equal(got, want) {
		t.Errorf("the audit log's attestation events (%d):\n  %s\nwant, one per attempt (%d):\n  %s", len(got), strings.Join(got, "\n  "), len(want), strings.Join(want, "\n  "))
	}
	// Rejected attempts issued nothing.
	certs, err := client.ListAll(ctx, f.admin.c.CertificatePages(acct, client.CertificateListOptions{}))
	if err != nil {
		t.Fatal(err)
	}
	accepted := slices.DeleteFunc(slices.Clone(f.attempts), func(a attemptRecord) bool { return a.reason != "" })
	if len(certs) != len(accepted) {
		t.Errorf("the account holds %d certificates after %d accepted attestations", len(certs), len(accepted))
	}
	v, err := f.admin.c.VerifyAudit(ctx, acct)
	if err != nil || !v.OK {
		t.Errorf("audit verify = %+v, %v", v, err)
	}
	// Nothing was attempted in the other account.
	other, err := client.ListAll(ctx, f.admin.c.AuditPages(f.other.AccountID, client.AuditListOptions{}))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range other {
		if strings.HasPrefix(e.Action, "attestation.") {
			t.Errorf("the other account's log has an %s event: %s", e.Action, e.Details)
		}
	}
}

// checkAttestConventions is the main flow's conventions check, but for the
// CRL: a DER body, not JSON.
func (f *attestFlow) checkAttestConventions(t *testing.T) {
	rec := &recorder{}
	for _, ex := range f.rec.all() {
		if strings.HasSuffix(ex.Path, "/ca/crl") && ex.Status == 200 {
			continue
		}
		if strings.HasSuffix(ex.Path, "/ca") && ex.Status == 200 && strings.HasPrefix(ex.Body, "-----BEGIN") {
			continue
		}
		rec.exchanges = append(rec.exchanges, ex)
	}
	g := *f.flow
	g.rec = rec
	g.checkConventions(t)
}

// expiredNonce starts a server whose nonces live 10 s, lets one expire and
// sends it with evidence that a fresh nonce shows is otherwise accepted.
// SQLite only: the expiry is the same code on both backends.
func expiredNonce(t *testing.T, v *fakeVendors) {
	ctx := t.Context()
	srv := startServer(t, t.TempDir(), "", "--trust-roots", v.nitroRootsFile, "--nonce-ttl", "10s")
	a := newAPI(t, srv, &recorder{})
	anon := a.client(t, "")
	admin := &user{Email: "admin@ttl.example.com", Password: "pw-admin-" + randomHex(8)}
	if _, err := anon.Signup(ctx, apiv1.Credentials{Email: admin.Email, Password: admin.Password}); err != nil {
		t.Fatal(err)
	}
	s, err := anon.Login(ctx, apiv1.Credentials{Email: admin.Email, Password: admin.Password})
	if err != nil {
		t.Fatal(err)
	}
	c := a.client(t, s.Token)
	acct, err := c.CreateAccount(ctx, apiv1.CreateAccountRequest{Name: "TTL"})
	if err != nil {
		t.Fatal(err)
	}
	before := time.Now()
	ch, err := anon.Challenge(ctx, acct.AccountID)
	if err != nil {
		t.Fatal(err)
	}
	if lo, hi := before.Add(9*time.Second), time.Now().Add(11*time.Second); ch.ExpiresAt.Before(lo) || ch.ExpiresAt.After(hi) {
		t.Errorf("with --nonce-ttl 10s the nonce expires at %s, want 10 s from now", ch.ExpiresAt)
	}

	app, err := c.CreateApp(ctx, acct.AccountID, apiv1.CreateAppRequest{Name: "enclave", Type: "edp"})
	if err != nil {
		t.Fatal(err)
	}
	tg := pcrTarget()
	img, err := c.CreateImage(ctx, acct.AccountID, app.AppID, apiv1.CreateImageRequest{Version: "1", Platform: "nitro",
		PCR0: hex.EncodeToString(tg.pcrs[0]), PCR1: hex.EncodeToString(tg.pcrs[1]), PCR2: hex.EncodeToString(tg.pcrs[2])})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.ApproveTask(ctx, acct.AccountID, img.TaskID, ""); err != nil {
		t.Fatal(err)
	}
	request := func(nonceB64 string) apiv1.AttestRequest {
		nonce, _ := base64.StdEncoding.DecodeString(nonceB64)
		k := newWorkloadKey(t)
		ev := v.makeEvidence(t, "nitro", goodEvidence, attest.Binding(nonce, k.spki), tg)
		return apiv1.AttestRequest{AccountID: acct.AccountID, Platform: "nitro", Nonce: nonceB64, CSR: k.csrPEM, Evidence: ev}
	}

	// A second past its expiry (the server's clock is this machine's), and
	// never more than 12 s after the challenge.
	wake := ch.ExpiresAt.Add(time.Second)
	if latest := before.Add(12 * time.Second); wake.After(latest) {
		wake = latest
	}
	time.Sleep(time.Until(wake))
	_, err = anon.Attest(ctx, request(ch.Nonce))
	var ce *client.Error
	if !errors.As(err, &ce) || ce.Status != 422 || ce.Code != apiv1.CodeAttestationFailed || ce.Reason != reasonNonceInvalid {
		t.Errorf("a nonce a second after its expiry (--nonce-ttl 10s): %v; want 422 attestation_failed nonce_invalid", err)
	}
	fresh, err := anon.Challenge(ctx, acct.AccountID)
	if err != nil {
		t.Fatal(err)
	}
	if res, err := anon.Attest(ctx, request(fresh.Nonce)); err != nil || res.ImageID != img.ImageID {
		t.Errorf("the same evidence with a fresh nonce = %+v, %v; want accepted as image %s", res, err, img.ImageID)
	}
	events, err := client.ListAll(ctx, c.AuditPages(acct.AccountID, client.AuditListOptions{Action: "attestation.reject"}))
	if err != nil || len(events) != 1 || !strings.Contains(string(events[0].Details), `"reason":"nonce_invalid"`) {
		t.Errorf("the rejection's audit events = %+v, %v; want one with reason nonce_invalid", events, err)
	}
}

// evidenceInspect runs `ccm evidence inspect` on the recorded AWS document
// (a debug enclave) at a time its certificate was valid, and on the copy
// whose signature no longer verifies.
func evidenceInspect(t *testing.T) {
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	testdata := filepath.Join(root, "internal", "platform", "nitro", "testdata")
	c := newCLI(t)
	if r := c.run(t, "", nil, "evidence", "inspect", "--help"); r.Code != 0 || strings.Contains(r.Stderr+r.Stdout, "unknown command") {
		t.Skipf("ccm has no `evidence inspect` command yet (exit %d): %s", r.Code, strings.TrimSpace(r.Stderr))
	}
	r := c.run(t, "", nil, "evidence", "inspect", "--platform", "nitro", filepath.Join(testdata, "request_proper.bin"), "--at", "2021-09-09T10:30:00Z")
	if r.Code != 0 {
		t.Fatalf("ccm evidence inspect of request_proper.bin: exit %d\nstdout:\n%s\nstderr:\n%s", r.Code, r.Stdout, r.Stderr)
	}
	var claims map[string]any
	if err := json.Unmarshal([]byte(r.Stdout), &claims); err != nil {
		t.Fatalf("ccm evidence inspect did not print the claims as JSON: %v\n%s", err, r.Stdout)
	}
	if claims["debug"] != true {
		t.Errorf(`the claims of a debug enclave's document have "debug": %v, want true:\n%s`, claims["debug"], r.Stdout)
	}
	r = c.run(t, "", nil, "evidence", "inspect", "--platform", "nitro", filepath.Join(testdata, "tampered_signature.bin"), "--at", "2021-09-09T10:30:00Z")
	if r.Code == 0 || !strings.Contains(r.Stdout+r.Stderr, "signature_invalid") {
		t.Errorf("ccm evidence inspect of tampered_signature.bin: exit %d\nstdout:\n%s\nstderr:\n%s\nwant a non-zero exit naming signature_invalid", r.Code, r.Stdout, r.Stderr)
	}
}
