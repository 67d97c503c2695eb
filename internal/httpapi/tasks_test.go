package httpapi

import (
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/openccm/openccm/internal/store"
	"github.com/openccm/openccm/internal/store/sqlstore/sqltest"
)

// newImageTask makes an sev_snp image as the given token and returns its task URL.
func (h *harness) newImageTask(w *world, token, version string, fill byte) (imageURL, taskURL string) {
	h.t.Helper()
	base := "/v1/accounts/" + w.accountID
	apps := h.must(200, "GET", base+"/apps?type=sev_snp", w.admin, nil)["items"].([]any)
	var images string
	if len(apps) == 0 {
		images = h.appOf(w, "vm", "sev_snp", nil)
	} else {
		images = base + "/apps/" + apps[0].(map[string]any)["app_id"].(string) + "/images"
	}
	img := h.must(201, "POST", images, token, map[string]any{"version": "t" + version, "measurement": hexOf(fill, 48)})
	return base + "/images/" + img["image_id"].(string), base + "/tasks/" + img["task_id"].(string)
}

func TestApprovalQuorum(t *testing.T) {
	h := newHarness(t)
	w := h.newWorld()
	base := "/v1/accounts/" + w.accountID
	h.must(200, "PATCH", base, w.admin, map[string]any{"approval_policy": map[string]any{"required_approvals": 2, "allow_self_approval": false}})
	img, task := h.newImageTask(w, w.tokens[store.RoleWriter], "1", 1)

	tk := h.must(200, "GET", task, w.tokens[store.RoleReader], nil)
	if tk["kind"] != "image_approval" || tk["status"] != "pending" || tk["required_approvals"] != float64(2) ||
		tk["created_by"] != w.userIDs[store.RoleWriter] || tk["subject"].(map[string]any)["type"] != "image" {
		t.Fatalf("task %v", tk)
	}
	expect := func(r response, status int, code string) {
		t.Helper()
		if r.Status != status {
			t.Fatalf("status %d, want %d: %s", r.Status, status, r.Body)
		}
		if c, _ := r.errorOf(t); c != code {
			t.Fatalf("code %q, want %q", c, code)
		}
	}
	expect(h.do("POST", task+"/approve", w.tokens[store.RoleWriter], nil), 403, "forbidden") // self-approval
	expect(h.do("POST", task+"/approve", w.tokens[store.RoleReader], nil), 403, "forbidden") // readers never decide
	h.must(200, "POST", task+"/approve", w.tokens[store.RoleManager], map[string]string{"comment": "looks good"})
	expect(h.do("POST", task+"/approve", w.tokens[store.RoleManager], nil), 409, "conflict") // one decision per user
	if s := h.must(200, "GET", img, w.admin, nil)["approval_status"]; s != "pending" {
		t.Fatalf("approved below quorum: %v", s)
	}
	tk = h.must(200, "POST", task+"/approve", w.admin, map[string]string{})
	if tk["status"] != "approved" || tk["resolved_at"] == nil || len(tk["approvals"].([]any)) != 2 {
		t.Fatalf("task after quorum %v", tk)
	}
	if a := tk["approvals"].([]any)[0].(map[string]any); a["comment"] != "looks good" || a["decision"] != "approve" || a["email"] != "manager@example.com" {
		t.Fatalf("first approval %v", a)
	}
	if s := h.must(200, "GET", img, w.admin, nil)["approval_status"]; s != "approved" {
		t.Fatalf("image after quorum: %v", s)
	}
	expect(h.do("POST", task+"/deny", w.tokens[store.RoleWriter], map[string]string{"reason": "late"}), 409, "conflict") // resolved

	t.Run("one deny resolves the task", func(t *testing.T) {
		img, task := h.newImageTask(w, w.tokens[store.RoleWriter], "2", 2)
		h.must(200, "POST", task+"/approve", w.tokens[store.RoleManager], nil)
		if r := h.do("POST", task+"/deny", w.admin, map[string]string{}); r.Status != 400 {
			t.Fatalf("deny without a reason: %d", r.Status)
		}
		tk := h.must(200, "POST", task+"/deny", w.admin, map[string]string{"reason": "wrong build"})
		if tk["status"] != "denied" {
			t.Fatalf("task %v", tk)
		}
		if s := h.must(200, "GET", img, w.admin, nil)["approval_status"]; s != "denied" {
			t.Fatalf("image after deny: %v", s)
		}
	})
	t.Run("the creator may deny their own change", func(t *testing.T) {
		_, task := h.newImageTask(w, w.tokens[store.RoleWriter], "3", 3)
		h.must(200, "POST", task+"/deny", w.tokens[store.RoleWriter], map[string]string{"reason": "withdrawn"})
	})
	t.Run("tasks are listed and filtered", func(t *testing.T) {
		l := h.must(200, "GET", base+"/tasks?status=denied&kind=image_approval", w.admin, nil)
		if n := len(l["items"].([]any)); n != 2 {
			t.Fatalf("%d denied tasks", n)
		}
		if r := h.do("GET", base+"/tasks?status=maybe", w.admin, nil); r.Status != 400 {
			t.Fatalf("bad filter: %d", r.Status)
		}
	})
}

