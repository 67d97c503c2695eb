package cli

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/openccm/openccm/pkg/apiv1"
)

// hexOf repeats a hex digit to n characters.
func hexOf(digit string, n int) string { return strings.Repeat(digit, n) }

// canonical re-encodes a JSON object with sorted keys.
func canonical(t *testing.T, s string) string {
	t.Helper()
	var v map[string]any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("not a JSON object: %v\n%s", err, s)
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// newApp creates an app and returns its ID.
func (h *harness) newApp(name, typ string, extra ...string) string {
	h.t.Helper()
	var a apiv1.App
	h.decodeJSON(h.ok("", append([]string{"app", "create", name, "--type", typ, "-o", "json"}, extra...)...), &a)
	return a.AppID
}

func TestImageCreateSendsExactlyTheFlagsGiven(t *testing.T) {
	h := newHarness(t)
	accountID := h.loginWithAccount()
	apps := map[string]string{
		"edp":        h.newApp("enclave", "edp"),
		"sev_snp":    h.newApp("vm", "sev_snp"),
		"azure_cvm":  h.newApp("cvm", "azure_cvm"),
		"aci":        h.newApp("aci", "aci", "--input-image", "docker.io/library/nginx"),
		"enclave_os": h.newApp("eos", "enclave_os", "--input-image", "docker.io/library/nginx", "--output-image", "reg.example.com/web"),
	}
	names := map[string]string{"edp": "enclave", "sev_snp": "vm", "azure_cvm": "cvm", "aci": "aci", "enclave_os": "eos"}
	var regIn, regOut apiv1.Registry
	h.decodeJSON(h.ok("pw\n", "registry", "add", "docker.io", "--username", "bot", "--password-stdin", "-o", "json"), &regIn)
	h.decodeJSON(h.ok("pw\n", "registry", "add", "reg.example.com", "--username", "bot", "--password-stdin", "-o", "json"), &regOut)

	dir := t.TempDir()
	sigstruct := make([]byte, 1808)
	rand.Read(sigstruct)
	sigPath := filepath.Join(dir, "sigstruct.bin")
	os.WriteFile(sigPath, sigstruct, 0o600)
	const nitroJSON = `{"Measurements":{"HashAlgorithm":"Sha384 { ... }","PCR0":"aa","PCR1":"bb","PCR2":"cc"}}`
	measPath := filepath.Join(dir, "measurements.json")
	os.WriteFile(measPath, []byte(nitroJSON), 0o600)
	measJSON, _ := json.Marshal(nitroJSON)

	pcr7, pcr0 := hexOf("A", 64), hexOf("b", 64)
	p0, p1, p2 := hexOf("1", 96), hexOf("2", 96), hexOf("3", 96)
	tests := []struct {
		name, typ, stdin string
		args             []string
		want             string
		pending          bool
	}{
		{"edp sgx from a SIGSTRUCT sends its base64", "edp", "",
			[]string{"--version", "1.0.0", "--platform", "sgx", "--sigstruct", sigPath},
			`{"platform":"sgx","sigstruct":"` + base64.StdEncoding.EncodeToString(sigstruct) + `","version":"1.0.0"}`, false},
		{"edp sgx by hand sends zero values that were set", "edp", "",
			[]string{"--version", "1.0.1", "--platform", "sgx", "--mrenclave", hexOf("c", 64), "--mrsigner", hexOf("d", 64), "--isvprodid", "0", "--isvsvn", "3"},
			`{"isvprodid":0,"isvsvn":3,"mrenclave":"` + hexOf("c", 64) + `","mrsigner":"` + hexOf("d", 64) + `","platform":"sgx","version":"1.0.1"}`, false},
		{"edp nitro from a measurement file sends its text", "edp", "",
			[]string{"--version", "2.0", "--platform", "nitro", "--measurement-json", measPath},
			`{"measurement_json":` + string(measJSON) + `,"platform":"nitro","version":"2.0"}`, false},
		{"edp nitro reads the measurement JSON from stdin", "edp", nitroJSON,
			[]string{"--version", "2.1", "--platform", "nitro", "--measurement-json", "-"},
			`{"measurement_json":` + string(measJSON) + `,"platform":"nitro","version":"2.1"}`, false},
		{"edp nitro by hand", "edp", "",
			[]string{"--version", "2.2", "--platform", "nitro", "--pcr0", p0, "--pcr1", p1, "--pcr2", p2},
			`{"pcr0":"` + p0 + `","pcr1":"` + p1 + `","pcr2":"` + p2 + `","platform":"nitro","version":"2.2"}`, false},
		{"sev_snp", "sev_snp", "",
			[]string{"--version", "2024.06", "--measurement", p0, "--vmpl", "0", "--gpu", "required"},
			`{"gpu":"required","measurement":"` + p0 + `","version":"2024.06","vmpl":0}`, false},
		{"azure_cvm turns --pcr N=HEX into pcrs", "azure_cvm", "",
			[]string{"--version", "img-1", "--pcr", "7=" + pcr7, "--pcr", "pcr0=" + pcr0},
			`{"pcrs":{"pcr0":"` + pcr0 + `","pcr7":"` + pcr7 + `"},"version":"img-1"}`, false},
		{"azure_cvm without PCRs sends none", "azure_cvm", "",
			[]string{"--version", "img-empty"},
			`{"version":"img-empty"}`, false},
		{"aci resolves the registry URL and sends false", "aci", "",
			[]string{"--tag", "1.4", "--registry", "docker.io", "--wait-for-node-registration=false", "--cpu-count", "2", "--memory-gb", "1.5"},
			`{"cpu_count":2,"memory_gb":1.5,"registry_id":"` + regIn.RegistryID + `","tag":"1.4","wait_for_node_registration":false}`, true},
		{"enclave_os with an output registry and --no-file-persistence", "enclave_os", "",
			[]string{"--input-tag", "1.2", "--output-tag", "1.2-nitro", "--output-registry", "reg.example.com", "--memory-mib", "4096", "--no-file-persistence"},
			`{"file_persistence":false,"input_tag":"1.2","memory_mib":4096,"output_registry_id":"` + regOut.RegistryID + `","output_tag":"1.2-nitro"}`, true},
		{"enclave_os with --file-persistence=false", "enclave_os", "",
			[]string{"--output-tag", "2", "--file-persistence=false"},
			`{"file_persistence":false,"output_tag":"2"}`, true},
		{"enclave_os with --file-persistence", "enclave_os", "",
			[]string{"--output-tag", "3", "--file-persistence", "--platform", "nitro"},
			`{"file_persistence":true,"output_tag":"3","platform":"nitro"}`, true},
		{"enclave_os with the input credentials for the output", "enclave_os", "",
			[]string{"--output-tag", "4", "--input-registry", regIn.RegistryID, "--use-input-credentials-for-output"},
			`{"input_registry_id":"` + regIn.RegistryID + `","output_tag":"4","use_input_credentials_for_output":true}`, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ref := names[tc.typ]
			if tc.typ == "edp" {
				ref = apps["edp"] // by ID
			}
			out := h.ok(tc.stdin, append([]string{"image", "create", "--app", ref}, tc.args...)...)
			req, ok := h.fake.last("POST", "/v1/accounts/"+accountID+"/apps/"+apps[tc.typ]+"/images")
			if !ok {
				t.Fatal("no POST to the app's images")
			}
			if got := canonical(t, req.Body); got != tc.want {
				t.Errorf("body = %s\nwant   %s", got, tc.want)
			}
			if got := strings.Contains(out, "build job was queued"); got != tc.pending {
				t.Errorf("queued note printed = %v, want %v:\n%s", got, tc.pending, out)
			}
			if !strings.Contains(out, "Status:") {
				t.Errorf("the image was not printed:\n%s", out)
			}
		})
	}

	t.Run("shows the measurements of the image", func(t *testing.T) {
		out := h.ok("", "image", "create", "--app", "cvm", "--version", "img-2", "--pcr", "10="+pcr0, "--pcr", "2="+pcr7)
		i2, i10 := strings.Index(out, "pcr2:"), strings.Index(out, "pcr10:")
		if i2 < 0 || i10 < 0 || i2 > i10 {
			t.Errorf("PCRs not listed in index order:\n%s", out)
		}
	})

	t.Run("-o json prints only the image", func(t *testing.T) {
		var img apiv1.Image
		h.decodeJSON(h.ok("", "image", "create", "--app", "aci", "--tag", "9", "-o", "json"), &img)
		if img.Status != "pending" || img.Tag != "9" {
			t.Errorf("image = %+v", img)
		}
	})

	for _, tc := range []struct {
		name    string
		args    []string
		wantErr string
	}{
		{"needs --app", []string{"--version", "1"}, `"app" not set`},
		{"rejects a bad --pcr", []string{"--app", "cvm", "--pcr", "23=" + pcr0}, "N from 0 to 22"},
		{"rejects a --pcr without =", []string{"--app", "cvm", "--pcr", "7"}, "want N=HEX"},
		{"rejects a PCR given twice", []string{"--app", "cvm", "--pcr", "7=aa", "--pcr", "pcr7=bb"}, "PCR 7 given twice"},
		{"rejects both persistence flags", []string{"--app", "eos", "--file-persistence", "--no-file-persistence"}, "none of the others"},
		{"reports a missing file", []string{"--app", "enclave", "--sigstruct", filepath.Join(dir, "missing.bin")}, "--sigstruct"},
		{"reports an unknown registry", []string{"--app", "aci", "--tag", "x", "--registry", "quay.io"}, `--registry: no saved registry with URL "quay.io"`},
		{"passes the server's error on", []string{"--app", "enclave", "--version", "1.0.0", "--platform", "sgx", "--mrenclave", "aa"}, "conflict: version: use a new version"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, errOut, code := h.run("", append([]string{"image", "create"}, tc.args...)...)
			if code != 1 || !strings.Contains(errOut, tc.wantErr) {
				t.Errorf("exit %d, stderr %q, want %q", code, errOut, tc.wantErr)
			}
		})
	}
}

