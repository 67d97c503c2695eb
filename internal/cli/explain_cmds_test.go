package cli

import (
	"strings"
	"testing"

	"github.com/openccm/openccm/pkg/apiv1"
)

func TestExplain(t *testing.T) {
	h := newHarness(t)
	accountID := h.loginWithAccount()
	cvmID := h.newApp("cvm", "azure_cvm")
	pcr7 := hexOf("7", 64)
	var img apiv1.Image
	h.decodeJSON(h.ok("", "image", "create", "--app", "cvm", "--version", "img-7", "--pcr", "7="+pcr7, "-o", "json"), &img)
	path := "/v1/accounts/" + accountID + "/attest/explain"

	out := h.ok("", "explain", "--pcr", "7="+pcr7, "--pcr", "0="+hexOf("0", 64), "--app", "cvm")
	req, _ := h.fake.last("POST", path)
	want := `{"app_id":"` + cvmID + `","pcrs":{"pcr0":"` + hexOf("0", 64) + `","pcr7":"` + pcr7 + `"},"platform":"azure_cvm"}`
	if got := canonical(t, req.Body); got != want {
		t.Errorf("body = %s\nwant   %s", got, want)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) < 4 || !strings.HasPrefix(lines[0], "Result: IMAGE_NOT_APPROVED") ||
		!strings.Contains(lines[1], img.ImageID) || !strings.Contains(lines[1], "app cvm, version img-7") ||
		lines[2] != "Steps:" || lines[3] != "  1. considered the images of the account" {
		t.Errorf("output:\n%s", out)
	}

	h.ok("", "task", "approve", img.TaskID)
	var e apiv1.Explanation
	h.decodeJSON(h.ok("", "explain", "--pcr", "7="+pcr7, "-o", "json"), &e)
	if e.Result != "ok" || e.SelectedImageID == nil || *e.SelectedImageID != img.ImageID || len(e.Steps) != 2 {
		t.Errorf("-o json = %+v", e)
	}

	// A rejection is an answer, not a failure: exit 0.
	out, errOut, code := h.run("", "explain", "--platform", "sev_snp", "--measurement", "measurement="+hexOf("0", 94)+"42",
		"--measurement", "vmpl=0", "--measurement", "note=0042")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	req, _ = h.fake.last("POST", path)
	want = `{"measurements":{"measurement":"` + hexOf("0", 94) + `42","note":"0042","vmpl":0},"platform":"sev_snp"}`
	if got := canonical(t, req.Body); got != want {
		t.Errorf("body = %s\nwant   %s", got, want)
	}
	if !strings.HasPrefix(out, "Result: NO_MATCHING_IMAGE") || !strings.Contains(out, "Selected image: none") ||
		!strings.Contains(out, "  2. no image of the account has these measurements") || strings.Contains(out, "\x1b") {
		t.Errorf("output:\n%q", out)
	}

	n := len(h.fake.allRequests())
	for _, tc := range []struct {
		args    []string
		wantErr string
	}{
		{nil, "give --pcr N=HEX"},
		{[]string{"--platform", "sgx", "--pcr", "7=aa"}, "--pcr applies to azure_cvm only"},
		{[]string{"--pcr", "7=aa", "--measurement", "x=1"}, "--measurement does not apply to azure_cvm"},
		{[]string{"--platform", "sgx", "--measurement", "mrenclave"}, "want KEY=VALUE"},
		{[]string{"--pcr", "x=aa"}, "N from 0 to 22"},
	} {
		_, errOut, code := h.run("", append([]string{"explain"}, tc.args...)...)
		if code != 1 || !strings.Contains(errOut, tc.wantErr) {
			t.Errorf("%v: exit %d, %q", tc.args, code, errOut)
		}
	}
	if len(h.fake.allRequests()) != n {
		t.Error("a bad explain sent requests")
	}
}