// TestConcurrentApprovalsResolveOnce: two approvals that complete a quorum
// at the same moment resolve the task exactly once, on every backend.
func TestConcurrentApprovalsResolveOnce(t *testing.T) {
	for _, b := range sqltest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			h := newHarnessOn(t, b)
			w := h.newWorld()
			base := "/v1/accounts/" + w.accountID
			h.must(200, "PATCH", base, w.admin, map[string]any{"approval_policy": map[string]any{"required_approvals": 2}})
			for round := 0; round < 5; round++ {
				img, task := h.newImageTask(w, w.admin, fmt.Sprint(round), byte(round+1))
				voters := []string{w.tokens[store.RoleManager], w.tokens[store.RoleWriter], w.admin}
				statuses := make([]int, len(voters))
				var wg sync.WaitGroup
				for i, tok := range voters {
					wg.Add(1)
					go func() {
						defer wg.Done()
						statuses[i] = h.do("POST", task+"/approve", tok, nil).Status
					}()
				}
				wg.Wait()
				ok := 0
				for _, s := range statuses {
					if s == 200 {
						ok++
					} else if s != 409 {
						t.Fatalf("round %d: status %d", round, s)
					}
				}
				tk := h.must(200, "GET", task, w.admin, nil)
				if tk["status"] != "approved" || ok != 2 || len(tk["approvals"].([]any)) != 2 {
					t.Fatalf("round %d: %d successes, task %v", round, ok, tk)
				}
				if s := h.must(200, "GET", img, w.admin, nil)["approval_status"]; s != "approved" {
					t.Fatalf("round %d: image %v", round, s)
				}
				resolves := 0
				for _, e := range h.must(200, "GET", base+"/audit?action=task.resolve&limit=500", w.admin, nil)["items"].([]any) {
					if e.(map[string]any)["subject"].(map[string]any)["id"] == tk["task_id"] {
						resolves++
					}
				}
				if resolves != 1 {
					t.Fatalf("round %d: the task resolved %d times", round, resolves)
				}
			}
		})
	}
}