func TestImageInlineCredentialsStaySecret(t *testing.T) {
	h := newHarness(t)
	accountID := h.loginWithAccount()
	eos := h.newApp("eos", "enclave_os", "--input-image", "docker.io/library/nginx", "--output-image", "reg.example.com/web")
	aci := h.newApp("aci", "aci", "--input-image", "docker.io/library/nginx")
	const secret = "pa55-w0rd-of-the-registry"

	var outputs strings.Builder
	for _, tc := range []struct {
		args  []string
		appID string
		want  string
	}{
		{[]string{"--app", "eos", "--output-tag", "1", "--output-username", "pusher", "--password-stdin"}, eos,
			`"output_credentials":{"password":"` + secret + `","username":"pusher"}`},
		{[]string{"--app", "aci", "--tag", "1", "--username", "puller", "--password-stdin", "-o", "json"}, aci,
			`"credentials":{"password":"` + secret + `","username":"puller"}`},
	} {
		out, errOut, code := h.run(secret+"\n", append([]string{"image", "create"}, tc.args...)...)
		if code != 0 {
			t.Fatalf("%v: exit %d: %s", tc.args, code, errOut)
		}
		outputs.WriteString(out + errOut)
		req, _ := h.fake.last("POST", "/v1/accounts/"+accountID+"/apps/"+tc.appID+"/images")
		if !strings.Contains(canonical(t, req.Body), tc.want) {
			t.Errorf("body %s does not contain %s", req.Body, tc.want)
		}
	}
	for _, args := range [][]string{{"image", "list"}, {"image", "list", "-o", "json"}} {
		out, errOut, _ := h.run("", args...)
		outputs.WriteString(out + errOut)
	}
	if strings.Contains(outputs.String(), secret) {
		t.Error("the registry password was printed")
	}
	if !strings.Contains(outputs.String(), "Inline credentials:") {
		t.Error("the image does not say it has inline credentials")
	}

	n := len(h.fake.allRequests())
	for _, tc := range []struct {
		stdin   string
		args    []string
		wantErr string
	}{
		{"", []string{"--app", "eos", "--output-tag", "2", "--output-username", "u", "--password", secret}, "unknown flag: --password"},
		{secret + "\n", []string{"--app", "eos", "--output-tag", "2", "--output-username", "u"}, "stdin is not a terminal (use --password-stdin)"},
		{secret + "\n", []string{"--app", "eos", "--output-tag", "2", "--password-stdin"}, "give one of them"},
		{secret + "\n", []string{"--app", "eos", "--output-tag", "2", "--username", "a", "--output-username", "b", "--password-stdin"}, "none of the others"},
		{secret + "\n", []string{"--app", "eos", "--output-tag", "2", "--measurement-json", "-", "--output-username", "b", "--password-stdin"}, "cannot both read stdin"},
	} {
		out, errOut, code := h.run(tc.stdin, append([]string{"image", "create"}, tc.args...)...)
		if code != 1 || !strings.Contains(errOut, tc.wantErr) {
			t.Errorf("%v: exit %d, stderr %q, want %q", tc.args, code, errOut, tc.wantErr)
		}
		if strings.Contains(out+errOut, secret) {
			t.Errorf("%v: the password was printed", tc.args)
		}
	}
	for _, r := range h.fake.allRequests()[n:] {
		if r.Method == "POST" {
			t.Errorf("a failed create sent %s %s", r.Method, r.Path)
		}
	}
}

