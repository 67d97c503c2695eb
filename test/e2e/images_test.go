package e2e

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	_ "modernc.org/sqlite" // the "sqlite" database/sql driver, to tamper with the audit log

	"github.com/openccm/openccm/internal/platform/sgx/sgxtest"
	"github.com/openccm/openccm/pkg/apiv1"
	"github.com/openccm/openccm/pkg/client"
)

// sig1MREnclave is the ENCLAVEHASH of internal/platform/sgx/testdata/sig1.sigstruct.bin,
// a SIGSTRUCT that Fortanix's sgxs-sign produced.
const sig1MREnclave = "c50673624a6cb17c1c6c2a4e6906f47a170c4629b8723781d1017ef376f1a75d"

// imageFlow is the state of one run of the images, approvals and audit
// flow. It reuses the main flow's users, recorder and steps (login, the API
// conventions); flow.writer creates every image.
type imageFlow struct {
	*flow
	writer2, writer3 *user

	sig1, sig1KeyN []byte // sig1.sigstruct.bin and its signer's modulus (little-endian)
	sig1Path       string

	// img holds the images the flow created, by a name of the flow's own.
	img map[string]*apiv1.Image
	// created counts the images created (each is one image.create event).
	created int
	// cvm holds the PCR values of the Azure CVM images, by letter.
	cvm map[string]string
	// sevMeasurement is the launch measurement of the SEV-SNP images.
	sevMeasurement string

	clis       []*cli // every CLI config the flow used
	tamperedID string // the audit event edited behind the server's back
}

// TestImagesApprovalsAudit runs the flow of a team that registers images
// of every app type, approves them under a two-person rule, approves
// domains, asks which image a VM would attest as, and checks the audit log
// — through the Go client and the CLI — then edits the log behind the
// server's back and sees verification fail. On every database backend.
func TestImagesApprovalsAudit(t *testing.T) {
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	testdata := filepath.Join(root, "internal", "platform", "sgx", "testdata")
	sig1Path := filepath.Join(testdata, "sig1.sigstruct.bin")
	sig1, err := os.ReadFile(sig1Path)
	if err != nil {
		t.Fatal(err)
	}
	keyN, err := os.ReadFile(filepath.Join(testdata, "sig1.key_n.bin"))
	if err != nil {
		t.Fatal(err)
	}
	// Make the SIGSTRUCT signing key (RSA-3072, e = 3) once, before the
	// parallel runs need it.
	sgxtest.NewSigner(t)
	for _, b := range backends(t) {
		t.Run("on "+b.name, func(t *testing.T) {
			t.Parallel()
			f := &imageFlow{
				flow:     &flow{t: t, backend: b, rec: &recorder{}, dataDir: t.TempDir()},
				sig1:     sig1,
				sig1KeyN: keyN,
				sig1Path: sig1Path,
				img:      map[string]*apiv1.Image{},
				cvm:      map[string]string{},
			}
			f.run(t)
		})
	}
}

func (f *imageFlow) run(t *testing.T) {
	f.db = f.backend.database(t)
	// No build workers: this flow checks images while their builds wait
	// (TestBuilds runs them).
	f.srv = startServer(t, f.dataDir, f.db, "--build-workers", "0")
	f.api = newAPI(t, f.srv, f.rec)
	newUser := func(name string) *user {
		return &user{Email: name + "@images.example.com", Password: "pw-" + name + "-" + randomHex(8)}
	}
	f.admin, f.writer, f.writer2, f.writer3, f.reader = newUser("admin"), newUser("writer"), newUser("writer2"), newUser("writer3"), newUser("reader")

	mustStep(t, "a manager sets up an account with a two-person rule and its members", f.setUp,
		func() bool { return f.acct != nil && f.reader.c != nil && f.writer3.c != nil })
	mustStep(t, "a writer creates apps of every type", f.createImageApps, func() bool { return len(f.apps) == len(imageAppRequests()) })
	t.Run("SGX images come from real and freshly signed SIGSTRUCTs; a tampered one is refused", f.sgxImages)
	t.Run("Nitro EDP images come from nitro-cli's measurement JSON or from PCRs", f.nitroImages)
	t.Run("Enclave OS and ACI images are queued for a build", f.buildImages)
	t.Run("SEV-SNP images are unique by measurement and VMPL", f.sevSNPImages)
	mustStep(t, "Azure CVM images are unique by their exact PCR combination", f.azureCVMImages, func() bool {
		return f.img["cvm-a"] != nil && f.img["cvm-ab"] != nil && f.img["cvm-none"] != nil && f.img["cvm-de"] != nil
	})
	t.Run("sigstruct and measurement uploads far over their size are 413 too_large", f.checkUploadLimits)
	t.Run("an image task needs two approvers other than its creator", f.approveImage)
	t.Run("one deny, with a reason, resolves a task as denied", f.denyImage)
	t.Run("three concurrent approvals under a quorum of two resolve the task once", f.concurrentApprovals)
	t.Run("a task keeps the quorum it opened with; self-approval is read at each decision", f.policyChanges)
	t.Run("concurrent creations of one PCR combination give one image; the others are 409", f.concurrentImageCreates)
	t.Run("domains wait for their approval task; removals apply at once", f.domainApproval)
	t.Run("concurrent domain changes of one app open one domain task; the others are 409", f.concurrentDomainChanges)
	t.Run("a domain approval and an app change at once both take effect", f.concurrentResolveAndPatch)
	t.Run("explain shows which image a VM or enclave would attest as, and why", f.explain)
	t.Run("images are listed with filters and read back one by one", f.listImages)
	t.Run("an app with images is deleted only with cascade", f.deleteAppWithImages)
	t.Run("the audit log records every change in an intact hash chain", f.checkAudit)
	t.Run("the CLI registers, approves, denies, explains and audits", f.runImageCLI)
	t.Run("editing an audit event behind the server's back breaks verification at that event", f.tamperWithAudit)
	t.Run("every response follows the conventions of the API", f.checkConventions)
	t.Run("inline registry passwords never come back", f.checkImageSecrets)
}

func (f *imageFlow) setUp(t *testing.T) {
	ctx := t.Context()
	u, err := f.api.client(t, "").Signup(ctx, apiv1.Credentials{Email: f.admin.Email, Password: f.admin.Password})
	if err != nil {
		t.Fatalf("signup: %v", err)
	}
	f.admin.ID = u.UserID
	f.login(t, f.admin)
	a, err := f.admin.c.CreateAccount(ctx, apiv1.CreateAccountRequest{Name: "Images Inc"})
	if err != nil {
		t.Fatalf("creating the account: %v", err)
	}
	two, no := 2, false
	a, err = f.admin.c.UpdateAccount(ctx, a.AccountID, apiv1.UpdateAccountRequest{
		ApprovalPolicy: &apiv1.ApprovalPolicyPatch{RequiredApprovals: &two, AllowSelfApproval: &no},
	})
	if err != nil {
		t.Fatalf("setting the approval policy: %v", err)
	}
	if a.ApprovalPolicy != (apiv1.ApprovalPolicy{RequiredApprovals: 2, AllowSelfApproval: false}) {
		t.Fatalf("approval_policy = %+v, want 2 approvals and no self-approval", a.ApprovalPolicy)
	}
	f.acct = a
	for _, m := range []struct {
		u    *user
		role string
	}{{f.writer, "writer"}, {f.writer2, "writer"}, {f.writer3, "writer"}, {f.reader, "reader"}} {
		got, err := f.admin.c.AddMember(ctx, a.AccountID, apiv1.AddMemberRequest{Email: m.u.Email, Role: m.role, Password: m.u.Password})
		if err != nil {
			t.Fatalf("adding %s: %v", m.u.Email, err)
		}
		m.u.ID = got.UserID
		f.login(t, m.u)
	}
}

// imageAppRequests are the apps that hold the flow's images.
func imageAppRequests() []apiv1.CreateAppRequest {
	return []apiv1.CreateAppRequest{
		{Name: "enclave", Type: "enclave_os", InputImageName: "docker.io/library/nginx", OutputImageName: "registry.example.com:5000/enclave-nitro"},
		{Name: "policy", Type: "aci", InputImageName: "myreg.azurecr.io/policy/engine"},
		{Name: "signer", Type: "edp"},
		{Name: "signer-b", Type: "edp"},
		{Name: "vm", Type: "sev_snp"},
		{Name: "cvm", Type: "azure_cvm"},
	}
}

func (f *imageFlow) createImageApps(t *testing.T) {
	for _, req := range imageAppRequests() {
		a, err := f.writer.c.CreateApp(t.Context(), f.acct.AccountID, req)
		if err != nil {
			t.Fatalf("creating the %s app %q: %v", req.Type, req.Name, err)
		}
		f.apps = append(f.apps, a)
	}
}

// imageFields are the fields API.md gives every image.
var imageFields = []string{"image_id", "app_id", "type", "platform", "version", "status", "approval_status", "measurements", "created_at", "updated_at"}

// createImage creates an image of app as u and checks the answer: status
// want (201 for measurements entered, 202 for a build), every field of the
// contract, and an approval task exactly when the image is ready.
func (f *imageFlow) createImage(t *testing.T, u *user, app string, req apiv1.CreateImageRequest, want int) *apiv1.Image {
	t.Helper()
	a := f.app(app)
	img, err := u.c.CreateImage(t.Context(), f.acct.AccountID, a.AppID, req)
	if err != nil {
		t.Fatalf("creating an image of %s (%+v): %v", app, req, err)
	}
	f.created++
	ex := f.rec.last(t)
	f.checkImage(t, ex, want, a, u, img)
	return img
}

// checkImage checks an image answer (the exchange ex, decoded as img).
func (f *imageFlow) checkImage(t *testing.T, ex exchange, want int, a *apiv1.App, u *user, img *apiv1.Image) {
	t.Helper()
	if ex.Status != want {
		t.Errorf("%s %s: status %d, want %d", ex.Method, ex.Path, ex.Status, want)
	}
	raw := mustJSON[map[string]json.RawMessage](t, []byte(ex.Body))
	for _, k := range imageFields {
		if _, ok := raw[k]; !ok {
			t.Errorf("the image has no %q field: %s", k, ex.Body)
		}
	}
	if !uuidRe.MatchString(img.ImageID) || img.AppID != a.AppID || img.Type != a.Type || img.CreatedBy != u.ID {
		t.Errorf("image = %+v, want a UUID, app %s of type %s, created by %s", img, a.AppID, a.Type, u.ID)
	}
	if img.ApprovalStatus != "pending" {
		t.Errorf("a new image has approval_status %q, want pending", img.ApprovalStatus)
	}
	switch img.Status {
	case "ready":
		if want != 201 || !uuidRe.MatchString(img.TaskID) {
			t.Errorf("a ready image: status %d, task_id %q; want 201 and its approval task", ex.Status, img.TaskID)
		}
	case "pending":
		if want != 202 || img.TaskID != "" {
			t.Errorf("a pending image: status %d, task_id %q; want 202 and no task before the build", ex.Status, img.TaskID)
		}
	default:
		t.Errorf("a new image has status %q", img.Status)
	}
}

// refuseImage checks that u cannot create the image, and returns the error.
func (f *imageFlow) refuseImage(t *testing.T, what, app string, req apiv1.CreateImageRequest, status int, code, field string) *client.Error {
	t.Helper()
	_, err := f.writer.c.CreateImage(t.Context(), f.acct.AccountID, f.app(app).AppID, req)
	wantAPIError(t, what, err, status, code, field)
	var ce *client.Error
	if errors.As(err, &ce) {
		return ce
	}
	return &client.Error{}
}