func TestDomainApproval(t *testing.T) {
	h := newHarness(t)
	w := h.newWorld()
	base := "/v1/accounts/" + w.accountID
	a := h.must(201, "POST", base+"/apps", w.tokens[store.RoleWriter], map[string]any{"name": "web", "type": "sev_snp", "domains": []string{"a.example.com", "b.example.com"}})
	appURL := base + "/apps/" + a["app_id"].(string)
	taskID, _ := a["pending_domain_task_id"].(string)
	if taskID == "" || len(a["approved_domains"].([]any)) != 0 {
		t.Fatalf("new app %v", a)
	}
	tk := h.must(200, "GET", base+"/tasks/"+taskID, w.admin, nil)
	if tk["kind"] != "domain_approval" || strings.Join(toStrings(tk["domains_added"]), ",") != "a.example.com,b.example.com" || len(tk["domains_removed"].([]any)) != 0 {
		t.Fatalf("domain task %v", tk)
	}
	if r := h.do("PATCH", appURL, w.admin, map[string]any{"domains": []string{"c.example.com"}}); r.Status != 409 {
		t.Fatalf("second change while pending: %d %s", r.Status, r.Body)
	}
	// Other fields can still change.
	h.must(200, "PATCH", appURL, w.admin, map[string]any{"description": "still editable"})
	h.must(200, "POST", base+"/tasks/"+taskID+"/approve", w.admin, nil)
	a = h.must(200, "GET", appURL, w.admin, nil)
	if strings.Join(toStrings(a["approved_domains"]), ",") != "a.example.com,b.example.com" || a["pending_domain_task_id"] != nil {
		t.Fatalf("after approval %v", a)
	}

	// Removing b and adding c: b stops being approved at once, c waits.
	a = h.must(200, "PATCH", appURL, w.admin, map[string]any{"domains": []string{"a.example.com", "c.example.com"}})
	if strings.Join(toStrings(a["approved_domains"]), ",") != "a.example.com" {
		t.Fatalf("removal did not apply at once: %v", a)
	}
	tk = h.must(200, "GET", base+"/tasks/"+a["pending_domain_task_id"].(string), w.admin, nil)
	if strings.Join(toStrings(tk["domains_added"]), ",") != "c.example.com" || strings.Join(toStrings(tk["domains_removed"]), ",") != "b.example.com" {
		t.Fatalf("change task %v", tk)
	}
	h.must(200, "POST", base+"/tasks/"+tk["task_id"].(string)+"/deny", w.admin, map[string]string{"reason": "not ours"})
	a = h.must(200, "GET", appURL, w.admin, nil)
	if strings.Join(toStrings(a["approved_domains"]), ",") != "a.example.com" || a["pending_domain_task_id"] != nil {
		t.Fatalf("after deny %v", a)
	}
	// An app without domains opens no task.
	if n := h.must(201, "POST", base+"/apps", w.admin, map[string]any{"name": "plain", "type": "edp"}); n["pending_domain_task_id"] != nil {
		t.Fatalf("task for an app without domains: %v", n)
	}
}

func toStrings(v any) []string {
	var out []string
	for _, x := range v.([]any) {
		out = append(out, x.(string))
	}
	return out
}

func TestAuditLog(t *testing.T) {
	for _, b := range sqltest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			h := newHarnessOn(t, b)
			w := h.newWorld()
			base := "/v1/accounts/" + w.accountID
			_, task := h.newImageTask(w, w.admin, "1", 1)
			h.must(200, "POST", task+"/approve", w.tokens[store.RoleWriter], nil)
			tok := h.must(201, "POST", "/v1/tokens", w.admin, map[string]string{"name": "ci", "account_id": w.accountID, "role": "writer"})
			h.must(204, "DELETE", "/v1/tokens/"+tok["token_id"].(string), w.admin, nil)
			h.must(204, "DELETE", base+"/registries/"+w.registryID, w.admin, nil)
			h.login("reader@example.com")

			l := h.must(200, "GET", base+"/audit?order=asc&limit=500", w.tokens[store.RoleReader], nil)
			var actions []string
			for _, e := range l["items"].([]any) {
				actions = append(actions, e.(map[string]any)["action"].(string))
			}
			got := strings.Join(actions, " ")
			for _, want := range []string{"account.create", "member.add", "registry.create", "app.create", "image.create", "task.create",
				"task.approve", "task.resolve", "token.create", "token.revoke", "registry.delete", "session.create"} {
				if !strings.Contains(got, want) {
					t.Errorf("no %s event in %s", want, got)
				}
			}
			if strings.Contains(string(h.must(200, "GET", base+"/audit?limit=500", w.admin, nil)["items"].([]any)[0].(map[string]any)["action"].(string)), "account.create") {
				t.Error("default order is not newest first")
			}
			v := h.must(200, "GET", base+"/audit/verify", w.tokens[store.RoleReader], nil)
			if v["ok"] != true || v["events"] != float64(len(actions)) {
				t.Fatalf("verify %v (%d events listed)", v, len(actions))
			}

			// Edit one stored event behind the server's back: verify names it.
			victim := l["items"].([]any)[4].(map[string]any)
			raw := sqltest.Raw(t, h.backend, h.database)
			q := "UPDATE audit_events SET action = 'app.nothing' WHERE id = ?"
			if b.Name == "postgres" {
				q = strings.Replace(q, "?", "$1", 1)
			}
			if _, err := raw.Exec(q, victim["event_id"]); err != nil {
				t.Fatal(err)
			}
			v = h.must(200, "GET", base+"/audit/verify", w.admin, nil)
			if v["ok"] != false || v["first_bad_event_id"] != victim["event_id"] || v["first_bad_seq"] != victim["seq"] || v["events"] != float64(4) {
				t.Fatalf("verify after tampering %v (victim %v)", v, victim["event_id"])
			}
		})
	}
}

