package cli

import (
	"strings"
	"testing"

	"github.com/openccm/openccm/pkg/apiv1"
)

func TestAuditList(t *testing.T) {
	h := newHarness(t)
	accountID := h.loginWithAccount()
	h.fake.addAuditEvents(accountID, 5)
	path := "/v1/accounts/" + accountID + "/audit"

	out, errOut, code := h.run("", "audit", "list", "--limit", "2")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "SEQ") || !strings.HasPrefix(lines[1], "5 ") ||
		!strings.Contains(lines[1], "user u-5") || !strings.Contains(lines[1], "app.create") || !strings.Contains(lines[1], "app app-5") ||
		!strings.Contains(lines[1], "success") {
		t.Errorf("table:\n%s", out)
	}
	if !strings.Contains(errOut, "--all") {
		t.Errorf("no hint about more events: %q", errOut)
	}

	var all []apiv1.AuditEvent
	h.decodeJSON(h.ok("", "audit", "list", "--all", "-o", "json"), &all) // in pages of two
	if len(all) != 5 || all[0].Seq != 5 || all[4].Seq != 1 {
		t.Errorf("--all listed %+v", all)
	}
	out, errOut, _ = h.run("", "audit", "list", "--all")
	if strings.Count(strings.TrimSpace(out), "\n") != 5 || errOut != "" {
		t.Errorf("--all table:\n%s\nstderr %q", out, errOut)
	}

	h.decodeJSON(h.ok("", "audit", "list", "--order", "asc", "--action", "app.create", "--subject", "app-3", "--actor", "u-3",
		"--since", "2030-01-02T04:04:05+01:00", "-o", "json"), &all)
	req, _ := h.fake.last("GET", path)
	if req.Query != "action=app.create&actor_id=u-3&limit=50&order=asc&since=2030-01-02T03%3A04%3A05Z&subject_id=app-3" {
		t.Errorf("query = %q", req.Query)
	}
	if len(all) != 1 || all[0].Seq != 3 {
		t.Errorf("filtered events = %+v", all)
	}

	for _, tc := range []struct {
		args    []string
		wantErr string
	}{
		{[]string{"--order", "up"}, `--order "up": use asc or desc`},
		{[]string{"--since", "yesterday"}, "--since: want an RFC 3339 time"},
		{[]string{"--all", "--limit", "5"}, "none of the others"},
	} {
		_, errOut, code := h.run("", append([]string{"audit", "list"}, tc.args...)...)
		if code != 1 || !strings.Contains(errOut, tc.wantErr) {
			t.Errorf("%v: exit %d, %q", tc.args, code, errOut)
		}
	}
}

func TestAuditVerify(t *testing.T) {
	h := newHarness(t)
	accountID := h.loginWithAccount()
	h.fake.addAuditEvents(accountID, 4)

	out := h.ok("", "audit", "verify")
	if !strings.Contains(out, "OK") || !strings.Contains(out, "4 events") {
		t.Errorf("verify: %q", out)
	}
	var v apiv1.AuditVerification
	h.decodeJSON(h.ok("", "audit", "verify", "-o", "json"), &v)
	if !v.OK || v.Events != 4 {
		t.Errorf("verify -o json = %+v", v)
	}

	h.fake.mu.Lock()
	h.fake.images.brokenAt = 3
	bad := h.fake.images.audit[accountID][2].EventID
	h.fake.mu.Unlock()

	out, errOut, code := h.run("", "audit", "verify")
	if code != 1 {
		t.Errorf("exit %d on a broken chain, want 1", code)
	}
	for _, want := range []string{"BROKEN", bad, "seq 3", "hash does not match"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if !strings.Contains(errOut, "error: the audit log failed verification") {
		t.Errorf("stderr = %q", errOut)
	}
	out, _, code = h.run("", "audit", "verify", "-o", "json")
	h.decodeJSON(out, &v)
	if code != 1 || v.OK || v.FirstBadEventID != bad || v.FirstBadSeq != 3 {
		t.Errorf("-o json on a broken chain: exit %d, %+v", code, v)
	}
}
