package httpapi

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/openccm/openccm/internal/image"
	"github.com/openccm/openccm/internal/platform/sgx/sgxtest"
	"github.com/openccm/openccm/internal/store"
)

func hexOf(b byte, n int) string { return strings.Repeat(fmt.Sprintf("%02x", b), n) }

// appOf creates an app of a type in the world's account and returns its images URL.
func (h *harness) appOf(w *world, name, typ string, extra map[string]any) string {
	h.t.Helper()
	body := map[string]any{"name": name, "type": typ}
	for k, v := range extra {
		body[k] = v
	}
	id := h.must(201, "POST", "/v1/accounts/"+w.accountID+"/apps", w.admin, body)["app_id"].(string)
	return "/v1/accounts/" + w.accountID + "/apps/" + id + "/images"
}

func TestImagesOfEveryType(t *testing.T) {
	h := newHarness(t)
	w := h.newWorld()
	signer := sgxtest.NewSigner(t)
	ss := signer.Sign(sgxtest.Fields{MREnclave: [32]byte{1, 2, 3}, ISVProdID: 7, ISVSVN: 3, MiscMask: 0xffffffff})

	edp := h.appOf(w, "edp", "edp", nil)
	img := h.must(201, "POST", edp, w.admin, map[string]any{"version": "1.0.0", "platform": "sgx", "sigstruct": base64.StdEncoding.EncodeToString(ss)})
	m := img["measurements"].(map[string]any)
	mrsigner := signer.MRSigner()
	if m["mrenclave"] != "0102030000000000000000000000000000000000000000000000000000000000" || m["mrsigner"] != fmt.Sprintf("%x", mrsigner[:]) ||
		m["isvprodid"] != float64(7) || m["isvsvn"] != float64(3) || m["attributes"] == nil || m["miscselect"] == nil {
		t.Fatalf("sgx measurements %v", m)
	}
	if img["status"] != "ready" || img["approval_status"] != "pending" || img["task_id"] == nil || img["platform"] != "sgx" || img["type"] != "edp" {
		t.Fatalf("sgx image %v", img)
	}
	byHand := h.must(201, "POST", edp, w.admin, map[string]any{"version": "1.0.1", "platform": "sgx",
		"mrenclave": "0X" + strings.ToUpper(hexOf(0xab, 32)), "mrsigner": hexOf(0xcd, 32), "isvprodid": 0, "isvsvn": 65535})
	if bm := byHand["measurements"].(map[string]any); bm["mrenclave"] != hexOf(0xab, 32) || bm["isvsvn"] != float64(65535) || bm["attributes"] != nil {
		t.Fatalf("sgx by hand %v", bm)
	}
	nitroJSON := fmt.Sprintf(`{"Measurements":{"HashAlgorithm":"Sha384 { ... }","PCR0":"%s","PCR1":"%s","PCR2":"%s"}}`, hexOf(1, 48), hexOf(2, 48), hexOf(3, 48))
	n := h.must(201, "POST", edp, w.admin, map[string]any{"version": "2.0", "platform": "nitro", "measurement_json": nitroJSON})
	if nm := n["measurements"].(map[string]any); nm["pcr0"] != hexOf(1, 48) || nm["pcr2"] != hexOf(3, 48) || len(nm) != 3 {
		t.Fatalf("nitro measurements %v", nm)
	}
	h.must(201, "POST", edp, w.admin, map[string]any{"version": "2.1", "platform": "nitro", "pcr0": hexOf(4, 48), "pcr1": hexOf(2, 48), "pcr2": hexOf(3, 48)})

	snp := h.appOf(w, "vm", "sev_snp", nil)
	s := h.must(201, "POST", snp, w.admin, map[string]any{"version": "2024.06", "measurement": hexOf(9, 48), "vmpl": 2, "gpu": "required"})
	if sm := s["measurements"].(map[string]any); sm["measurement"] != hexOf(9, 48) || sm["vmpl"] != float64(2) || s["gpu"] != "required" || s["platform"] != "sev_snp" {
		t.Fatalf("sev_snp image %v", s)
	}
	if d := h.must(201, "POST", snp, w.admin, map[string]any{"version": "2024.07", "measurement": hexOf(8, 48)}); d["gpu"] != "none" || d["measurements"].(map[string]any)["vmpl"] != float64(0) {
		t.Fatalf("sev_snp defaults %v", d)
	}

	cvm := h.appOf(w, "cvm", "azure_cvm", nil)
	c := h.must(201, "POST", cvm, w.admin, map[string]any{"version": "img-1", "pcrs": map[string]string{"pcr0": hexOf(0xAA, 32), "pcr7": "0x" + hexOf(0xBB, 32)}})
	if pcrs := c["measurements"].(map[string]any)["pcrs"].(map[string]any); len(pcrs) != 2 || pcrs["pcr7"] != hexOf(0xbb, 32) {
		t.Fatalf("azure_cvm pcrs %v", pcrs)
	}
	e := h.must(201, "POST", cvm, w.admin, map[string]any{"version": "img-none"})
	if pcrs := e["measurements"].(map[string]any)["pcrs"].(map[string]any); len(pcrs) != 0 {
		t.Fatalf("empty pcrs %v", pcrs)
	}

	eos := h.appOf(w, "eos", "enclave_os", map[string]any{"input_image_name": "docker.io/library/nginx", "output_image_name": "registry.example.com/nginx-nitro"})
	q := h.must(202, "POST", eos, w.admin, map[string]any{"input_tag": "1.25", "output_tag": "1.25-nitro"})
	if q["status"] != "pending" || q["version"] != "1.25-nitro" || q["memory_mib"] != float64(2048) || q["cpu_count"] != float64(2) ||
		q["file_persistence"] != true || q["output_registry_id"] != w.registryID || q["task_id"] != nil || len(q["measurements"].(map[string]any)) != 0 {
		t.Fatalf("enclave_os image %v", q)
	}
	b := h.must(200, "GET", "/v1/accounts/"+w.accountID+"/images/"+q["image_id"].(string)+"/build", w.tokens[store.RoleReader], nil)
	if b["status"] != "queued" || b["kind"] != "enclave_os_convert" {
		t.Fatalf("build %v", b)
	}
	if _, ok := b["next_attempt_at"]; ok || b["error"] != nil {
		t.Fatalf("a build never tried has no error or next attempt: %v", b)
	}
	// A worker's first attempt fails transiently: the job waits for its retry.
	now := time.Now().UTC().Truncate(time.Second)
	j, err := h.st.ClaimJob(context.Background(), "w", []string{store.JobEnclaveOSConvert}, now, now.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	j.Status, j.Error, j.NextAttemptAt, j.LeaseUntil = store.JobQueued, "pulling docker.io/library/nginx:1.25: 503 Service Unavailable", now.Add(15*time.Second), nil
	if err := h.st.UpdateJob(context.Background(), "w", j); err != nil {
		t.Fatal(err)
	}
	b = h.must(200, "GET", "/v1/accounts/"+w.accountID+"/images/"+q["image_id"].(string)+"/build", w.tokens[store.RoleReader], nil)
	if b["status"] != "queued" || b["attempts"] != float64(1) || !strings.Contains(fmt.Sprint(b["error"]), "503") || b["next_attempt_at"] != now.Add(15*time.Second).Format(time.RFC3339) {
		t.Fatalf("build waiting for a retry %v", b)
	}
	if r := h.do("GET", "/v1/accounts/"+w.accountID+"/images/"+c["image_id"].(string)+"/build", w.admin, nil); r.Status != 404 {
		t.Fatalf("build of a ready image: %d", r.Status)
	}

	aci := h.appOf(w, "aci", "aci", map[string]any{"input_image_name": "myreg.azurecr.io/team/app"})
	a := h.must(202, "POST", aci, w.admin, map[string]any{"tag": "1.4", "credentials": map[string]string{"username": "u", "password": "inline-secret-pw"}})
	if a["status"] != "pending" || a["version"] != "1.4" || a["wait_for_node_registration"] != true || a["memory_gb"] != float64(1) ||
		a["has_inline_credentials"] != true || strings.Contains(fmt.Sprint(a), "inline-secret-pw") {
		t.Fatalf("aci image %v", a)
	}
	if r := h.do("POST", aci, w.admin, map[string]any{"tag": "1.4"}); r.Status != 409 {
		t.Fatalf("aci tag reuse: %d %s", r.Status, r.Body)
	} else if _, f := r.errorOf(t); f != "tag" || !strings.Contains(string(r.Body), "new tag value") {
		t.Fatalf("aci tag reuse body %s", r.Body)
	}

	all := h.must(200, "GET", "/v1/accounts/"+w.accountID+"/images?status=pending", w.admin, nil)
	if len(all["items"].([]any)) != 2 {
		t.Fatalf("pending images %v", all)
	}
	if l := h.must(200, "GET", "/v1/accounts/"+w.accountID+"/images?type=azure_cvm&approval_status=pending", w.admin, nil); len(l["items"].([]any)) != 2 {
		t.Fatalf("azure images %v", l)
	}
	if l := h.must(200, "GET", edp, w.admin, nil); len(l["items"].([]any)) != 4 {
		t.Fatalf("edp app images %v", l)
	}
}

func TestImageValidation(t *testing.T) {
	h := newHarness(t)
	w := h.newWorld()
	edp := h.appOf(w, "edp", "edp", nil)
	snp := h.appOf(w, "vm", "sev_snp", nil)
	cvm := h.appOf(w, "cvm", "azure_cvm", nil)
	eos := h.appOf(w, "eos", "enclave_os", map[string]any{"input_image_name": "nginx", "output_image_name": "quay.io/x/y", "certificate": map[string]any{"enabled": false}})
	aci := h.appOf(w, "aci", "aci", map[string]any{"input_image_name": "nginx"})
	sigOK := map[string]any{"version": "1", "platform": "sgx", "mrenclave": hexOf(1, 32), "mrsigner": hexOf(2, 32), "isvprodid": 1, "isvsvn": 1}
	with := func(base map[string]any, k string, v any) map[string]any {
		out := map[string]any{}
		for kk, vv := range base {
			out[kk] = vv
		}
		if v == nil {
			delete(out, k)
		} else {
			out[k] = v
		}
		return out
	}
	cases := []struct {
		name  string
		url   string
		body  map[string]any
		field string
	}{
		{"edp needs a platform", edp, map[string]any{"version": "1"}, "platform"},
		{"edp rejects an unknown platform", edp, map[string]any{"version": "1", "platform": "tdx"}, "platform"},
		{"edp needs a version", edp, with(sigOK, "version", nil), "version"},
		{"sgx needs some input", edp, map[string]any{"version": "1", "platform": "sgx"}, "sigstruct"},
		{"sgx takes one input form", edp, with(sigOK, "sigstruct", "AAAA"), "sigstruct"},
		{"sgx rejects a short mrenclave", edp, with(sigOK, "mrenclave", hexOf(1, 31)), "mrenclave"},
		{"sgx rejects a non-hex mrsigner", edp, with(sigOK, "mrsigner", strings.Repeat("zz", 32)), "mrsigner"},
		{"sgx needs isvsvn", edp, with(sigOK, "isvsvn", nil), "isvsvn"},
		{"sgx rejects isvprodid over 65535", edp, with(sigOK, "isvprodid", 65536), "isvprodid"},
		{"sgx rejects a negative isvsvn", edp, with(sigOK, "isvsvn", -1), "isvsvn"},
		{"sgx rejects nitro fields", edp, with(sigOK, "pcr0", hexOf(1, 48)), "pcr0"},
		{"sgx rejects a sigstruct that is not base64", edp, map[string]any{"version": "1", "platform": "sgx", "sigstruct": "!!"}, "sigstruct"},
		{"sgx rejects a sigstruct of the wrong size", edp, map[string]any{"version": "1", "platform": "sgx", "sigstruct": base64.StdEncoding.EncodeToString(make([]byte, 100))}, "sigstruct"},
		{"nitro needs pcr1", edp, map[string]any{"version": "1", "platform": "nitro", "pcr0": hexOf(1, 48), "pcr2": hexOf(1, 48)}, "pcr1"},
		{"nitro rejects a 64-hex pcr", edp, map[string]any{"version": "1", "platform": "nitro", "pcr0": hexOf(1, 32), "pcr1": hexOf(1, 48), "pcr2": hexOf(1, 48)}, "pcr0"},
		{"nitro rejects all-zero pcrs", edp, map[string]any{"version": "1", "platform": "nitro", "pcr0": hexOf(0, 48), "pcr1": hexOf(1, 48), "pcr2": hexOf(1, 48)}, "pcr0"},
		{"nitro rejects bad measurement JSON", edp, map[string]any{"version": "1", "platform": "nitro", "measurement_json": "{}"}, "measurement_json"},
		{"sev_snp needs a measurement", snp, map[string]any{"version": "1"}, "measurement"},
		{"sev_snp rejects vmpl 4", snp, map[string]any{"version": "1", "measurement": hexOf(1, 48), "vmpl": 4}, "vmpl"},
		{"sev_snp rejects an unknown gpu setting", snp, map[string]any{"version": "1", "measurement": hexOf(1, 48), "gpu": "maybe"}, "gpu"},
		{"azure_cvm rejects pcr23", cvm, map[string]any{"version": "1", "pcrs": map[string]string{"pcr23": hexOf(1, 32)}}, "pcrs.pcr23"},
		{"azure_cvm rejects a SHA-384 value", cvm, map[string]any{"version": "1", "pcrs": map[string]string{"pcr3": hexOf(1, 48)}}, "pcrs.pcr3"},
		{"azure_cvm rejects pcr07", cvm, map[string]any{"version": "1", "pcrs": map[string]string{"pcr07": hexOf(1, 32)}}, "pcrs.pcr07"},
		{"azure_cvm rejects sev fields", cvm, map[string]any{"version": "1", "measurement": hexOf(1, 48)}, "measurement"},
		{"enclave_os needs output credentials", eos, map[string]any{"file_persistence": false}, "output_registry_id"},
		{"enclave_os file persistence needs certificates", eos, map[string]any{"output_registry_id": w.registryID}, "file_persistence"},
		{"enclave_os rejects an odd memory size", eos, map[string]any{"output_registry_id": w.registryID, "file_persistence": false, "memory_mib": 2049}, "memory_mib"},
		{"enclave_os rejects 257 cpus", eos, map[string]any{"output_registry_id": w.registryID, "file_persistence": false, "cpu_count": 257}, "cpu_count"},
		{"enclave_os rejects a bad tag", eos, map[string]any{"output_registry_id": w.registryID, "file_persistence": false, "output_tag": "-bad"}, "output_tag"},
		{"enclave_os rejects another account's registry", eos, map[string]any{"output_registry_id": w.otherRegistryID, "file_persistence": false}, "output_registry_id"},
		{"enclave_os input credentials for output need an input registry", eos, map[string]any{"use_input_credentials_for_output": true, "file_persistence": false}, "input_registry_id"},
		{"enclave_os rejects a version field", eos, map[string]any{"version": "x"}, "version"},
		{"enclave_os inline credentials need a password", eos, map[string]any{"output_credentials": map[string]string{"username": "u"}, "file_persistence": false}, "output_credentials.password"},
		{"aci needs a tag", aci, map[string]any{}, "tag"},
		{"aci with credentials needs a registry host in the image name", aci, map[string]any{"tag": "1", "credentials": map[string]string{"username": "u", "password": "p"}}, "input_image_name"},
		{"aci rejects memory_gb 0", aci, map[string]any{"tag": "1", "memory_gb": 0}, "memory_gb"},
		{"aci rejects 65 cpus", aci, map[string]any{"tag": "1", "cpu_count": 65}, "cpu_count"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := h.do("POST", c.url, w.admin, c.body)
			code, field := r.errorOf(t)
			if r.Status != 400 || code != "validation_failed" || field != c.field {
				t.Fatalf("%d %s %q, want 400 validation_failed %q: %s", r.Status, code, field, c.field, r.Body)
			}
		})
	}
	if r := h.do("POST", "/v1/accounts/"+w.accountID+"/apps/"+w.otherAppID+"/images", w.admin, sigOK); r.Status != 404 {
		t.Fatalf("another account's app: %d", r.Status)
	}
}