// wantMeasurements checks an image's measurements: strings exactly, numbers
// as the JSON numbers they are.
func wantMeasurements(t *testing.T, what string, got map[string]any, want map[string]any) {
	t.Helper()
	norm := func(m map[string]any) string {
		b, _ := json.Marshal(m)
		var v any
		_ = json.Unmarshal(b, &v)
		b, _ = json.Marshal(v)
		return string(b)
	}
	if norm(got) != norm(want) {
		t.Errorf("%s: measurements = %s, want %s", what, norm(got), norm(want))
	}
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

// signSigstruct returns a SIGSTRUCT signed with the test key, for a random
// MRENCLAVE, and that MRENCLAVE.
func signSigstruct(t *testing.T, prodID, svn uint16, debug bool) ([]byte, string) {
	t.Helper()
	var mre [32]byte
	rand.Read(mre[:])
	var attrs [16]byte
	attrs[0], attrs[8] = 0x04, 0x03 // MODE64BIT; XFRM x87 and SSE
	return sgxtest.NewSigner(t).Sign(sgxtest.Fields{
		Debug: debug, Date: 0x20240131, MREnclave: mre, ISVProdID: prodID, ISVSVN: svn,
		Attributes: attrs, MiscSelect: 0,
	}), hex.EncodeToString(mre[:])
}

func (f *imageFlow) sgxImages(t *testing.T) {
	ctx := t.Context()
	keyHash := sha256.Sum256(f.sig1KeyN)
	sig1Signer := hex.EncodeToString(keyHash[:])

	t.Run("the SIGSTRUCT of sgxs-sign is read, checked and saved", func(t *testing.T) {
		info, err := f.reader.c.ParseSigstruct(ctx, b64(f.sig1))
		if err != nil {
			t.Fatalf("POST /v1/tools/sigstruct as a reader: %v", err)
		}
		if info.MREnclave != sig1MREnclave || info.MRSigner != sig1Signer || info.Date != "2016-01-09" {
			t.Errorf("sigstruct info = %+v, want MRENCLAVE %s, MRSIGNER %s (the SHA-256 of the modulus), date 2016-01-09", info, sig1MREnclave, sig1Signer)
		}
		img := f.createImage(t, f.writer, "signer", apiv1.CreateImageRequest{Version: "1.0.0", Platform: "sgx", Sigstruct: b64(f.sig1)}, 201)
		if img.Platform != "sgx" || img.Version != "1.0.0" || img.Type != "edp" {
			t.Errorf("image = %+v", img)
		}
		wantMeasurements(t, "the sig1 image", img.Measurements, map[string]any{
			"mrenclave": sig1MREnclave, "mrsigner": sig1Signer, "isvprodid": info.ISVProdID, "isvsvn": info.ISVSVN,
			"attributes": info.Attributes, "miscselect": info.MiscSelect,
		})
		f.img["sgx"] = img
	})

	t.Run("a SIGSTRUCT whose signed bytes changed is refused", func(t *testing.T) {
		bad := slices.Clone(f.sig1)
		bad[960] ^= 0x01 // the first byte of ENCLAVEHASH
		_, err := f.reader.c.ParseSigstruct(ctx, b64(bad))
		wantAPIError(t, "inspecting a tampered SIGSTRUCT", err, 400, apiv1.CodeValidationFailed, "sigstruct")
		f.refuseImage(t, "an image from a tampered SIGSTRUCT", "signer-b",
			apiv1.CreateImageRequest{Version: "tampered", Platform: "sgx", Sigstruct: b64(bad)}, 400, apiv1.CodeValidationFailed, "sigstruct")
		f.refuseImage(t, "an image from a truncated SIGSTRUCT", "signer-b",
			apiv1.CreateImageRequest{Version: "short", Platform: "sgx", Sigstruct: b64(f.sig1[:1000])}, 400, apiv1.CodeValidationFailed, "sigstruct")
	})

	t.Run("a SIGSTRUCT signed by the test gives its own values", func(t *testing.T) {
		own, mre := signSigstruct(t, 7, 3, false)
		signer := sgxtest.NewSigner(t).MRSigner()
		info, err := f.writer.c.ParseSigstruct(ctx, b64(own))
		if err != nil {
			t.Fatalf("inspecting the test's SIGSTRUCT: %v", err)
		}
		want := apiv1.SigstructInfo{MREnclave: mre, MRSigner: hex.EncodeToString(signer[:]), ISVProdID: 7, ISVSVN: 3,
			Attributes: "04000000000000000300000000000000", MiscSelect: 0, Date: "2024-01-31", Vendor: 0, Debug: false}
		if *info != want {
			t.Errorf("sigstruct info = %+v, want %+v", *info, want)
		}
		img := f.createImage(t, f.writer, "signer", apiv1.CreateImageRequest{Version: "2.0.0", Platform: "sgx", Sigstruct: b64(own)}, 201)
		wantMeasurements(t, "the test-signed image", img.Measurements, map[string]any{
			"mrenclave": mre, "mrsigner": want.MRSigner, "isvprodid": 7, "isvsvn": 3, "attributes": want.Attributes, "miscselect": 0,
		})
		f.img["sgx-own"] = img

		debug, _ := signSigstruct(t, 1, 1, true)
		if info, err := f.writer.c.ParseSigstruct(ctx, b64(debug)); err != nil || !info.Debug {
			t.Errorf("inspecting a debug SIGSTRUCT = %+v, %v; want debug true", info, err)
		}
	})

	t.Run("SGX values entered by hand are normalised", func(t *testing.T) {
		mre, signer := randomHex(32), randomHex(32)
		prod, svn := 12, 4
		img := f.createImage(t, f.writer, "signer-b", apiv1.CreateImageRequest{Version: "hand-1", Platform: "sgx",
			MREnclave: "0X" + strings.ToUpper(mre), MRSigner: strings.ToUpper(signer), ISVProdID: &prod, ISVSVN: &svn}, 201)
		wantMeasurements(t, "the image entered by hand", img.Measurements, map[string]any{"mrenclave": mre, "mrsigner": signer, "isvprodid": 12, "isvsvn": 4})
		f.img["sgx-hand"] = img
		f.refuseImage(t, "an MRENCLAVE entered by hand twice, in another case", "signer",
			apiv1.CreateImageRequest{Version: "hand-dup", Platform: "sgx", MREnclave: mre, MRSigner: signer, ISVProdID: &prod, ISVSVN: &svn},
			409, apiv1.CodeConflict, "mrenclave")
		big := 65536
		f.refuseImage(t, "an ISVSVN over 65535", "signer",
			apiv1.CreateImageRequest{Version: "hand-2", Platform: "sgx", MREnclave: randomHex(32), MRSigner: signer, ISVProdID: &prod, ISVSVN: &big},
			400, apiv1.CodeValidationFailed, "isvsvn")
		f.refuseImage(t, "a SIGSTRUCT and values at once", "signer",
			apiv1.CreateImageRequest{Version: "both", Platform: "sgx", Sigstruct: b64(f.sig1), MREnclave: randomHex(32)},
			400, apiv1.CodeValidationFailed, "sigstruct")
	})

	t.Run("version and MRENCLAVE are unique", func(t *testing.T) {
		other, _ := signSigstruct(t, 7, 4, false)
		f.refuseImage(t, "a second image with version 2.0.0", "signer",
			apiv1.CreateImageRequest{Version: "2.0.0", Platform: "sgx", Sigstruct: b64(other)}, 409, apiv1.CodeConflict, "version")
		f.refuseImage(t, "sig1's MRENCLAVE again, in another app", "signer-b",
			apiv1.CreateImageRequest{Version: "1.0.0", Platform: "sgx", Sigstruct: b64(f.sig1)}, 409, apiv1.CodeConflict, "mrenclave")
		// The same version in another app is no conflict.
		f.createImage(t, f.writer, "signer-b", apiv1.CreateImageRequest{Version: "2.0.0", Platform: "sgx", Sigstruct: b64(other)}, 201)
	})
}

// nitroJSON is what `nitro-cli build-enclave` prints for PCRs p.
func nitroJSON(p [3]string) string {
	return fmt.Sprintf("{\n  \"Measurements\": {\n    \"HashAlgorithm\": \"Sha384 { ... }\",\n    \"PCR0\": %q,\n    \"PCR1\": %q,\n    \"PCR2\": %q\n  }\n}\n", p[0], p[1], p[2])
}

func (f *imageFlow) nitroImages(t *testing.T) {
	ctx := t.Context()
	p := [3]string{randomHex(48), randomHex(48), randomHex(48)}
	m, err := f.reader.c.ParseNitroMeasurements(ctx, "Start building the Enclave Image...\n"+nitroJSON(p))
	if err != nil || m.PCR0 != p[0] || m.PCR1 != p[1] || m.PCR2 != p[2] {
		t.Errorf("POST /v1/tools/nitro-measurements = %+v, %v; want %v", m, err, p)
	}
	img := f.createImage(t, f.writer, "signer", apiv1.CreateImageRequest{Version: "n-1.0", Platform: "nitro", MeasurementJSON: nitroJSON(p)}, 201)
	if img.Platform != "nitro" {
		t.Errorf("platform = %q, want nitro", img.Platform)
	}
	wantMeasurements(t, "the image from measurement JSON", img.Measurements, map[string]any{"pcr0": p[0], "pcr1": p[1], "pcr2": p[2]})
	f.img["nitro-json"] = img

	q := [3]string{randomHex(48), randomHex(48), randomHex(48)}
	img = f.createImage(t, f.writer, "signer", apiv1.CreateImageRequest{Version: "n-1.1", Platform: "nitro",
		PCR0: strings.ToUpper(q[0]), PCR1: "0x" + q[1], PCR2: q[2]}, 201)
	wantMeasurements(t, "the image from PCRs", img.Measurements, map[string]any{"pcr0": q[0], "pcr1": q[1], "pcr2": q[2]})
	f.img["nitro-pcrs"] = img

	f.refuseImage(t, "the triple of an image again, in another app and case", "signer-b",
		apiv1.CreateImageRequest{Version: "n-dup", Platform: "nitro", PCR0: "0x" + strings.ToUpper(p[0]), PCR1: p[1], PCR2: p[2]},
		409, apiv1.CodeConflict, "pcr0")
	// Another PCR2 makes another triple.
	f.createImage(t, f.writer, "signer-b", apiv1.CreateImageRequest{Version: "n-2.0", Platform: "nitro", PCR0: p[0], PCR1: p[1], PCR2: randomHex(48)}, 201)
	f.refuseImage(t, "all-zero PCRs (a debug enclave)", "signer-b",
		apiv1.CreateImageRequest{Version: "n-debug", Platform: "nitro", PCR0: strings.Repeat("0", 96), PCR1: strings.Repeat("0", 96), PCR2: strings.Repeat("0", 96)},
		400, apiv1.CodeValidationFailed, "pcr0")
	f.refuseImage(t, "a PCR of SHA-256 size", "signer-b",
		apiv1.CreateImageRequest{Version: "n-short", Platform: "nitro", PCR0: randomHex(48), PCR1: randomHex(32), PCR2: randomHex(48)},
		400, apiv1.CodeValidationFailed, "pcr1")
	f.refuseImage(t, "measurement JSON and PCRs at once", "signer-b",
		apiv1.CreateImageRequest{Version: "n-both", Platform: "nitro", MeasurementJSON: nitroJSON(q), PCR0: q[0]},
		400, apiv1.CodeValidationFailed, "measurement_json")
	f.refuseImage(t, "an edp image without a platform", "signer-b", apiv1.CreateImageRequest{Version: "n-none", PCR0: q[0]},
		400, apiv1.CodeValidationFailed, "platform")
}

func (f *imageFlow) buildImages(t *testing.T) {
	ctx := t.Context()
	acct := f.acct.AccountID
	password := "push-secret-" + randomHex(12)
	f.registryPasswords = append(f.registryPasswords, password)

	t.Run("enclave_os", func(t *testing.T) {
		f.refuseImage(t, "an enclave_os image without output credentials", "enclave",
			apiv1.CreateImageRequest{InputTag: "1.25", OutputTag: "no-creds"}, 400, apiv1.CodeValidationFailed, "output_registry_id")
		img := f.createImage(t, f.writer, "enclave", apiv1.CreateImageRequest{InputTag: "1.25", OutputTag: "1.25-nitro",
			OutputCredentials: &apiv1.RegistryCredentials{Username: "pusher", Password: password}}, 202)
		if img.Status != "pending" || img.Version != "1.25-nitro" || img.Platform != "nitro" || len(img.Measurements) != 0 {
			t.Errorf("enclave_os image = %+v; want pending, version 1.25-nitro, platform nitro, no measurements yet", img)
		}
		st := img.ImageSettings
		if st.InputTag != "1.25" || st.OutputTag != "1.25-nitro" || st.MemoryMiB != 2048 || st.CPUCount != 2 ||
			st.FilePersistence == nil || !*st.FilePersistence || !st.HasInlineCredentials {
			t.Errorf("enclave_os settings = %+v; want the tags, 2048 MiB, 2 CPUs, file persistence and inline credentials", st)
		}
		if body := f.rec.last(t).Body; strings.Contains(body, password) {
			t.Errorf("the image answer holds the output password: %s", body)
		}
		f.img["enclave"] = img
		b, err := f.reader.c.GetImageBuild(ctx, acct, img.ImageID)
		if err != nil {
			t.Fatalf("GET the build of the enclave_os image: %v", err)
		}
		if b.Status != "queued" || b.ImageID != img.ImageID || !uuidRe.MatchString(b.JobID) || b.Kind == "" {
			t.Errorf("build = %+v, want a queued job of the image", b)
		}
		f.refuseImage(t, "a second enclave_os image with the same output tag", "enclave",
			apiv1.CreateImageRequest{InputTag: "1.26", OutputTag: "1.25-nitro", OutputCredentials: &apiv1.RegistryCredentials{Username: "pusher", Password: password}},
			409, apiv1.CodeConflict, "output_tag")
	})

	t.Run("aci", func(t *testing.T) {
		img := f.createImage(t, f.writer, "policy", apiv1.CreateImageRequest{Tag: "1.4"}, 202)
		st := img.ImageSettings
		if img.Status != "pending" || img.Version != "1.4" || st.Tag != "1.4" || st.CPUCount != 1 || st.MemoryGB != 1 ||
			st.WaitForNodeRegistration == nil || !*st.WaitForNodeRegistration {
			t.Errorf("aci image = %+v; want pending, version 1.4 and the defaults", img)
		}
		f.img["aci"] = img
		if b, err := f.reader.c.GetImageBuild(ctx, acct, img.ImageID); err != nil || b.Status != "queued" {
			t.Errorf("the aci image's build = %+v, %v; want queued", b, err)
		}
		ce := f.refuseImage(t, "a second aci image with tag 1.4", "policy", apiv1.CreateImageRequest{Tag: "1.4"}, 409, apiv1.CodeConflict, "tag")
		if !strings.Contains(ce.Message, "new tag value") {
			t.Errorf("the tag conflict says %q, want it to ask for a new tag value", ce.Message)
		}
		f.refuseImage(t, "an aci image without a tag", "policy", apiv1.CreateImageRequest{}, 400, apiv1.CodeValidationFailed, "tag")

		hub, err := f.writer.c.CreateApp(ctx, acct, apiv1.CreateAppRequest{Name: "policy-hub", Type: "aci", InputImageName: "library/nginx"})
		if err != nil {
			t.Fatalf("creating an aci app whose image names no registry host: %v", err)
		}
		f.apps = append(f.apps, hub)
		f.refuseImage(t, "inline credentials for an image without a registry host", "policy-hub",
			apiv1.CreateImageRequest{Tag: "1.0", Credentials: &apiv1.RegistryCredentials{Username: "u", Password: password}}, 400, apiv1.CodeValidationFailed, "input_image_name")
	})

	t.Run("file persistence needs the app's certificates", func(t *testing.T) {
		off := false
		a, err := f.writer.c.CreateApp(ctx, acct, apiv1.CreateAppRequest{Name: "enclave-nocert", Type: "enclave_os",
			InputImageName: "docker.io/library/nginx", OutputImageName: "registry.example.com:5000/nocert", Certificate: &apiv1.CertificateSettingsPatch{Enabled: &off}})
		if err != nil {
			t.Fatal(err)
		}
		f.apps = append(f.apps, a)
		f.refuseImage(t, "file persistence (the default) without certificates", "enclave-nocert",
			apiv1.CreateImageRequest{OutputCredentials: &apiv1.RegistryCredentials{Username: "pusher", Password: password}}, 400, apiv1.CodeValidationFailed, "file_persistence")
	})

	t.Run("no task opens before the build, and images without a build have none", func(t *testing.T) {
		tasks, err := client.ListAll(ctx, func(ctx context.Context, o client.ListOptions) (*apiv1.List[apiv1.Task], error) {
			return f.reader.c.ListTasks(ctx, acct, client.TaskListOptions{ListOptions: o, Kind: "image_approval"})
		})
		if err != nil {
			t.Fatal(err)
		}
		for _, task := range tasks {
			for _, name := range []string{"enclave", "aci"} {
				if img := f.img[name]; img != nil && task.Subject.ID == img.ImageID {
					t.Errorf("the %s image has an approval task before its build: %+v", name, task)
				}
			}
		}
		if img := f.img["sgx"]; img != nil {
			_, err := f.reader.c.GetImageBuild(ctx, acct, img.ImageID)
			wantAPIError(t, "the build of an image entered by hand", err, 404, apiv1.CodeNotFound, "")
		}
	})
}

func (f *imageFlow) sevSNPImages(t *testing.T) {
	m := randomHex(48)
	f.sevMeasurement = m
	zero, one := 0, 1
	img := f.createImage(t, f.writer, "vm", apiv1.CreateImageRequest{Version: "2024.06", Measurement: "0x" + strings.ToUpper(m), VMPL: &zero}, 201)
	if img.Platform != "sev_snp" || img.GPU != "none" {
		t.Errorf("sev_snp image = %+v, want platform sev_snp and gpu none", img)
	}
	wantMeasurements(t, "the SEV-SNP image", img.Measurements, map[string]any{"measurement": m, "vmpl": 0})
	f.img["sev"] = img
	f.refuseImage(t, "the same measurement at the same VMPL", "vm",
		apiv1.CreateImageRequest{Version: "2024.06-b", Measurement: m, VMPL: &zero}, 409, apiv1.CodeConflict, "measurement")
	f.refuseImage(t, "a second image with version 2024.06", "vm",
		apiv1.CreateImageRequest{Version: "2024.06", Measurement: randomHex(48)}, 409, apiv1.CodeConflict, "version")
	img = f.createImage(t, f.writer, "vm", apiv1.CreateImageRequest{Version: "2024.06-vmpl1", Measurement: m, VMPL: &one, GPU: "required"}, 201)
	if img.GPU != "required" {
		t.Errorf("gpu = %q, want required", img.GPU)
	}
	four := 4
	f.refuseImage(t, "VMPL 4", "vm", apiv1.CreateImageRequest{Version: "vmpl4", Measurement: randomHex(48), VMPL: &four}, 400, apiv1.CodeValidationFailed, "vmpl")
	f.refuseImage(t, "a SHA-256 sized measurement", "vm", apiv1.CreateImageRequest{Version: "short", Measurement: randomHex(32)}, 400, apiv1.CodeValidationFailed, "measurement")
}

func (f *imageFlow) azureCVMImages(t *testing.T) {
	for _, k := range []string{"a", "b", "d", "e"} {
		f.cvm[k] = randomHex(32)
	}
	c := f.cvm
	create := func(name, version string, pcrs map[string]string) {
		t.Helper()
		img := f.createImage(t, f.writer, "cvm", apiv1.CreateImageRequest{Version: version, PCRs: pcrs}, 201)
		want := map[string]any{}
		for k, v := range pcrs {
			want[k] = strings.ToLower(strings.TrimPrefix(strings.TrimPrefix(v, "0x"), "0X"))
		}
		wantMeasurements(t, "the Azure CVM image "+version, img.Measurements, map[string]any{"pcrs": want})
		if img.Platform != "azure_cvm" {
			t.Errorf("platform = %q, want azure_cvm", img.Platform)
		}
		f.img[name] = img
	}
	create("cvm-a", "img-a", map[string]string{"pcr0": c["a"]})
	create("cvm-ab", "img-ab", map[string]string{"pcr0": c["a"], "pcr1": strings.ToUpper(c["b"])})
	create("cvm-de", "img-de", map[string]string{"pcr2": c["d"], "pcr3": "0x" + c["e"]})

	// An image that sets no PCR: the explicit empty object.
	path := "/v1/accounts/" + f.acct.AccountID + "/apps/" + f.app("cvm").AppID + "/images"
	body := f.api.wantStatus(t, 201, "POST", path, f.writer.Token, `{"version": "img-none", "pcrs": {}}`)
	img := mustJSON[apiv1.Image](t, body)
	f.created++
	f.checkImage(t, f.rec.last(t), 201, f.app("cvm"), f.writer, &img)
	wantMeasurements(t, "the image without PCRs", img.Measurements, map[string]any{"pcrs": map[string]any{}})
	f.img["cvm-none"] = &img

	f.refuseImage(t, "{pcr0: a} again", "cvm", apiv1.CreateImageRequest{Version: "img-a-again", PCRs: map[string]string{"pcr0": c["a"]}},
		409, apiv1.CodeConflict, "pcrs")
	f.refuseImage(t, "{pcr0: a} again, in upper case with 0x", "cvm",
		apiv1.CreateImageRequest{Version: "img-a-upper", PCRs: map[string]string{"pcr0": "0x" + strings.ToUpper(c["a"])}}, 409, apiv1.CodeConflict, "pcrs")
	f.refuseImage(t, "{pcr1: b, pcr0: a} again", "cvm",
		apiv1.CreateImageRequest{Version: "img-ba", PCRs: map[string]string{"pcr1": c["b"], "pcr0": c["a"]}}, 409, apiv1.CodeConflict, "pcrs")
	f.api.wantError(t, 409, apiv1.CodeConflict, "pcrs", "POST", path, f.writer.Token, `{"version": "img-none-again", "pcrs": {}}`)
	f.refuseImage(t, "PCR 23", "cvm", apiv1.CreateImageRequest{Version: "img-23", PCRs: map[string]string{"pcr23": c["a"]}},
		400, apiv1.CodeValidationFailed, "pcrs.pcr23")
	f.refuseImage(t, "a PCR that is not hex", "cvm", apiv1.CreateImageRequest{Version: "img-bad", PCRs: map[string]string{"pcr3": "xyz"}},
		400, apiv1.CodeValidationFailed, "pcrs.pcr3")
	f.refuseImage(t, "a SHA-384 PCR", "cvm", apiv1.CreateImageRequest{Version: "img-384", PCRs: map[string]string{"pcr7": randomHex(48)}},
		400, apiv1.CodeValidationFailed, "pcrs.pcr7")
}

// approveAll makes each user approve the task, expecting success, and returns
// the task after the last approval.
func (f *imageFlow) approveAll(t *testing.T, taskID string, users ...*user) *apiv1.Task {
	t.Helper()
	var task *apiv1.Task
	for _, u := range users {
		var err error
		task, err = u.c.ApproveTask(t.Context(), f.acct.AccountID, taskID, "approved by "+u.Email)
		if err != nil {
			t.Fatalf("%s approving task %s: %v", u.Email, taskID, err)
		}
	}
	return task
}

func (f *imageFlow) image(t *testing.T, name string) *apiv1.Image {
	t.Helper()
	img := f.img[name]
	if img == nil {
		t.Skipf("the %s image was not created", name)
	}
	got, err := f.reader.c.GetImage(t.Context(), f.acct.AccountID, img.ImageID)
	if err != nil {
		t.Fatalf("GET the %s image: %v", name, err)
	}
	return got
}

func (f *imageFlow) approveImage(t *testing.T) {
	ctx := t.Context()
	acct := f.acct.AccountID
	img := f.image(t, "sgx")
	task, err := f.reader.c.GetTask(ctx, acct, img.TaskID)
	if err != nil {
		t.Fatalf("GET the image's task: %v", err)
	}
	if task.Kind != "image_approval" || task.Subject != (apiv1.TaskSubject{Type: "image", ID: img.ImageID}) || task.Status != "pending" ||
		task.RequiredApprovals != 2 || task.CreatedBy != f.writer.ID || len(task.Approvals) != 0 || task.ResolvedAt != nil {
		t.Errorf("task = %+v, want a pending image_approval of the image, 2 approvals required, created by the writer", task)
	}
	raw := mustJSON[map[string]json.RawMessage](t, []byte(f.rec.last(t).Body))
	for _, k := range []string{"task_id", "kind", "subject", "status", "required_approvals", "approvals", "created_by", "created_at"} {
		if _, ok := raw[k]; !ok {
			t.Errorf("the task has no %q field: %s", k, f.rec.last(t).Body)
		}
	}

	_, err = f.writer2.c.ApproveTask(ctx, acct, task.TaskID, strings.Repeat("x", 2001))
	wantAPIError(t, "an approval with a 2001-character comment", err, 400, apiv1.CodeValidationFailed, "comment")
	_, err = f.writer.c.ApproveTask(ctx, acct, task.TaskID, "my own work")
	wantAPIError(t, "the creator approving their own image", err, 403, apiv1.CodeForbidden, "")
	_, err = f.reader.c.ApproveTask(ctx, acct, task.TaskID, "")
	wantAPIError(t, "a reader approving", err, 403, apiv1.CodeForbidden, "")
	_, err = f.reader.c.DenyTask(ctx, acct, task.TaskID, "readers cannot")
	wantAPIError(t, "a reader denying", err, 403, apiv1.CodeForbidden, "")

	first, err := f.writer2.c.ApproveTask(ctx, acct, task.TaskID, "looks good")
	if err != nil {
		t.Fatalf("the first approval: %v", err)
	}
	if first.Status != "pending" || len(first.Approvals) != 1 || first.ResolvedAt != nil {
		t.Errorf("after one of two approvals: %+v, want pending with one approval", first)
	} else if d := first.Approvals[0]; d.UserID != f.writer2.ID || d.Email != f.writer2.Email || d.Decision != "approve" || d.Comment != "looks good" || d.At.IsZero() {
		t.Errorf("the first decision = %+v", d)
	}
	if got := f.image(t, "sgx"); got.ApprovalStatus != "pending" {
		t.Errorf("after one of two approvals the image is %q, want pending", got.ApprovalStatus)
	}
	_, err = f.writer2.c.ApproveTask(ctx, acct, task.TaskID, "again")
	wantAPIError(t, "a second decision by the same user", err, 409, apiv1.CodeConflict, "")

	second, err := f.admin.c.ApproveTask(ctx, acct, task.TaskID, "")
	if err != nil {
		t.Fatalf("the second approval: %v", err)
	}
	if second.Status != "approved" || len(second.Approvals) != 2 || second.ResolvedAt == nil {
		t.Errorf("after two approvals: %+v, want approved with two approvals and resolved_at", second)
	}
	if got := f.image(t, "sgx"); got.ApprovalStatus != "approved" {
		t.Errorf("after two approvals the image is %q, want approved", got.ApprovalStatus)
	}
	_, err = f.writer3.c.ApproveTask(ctx, acct, task.TaskID, "late")
	wantAPIError(t, "approving a resolved task", err, 409, apiv1.CodeConflict, "")
	_, err = f.writer3.c.DenyTask(ctx, acct, task.TaskID, "too late")
	wantAPIError(t, "denying a resolved task", err, 409, apiv1.CodeConflict, "")
	if got, err := f.reader.c.GetTask(ctx, acct, task.TaskID); err != nil || got.Status != "approved" || len(got.Approvals) != 2 {
		t.Errorf("the task after the refused decisions = %+v, %v", got, err)
	}

	approved, err := f.reader.c.ListTasks(ctx, acct, client.TaskListOptions{Status: "approved"})
	if err != nil || !slices.ContainsFunc(approved.Items, func(x apiv1.Task) bool { return x.TaskID == task.TaskID }) {
		t.Errorf("?status=approved does not list the approved task: %+v, %v", approved, err)
	}
	pending, err := f.reader.c.ListTasks(ctx, acct, client.TaskListOptions{Status: "pending"})
	if err != nil || slices.ContainsFunc(pending.Items, func(x apiv1.Task) bool { return x.TaskID == task.TaskID }) {
		t.Errorf("?status=pending lists the approved task, or fails: %v", err)
	}
	for _, x := range pending.Items {
		if x.Status != "pending" {
			t.Errorf("?status=pending lists a %s task", x.Status)
		}
	}
	f.api.wantError(t, 400, apiv1.CodeValidationFailed, "status", "GET", "/v1/accounts/"+acct+"/tasks?status=done", f.reader.Token, "")
	f.api.wantError(t, 400, apiv1.CodeValidationFailed, "kind", "GET", "/v1/accounts/"+acct+"/tasks?kind=build", f.reader.Token, "")
	_, err = f.reader.c.GetTask(ctx, acct, "00000000-0000-7000-8000-000000000000")
	wantAPIError(t, "GET a task that does not exist", err, 404, apiv1.CodeNotFound, "")
}

func (f *imageFlow) denyImage(t *testing.T) {
	ctx := t.Context()
	acct := f.acct.AccountID
	img := f.image(t, "nitro-json")
	path := "/v1/accounts/" + acct + "/tasks/" + img.TaskID + "/deny"

	_, err := f.writer2.c.DenyTask(ctx, acct, img.TaskID, "")
	wantAPIError(t, "a deny without a reason", err, 400, apiv1.CodeValidationFailed, "reason")
	f.api.wantError(t, 400, apiv1.CodeValidationFailed, "reason", "POST", path, f.writer2.Token, `{}`)
	f.api.wantError(t, 400, apiv1.CodeValidationFailed, "reason", "POST", path, f.writer2.Token, `{"reason": "   "}`)

	if task := f.approveAll(t, img.TaskID, f.writer2); task.Status != "pending" {
		t.Errorf("after one approval: %s, want pending", task.Status)
	}
	task, err := f.writer3.c.DenyTask(ctx, acct, img.TaskID, "not a release build")
	if err != nil {
		t.Fatalf("denying: %v", err)
	}
	if task.Status != "denied" || task.ResolvedAt == nil || len(task.Approvals) != 2 {
		t.Errorf("after a deny: %+v, want denied with both decisions", task)
	} else if d := task.Approvals[1]; d.Decision != "deny" || d.UserID != f.writer3.ID || d.Comment != "not a release build" {
		t.Errorf("the deny decision = %+v, want writer3's deny with the reason", d)
	}
	if got := f.image(t, "nitro-json"); got.ApprovalStatus != "denied" {
		t.Errorf("after a deny the image is %q, want denied", got.ApprovalStatus)
	}
	_, err = f.admin.c.ApproveTask(ctx, acct, img.TaskID, "")
	wantAPIError(t, "approving a denied task", err, 409, apiv1.CodeConflict, "")

	// Without self-approval, the creator can still withdraw their image.
	own := f.image(t, "nitro-pcrs")
	task, err = f.writer.c.DenyTask(ctx, acct, own.TaskID, "withdrawn by its creator")
	if err != nil || task.Status != "denied" {
		t.Errorf("the creator denying their own image = %+v, %v; want denied", task, err)
	}
}

func (f *imageFlow) concurrentApprovals(t *testing.T) {
	ctx := t.Context()
	acct := f.acct.AccountID
	approvers := []*user{f.admin, f.writer2, f.writer3}
	for round := range 3 {
		zero := 0
		img := f.createImage(t, f.writer, "vm", apiv1.CreateImageRequest{Version: fmt.Sprintf("race-%d", round), Measurement: randomHex(48), VMPL: &zero}, 201)
		start := make(chan struct{})
		errs := make(chan error, len(approvers))
		for _, u := range approvers {
			go func() {
				<-start
				_, err := u.c.ApproveTask(ctx, acct, img.TaskID, "race")
				errs <- err
			}()
		}
		close(start)
		ok, conflicts := 0, 0
		for range approvers {
			err := <-errs
			switch {
			case err == nil:
				ok++
			case client.HasCode(err, apiv1.CodeConflict):
				conflicts++
			default:
				t.Errorf("round %d: a concurrent approval failed: %v", round, err)
			}
		}
		if ok != 2 || conflicts != 1 {
			t.Errorf("round %d: %d concurrent approvals under a quorum of 2: %d succeeded and %d got 409, want 2 and 1", round, len(approvers), ok, conflicts)
		}
		task, err := f.reader.c.GetTask(ctx, acct, img.TaskID)
		if err != nil || task.Status != "approved" || len(task.Approvals) != 2 {
			t.Errorf("round %d: the task = %+v, %v; want approved with exactly two approvals", round, task, err)
		}
		if got, err := f.reader.c.GetImage(ctx, acct, img.ImageID); err != nil || got.ApprovalStatus != "approved" {
			t.Errorf("round %d: the image = %+v, %v; want approved", round, got, err)
		}
		events := f.auditEvents(t, client.AuditListOptions{SubjectID: img.TaskID, Order: "asc"})
		count := map[string]int{}
		for _, e := range events {
			count[e.Action]++
		}
		if count["task.resolve"] != 1 || count["task.approve"] != 2 || count["task.create"] != 1 {
			t.Errorf("round %d: the audit events of the task = %v, want one task.create, two task.approve and one task.resolve", round, count)
		}
	}

	// An approval that completes the quorum and a deny, at once: one of them
	// resolves the task, the other is 409, and the image follows the task.
	for round := range 3 {
		zero := 0
		img := f.createImage(t, f.writer, "vm", apiv1.CreateImageRequest{Version: fmt.Sprintf("race-deny-%d", round), Measurement: randomHex(48), VMPL: &zero}, 201)
		f.approveAll(t, img.TaskID, f.writer2)
		start := make(chan struct{})
		errs := make(chan error, 2)
		go func() {
			<-start
			_, err := f.admin.c.ApproveTask(ctx, acct, img.TaskID, "race")
			errs <- err
		}()
		go func() {
			<-start
			_, err := f.writer3.c.DenyTask(ctx, acct, img.TaskID, "race")
			errs <- err
		}()
		close(start)
		ok, conflicts := 0, 0
		for range 2 {
			switch err := <-errs; {
			case err == nil:
				ok++
			case client.HasCode(err, apiv1.CodeConflict):
				conflicts++
			default:
				t.Errorf("round %d: a concurrent decision failed: %v", round, err)
			}
		}
		task, err := f.reader.c.GetTask(ctx, acct, img.TaskID)
		if err != nil {
			t.Fatal(err)
		}
		got, err := f.reader.c.GetImage(ctx, acct, img.ImageID)
		if err != nil {
			t.Fatal(err)
		}
		resolves := 0
		for _, e := range f.auditEvents(t, client.AuditListOptions{SubjectID: img.TaskID, Action: "task.resolve"}) {
			if e.Action == "task.resolve" {
				resolves++
			}
		}
		if ok != 1 || conflicts != 1 || (task.Status != "approved" && task.Status != "denied") || got.ApprovalStatus != task.Status || resolves != 1 {
			t.Errorf("round %d: a completing approval and a deny at once: %d succeeded, %d got 409, task %s, image %s, %d task.resolve events; want 1, 1, the image following the task, 1",
				round, ok, conflicts, task.Status, got.ApprovalStatus, resolves)
		}
	}
}

// auditEvents returns every audit event of the account that opts selects.
func (f *imageFlow) auditEvents(t *testing.T, opts client.AuditListOptions) []apiv1.AuditEvent {
	t.Helper()
	events, err := client.ListAll(t.Context(), f.reader.c.AuditPages(f.acct.AccountID, opts))
	if err != nil {
		t.Fatalf("listing the audit log: %v", err)
	}
	return events
}

func (f *imageFlow) domainApproval(t *testing.T) {
	ctx := t.Context()
	acct := f.acct.AccountID
	domains := []string{"api.images.example.com", "www.images.example.com"}
	web, err := f.writer.c.CreateApp(ctx, acct, apiv1.CreateAppRequest{Name: "web", Type: "edp", Domains: domains})
	if err != nil {
		t.Fatalf("creating an app with domains: %v", err)
	}
	if !uuidRe.MatchString(web.PendingDomainTaskID) || len(web.ApprovedDomains) != 0 || !slices.Equal(web.Domains, domains) {
		t.Fatalf("a new app with domains = %+v, want its domains, none approved, and a pending domain task", web)
	}
	task, err := f.reader.c.GetTask(ctx, acct, web.PendingDomainTaskID)
	if err != nil {
		t.Fatal(err)
	}
	if task.Kind != "domain_approval" || task.Subject != (apiv1.TaskSubject{Type: "app", ID: web.AppID}) || task.Status != "pending" ||
		task.DomainsAdded == nil || !slices.Equal(*task.DomainsAdded, domains) || task.DomainsRemoved == nil || len(*task.DomainsRemoved) != 0 ||
		task.CreatedBy != f.writer.ID || task.RequiredApprovals != 2 {
		t.Errorf("domain task = %+v, want a pending domain_approval of the app adding %v", task, domains)
	}
	l, err := f.reader.c.ListTasks(ctx, acct, client.TaskListOptions{Kind: "domain_approval", Status: "pending"})
	if err != nil || !slices.ContainsFunc(l.Items, func(x apiv1.Task) bool { return x.TaskID == task.TaskID }) {
		t.Errorf("?kind=domain_approval&status=pending does not list the task: %+v, %v", l, err)
	}

	more := append(slices.Clone(domains), "new.images.example.com")
	_, err = f.writer.c.UpdateApp(ctx, acct, web.AppID, apiv1.UpdateAppRequest{Domains: &more})
	wantAPIError(t, "a second domain change while the first is pending", err, 409, apiv1.CodeConflict, "domains")
	desc := "the public web front"
	if got, err := f.writer.c.UpdateApp(ctx, acct, web.AppID, apiv1.UpdateAppRequest{Description: &desc}); err != nil ||
		got.Description != desc || got.PendingDomainTaskID != task.TaskID || !slices.Equal(got.Domains, domains) {
		t.Errorf("changing the description while the domain task is pending = %+v, %v", got, err)
	}
	_, err = f.writer.c.ApproveTask(ctx, acct, task.TaskID, "")
	wantAPIError(t, "approving one's own domain change", err, 403, apiv1.CodeForbidden, "")

	if done := f.approveAll(t, task.TaskID, f.writer2, f.admin); done.Status != "approved" {
		t.Errorf("after two approvals the domain task is %s", done.Status)
	}
	got, err := f.reader.c.GetApp(ctx, acct, web.AppID)
	if err != nil || !slices.Equal(got.ApprovedDomains, domains) || got.PendingDomainTaskID != "" {
		t.Errorf("the app after the domain approval = %+v, %v; want approved_domains %v and no pending task", got, err, domains)
	}

	fewer := domains[:1]
	got, err = f.writer.c.UpdateApp(ctx, acct, web.AppID, apiv1.UpdateAppRequest{Domains: &fewer})
	if err != nil || !slices.Equal(got.Domains, fewer) || !slices.Equal(got.ApprovedDomains, fewer) {
		t.Errorf("removing a domain = %+v, %v; want domains and approved_domains %v at once", got, err, fewer)
	}
	if got, err := f.reader.c.GetApp(ctx, acct, web.AppID); err != nil || !slices.Equal(got.ApprovedDomains, fewer) {
		t.Errorf("the app after removing a domain = %+v, %v; want approved_domains %v", got, err, fewer)
	}
	f.apps = append(f.apps, got)
	if got == nil || got.PendingDomainTaskID == "" {
		t.Fatalf("the removal opened no domain task: %+v", got)
	}

	// The removal's task lists it; denying it does not bring the domain back.
	removal, err := f.reader.c.GetTask(ctx, acct, got.PendingDomainTaskID)
	if err != nil || removal.DomainsRemoved == nil || !slices.Equal(*removal.DomainsRemoved, domains[1:]) || removal.DomainsAdded == nil || len(*removal.DomainsAdded) != 0 {
		t.Errorf("the removal's task = %+v, %v; want domains_removed %v and none added", removal, err, domains[1:])
	}
	if _, err := f.writer2.c.DenyTask(ctx, acct, got.PendingDomainTaskID, "keep it simple"); err != nil {
		t.Fatalf("denying the removal's task: %v", err)
	}
	if got, err := f.reader.c.GetApp(ctx, acct, web.AppID); err != nil || !slices.Equal(got.ApprovedDomains, fewer) || got.PendingDomainTaskID != "" {
		t.Errorf("the app after denying the removal = %+v, %v; want approved_domains %v and no pending task", got, err, fewer)
	}

	// A denied addition leaves approved_domains; asking again proposes every
	// domain not yet approved.
	added := []string{domains[0], "new.images.example.com"}
	got, err = f.writer.c.UpdateApp(ctx, acct, web.AppID, apiv1.UpdateAppRequest{Domains: &added})
	if err != nil || !slices.Equal(got.ApprovedDomains, fewer) || got.PendingDomainTaskID == "" {
		t.Fatalf("adding a domain = %+v, %v; want approved_domains %v until its task is approved", got, err, fewer)
	}
	if task, err := f.writer3.c.DenyTask(ctx, acct, got.PendingDomainTaskID, "unknown host"); err != nil || task.Status != "denied" {
		t.Fatalf("denying the addition = %+v, %v", task, err)
	}
	if got, err := f.reader.c.GetApp(ctx, acct, web.AppID); err != nil || !slices.Equal(got.ApprovedDomains, fewer) {
		t.Errorf("the app after the denied addition = %+v, %v; want approved_domains %v", got, err, fewer)
	}
	again := append(slices.Clone(added), "more.images.example.com")
	got, err = f.writer.c.UpdateApp(ctx, acct, web.AppID, apiv1.UpdateAppRequest{Domains: &again})
	if err != nil {
		t.Fatalf("asking again: %v", err)
	}
	task, err = f.reader.c.GetTask(ctx, acct, got.PendingDomainTaskID)
	if want := again[1:]; err != nil || task.DomainsAdded == nil || !slices.Equal(*task.DomainsAdded, want) {
		t.Errorf("the new domain task = %+v, %v; want domains_added %v (every domain not yet approved)", task, err, want)
	}
	f.approveAll(t, got.PendingDomainTaskID, f.writer3, f.admin)
	if got, err := f.reader.c.GetApp(ctx, acct, web.AppID); err != nil || !slices.Equal(got.ApprovedDomains, again) {
		t.Errorf("the app after approving the domains again = %+v, %v; want approved_domains %v", got, err, again)
	}
}

func (f *imageFlow) concurrentImageCreates(t *testing.T) {
	ctx := t.Context()
	acct, appID := f.acct.AccountID, f.app("cvm").AppID
	pcrs := map[string]string{"pcr9": randomHex(32)}
	const n = 6
	start := make(chan struct{})
	type result struct {
		img *apiv1.Image
		err error
	}
	results := make(chan result, n)
	for i := range n {
		go func() {
			<-start
			img, err := f.writer.c.CreateImage(ctx, acct, appID, apiv1.CreateImageRequest{Version: fmt.Sprintf("race-%d", i), PCRs: pcrs})
			results <- result{img, err}
		}()
	}
	close(start)
	var created []*apiv1.Image
	conflicts := 0
	for range n {
		switch r := <-results; {
		case r.err == nil:
			created = append(created, r.img)
		case client.HasCode(r.err, apiv1.CodeConflict):
			conflicts++
		default:
			t.Errorf("a concurrent creation failed: %v", r.err)
		}
	}
	f.created += len(created)
	for i, img := range created {
		f.img[fmt.Sprintf("cvm-race-%d", i)] = img
	}
	if len(created) != 1 || conflicts != n-1 {
		t.Errorf("%d concurrent creations of the PCR combination %v: %d created, %d got 409; want 1 and %d", n, pcrs, len(created), conflicts, n-1)
	}
}

// concurrentDomainChanges checks API.md's "While a domain task is pending,
// another domain change is 409" when the changes arrive at once.
func (f *imageFlow) concurrentDomainChanges(t *testing.T) {
	ctx := t.Context()
	acct := f.acct.AccountID
	for round := range 3 {
		a, err := f.writer.c.CreateApp(ctx, acct, apiv1.CreateAppRequest{Name: fmt.Sprintf("race-domains-%d", round), Type: "sev_snp"})
		if err != nil {
			t.Fatal(err)
		}
		const n = 6
		start := make(chan struct{})
		errs := make(chan error, n)
		for i := range n {
			go func() {
				<-start
				d := []string{fmt.Sprintf("d%d.race.example.com", i)}
				_, err := f.writer.c.UpdateApp(ctx, acct, a.AppID, apiv1.UpdateAppRequest{Domains: &d})
				errs <- err
			}()
		}
		close(start)
		ok, conflicts := 0, 0
		for range n {
			switch err := <-errs; {
			case err == nil:
				ok++
			case client.HasCode(err, apiv1.CodeConflict):
				conflicts++
			default:
				t.Errorf("round %d: a concurrent domain change failed: %v", round, err)
			}
		}
		got, err := f.reader.c.GetApp(ctx, acct, a.AppID)
		if err != nil {
			t.Fatal(err)
		}
		tasks, err := client.ListAll(ctx, func(ctx context.Context, o client.ListOptions) (*apiv1.List[apiv1.Task], error) {
			return f.reader.c.ListTasks(ctx, acct, client.TaskListOptions{ListOptions: o, Kind: "domain_approval", Status: "pending"})
		})
		if err != nil {
			t.Fatal(err)
		}
		var open []string
		for _, task := range tasks {
			if task.Subject.ID == a.AppID {
				open = append(open, task.TaskID)
			}
		}
		if ok != 1 || conflicts != n-1 || len(open) != 1 || open[0] != got.PendingDomainTaskID {
			t.Errorf("round %d: %d concurrent domain changes of an app: %d succeeded, %d got 409, pending domain tasks %v, the app's pending_domain_task_id %q; want 1 success, %d conflicts and one pending task, the app's",
				round, n, ok, conflicts, open, got.PendingDomainTaskID, n-1)
		}
		if err := f.writer.c.DeleteApp(ctx, acct, a.AppID, false); err != nil {
			t.Errorf("deleting the app: %v", err)
		}
	}
}

// concurrentResolveAndPatch resolves a domain task while the app's
// description changes: the approved domains (API.md: "Resolving a task sets
// ... approved_domains (app) in the same transaction") and a description
// that was accepted must both stick.
func (f *imageFlow) concurrentResolveAndPatch(t *testing.T) {
	ctx := t.Context()
	acct := f.acct.AccountID
	// The racing calls go through a recorder of their own: a server error
	// they meet is reported here, not again by the conventions step.
	race := newAPI(t, f.srv, &recorder{})
	approver, patcher := race.client(t, f.admin.Token), race.client(t, f.writer.Token)
	const patches = 4
	for round := range 6 {
		domains := []string{fmt.Sprintf("r%d.race.example.com", round)}
		a, err := f.writer.c.CreateApp(ctx, acct, apiv1.CreateAppRequest{Name: fmt.Sprintf("race-resolve-%d", round), Type: "sev_snp", Domains: domains})
		if err != nil {
			t.Fatal(err)
		}
		f.approveAll(t, a.PendingDomainTaskID, f.writer2)
		start := make(chan struct{})
		errs := make(chan error, patches+1)
		go func() {
			<-start
			_, err := approver.ApproveTask(ctx, acct, a.PendingDomainTaskID, "")
			errs <- err
		}()
		var descs []string
		for i := range patches {
			desc := fmt.Sprintf("round %d, change %d", round, i)
			descs = append(descs, desc)
			go func() {
				<-start
				_, err := patcher.UpdateApp(ctx, acct, a.AppID, apiv1.UpdateAppRequest{Description: &desc})
				errs <- err
			}()
		}
		close(start)
		for range patches + 1 {
			if err := <-errs; err != nil {
				t.Errorf("round %d: a domain approval or a description change, at once, failed: %v", round, err)
			}
		}
		task, err := f.reader.c.GetTask(ctx, acct, a.PendingDomainTaskID)
		if err != nil {
			t.Fatal(err)
		}
		got, err := f.reader.c.GetApp(ctx, acct, a.AppID)
		if err != nil {
			t.Fatal(err)
		}
		if task.Status != "approved" || !slices.Equal(got.ApprovedDomains, domains) || got.PendingDomainTaskID != "" || !slices.Contains(descs, got.Description) {
			t.Errorf("round %d: after a domain approval and %d description changes at once: task %s; app approved_domains %v, pending_domain_task_id %q, description %q; want approved, %v, none, one of the new descriptions",
				round, patches, task.Status, got.ApprovedDomains, got.PendingDomainTaskID, got.Description, domains)
		}
		if err := f.writer.c.DeleteApp(ctx, acct, a.AppID, false); err != nil {
			t.Errorf("deleting the app: %v", err)
		}
	}
}

// checkUploadLimits checks API.md's 413 row: "body over the limit (default
// 8 MiB; sigstruct/measurement uploads far less)". 1 MiB is far over any
// SIGSTRUCT (1808 bytes) or nitro-cli measurement JSON, and under 8 MiB.
func (f *imageFlow) checkUploadLimits(t *testing.T) {
	acct := f.acct.AccountID
	big := strings.Repeat("A", 1<<20)
	images := "/v1/accounts/" + acct + "/apps/" + f.app("signer-b").AppID + "/images"
	for _, c := range []struct{ path, body string }{
		{"/v1/tools/sigstruct", `{"sigstruct": "` + big + `"}`},
		{"/v1/tools/nitro-measurements", `{"measurement_json": "` + big + `"}`},
		{images, `{"version": "big-sgx", "platform": "sgx", "sigstruct": "` + big + `"}`},
		{images, `{"version": "big-nitro", "platform": "nitro", "measurement_json": "` + big + `"}`},
	} {
		f.api.wantError(t, 413, apiv1.CodeTooLarge, "", "POST", c.path, f.writer.Token, c.body)
	}
}

// policyChanges checks docs/approvals.md: the quorum is fixed on a task
// when it opens, and allow_self_approval is read when a decision is made.
func (f *imageFlow) policyChanges(t *testing.T) {
	ctx := t.Context()
	acct := f.acct.AccountID
	setPolicy := func(n int, self bool) {
		t.Helper()
		a, err := f.admin.c.UpdateAccount(ctx, acct, apiv1.UpdateAccountRequest{ApprovalPolicy: &apiv1.ApprovalPolicyPatch{RequiredApprovals: &n, AllowSelfApproval: &self}})
		if err != nil || a.ApprovalPolicy != (apiv1.ApprovalPolicy{RequiredApprovals: n, AllowSelfApproval: self}) {
			t.Fatalf("setting the approval policy to %d, %v: %+v, %v", n, self, a, err)
		}
	}
	zero := 0
	newImage := func(version string) *apiv1.Image {
		t.Helper()
		return f.createImage(t, f.writer, "vm", apiv1.CreateImageRequest{Version: version, Measurement: randomHex(48), VMPL: &zero}, 201)
	}
	before := newImage("policy-1")
	setPolicy(1, true)
	restored := false
	defer func() {
		if !restored {
			setPolicy(2, false)
		}
	}()

	task, err := f.writer.c.ApproveTask(ctx, acct, before.TaskID, "my own, now allowed")
	if err != nil {
		t.Errorf("the creator approving once self-approval is allowed: %v", err)
	} else if task.RequiredApprovals != 2 || task.Status != "pending" {
		t.Errorf("a task opened under a quorum of 2, after the policy changed to 1: %+v; want still 2 required and pending", task)
	}
	after := newImage("policy-2")
	task, err = f.writer.c.ApproveTask(ctx, acct, after.TaskID, "")
	if err != nil || task.RequiredApprovals != 1 || task.Status != "approved" {
		t.Errorf("a task opened under a quorum of 1, approved by its creator = %+v, %v; want approved", task, err)
	}

	setPolicy(2, false)
	restored = true
	third := newImage("policy-3")
	_, err = f.writer.c.ApproveTask(ctx, acct, third.TaskID, "")
	wantAPIError(t, "the creator approving after self-approval was forbidden again", err, 403, apiv1.CodeForbidden, "")
	if task := f.approveAll(t, before.TaskID, f.writer2); task.Status != "approved" {
		t.Errorf("the task opened under a quorum of 2 after its second approval: %s", task.Status)
	}
}

func (f *imageFlow) explain(t *testing.T) {
	ctx := t.Context()
	acct := f.acct.AccountID
	c := f.cvm
	ab, a, de, none := f.img["cvm-ab"], f.img["cvm-a"], f.img["cvm-de"], f.img["cvm-none"]
	explain := func(what string, req apiv1.ExplainRequest, wantResult string, wantImage *apiv1.Image) *apiv1.Explanation {
		t.Helper()
		e, err := f.reader.c.Explain(ctx, acct, req)
		if err != nil {
			t.Errorf("%s: explain: %v", what, err)
			return nil
		}
		sel := "null"
		if e.SelectedImageID != nil {
			sel = *e.SelectedImageID
		}
		want := "null"
		if wantImage != nil {
			want = wantImage.ImageID
		}
		if e.Result != wantResult || sel != want || len(e.Steps) == 0 {
			t.Errorf("%s: result %q, selected %s, want %q and %s; steps:\n  %s", what, e.Result, sel, wantResult, want, strings.Join(e.Steps, "\n  "))
		}
		if raw := mustJSON[map[string]json.RawMessage](t, []byte(f.rec.last(t).Body)); raw["selected_image_id"] == nil {
			t.Errorf("%s: the answer has no selected_image_id member: %s", what, f.rec.last(t).Body)
		}
		return e
	}
	vm := map[string]string{"pcr0": c["a"], "pcr1": c["b"], "pcr7": randomHex(32)}
	azure := func(pcrs map[string]string) apiv1.ExplainRequest {
		return apiv1.ExplainRequest{Platform: "azure_cvm", PCRs: pcrs}
	}

	explain("PCR0 and PCR1 match {0:a, 1:b}, before its approval", azure(vm), "image_not_approved", ab)
	task := f.approveAll(t, ab.TaskID, f.writer2, f.admin)
	if task.Status != "approved" {
		t.Fatalf("the {0:a, 1:b} image's task is %s after two approvals", task.Status)
	}
	if e := explain("PCR0 and PCR1 match {0:a, 1:b}, approved", azure(vm), "ok", ab); e != nil && !strings.Contains(strings.Join(e.Steps, "\n"), ab.ImageID) {
		t.Errorf("the steps do not name the selected image:\n%s", strings.Join(e.Steps, "\n"))
	}
	upper := map[string]string{"pcr0": "0x" + strings.ToUpper(c["a"]), "pcr1": strings.ToUpper(c["b"])}
	explain("the same PCRs in upper case", azure(upper), "ok", ab)
	explain("only PCR0 matches: the shorter combination {0:a} wins", azure(map[string]string{"pcr0": c["a"], "pcr1": randomHex(32)}), "image_not_approved", a)
	explain("PCR2 anchors {2:d, 3:e} but PCR3 differs", azure(map[string]string{"pcr2": c["d"], "pcr3": randomHex(32)}), "pcr_mismatch", de)
	explain("nothing matches: the image without PCRs is the fallback", azure(map[string]string{"pcr5": randomHex(32)}), "image_not_approved", none)
	if e := explain("app_id names an app without Azure CVM images", apiv1.ExplainRequest{Platform: "azure_cvm", AppID: f.app("vm").AppID, PCRs: vm}, "no_matching_image", nil); e != nil &&
		!slices.Contains(e.Steps, "Build with matching PCRs not found") {
		t.Errorf("a no_matching_image explanation does not say %q:\n%s", "Build with matching PCRs not found", strings.Join(e.Steps, "\n"))
	}

	// The account's PCR priority decides between images that match on
	// different PCRs.
	p, q := randomHex(32), randomHex(32)
	f.img["cvm-p"] = f.createImage(t, f.writer, "cvm", apiv1.CreateImageRequest{Version: "img-p", PCRs: map[string]string{"pcr4": p}}, 201)
	f.img["cvm-q"] = f.createImage(t, f.writer, "cvm", apiv1.CreateImageRequest{Version: "img-q", PCRs: map[string]string{"pcr5": q}}, 201)
	pq := azure(map[string]string{"pcr4": p, "pcr5": q})
	explain("PCR4 and PCR5 match two images, default priority", pq, "image_not_approved", f.img["cvm-p"])
	priority := []int{5, 4}
	for i := range 23 {
		if i != 4 && i != 5 {
			priority = append(priority, i)
		}
	}
	if _, err := f.admin.c.UpdateAccount(ctx, acct, apiv1.UpdateAccountRequest{AzureCVMPCRPriority: priority}); err != nil {
		t.Fatalf("setting the PCR priority: %v", err)
	}
	explain("PCR4 and PCR5 match two images, PCR5 first", pq, "image_not_approved", f.img["cvm-q"])
	def := make([]int, 23)
	for i := range def {
		def[i] = i
	}
	if a, err := f.admin.c.UpdateAccount(ctx, acct, apiv1.UpdateAccountRequest{AzureCVMPCRPriority: def}); err != nil || !slices.Equal(a.AzureCVMPCRPriority, def) {
		t.Fatalf("restoring the PCR priority: %+v, %v", a, err)
	}
	explain("PCR4 and PCR5 match two images, default priority again", pq, "image_not_approved", f.img["cvm-p"])

	_, err := f.reader.c.Explain(ctx, acct, azure(map[string]string{"pcr23": c["a"]}))
	wantAPIError(t, "explaining PCR 23", err, 400, apiv1.CodeValidationFailed, "pcrs.pcr23")
	_, err = f.reader.c.Explain(ctx, acct, apiv1.ExplainRequest{Platform: "tdx"})
	wantAPIError(t, "explaining an unknown platform", err, 400, apiv1.CodeValidationFailed, "platform")

	sev := f.img["sev"]
	explain("SEV-SNP: the measurement at VMPL 2, known at VMPL 0 and 1", apiv1.ExplainRequest{Platform: "sev_snp",
		Measurements: map[string]any{"measurement": f.sevMeasurement, "vmpl": 2}}, "vmpl_mismatch", sev)
	explain("SEV-SNP: the measurement at VMPL 0, not approved", apiv1.ExplainRequest{Platform: "sev_snp",
		Measurements: map[string]any{"measurement": strings.ToUpper(f.sevMeasurement), "vmpl": 0}}, "image_not_approved", sev)
	explain("SGX: sig1's MRENCLAVE, approved", apiv1.ExplainRequest{Platform: "sgx",
		Measurements: map[string]any{"mrenclave": sig1MREnclave}}, "ok", f.img["sgx"])
	nj := f.img["nitro-json"]
	explain("Nitro: the denied image's PCRs", apiv1.ExplainRequest{Platform: "nitro", Measurements: map[string]any{
		"pcr0": nj.Measurements["pcr0"], "pcr1": nj.Measurements["pcr1"], "pcr2": nj.Measurements["pcr2"]}}, "image_not_approved", nj)
	explain("SEV-SNP: an unknown measurement", apiv1.ExplainRequest{Platform: "sev_snp",
		Measurements: map[string]any{"measurement": randomHex(48), "vmpl": 0}}, "no_matching_image", nil)
}

func (f *imageFlow) listImages(t *testing.T) {
	ctx := t.Context()
	acct := f.acct.AccountID
	listAll := func(opts client.ImageListOptions) []apiv1.Image {
		t.Helper()
		all, err := client.ListAll(ctx, func(ctx context.Context, o client.ListOptions) (*apiv1.List[apiv1.Image], error) {
			o.Limit = 3 // several pages
			opts.ListOptions = o
			return f.reader.c.ListImages(ctx, acct, opts)
		})
		if err != nil {
			t.Fatalf("listing images %+v: %v", opts, err)
		}
		return all
	}
	ids := func(l []apiv1.Image) []string {
		var out []string
		for _, i := range l {
			out = append(out, i.ImageID)
		}
		slices.Sort(out)
		return out
	}
	all := listAll(client.ImageListOptions{})
	if len(all) != f.created {
		t.Errorf("the account lists %d images, want the %d created", len(all), f.created)
	}
	if len(ids(all)) != len(slices.Compact(ids(all))) {
		t.Errorf("paging listed an image twice: %v", ids(all))
	}
	byID := map[string]apiv1.Image{}
	for _, i := range all {
		byID[i.ImageID] = i
	}
	for name, want := range f.img {
		got, ok := byID[want.ImageID]
		if !ok {
			t.Errorf("the %s image is not listed", name)
			continue
		}
		one, err := f.reader.c.GetImage(ctx, acct, want.ImageID)
		if err != nil || one.Version != want.Version || one.AppID != want.AppID || !one.CreatedAt.Equal(want.CreatedAt) ||
			one.ApprovalStatus != got.ApprovalStatus || fmt.Sprint(one.Measurements) != fmt.Sprint(want.Measurements) {
			t.Errorf("GET the %s image = %+v, %v; want %+v", name, one, err, want)
		}
	}

	cvm := listAll(client.ImageListOptions{Type: "azure_cvm"})
	var wantCVM []string
	for name, img := range f.img {
		if strings.HasPrefix(name, "cvm-") {
			wantCVM = append(wantCVM, img.ImageID)
		}
	}
	if len(wantCVM) < 4 || !slices.Equal(ids(cvm), sortedCopy(wantCVM)) {
		t.Errorf("?type=azure_cvm lists %v, want %v", ids(cvm), sortedCopy(wantCVM))
	}
	if l, err := f.reader.c.ListAppImages(ctx, acct, f.app("cvm").AppID, client.ImageListOptions{}); err != nil || !slices.Equal(ids(l.Items), ids(cvm)) {
		t.Errorf("the cvm app's images = %v, %v; want %v", l, err, ids(cvm))
	}
	if pending := listAll(client.ImageListOptions{Status: "pending"}); !slices.Equal(ids(pending), sortedCopy([]string{f.img["enclave"].ImageID, f.img["aci"].ImageID})) {
		t.Errorf("?status=pending lists %v, want the enclave_os and aci images", ids(pending))
	}
	for _, st := range []string{"approved", "denied", "pending"} {
		for _, i := range listAll(client.ImageListOptions{ApprovalStatus: st}) {
			if i.ApprovalStatus != st {
				t.Errorf("?approval_status=%s lists a %s image", st, i.ApprovalStatus)
			}
		}
	}
	denied := ids(listAll(client.ImageListOptions{ApprovalStatus: "denied", Type: "edp"}))
	if want := sortedCopy([]string{f.img["nitro-json"].ImageID, f.img["nitro-pcrs"].ImageID}); !slices.Equal(denied, want) {
		t.Errorf("?approval_status=denied&type=edp lists %v, want %v", denied, want)
	}
	f.api.wantError(t, 400, apiv1.CodeValidationFailed, "status", "GET", "/v1/accounts/"+acct+"/images?status=done", f.reader.Token, "")
	f.api.wantError(t, 400, apiv1.CodeValidationFailed, "approval_status", "GET", "/v1/accounts/"+acct+"/images?approval_status=maybe", f.reader.Token, "")
	_, err := f.reader.c.GetImage(ctx, acct, "00000000-0000-7000-8000-000000000000")
	wantAPIError(t, "GET an image that does not exist", err, 404, apiv1.CodeNotFound, "")
	_, err = f.reader.c.CreateImage(ctx, acct, f.app("vm").AppID, apiv1.CreateImageRequest{Version: "reader", Measurement: randomHex(48)})
	wantAPIError(t, "a reader creating an image", err, 403, apiv1.CodeForbidden, "")
	err = f.reader.c.DeleteImage(ctx, acct, f.img["sev"].ImageID)
	wantAPIError(t, "a reader deleting an image", err, 403, apiv1.CodeForbidden, "")
}

func sortedCopy(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

func (f *imageFlow) deleteAppWithImages(t *testing.T) {
	ctx := t.Context()
	acct := f.acct.AccountID
	doomed, err := f.writer.c.CreateApp(ctx, acct, apiv1.CreateAppRequest{Name: "doomed", Type: "sev_snp"})
	if err != nil {
		t.Fatal(err)
	}
	f.apps = append(f.apps, doomed)
	zero := 0
	i1 := f.createImage(t, f.writer, "doomed", apiv1.CreateImageRequest{Version: "1", Measurement: randomHex(48), VMPL: &zero}, 201)
	i2 := f.createImage(t, f.writer, "doomed", apiv1.CreateImageRequest{Version: "2", Measurement: randomHex(48), VMPL: &zero}, 201)
	f.approveAll(t, i2.TaskID, f.writer2, f.admin)

	err = f.writer.c.DeleteApp(ctx, acct, doomed.AppID, false)
	wantAPIError(t, "deleting an app with images", err, 409, apiv1.CodeConflict, "")
	if _, err := f.reader.c.GetImage(ctx, acct, i1.ImageID); err != nil {
		t.Errorf("the image after the refused delete: %v", err)
	}
	if err := f.writer.c.DeleteApp(ctx, acct, doomed.AppID, true); err != nil {
		t.Fatalf("deleting the app with ?cascade=true: %v", err)
	}
	if ex := f.rec.last(t); ex.Status != 204 || ex.Body != "" {
		t.Errorf("DELETE with cascade: status %d, body %q; want 204 and no body", ex.Status, ex.Body)
	}
	_, err = f.reader.c.GetApp(ctx, acct, doomed.AppID)
	wantAPIError(t, "GET the deleted app", err, 404, apiv1.CodeNotFound, "")
	for _, img := range []*apiv1.Image{i1, i2} {
		_, err = f.reader.c.GetImage(ctx, acct, img.ImageID)
		wantAPIError(t, "GET an image of the deleted app", err, 404, apiv1.CodeNotFound, "")
	}
	_, err = f.reader.c.GetTask(ctx, acct, i1.TaskID)
	wantAPIError(t, "GET the pending task of a deleted image", err, 404, apiv1.CodeNotFound, "")
	if task, err := f.reader.c.GetTask(ctx, acct, i2.TaskID); err != nil || task.Status != "approved" {
		t.Errorf("the decided task of a deleted image = %+v, %v; want it kept as history", task, err)
	}
	all, err := client.ListAll(ctx, func(ctx context.Context, o client.ListOptions) (*apiv1.List[apiv1.Image], error) {
		return f.reader.c.ListImages(ctx, acct, client.ImageListOptions{ListOptions: o})
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, img := range all {
		if img.AppID == doomed.AppID {
			t.Errorf("an image of the deleted app is still listed: %+v", img)
		}
	}
	f.apps = slices.DeleteFunc(f.apps, func(a *apiv1.App) bool { return a.AppID == doomed.AppID })

	// One image alone.
	hand := f.img["sgx-hand"]
	if err := f.writer.c.DeleteImage(ctx, acct, hand.ImageID); err != nil {
		t.Fatalf("deleting an image: %v", err)
	}
	_, err = f.reader.c.GetImage(ctx, acct, hand.ImageID)
	wantAPIError(t, "GET a deleted image", err, 404, apiv1.CodeNotFound, "")
	delete(f.img, "sgx-hand")
}

func (f *imageFlow) checkAudit(t *testing.T) {
	ctx := t.Context()
	acct := f.acct.AccountID
	events := f.auditEvents(t, client.AuditListOptions{Order: "asc"})
	if len(events) < 50 {
		t.Fatalf("the audit log holds %d events", len(events))
	}
	count := map[string]int{}
	for i, e := range events {
		count[e.Action]++
		if e.Seq != int64(i+1) {
			t.Errorf("event %d has seq %d", i+1, e.Seq)
		}
		prev := strings.Repeat("0", 64)
		if i > 0 {
			prev = events[i-1].Hash
		}
		if e.PrevHash != prev || len(e.Hash) != 64 || !uuidRe.MatchString(e.EventID) || e.At.IsZero() || e.Outcome == "" {
			t.Errorf("event %d = %+v: want prev_hash the previous hash, a SHA-256 hash, an ID, a time and an outcome", e.Seq, e)
		}
	}
	for _, a := range []string{"account.create", "account.update", "member.add", "session.create", "app.create", "app.update", "app.delete",
		"image.create", "image.delete", "build.queue", "task.create", "task.approve", "task.deny", "task.resolve"} {
		if count[a] == 0 {
			t.Errorf("the audit log has no %s event; it has %v", a, count)
		}
	}
	if count["image.create"] != f.created {
		t.Errorf("%d image.create events, want one per image created (%d)", count["image.create"], f.created)
	}
	if count["build.queue"] != 2 {
		t.Errorf("%d build.queue events, want 2 (enclave_os and aci)", count["build.queue"])
	}

	// The approval of the sig1 image, decision by decision.
	sgx := f.img["sgx"]
	var decisions []apiv1.AuditEvent
	for _, e := range events {
		if e.Subject.ID == sgx.TaskID {
			decisions = append(decisions, e)
		}
	}
	var got []string
	for _, e := range decisions {
		got = append(got, e.Action+" by "+e.Actor.Type+" "+e.Actor.ID)
	}
	want := []string{"task.create by user " + f.writer.ID, "task.approve by user " + f.writer2.ID, "task.approve by user " + f.admin.ID, "task.resolve by system "}
	if strings.Join(got, "; ") != strings.Join(want, "; ") {
		t.Errorf("the events of the sig1 image's task:\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}

	// Pages of 7, newest first, give the same events.
	var desc []apiv1.AuditEvent
	cursor := ""
	for range len(events) {
		l, err := f.reader.c.ListAudit(ctx, acct, client.AuditListOptions{Limit: 7, Cursor: cursor})
		if err != nil {
			t.Fatal(err)
		}
		desc = append(desc, l.Items...)
		if cursor = l.NextCursor; cursor == "" {
			break
		}
	}
	if len(desc) != len(events) || desc[0].EventID != events[len(events)-1].EventID || desc[len(desc)-1].EventID != events[0].EventID {
		t.Errorf("paging newest first by 7 gave %d events, want the %d in reverse order", len(desc), len(events))
	}
	creates := f.auditEvents(t, client.AuditListOptions{Action: "image.create"})
	if len(creates) != f.created {
		t.Errorf("?action=image.create lists %d events, want %d", len(creates), f.created)
	}
	if mine := f.auditEvents(t, client.AuditListOptions{ActorID: f.writer3.ID}); len(mine) == 0 ||
		slices.ContainsFunc(mine, func(e apiv1.AuditEvent) bool { return e.Actor.ID != f.writer3.ID }) {
		t.Errorf("?actor_id=writer3 lists %d events, some by others", len(mine))
	}

	v, err := f.reader.c.VerifyAudit(ctx, acct)
	if err != nil {
		t.Fatalf("verifying the audit log: %v", err)
	}
	// Nothing happened in the account since the listing.
	if !v.OK || v.Events != len(events) || v.FirstBadEventID != "" {
		t.Errorf("audit verify = %+v, want ok with %d events", v, len(events))
	}
	f.api.wantError(t, 400, apiv1.CodeValidationFailed, "order", "GET", "/v1/accounts/"+acct+"/audit?order=sideways", f.reader.Token, "")
}

// runImageCLI drives the same features through the ccm binary, as the
// writer (who creates) and two approvers, each with a config of their own.
func (f *imageFlow) runImageCLI(t *testing.T) {
	dir := t.TempDir()
	login := func(u *user) *cli {
		t.Helper()
		c := newCLI(t)
		f.clis = append(f.clis, c)
		c.ok(t, u.Password+"\n", nil, "login", "--server", f.srv.URL, "--fingerprint", f.srv.Fingerprint, "--email", u.Email, "--password-stdin")
		c.ok(t, "", nil, "account", "use", f.acct.Name)
		return c
	}
	writer, second, third := login(f.writer), login(f.writer2), login(f.admin)
	if writer.ConfigPath == second.ConfigPath {
		t.Fatal("the users share a CLI config")
	}
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}

	t.Run("ccm sigstruct inspect and ccm nitro measurements read build artefacts", func(t *testing.T) {
		r := writer.ok(t, "", nil, "sigstruct", "inspect", f.sig1Path)
		if !strings.Contains(r.Stdout, sig1MREnclave) || !strings.Contains(r.Stdout, "MRSIGNER") {
			t.Errorf("ccm sigstruct inspect printed:\n%s", r.Stdout)
		}
		r = writer.ok(t, "", nil, "sigstruct", "inspect", f.sig1Path, "-o", "json")
		if info := mustJSON[apiv1.SigstructInfo](t, []byte(r.Stdout)); info.MREnclave != sig1MREnclave || info.Date != "2016-01-09" {
			t.Errorf("ccm sigstruct inspect -o json = %+v", info)
		}
		bad := slices.Clone(f.sig1)
		bad[1000] ^= 0xff
		r = writer.run(t, "", nil, "sigstruct", "inspect", write("bad.sigstruct", bad))
		if r.Code == 0 || !strings.Contains(r.Stderr, "sigstruct") {
			t.Errorf("ccm sigstruct inspect of a tampered file: exit %d, stderr %q; want a failure naming the sigstruct", r.Code, r.Stderr)
		}
		p := [3]string{randomHex(48), randomHex(48), randomHex(48)}
		r = writer.ok(t, "", nil, "nitro", "measurements", write("measurements.json", []byte(nitroJSON(p))))
		for _, v := range p {
			if !strings.Contains(r.Stdout, v) {
				t.Errorf("ccm nitro measurements does not print %s:\n%s", v, r.Stdout)
			}
		}
	})

	writer.ok(t, "", nil, "app", "create", "cli-sgx", "--type", "edp")
	writer.ok(t, "", nil, "app", "create", "cli-cvm", "--type", "azure_cvm")
	own, mre := signSigstruct(t, 3, 1, false)
	sigPath := write("enclave.sig", own)
	pcr0, pcr7 := randomHex(32), randomHex(32)
	var sgxImg, cvmImg apiv1.Image

	mustStep(t, "ccm image create registers SGX and Azure CVM images", func(t *testing.T) {
		r := writer.ok(t, "", nil, "image", "create", "--app", "cli-sgx", "--version", "1.0", "--platform", "sgx", "--sigstruct", sigPath)
		if !strings.Contains(r.Stdout, mre) || !strings.Contains(r.Stdout, "ready") {
			t.Errorf("ccm image create (sgx) printed:\n%s", r.Stdout)
		}
		f.created++
		r = writer.run(t, "", nil, "image", "create", "--app", "cli-sgx", "--version", "1.1", "--platform", "sgx", "--sigstruct", f.sig1Path)
		if r.Code == 0 || !strings.Contains(r.Stderr, "conflict") || !strings.Contains(r.Stderr, "mrenclave") {
			t.Errorf("ccm image create with sig1's MRENCLAVE again: exit %d, stderr %q; want a conflict naming mrenclave", r.Code, r.Stderr)
		}
		r = writer.ok(t, "", nil, "image", "create", "--app", "cli-cvm", "--version", "v1", "--pcr", "0="+pcr0, "--pcr", "7="+strings.ToUpper(pcr7), "-o", "json")
		cvmImg = mustJSON[apiv1.Image](t, []byte(r.Stdout))
		f.created++
		wantMeasurements(t, "the CLI's Azure CVM image", cvmImg.Measurements, map[string]any{"pcrs": map[string]any{"pcr0": pcr0, "pcr7": pcr7}})

		r = writer.ok(t, "", nil, "image", "list", "-o", "json")
		imgs := mustJSON[[]apiv1.Image](t, []byte(r.Stdout))
		if len(imgs) != f.created-3 { // the doomed app's two images and sgx-hand were deleted
			t.Errorf("ccm image list -o json lists %d images, want %d", len(imgs), f.created-3)
		}
		for _, i := range imgs {
			if i.Version == "1.0" && i.Platform == "sgx" {
				sgxImg = i
			}
		}
		if sgxImg.ImageID == "" || sgxImg.Measurements["mrenclave"] != mre || !slices.ContainsFunc(imgs, func(i apiv1.Image) bool { return i.ImageID == cvmImg.ImageID }) {
			t.Errorf("ccm image list -o json misses the CLI's images:\n%s", r.Stdout)
		}
	}, func() bool { return sgxImg.TaskID != "" && cvmImg.TaskID != "" })

	t.Run("ccm image show prints one image", func(t *testing.T) {
		r := writer.ok(t, "", nil, "image", "show", sgxImg.ImageID)
		for _, s := range []string{sgxImg.ImageID, "1.0", "sgx", mre, "pending", sgxImg.TaskID} {
			if !strings.Contains(r.Stdout, s) {
				t.Errorf("ccm image show does not print %q:\n%s", s, r.Stdout)
			}
		}
		r = writer.ok(t, "", nil, "image", "show", f.img["enclave"].ImageID, "--build")
		if !strings.Contains(r.Stdout, "queued") {
			t.Errorf("ccm image show --build of the enclave_os image does not show the queued job:\n%s", r.Stdout)
		}
	})

	t.Run("ccm task list, approve and deny decide the tasks", func(t *testing.T) {
		r := writer.ok(t, "", nil, "task", "list", "--status", "pending", "-o", "json")
		tasks := mustJSON[[]apiv1.Task](t, []byte(r.Stdout))
		for _, id := range []string{sgxImg.TaskID, cvmImg.TaskID} {
			if !slices.ContainsFunc(tasks, func(x apiv1.Task) bool { return x.TaskID == id }) {
				t.Errorf("ccm task list --status pending misses task %s:\n%s", id, r.Stdout)
			}
		}
		for _, x := range tasks {
			if x.Status != "pending" {
				t.Errorf("ccm task list --status pending lists a %s task", x.Status)
			}
		}

		r = writer.run(t, "", nil, "task", "approve", cvmImg.TaskID, "--comment", "ok")
		if r.Code == 0 || !strings.Contains(r.Stderr, "forbidden") {
			t.Errorf("the creator's ccm task approve: exit %d, stderr %q; want forbidden", r.Code, r.Stderr)
		}
		r = second.ok(t, "", nil, "task", "approve", cvmImg.TaskID, "--comment", "ok")
		if !strings.Contains(r.Stdout, "pending") || !strings.Contains(r.Stdout, "1/2") || !strings.Contains(r.Stdout, f.writer2.Email) {
			t.Errorf("the first ccm task approve printed:\n%s", r.Stdout)
		}
		r = third.ok(t, "", nil, "task", "approve", cvmImg.TaskID, "--comment", "ok")
		if !strings.Contains(r.Stdout, "approved") || !strings.Contains(r.Stdout, "2/2") {
			t.Errorf("the second ccm task approve printed:\n%s", r.Stdout)
		}
		r = third.run(t, "", nil, "task", "approve", cvmImg.TaskID, "--comment", "again")
		if r.Code == 0 || !strings.Contains(r.Stderr, "conflict") {
			t.Errorf("ccm task approve of an approved task: exit %d, stderr %q; want a conflict", r.Code, r.Stderr)
		}

		r = second.run(t, "", nil, "task", "deny", sgxImg.TaskID)
		if r.Code == 0 {
			t.Errorf("ccm task deny without --reason exited 0:\n%s", r.Stdout)
		}
		r = second.ok(t, "", nil, "task", "deny", sgxImg.TaskID, "--reason", "not a release build")
		if !strings.Contains(r.Stdout, "denied") || !strings.Contains(r.Stdout, "not a release build") {
			t.Errorf("ccm task deny printed:\n%s", r.Stdout)
		}
		r = writer.ok(t, "", nil, "image", "show", sgxImg.ImageID, "-o", "json")
		if img := mustJSON[apiv1.Image](t, []byte(r.Stdout)); img.ApprovalStatus != "denied" {
			t.Errorf("the denied image shows approval_status %q", img.ApprovalStatus)
		}
		r = writer.ok(t, "", nil, "image", "show", cvmImg.ImageID, "-o", "json")
		if img := mustJSON[apiv1.Image](t, []byte(r.Stdout)); img.ApprovalStatus != "approved" {
			t.Errorf("the approved image shows approval_status %q", img.ApprovalStatus)
		}
	})

	t.Run("ccm explain prints the result and the steps", func(t *testing.T) {
		r := writer.ok(t, "", nil, "explain", "--pcr", "0="+pcr0, "--pcr", "7="+pcr7)
		for _, s := range []string{"Result: OK", "Selected image: " + cvmImg.ImageID, "cli-cvm", "Steps:", "  1. "} {
			if !strings.Contains(r.Stdout, s) {
				t.Errorf("ccm explain does not print %q:\n%s", s, r.Stdout)
			}
		}
		r = writer.ok(t, "", nil, "explain", "--pcr", "0="+pcr0, "--pcr", "7="+randomHex(32))
		if !strings.Contains(r.Stdout, "PCR_MISMATCH") || !strings.Contains(r.Stdout, cvmImg.ImageID) {
			t.Errorf("ccm explain with another PCR7 printed:\n%s", r.Stdout)
		}
		r = writer.ok(t, "", nil, "explain", "--platform", "sev_snp", "--measurement", "measurement="+f.sevMeasurement, "--measurement", "vmpl=2")
		if !strings.Contains(r.Stdout, "VMPL_MISMATCH") {
			t.Errorf("ccm explain --platform sev_snp at another VMPL printed:\n%s", r.Stdout)
		}
		r = writer.ok(t, "", nil, "explain", "--pcr", "0="+pcr0, "--pcr", "7="+pcr7, "-o", "json")
		if e := mustJSON[apiv1.Explanation](t, []byte(r.Stdout)); e.Result != "ok" || e.SelectedImageID == nil || *e.SelectedImageID != cvmImg.ImageID {
			t.Errorf("ccm explain -o json = %+v", e)
		}
	})

	t.Run("ccm audit list and ccm audit verify", func(t *testing.T) {
		r := writer.ok(t, "", nil, "audit", "list")
		for _, s := range []string{"ACTION", "task.approve", "task.deny", "task.resolve", "image.create", "app.create"} {
			if !strings.Contains(r.Stdout, s) {
				t.Errorf("ccm audit list does not show %q:\n%s", s, r.Stdout)
			}
		}
		r = writer.ok(t, "", nil, "audit", "list", "--all", "-o", "json")
		events := mustJSON[[]apiv1.AuditEvent](t, []byte(r.Stdout))
		r = writer.ok(t, "", nil, "audit", "verify")
		if want := fmt.Sprintf("OK: the hash chain of %d events is intact.", len(events)); !strings.Contains(r.Stdout, want) {
			t.Errorf("ccm audit verify printed %q, want %q", r.Stdout, want)
		}
	})
}

// tamperWithAudit stops the server, edits one audit event in the database
// and starts the server again on the same data.
func (f *imageFlow) tamperWithAudit(t *testing.T) {
	ctx := t.Context()
	acct := f.acct.AccountID
	var target apiv1.AuditEvent
	for _, e := range f.auditEvents(t, client.AuditListOptions{Action: "task.approve", SubjectID: f.img["sgx"].TaskID}) {
		if e.Actor.ID == f.writer2.ID {
			target = e
		}
	}
	if target.EventID == "" || !strings.Contains(string(target.Details), "looks good") {
		t.Fatalf("no task.approve event of writer2 with the comment %q: %+v", "looks good", target)
	}
	before, err := f.reader.c.VerifyAudit(ctx, acct)
	if err != nil || !before.OK {
		t.Fatalf("audit verify before the edit = %+v, %v", before, err)
	}

	f.srv.Stop(t)
	f.serverLogs = append(f.serverLogs, f.srv.Stderr())
	edited := strings.Replace(string(target.Details), "looks good", "rubber-stamped", 1)
	editAuditEvent(t, f.dataDir, f.db, target.EventID, edited)
	f.tamperedID = target.EventID

	f.srv = startServerOwned(t, f.t, f.dataDir, f.db, "--build-workers", "0")
	f.api = newAPI(t, f.srv, f.rec)
	for _, u := range []*user{f.admin, f.writer, f.writer2, f.writer3, f.reader} {
		u.c = f.api.client(t, u.Token)
	}

	v, err := f.reader.c.VerifyAudit(ctx, acct)
	if err != nil {
		t.Fatalf("verifying the edited audit log: %v", err)
	}
	if v.OK || v.FirstBadEventID != target.EventID || v.FirstBadSeq != target.Seq || v.Reason == "" {
		t.Errorf("audit verify after editing event %s (seq %d) = %+v; want ok false naming it, with a reason", target.EventID, target.Seq, v)
	}
	l, err := f.reader.c.ListAudit(ctx, acct, client.AuditListOptions{SubjectID: target.Subject.ID, Action: "task.approve", ActorID: f.writer2.ID})
	if err != nil || len(l.Items) != 1 || !strings.Contains(string(l.Items[0].Details), "rubber-stamped") {
		t.Errorf("the edited event reads %+v, %v; want the edited details", l, err)
	}

	t.Run("ccm audit verify fails", func(t *testing.T) {
		c := newCLI(t)
		f.clis = append(f.clis, c)
		c.ok(t, f.reader.Password+"\n", nil, "login", "--server", f.srv.URL, "--fingerprint", f.srv.Fingerprint, "--email", f.reader.Email, "--password-stdin")
		c.ok(t, "", nil, "account", "use", f.acct.Name)
		r := c.run(t, "", nil, "audit", "verify")
		if r.Code == 0 || !strings.Contains(r.Stdout, "BROKEN") || !strings.Contains(r.Stdout, target.EventID) {
			t.Errorf("ccm audit verify of an edited log: exit %d\nstdout:\n%s\nstderr:\n%s\nwant a non-zero exit naming event %s", r.Code, r.Stdout, r.Stderr, target.EventID)
		}
		r = c.run(t, "", nil, "audit", "verify", "-o", "json")
		if v := mustJSON[apiv1.AuditVerification](t, []byte(r.Stdout)); r.Code == 0 || v.OK || v.FirstBadEventID != target.EventID {
			t.Errorf("ccm audit verify -o json of an edited log: exit %d, %+v", r.Code, v)
		}
	})
}

// editAuditEvent sets the details of one audit event directly in the
// database: the data dir's ccm.db, or the PostgreSQL test schema.
func editAuditEvent(t *testing.T, dataDir, database, eventID, details string) {
	t.Helper()
	driver, dsn, query := "sqlite", filepath.Join(dataDir, "ccm.db"), "UPDATE audit_events SET details = ? WHERE id = ?"
	if database != "" {
		driver, dsn, query = "pgx", database, "UPDATE audit_events SET details = $1 WHERE id = $2"
	}
	db, err := sql.Open(driver, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	res, err := db.ExecContext(ctx, query, details, eventID)
	if err != nil {
		t.Fatalf("editing audit event %s: %v", eventID, err)
	}
	if n, err := res.RowsAffected(); err != nil || n != 1 {
		t.Fatalf("editing audit event %s changed %d rows (%v), want 1", eventID, n, err)
	}
}

func (f *imageFlow) checkImageSecrets(t *testing.T) {
	if len(f.registryPasswords) == 0 {
		t.Fatal("no inline registry password was used")
	}
	serverLog := strings.Join(append(slices.Clone(f.serverLogs), f.srv.Stderr()), "\n")
	var cliOut []string
	for _, c := range f.clis {
		cliOut = append(cliOut, c.allOutput())
	}
	for _, pw := range f.registryPasswords {
		for _, ex := range f.rec.all() {
			if strings.Contains(ex.Body, pw) {
				t.Errorf("an inline registry password came back in the response to %s %s: %s", ex.Method, ex.Path, excerpt(ex.Body, pw))
			}
		}
		if strings.Contains(serverLog, pw) {
			t.Errorf("an inline registry password is in the server log: %s", excerpt(serverLog, pw))
		}
		if all := strings.Join(cliOut, "\n"); strings.Contains(all, pw) {
			t.Errorf("an inline registry password is in the CLI's output: %s", excerpt(all, pw))
		}
	}
}