func TestExplainAzureCVM(t *testing.T) {
	h := newHarness(t)
	w := h.newWorld()
	base := "/v1/accounts/" + w.accountID
	cvm := h.appOf(w, "cvm", "azure_cvm", nil)
	pcr := func(b byte) string { return hexOf(b, 32) }
	anchored := h.must(201, "POST", cvm, w.admin, map[string]any{"version": "a", "pcrs": map[string]string{"pcr0": pcr(1), "pcr7": pcr(7)}})
	h.must(201, "POST", cvm, w.admin, map[string]any{"version": "b", "pcrs": map[string]string{"pcr0": pcr(2)}})
	fallback := h.must(201, "POST", cvm, w.admin, map[string]any{"version": "none"})
	explain := func(pcrs map[string]string) map[string]any {
		return h.must(200, "POST", base+"/attest/explain", w.tokens[store.RoleReader], map[string]any{"platform": "azure_cvm", "pcrs": pcrs})
	}
	e := explain(map[string]string{"pcr0": pcr(1), "pcr7": pcr(7)})
	if e["selected_image_id"] != anchored["image_id"] || e["result"] != "image_not_approved" || len(e["steps"].([]any)) < 3 {
		t.Fatalf("explain %v", e)
	}
	h.must(200, "POST", base+"/tasks/"+anchored["task_id"].(string)+"/approve", w.admin, nil)
	if e := explain(map[string]string{"pcr0": pcr(1), "pcr7": pcr(7)}); e["result"] != "ok" {
		t.Fatalf("after approval %v", e)
	}
	if e := explain(map[string]string{"pcr0": pcr(1), "pcr7": pcr(8)}); e["result"] != "pcr_mismatch" || e["selected_image_id"] != anchored["image_id"] {
		t.Fatalf("mismatch %v", e)
	}
	if e := explain(map[string]string{"pcr0": pcr(9)}); e["selected_image_id"] != fallback["image_id"] {
		t.Fatalf("fallback %v", e)
	}
	if r := h.do("POST", base+"/attest/explain", w.admin, map[string]any{"platform": "azure_cvm", "pcrs": map[string]string{"pcr99": pcr(1)}}); r.Status != 400 {
		t.Fatalf("bad pcr: %d", r.Status)
	}
	// The other platforms select by measurement.
	snp := h.appOf(w, "vm", "sev_snp", nil)
	s := h.must(201, "POST", snp, w.admin, map[string]any{"version": "1", "measurement": hexOf(5, 48), "vmpl": 0})
	ex := h.must(200, "POST", base+"/attest/explain", w.admin, map[string]any{"platform": "sev_snp", "measurements": map[string]any{"measurement": hexOf(5, 48), "vmpl": 1}})
	if ex["result"] != "vmpl_mismatch" || ex["selected_image_id"] != s["image_id"] {
		t.Fatalf("sev_snp explain %v", ex)
	}
	ex = h.must(200, "POST", base+"/attest/explain", w.admin, map[string]any{"platform": "sgx", "measurements": map[string]any{"mrenclave": hexOf(1, 32)}})
	if ex["result"] != "no_matching_image" || ex["selected_image_id"] != nil {
		t.Fatalf("sgx explain %v", ex)
	}
}