func TestImageUniqueness(t *testing.T) {
	h := newHarness(t)
	w := h.newWorld()
	edp1, edp2 := h.appOf(w, "edp1", "edp", nil), h.appOf(w, "edp2", "edp", nil)
	sgx := func(v string, mre byte) map[string]any {
		return map[string]any{"version": v, "platform": "sgx", "mrenclave": hexOf(mre, 32), "mrsigner": hexOf(2, 32), "isvprodid": 1, "isvsvn": 1}
	}
	h.must(201, "POST", edp1, w.admin, sgx("1", 1))
	conflict := func(url string, body map[string]any, field string) {
		t.Helper()
		r := h.do("POST", url, w.admin, body)
		code, f := r.errorOf(t)
		if r.Status != 409 || code != "conflict" || f != field {
			t.Fatalf("%v: %d %s %q (want 409 %q): %s", body, r.Status, code, f, field, r.Body)
		}
	}
	conflict(edp1, sgx("1", 9), "version")
	conflict(edp2, sgx("1", 1), "mrenclave") // MRENCLAVE is unique per account, across apps
	h.must(201, "POST", edp2, w.admin, sgx("1", 3))
	h.must(201, "POST", "/v1/accounts/"+w.otherAccountID+"/apps/"+w.otherAppID+"/images", w.admin,
		map[string]any{"version": "other-1", "measurement": hexOf(1, 48)}) // another account may reuse anything

	nitro := func(v string, p0 byte) map[string]any {
		return map[string]any{"version": v, "platform": "nitro", "pcr0": hexOf(p0, 48), "pcr1": hexOf(2, 48), "pcr2": hexOf(3, 48)}
	}
	h.must(201, "POST", edp1, w.admin, nitro("n1", 1))
	conflict(edp2, nitro("n1", 1), "pcr0")
	h.must(201, "POST", edp2, w.admin, nitro("n2", 2))

	snp := h.appOf(w, "vm", "sev_snp", nil)
	h.must(201, "POST", snp, w.admin, map[string]any{"version": "a", "measurement": hexOf(5, 48), "vmpl": 0})
	conflict(snp, map[string]any{"version": "b", "measurement": hexOf(5, 48), "vmpl": 0}, "measurement")
	h.must(201, "POST", snp, w.admin, map[string]any{"version": "c", "measurement": hexOf(5, 48), "vmpl": 1})

	cvm := h.appOf(w, "cvm", "azure_cvm", nil)
	cvm2 := h.appOf(w, "cvm2", "azure_cvm", nil)
	a := hexOf(0xa, 32)
	h.must(201, "POST", cvm, w.admin, map[string]any{"version": "1", "pcrs": map[string]string{"pcr0": a}})
	h.must(201, "POST", cvm, w.admin, map[string]any{"version": "2", "pcrs": map[string]string{"pcr0": a, "pcr1": hexOf(0xb, 32)}})
	conflict(cvm2, map[string]any{"version": "3", "pcrs": map[string]string{"pcr0": "0X" + strings.ToUpper(a)}}, "pcrs")
	h.must(201, "POST", cvm, w.admin, map[string]any{"version": "4"})
	conflict(cvm2, map[string]any{"version": "5", "pcrs": map[string]string{}}, "pcrs")
}