func TestImageListShowRm(t *testing.T) {
	h := newHarness(t)
	accountID := h.loginWithAccount()
	h.newApp("vm", "sev_snp")
	aciID := h.newApp("aci", "aci", "--input-image", "docker.io/library/nginx")
	var ready, pending apiv1.Image
	h.decodeJSON(h.ok("", "image", "create", "--app", "vm", "--version", "1", "--measurement", hexOf("a", 96), "--vmpl", "0", "-o", "json"), &ready)
	h.ok("", "image", "create", "--app", "vm", "--version", "2", "--measurement", hexOf("b", 96), "--vmpl", "1")
	h.decodeJSON(h.ok("", "image", "create", "--app", "aci", "--tag", "1.4", "-o", "json"), &pending)

	var all []apiv1.Image
	h.decodeJSON(h.ok("", "image", "list", "-o", "json"), &all) // three images in pages of two
	if len(all) != 3 {
		t.Errorf("listed %d images, want 3", len(all))
	}
	table := h.ok("", "image", "list")
	lines := strings.Split(strings.TrimSpace(table), "\n")
	if len(lines) != 4 || !strings.HasPrefix(lines[0], "ID") || !strings.Contains(lines[1], " vm ") || !strings.Contains(table, " aci ") {
		t.Errorf("table (with app names):\n%s", table)
	}

	h.ok("", "image", "list", "--app", "aci", "--status", "pending", "--approval-status", "pending", "--type", "aci")
	req, ok := h.fake.last("GET", "/v1/accounts/"+accountID+"/apps/"+aciID+"/images")
	if !ok || req.Query != "approval_status=pending&limit=500&status=pending&type=aci" {
		t.Errorf("list --app request = %+v", req)
	}
	h.decodeJSON(h.ok("", "image", "list", "--status", "ready", "-o", "json"), &all)
	if len(all) != 2 {
		t.Errorf("listed %d ready images, want 2", len(all))
	}

	out := h.ok("", "image", "show", pending.ImageID, "--build")
	for _, want := range []string{"Status:", "pending", "Build:", "Progress:", "40%", "Log:", "pulling docker.io/library/nginx:1.4", "layer 1/3  [31mdone"} {
		if !strings.Contains(out, want) {
			t.Errorf("show --build lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "\x1b") {
		t.Error("a control character of the build log reached the terminal")
	}
	var both struct {
		Image *apiv1.Image `json:"image"`
		Build *apiv1.Build `json:"build"`
	}
	h.decodeJSON(h.ok("", "image", "show", pending.ImageID, "--build", "-o", "json"), &both)
	if both.Image == nil || both.Image.ImageID != pending.ImageID || both.Build == nil || both.Build.Progress != 40 {
		t.Errorf("show --build -o json = %+v", both)
	}
	out = h.ok("", "image", "show", ready.ImageID, "--build")
	if !strings.Contains(out, "Build: none") || !strings.Contains(out, "measurement:") || !strings.Contains(out, "vmpl:") {
		t.Errorf("show --build of a ready image:\n%s", out)
	}
	both.Build = &apiv1.Build{}
	h.decodeJSON(h.ok("", "image", "show", ready.ImageID, "--build", "-o", "json"), &both)
	if both.Build != nil {
		t.Errorf("build of an image without a job = %+v, want null", both.Build)
	}
	var one apiv1.Image
	h.decodeJSON(h.ok("", "image", "show", ready.ImageID, "-o", "json"), &one)
	if one.ImageID != ready.ImageID || one.TaskID == "" {
		t.Errorf("show -o json = %+v", one)
	}

	out = h.ok("", "image", "rm", ready.ImageID)
	if _, ok := h.fake.last("DELETE", "/v1/accounts/"+accountID+"/images/"+ready.ImageID); !ok || !strings.Contains(out, "Deleted image") {
		t.Errorf("rm: %q", out)
	}
	_, errOut, code := h.run("", "image", "show", ready.ImageID)
	if code != 1 || !strings.Contains(errOut, "not_found") {
		t.Errorf("show deleted image: exit %d, %q", code, errOut)
	}
}

func TestTools(t *testing.T) {
	h := newHarness(t)
	h.loginWithAccount()
	sig := make([]byte, 1808)
	rand.Read(sig)
	path := filepath.Join(t.TempDir(), "sigstruct.bin")
	os.WriteFile(path, sig, 0o600)

	out := h.ok("", "sigstruct", "inspect", path)
	req, _ := h.fake.last("POST", "/v1/tools/sigstruct")
	if canonical(t, req.Body) != `{"sigstruct":"`+base64.StdEncoding.EncodeToString(sig)+`"}` {
		t.Errorf("sigstruct body = %s", req.Body)
	}
	for _, want := range []string{"MRENCLAVE:", "MRSIGNER:", "ISVPRODID:", "7", "Vendor:", "0x8086"} {
		if !strings.Contains(out, want) {
			t.Errorf("sigstruct inspect lacks %q:\n%s", want, out)
		}
	}
	var info apiv1.SigstructInfo
	h.decodeJSON(h.ok("", "sigstruct", "inspect", path, "-o", "json"), &info)
	if info.ISVSVN != 2 || len(info.MREnclave) != 64 {
		t.Errorf("info = %+v", info)
	}
	_, errOut, code := h.run("", "sigstruct", "inspect", path+".missing")
	if code != 1 || !strings.Contains(errOut, "no such file") {
		t.Errorf("missing file: exit %d, %q", code, errOut)
	}

	const doc = `{"Measurements":{"HashAlgorithm":"Sha384 { ... }","PCR0":"p0","PCR1":"p1","PCR2":"p2"}}`
	out = h.ok(doc, "nitro", "measurements", "-")
	req, _ = h.fake.last("POST", "/v1/tools/nitro-measurements")
	var body apiv1.NitroMeasurementsRequest
	h.decodeJSON(req.Body, &body)
	if body.MeasurementJSON != doc || !strings.Contains(out, "PCR0:") || !strings.Contains(out, "p2") {
		t.Errorf("nitro measurements: body %s, out %q", req.Body, out)
	}
	var m apiv1.NitroMeasurements
	h.decodeJSON(h.ok(doc, "nitro", "measurements", "-", "-o", "json"), &m)
	if m.PCR1 != "p1" {
		t.Errorf("measurements = %+v", m)
	}
	_, errOut, code = h.run(`{}`, "nitro", "measurements", "-")
	if code != 1 || !strings.Contains(errOut, "validation_failed: measurement_json") {
		t.Errorf("bad JSON: exit %d, %q", code, errOut)
	}
}
