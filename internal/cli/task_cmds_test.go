package cli

import (
	"strings"
	"testing"

	"github.com/openccm/openccm/pkg/apiv1"
)

func TestTaskApproveAndDeny(t *testing.T) {
	h := newHarness(t)
	accountID := h.loginWithAccount()
	h.newApp("vm", "sev_snp")
	var a, b apiv1.Image
	h.decodeJSON(h.ok("", "image", "create", "--app", "vm", "--version", "1", "--measurement", hexOf("a", 96), "--vmpl", "0", "-o", "json"), &a)
	h.decodeJSON(h.ok("", "image", "create", "--app", "vm", "--version", "2", "--measurement", hexOf("b", 96), "--vmpl", "0", "-o", "json"), &b)
	h.ok("", "image", "create", "--app", "vm", "--version", "3", "--measurement", hexOf("c", 96), "--vmpl", "0")

	var tasks []apiv1.Task
	h.decodeJSON(h.ok("", "task", "list", "--status", "pending", "--kind", "image_approval", "-o", "json"), &tasks)
	if len(tasks) != 3 {
		t.Fatalf("listed %d pending tasks, want 3", len(tasks))
	}
	if req, _ := h.fake.last("GET", "/v1/accounts/"+accountID+"/tasks"); !strings.Contains(req.Query, "kind=image_approval") || !strings.Contains(req.Query, "status=pending") {
		t.Errorf("task list query = %q", req.Query)
	}
	table := h.ok("", "task", "list")
	if lines := strings.Split(strings.TrimSpace(table), "\n"); len(lines) != 4 || !strings.Contains(lines[1], "image_approval") || !strings.Contains(lines[1], "0/1") {
		t.Errorf("task table:\n%s", table)
	}

	taskPath := "/v1/accounts/" + accountID + "/tasks/"
	out := h.ok("", "task", "approve", a.TaskID, "--comment", "looks good")
	req, _ := h.fake.last("POST", taskPath+a.TaskID+"/approve")
	if strings.TrimSpace(req.Body) != `{"comment":"looks good"}` {
		t.Errorf("approve body = %s", req.Body)
	}
	for _, want := range []string{"Status:", "approved", "1/1", "DECISION", "approve", adminEmail, "looks good"} {
		if !strings.Contains(out, want) {
			t.Errorf("approve output lacks %q:\n%s", want, out)
		}
	}
	h.ok("", "task", "approve", b.TaskID, "-o", "json")
	if req, _ := h.fake.last("POST", taskPath+b.TaskID+"/approve"); strings.TrimSpace(req.Body) != `{}` {
		t.Errorf("approve without comment body = %s", req.Body)
	}

	var denied apiv1.Task
	h.decodeJSON(h.ok("", "task", "deny", tasks[2].TaskID, "--reason", "unknown build", "-o", "json"), &denied)
	if req, _ := h.fake.last("POST", taskPath+tasks[2].TaskID+"/deny"); strings.TrimSpace(req.Body) != `{"reason":"unknown build"}` {
		t.Errorf("deny body = %s", req.Body)
	}
	if denied.Status != "denied" || len(denied.Approvals) != 1 || denied.Approvals[0].Decision != "deny" {
		t.Errorf("denied task = %+v", denied)
	}

	n := len(h.fake.allRequests())
	for _, args := range [][]string{{"task", "deny", a.TaskID}, {"task", "deny", a.TaskID, "--reason", ""}} {
		_, errOut, code := h.run("", args...)
		if code != 1 || !strings.Contains(errOut, "reason") {
			t.Errorf("%v: exit %d, %q", args, code, errOut)
		}
	}
	if len(h.fake.allRequests()) != n {
		t.Error("deny without a reason sent a request")
	}
	_, errOut, code := h.run("", "task", "approve", a.TaskID)
	if code != 1 || !strings.Contains(errOut, "conflict") {
		t.Errorf("second decision: exit %d, %q", code, errOut)
	}

	out = h.ok("", "task", "show", tasks[2].TaskID)
	for _, want := range []string{"denied", "deny", "unknown build", "Resolved:", "image " + tasks[2].Subject.ID} {
		if !strings.Contains(out, want) {
			t.Errorf("task show lacks %q:\n%s", want, out)
		}
	}
	var shown apiv1.Task
	h.decodeJSON(h.ok("", "task", "show", a.TaskID, "-o", "json"), &shown)
	if shown.Status != "approved" || shown.Approvals[0].Comment != "looks good" {
		t.Errorf("task show -o json = %+v", shown)
	}
	var img apiv1.Image
	h.decodeJSON(h.ok("", "image", "show", a.ImageID, "-o", "json"), &img)
	if img.ApprovalStatus != "approved" {
		t.Errorf("approval status after approval = %q", img.ApprovalStatus)
	}
}