func TestRealSigstructSamples(t *testing.T) {
	h := newHarness(t)
	w := h.newWorld()
	want := map[string]string{
		"sig1.sigstruct.bin": "c50673624a6cb17c1c6c2a4e6906f47a170c4629b8723781d1017ef376f1a75d",
		"test_enclave.sig":   "784acfd7d5096a8f0fbd3265760bff21b120f62407a9a9e5ba31aa3c8ed198fc",
	}
	edp := h.appOf(w, "edp", "edp", nil)
	for file, mre := range want {
		b, err := os.ReadFile("../platform/sgx/testdata/" + file)
		if err != nil {
			t.Fatal(err)
		}
		info := h.must(200, "POST", "/v1/tools/sigstruct", w.tokens[store.RoleReader], map[string]string{"sigstruct": base64.StdEncoding.EncodeToString(b)})
		if info["mrenclave"] != mre || info["date"] == "" || info["debug"] != false {
			t.Fatalf("%s: %v", file, info)
		}
		img := h.must(201, "POST", edp, w.admin, map[string]any{"version": file, "platform": "sgx", "sigstruct": base64.StdEncoding.EncodeToString(b)})
		if img["measurements"].(map[string]any)["mrsigner"] != info["mrsigner"] {
			t.Fatalf("%s: image %v vs tool %v", file, img["measurements"], info)
		}
		b[600] ^= 1 // inside the signature
		r := h.do("POST", "/v1/tools/sigstruct", w.admin, map[string]string{"sigstruct": base64.StdEncoding.EncodeToString(b)})
		if _, f := r.errorOf(t); r.Status != 400 || f != "sigstruct" || !strings.Contains(string(r.Body), "signature") {
			t.Fatalf("%s tampered: %d %s", file, r.Status, r.Body)
		}
	}
	nm := h.must(200, "POST", "/v1/tools/nitro-measurements", w.tokens[store.RoleReader], map[string]string{"measurement_json": fmt.Sprintf(
		`{"Measurements":{"HashAlgorithm":"Sha384 { ... }","PCR0":"%s","PCR1":"%s","PCR2":"%s","PCR8":"%s"}}`,
		strings.ToUpper(hexOf(1, 48)), hexOf(2, 48), hexOf(3, 48), hexOf(4, 48))})
	if nm["pcr0"] != hexOf(1, 48) || nm["pcr8"] != hexOf(4, 48) {
		t.Fatalf("nitro tool %v", nm)
	}
}

func TestAppDeleteWithImages(t *testing.T) {
	h := newHarness(t)
	w := h.newWorld()
	snp := h.appOf(w, "vm", "sev_snp", nil)
	appURL := strings.TrimSuffix(snp, "/images")
	img := h.must(201, "POST", snp, w.admin, map[string]any{"version": "a", "measurement": hexOf(5, 48)})
	if r := h.do("DELETE", appURL, w.admin, nil); r.Status != 409 {
		t.Fatalf("delete an app with images: %d", r.Status)
	}
	h.must(204, "DELETE", appURL+"?cascade=true", w.admin, nil)
	if r := h.do("GET", "/v1/accounts/"+w.accountID+"/images/"+img["image_id"].(string), w.admin, nil); r.Status != 404 {
		t.Fatalf("image of a deleted app: %d", r.Status)
	}
	if r := h.do("GET", "/v1/accounts/"+w.accountID+"/tasks/"+img["task_id"].(string), w.admin, nil); r.Status != 404 {
		t.Fatalf("pending task of a deleted image: %d", r.Status)
	}
}

func TestACIBuildPolicyAndAttestation(t *testing.T) {
	h := newHarness(t)
	w := h.newWorld()
	base := "/v1/accounts/" + w.accountID
	aci := h.appOf(w, "aci", "aci", map[string]any{"input_image_name": "nginx", "domains": []string{"aci.example.com"}})
	img := h.must(202, "POST", aci, w.admin, map[string]any{"tag": "1.4"})
	id := img["image_id"].(string)
	url := base + "/images/" + id + "/policy"
	if r := h.do("GET", url, w.tokens[store.RoleReader], nil); r.Status != 409 {
		t.Fatalf("policy of a pending image: %d %s", r.Status, r.Body)
	}
	// What the policy build (the jobs' work) reports when it finishes.
	policy := "package policy\n"
	sum := sha256.Sum256([]byte(policy))
	done, err := h.api.images.FinishBuild(t.Context(), w.accountID, id, image.BuildResult{
		Measurements: store.Measurements{PolicySHA256: hex.EncodeToString(sum[:])},
		Artifacts:    map[string][]byte{store.ArtifactARMTemplate: []byte(`{"resources":[]}`), store.ArtifactCCEPolicy: []byte(policy)},
	})
	if err != nil || done.Status != store.ImageReady || done.TaskID == "" {
		t.Fatalf("finish build: %+v %v", done, err)
	}
	got := h.must(200, "GET", base+"/images/"+id, w.admin, nil)
	if got["measurements"].(map[string]any)["policy_sha256"] != hex.EncodeToString(sum[:]) || got["status"] != "ready" {
		t.Fatalf("built image %v", got)
	}
	r := h.do("GET", url, w.tokens[store.RoleReader], nil)
	if r.Status != 200 || string(r.Body) != `{"resources":[]}` || r.Header.Get("Content-Type") != "application/json" ||
		r.Header.Get("Content-Disposition") != `attachment; filename=1.4-policy.json` {
		t.Fatalf("ARM template: %d %q %v", r.Status, r.Body, r.Header)
	}
	r = h.do("GET", url+"?format=rego", w.tokens[store.RoleReader], nil)
	if r.Status != 200 || string(r.Body) != policy || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("rego: %d %q", r.Status, r.Body)
	}
	if r := h.do("GET", url+"?format=yaml", w.admin, nil); r.Status != 400 {
		t.Fatalf("bad format: %d", r.Status)
	}
	if r := h.do("GET", base+"/images/"+w.imageID+"/policy", w.admin, nil); r.Status != 404 {
		t.Fatalf("policy of an sev_snp image: %d", r.Status)
	}

	// ACI evidence matches on host_data = policy_sha256, once approved.
	aciAttest := func() response {
		a := h.newAttestation(w.accountID, hexOf(0x77, 48), 0)
		a.body["platform"] = "aci"
		a.evidence["host_data"] = hex.EncodeToString(sum[:])
		return a.send()
	}
	rejected(t, aciAttest(), "image_not_approved")
	h.must(200, "POST", base+"/tasks/"+done.TaskID+"/approve", w.admin, nil)
	if r := aciAttest(); r.Status != 200 || r.JSON(t)["image_id"] != id {
		t.Fatalf("aci attestation: %d %s", r.Status, r.Body)
	}

	t.Run("a build that produces another image's measurements fails, naming it", func(t *testing.T) {
		img2 := h.must(202, "POST", aci, w.admin, map[string]any{"tag": "1.5"})
		failed, err := h.api.images.FinishBuild(t.Context(), w.accountID, img2["image_id"].(string), image.BuildResult{
			Measurements: store.Measurements{PolicySHA256: hex.EncodeToString(sum[:])}})
		if err != nil || failed.Status != store.ImageFailed || !strings.Contains(failed.Error, id) {
			t.Fatalf("duplicate build: %+v %v", failed, err)
		}
		if got := h.must(200, "GET", base+"/images/"+failed.ID, w.admin, nil); got["error"] == nil || got["status"] != "failed" {
			t.Fatalf("failed image %v", got)
		}
		if _, err := h.api.images.FinishBuild(t.Context(), w.accountID, failed.ID, image.BuildResult{}); err == nil {
			t.Fatal("a failed image finished a build")
		}
	})
}
