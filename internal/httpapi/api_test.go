package httpapi

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openccm/openccm/internal/store"
)

func TestErrorBodies(t *testing.T) {
	h := newHarness(t)
	w := h.newWorld()
	apps := "/v1/accounts/" + w.accountID + "/apps"
	cases := []struct {
		name        string
		body        any
		contentType string
		status      int
		code, field string
	}{
		{"rejects a body that is not JSON", "{not json", "", 400, "invalid_json", ""},
		{"rejects an empty body", "", "", 400, "invalid_json", ""},
		{"rejects a JSON array", "[]", "", 400, "invalid_json", ""},
		{"rejects two JSON values", `{"name":"a","type":"edp"} {}`, "", 400, "invalid_json", ""},
		{"names the field of a wrong type", `{"name":"a","type":"edp","certificate":{"validity_days":"30"}}`, "", 400, "invalid_json", "certificate.validity_days"},
		{"rejects a form body", "name=a", "application/x-www-form-urlencoded", 400, "invalid_json", ""},
		{"names an unknown field", `{"name":"a","type":"edp","colour":"red"}`, "", 400, "validation_failed", "colour"},
		{"names a missing name", `{"type":"edp"}`, "", 400, "validation_failed", "name"},
		{"names a missing type", `{"name":"a"}`, "", 400, "validation_failed", "type"},
		{"names a bad type", `{"name":"a","type":"tdx2"}`, "", 400, "validation_failed", "type"},
		{"names a bad domain by index", `{"name":"a","type":"edp","domains":["ok.example.com","bad_domain"]}`, "", 400, "validation_failed", "domains[1]"},
		{"rejects a wildcard that is too broad", `{"name":"a","type":"edp","domains":["*.com"]}`, "", 400, "validation_failed", "domains[0]"},
		{"rejects 33 domains", `{"name":"a","type":"edp","domains":[` + strings.Repeat(`"a.example.com",`, 32) + `"b.example.com"]}`, "", 400, "validation_failed", "domains"},
		{"requires both image names for enclave_os", `{"name":"a","type":"enclave_os","input_image_name":"nginx"}`, "", 400, "validation_failed", "output_image_name"},
		{"requires the input image for aci", `{"name":"a","type":"aci"}`, "", 400, "validation_failed", "input_image_name"},
		{"rejects an output image for aci", `{"name":"a","type":"aci","input_image_name":"nginx","output_image_name":"x/y"}`, "", 400, "validation_failed", "output_image_name"},
		{"rejects image names for sev_snp", `{"name":"a","type":"sev_snp","input_image_name":"nginx"}`, "", 400, "validation_failed", "input_image_name"},
		{"rejects a tag in an image name", `{"name":"a","type":"aci","input_image_name":"docker.io/library/nginx:1.25"}`, "", 400, "validation_failed", "input_image_name"},
		{"rejects a digest in an image name", `{"name":"a","type":"aci","input_image_name":"nginx@sha256:` + strings.Repeat("a", 64) + `"}`, "", 400, "validation_failed", "input_image_name"},
		{"rejects validity over 825 days", `{"name":"a","type":"edp","certificate":{"validity_days":826}}`, "", 400, "validation_failed", "certificate.validity_days"},
		{"rejects validity of 0 days", `{"name":"a","type":"edp","certificate":{"validity_days":0}}`, "", 400, "validation_failed", "certificate.validity_days"},
		{"rejects a relative key path", `{"name":"a","type":"edp","certificate":{"key_path":"key.pem"}}`, "", 400, "validation_failed", "certificate.key_path"},
		{"rejects a bad label key", `{"name":"a","type":"edp","labels":{"-x":"y"}}`, "", 400, "validation_failed", "labels"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req := strings.NewReader(c.body.(string))
			r := h.doRaw("POST", apps, w.admin, req, c.contentType)
			if r.Status != c.status {
				t.Fatalf("status %d, want %d: %s", r.Status, c.status, r.Body)
			}
			code, field := r.errorOf(t)
			if code != c.code || field != c.field {
				t.Fatalf("code %q field %q, want %q %q (%s)", code, field, c.code, c.field, r.Body)
			}
			if msg := r.JSON(t)["error"].(map[string]any)["message"]; msg == "" {
				t.Fatal("empty message")
			}
		})
	}
}

func TestBodyLimit(t *testing.T) {
	h := newHarness(t)
	w := h.newWorld()
	big := `{"name":"a","type":"edp","description":"` + strings.Repeat("x", DefaultMaxBody) + `"}`
	r := h.doRaw("POST", "/v1/accounts/"+w.accountID+"/apps", w.admin, strings.NewReader(big), "")
	if r.Status != 413 {
		t.Fatalf("status %d, want 413", r.Status)
	}
	if code, _ := r.errorOf(t); code != "too_large" {
		t.Fatalf("code %q", code)
	}
}

func TestSmallUploadsHaveSmallLimits(t *testing.T) {
	h := newHarness(t)
	w := h.newWorld()
	big := strings.Repeat("A", 1<<20)
	for _, c := range []struct{ path, body string }{
		{"/v1/tools/sigstruct", `{"sigstruct":"` + big + `"}`},
		{"/v1/tools/nitro-measurements", `{"measurement_json":"` + big + `"}`},
		{"/v1/accounts/" + w.accountID + "/apps/" + w.appID + "/images", `{"version":"` + big + `"}`},
	} {
		r := h.doRaw("POST", c.path, w.admin, strings.NewReader(c.body), "")
		if code, _ := r.errorOf(t); r.Status != 413 || code != "too_large" {
			t.Errorf("%s: %d %s", c.path, r.Status, code)
		}
	}
}

func TestUnknownRoutesAndMethods(t *testing.T) {
	h := newHarness(t)
	r := h.do("GET", "/v1/nothing-here", "", nil)
	if code, _ := r.errorOf(t); r.Status != 404 || code != "not_found" {
		t.Fatalf("unknown route: %d %s", r.Status, r.Body)
	}
	for _, p := range []string{"/v1//me", "/v1/accounts//apps", "/v1/me/", "/v1/./me"} {
		r := h.do("GET", p, "", nil)
		if code, _ := r.errorOf(t); r.Status != 404 || code != "not_found" {
			t.Errorf("%s: %d %s", p, r.Status, r.Body)
		}
	}
	r = h.do("PUT", "/v1/me", "", nil)
	if r.Status != 405 || r.Header.Get("Allow") != "GET" {
		t.Fatalf("wrong method: %d Allow=%q", r.Status, r.Header.Get("Allow"))
	}
}

func TestRequestIDs(t *testing.T) {
	h := newHarness(t)
	req := h.do("GET", "/healthz", "", nil)
	if len(req.Header.Get("X-Request-Id")) != 16 {
		t.Fatalf("no generated request id: %q", req.Header.Get("X-Request-Id"))
	}
	r := h.doWithHeader("GET", "/v1/me", map[string]string{"X-Request-Id": "trace-123"})
	if r.Header.Get("X-Request-Id") != "trace-123" {
		t.Fatalf("request id not echoed: %q", r.Header.Get("X-Request-Id"))
	}
	if id := r.JSON(t)["error"].(map[string]any)["request_id"]; id != "trace-123" {
		t.Fatalf("error body request_id = %v", id)
	}
	r = h.doWithHeader("GET", "/healthz", map[string]string{"X-Request-Id": "bad id\n<script>"})
	if strings.ContainsAny(r.Header.Get("X-Request-Id"), " <\n") {
		t.Fatalf("unsafe request id echoed: %q", r.Header.Get("X-Request-Id"))
	}
}

func TestSignupIsOnlyForTheFirstUser(t *testing.T) {
	h := newHarness(t)
	u := h.must(201, "POST", "/v1/signup", "", map[string]string{"email": "First@Example.com", "password": testPassword})
	if u["email"] != "first@example.com" || u["is_admin"] != true {
		t.Fatalf("first user = %v", u)
	}
	r := h.do("POST", "/v1/signup", "", map[string]string{"email": "second@example.com", "password": testPassword})
	if r.Status != 403 {
		t.Fatalf("second signup: %d %s", r.Status, r.Body)
	}
	t.Run("rejects a short password", func(t *testing.T) {
		r := newHarness(t).do("POST", "/v1/signup", "", map[string]string{"email": "a@example.com", "password": "short"})
		if code, field := r.errorOf(t); r.Status != 400 || code != "validation_failed" || field != "password" {
			t.Fatalf("%d %s", r.Status, r.Body)
		}
	})
	t.Run("rejects a bad email", func(t *testing.T) {
		r := newHarness(t).do("POST", "/v1/signup", "", map[string]string{"email": "Bob <a@example.com>", "password": testPassword})
		if code, field := r.errorOf(t); r.Status != 400 || code != "validation_failed" || field != "email" {
			t.Fatalf("%d %s", r.Status, r.Body)
		}
	})
	t.Run("concurrent first signups make exactly one admin", func(t *testing.T) {
		h := newHarness(t)
		var wg sync.WaitGroup
		statuses := make([]int, 6)
		for i := range statuses {
			wg.Add(1)
			go func() {
				defer wg.Done()
				statuses[i] = h.do("POST", "/v1/signup", "", map[string]string{"email": string(rune('a'+i)) + "@example.com", "password": testPassword}).Status
			}()
		}
		wg.Wait()
		created := 0
		for _, s := range statuses {
			if s == 201 {
				created++
			} else if s != 403 {
				t.Errorf("status %d", s)
			}
		}
		if created != 1 {
			t.Fatalf("%d signups succeeded, want 1 (%v)", created, statuses)
		}
	})
}

func TestSessions(t *testing.T) {
	h := newHarness(t)
	_, tok := h.signupAndLogin("a@example.com")
	h.must(200, "GET", "/v1/me", tok, nil)
	r := h.do("POST", "/v1/sessions", "", map[string]string{"email": "a@example.com", "password": "wrong password!"})
	if code, _ := r.errorOf(t); r.Status != 401 || code != "unauthenticated" {
		t.Fatalf("wrong password: %d %s", r.Status, r.Body)
	}
	r2 := h.do("POST", "/v1/sessions", "", map[string]string{"email": "nobody@example.com", "password": "wrong password!"})
	if r2.Status != 401 || !bytes.Equal(bytes.ReplaceAll(r.Body, []byte(r.Header.Get("X-Request-Id")), nil), bytes.ReplaceAll(r2.Body, []byte(r2.Header.Get("X-Request-Id")), nil)) {
		t.Fatalf("unknown user and wrong password answer differently: %s vs %s", r.Body, r2.Body)
	}
	h.must(204, "DELETE", "/v1/sessions/current", tok, nil)
	if r := h.do("GET", "/v1/me", tok, nil); r.Status != 401 {
		t.Fatalf("token works after logout: %d", r.Status)
	}

	t.Run("an expired session stops working", func(t *testing.T) {
		tok := h.login("a@example.com")
		// Age every session by a day.
		h.api.id = mustIdentityAt(t, h, time.Now().Add(24*time.Hour))
		if r := h.do("GET", "/v1/me", tok, nil); r.Status != 401 {
			t.Fatalf("expired session: %d", r.Status)
		}
	})
}

func TestLoginFailureLimit(t *testing.T) {
	h := newHarness(t)
	h.signupAndLogin("a@example.com")
	bad := map[string]string{"email": "a@example.com", "password": "not the password"}
	for i := 0; i < 10; i++ {
		if r := h.do("POST", "/v1/sessions", "", bad); r.Status != 401 {
			t.Fatalf("attempt %d: %d", i, r.Status)
		}
	}
	r := h.do("POST", "/v1/sessions", "", map[string]string{"email": "a@example.com", "password": testPassword})
	if code, _ := r.errorOf(t); r.Status != 429 || code != "rate_limited" {
		t.Fatalf("11th attempt with the right password: %d %s", r.Status, r.Body)
	}
	// Another user from the same address is not locked out by this user's failures.
	_ = h.do("POST", "/v1/sessions", "", map[string]string{"email": "b@example.com", "password": "whatever12345"})
	if r := h.do("POST", "/v1/sessions", "", map[string]string{"email": "b@example.com", "password": "whatever12345"}); r.Status != 401 {
		t.Fatalf("other user: %d", r.Status)
	}
}

func TestLoginFailureLimitPerAddress(t *testing.T) {
	h := newHarness(t)
	h.signupAndLogin("a@example.com")
	// Spread failures over many emails from one address.
	for i := 0; i < 50; i++ {
		h.do("POST", "/v1/sessions", "", map[string]string{"email": "u" + string(rune('a'+i%26)) + string(rune('a'+i/26)) + "@example.com", "password": "not the password"})
	}
	r := h.do("POST", "/v1/sessions", "", map[string]string{"email": "a@example.com", "password": testPassword})
	if r.Status != 429 {
		t.Fatalf("after 50 failures from one address: %d", r.Status)
	}
}

func TestAPITokens(t *testing.T) {
	h := newHarness(t)
	w := h.newWorld()
	base := "/v1/accounts/" + w.accountID

	t.Run("a writer cannot make a manager token", func(t *testing.T) {
		r := h.do("POST", "/v1/tokens", w.tokens[store.RoleWriter], map[string]string{"name": "t", "account_id": w.accountID, "role": "manager"})
		if code, field := r.errorOf(t); r.Status != 403 || code != "forbidden" || field != "role" {
			t.Fatalf("%d %s", r.Status, r.Body)
		}
	})
	t.Run("a token for an account one is not in is 404", func(t *testing.T) {
		r := h.do("POST", "/v1/tokens", w.tokens[store.RoleWriter], map[string]string{"name": "t", "account_id": w.otherAccountID, "role": "reader"})
		if code, field := r.errorOf(t); r.Status != 404 || code != "not_found" || field != "account_id" {
			t.Fatalf("%d %s", r.Status, r.Body)
		}
	})
	t.Run("expires_at in the past is refused", func(t *testing.T) {
		r := h.do("POST", "/v1/tokens", w.admin, map[string]string{"name": "t", "account_id": w.accountID, "role": "reader", "expires_at": "2001-01-01T00:00:00Z"})
		if _, field := r.errorOf(t); r.Status != 400 || field != "expires_at" {
			t.Fatalf("%d %s", r.Status, r.Body)
		}
	})

	created := h.must(201, "POST", "/v1/tokens", w.tokens[store.RoleWriter], map[string]string{"name": "ci", "account_id": w.accountID, "role": "writer"})
	tok, tokID := created["token"].(string), created["token_id"].(string)
	if !strings.HasPrefix(tok, "ccmt_") {
		t.Fatalf("token %q", tok)
	}
	h.must(201, "POST", base+"/apps", tok, map[string]string{"name": "via-token", "type": "edp"})

	t.Run("the secret is shown once", func(t *testing.T) {
		l := h.must(200, "GET", "/v1/tokens", w.tokens[store.RoleWriter], nil)
		items := l["items"].([]any)
		if len(items) != 1 || items[0].(map[string]any)["token"] != nil {
			t.Fatalf("list = %v", l)
		}
		if items[0].(map[string]any)["last_used_at"] == nil {
			t.Fatal("last_used_at not recorded")
		}
	})
	t.Run("a manager sees and may revoke the account's tokens; a reader may not", func(t *testing.T) {
		l := h.must(200, "GET", "/v1/tokens", w.tokens[store.RoleManager], nil)
		if n := len(l["items"].([]any)); n != 1 {
			t.Fatalf("manager sees %d tokens", n)
		}
		if r := h.do("DELETE", "/v1/tokens/"+tokID, w.tokens[store.RoleReader], nil); r.Status != 404 {
			t.Fatalf("reader revoke: %d", r.Status)
		}
	})
	t.Run("demoting the creator limits the token", func(t *testing.T) {
		h.must(200, "PATCH", base+"/members/"+w.userIDs[store.RoleWriter], w.admin, map[string]string{"role": "reader"})
		if r := h.do("POST", base+"/apps", tok, map[string]string{"name": "x2", "type": "edp"}); r.Status != 403 {
			t.Fatalf("token of a demoted creator still writes: %d", r.Status)
		}
		h.must(200, "PATCH", base+"/members/"+w.userIDs[store.RoleWriter], w.admin, map[string]string{"role": "writer"})
	})
	t.Run("a token sees only its account", func(t *testing.T) {
		me := h.must(200, "GET", "/v1/me", tok, nil)
		if n := len(me["accounts"].([]any)); n != 1 {
			t.Fatalf("token sees %d accounts", n)
		}
		l := h.must(200, "GET", "/v1/accounts", tok, nil)
		if n := len(l["items"].([]any)); n != 1 {
			t.Fatalf("token lists %d accounts", n)
		}
	})
	t.Run("an expired token stops working", func(t *testing.T) {
		exp := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
		short := h.must(201, "POST", "/v1/tokens", w.admin, map[string]string{"name": "short", "account_id": w.accountID, "role": "reader", "expires_at": exp})["token"].(string)
		h.must(200, "GET", base, short, nil)
		saved := h.api.id
		h.api.id = mustIdentityAt(t, h, time.Now().Add(2*time.Hour))
		defer func() { h.api.id = saved }()
		if r := h.do("GET", base, short, nil); r.Status != 401 {
			t.Fatalf("expired token: %d", r.Status)
		}
	})
	h.must(204, "DELETE", "/v1/tokens/"+tokID, w.tokens[store.RoleManager], nil)
	if r := h.do("GET", base, tok, nil); r.Status != 401 {
		t.Fatalf("revoked token works: %d", r.Status)
	}
	t.Run("removing the creator from the account disables the token", func(t *testing.T) {
		tk := h.must(201, "POST", "/v1/tokens", w.tokens[store.RoleReader], map[string]string{"name": "r", "account_id": w.accountID, "role": "reader"})["token"].(string)
		h.must(204, "DELETE", base+"/members/"+w.userIDs[store.RoleReader], w.admin, nil)
		if r := h.do("GET", base, tk, nil); r.Status != 404 {
			t.Fatalf("token of a removed member: %d", r.Status)
		}
	})
}

func TestLastManager(t *testing.T) {
	h := newHarness(t)
	_, admin := h.signupAndLogin("admin@example.com")
	acct := h.must(201, "POST", "/v1/accounts", admin, map[string]string{"name": "solo"})
	base := "/v1/accounts/" + acct["account_id"].(string)
	me := h.must(200, "GET", "/v1/me", admin, nil)
	uid := me["user_id"].(string)
	for _, r := range []response{
		h.do("PATCH", base+"/members/"+uid, admin, map[string]string{"role": "writer"}),
		h.do("DELETE", base+"/members/"+uid, admin, nil),
	} {
		if code, _ := r.errorOf(t); r.Status != 409 || code != "conflict" {
			t.Fatalf("last manager: %d %s", r.Status, r.Body)
		}
	}
	t.Run("two managers demoting each other at once leave one manager", func(t *testing.T) {
		m2 := h.must(201, "POST", base+"/members", admin, map[string]string{"email": "m2@example.com", "role": "manager", "password": testPassword})
		tok2 := h.login("m2@example.com")
		var wg sync.WaitGroup
		var s1, s2 int
		wg.Add(2)
		go func() {
			defer wg.Done()
			s1 = h.do("PATCH", base+"/members/"+m2["user_id"].(string), admin, map[string]string{"role": "reader"}).Status
		}()
		go func() {
			defer wg.Done()
			s2 = h.do("PATCH", base+"/members/"+uid, tok2, map[string]string{"role": "reader"}).Status
		}()
		wg.Wait()
		n, err := h.st.CountMembersWithRole(context.Background(), acct["account_id"].(string), store.RoleManager)
		if err != nil || n != 1 {
			t.Fatalf("managers left: %d (%v); statuses %d %d", n, err, s1, s2)
		}
	})
}

func TestMembers(t *testing.T) {
	h := newHarness(t)
	w := h.newWorld()
	base := "/v1/accounts/" + w.accountID + "/members"
	r := h.do("POST", base, w.admin, map[string]string{"email": "fresh@example.com", "role": "reader"})
	if _, field := r.errorOf(t); r.Status != 400 || field != "password" {
		t.Fatalf("new user without password: %d %s", r.Status, r.Body)
	}
	r = h.do("POST", base, w.admin, map[string]string{"email": "outsider@example.com", "role": "reader", "password": "a new password!!"})
	if _, field := r.errorOf(t); r.Status != 400 || field != "password" {
		t.Fatalf("password for an existing user: %d %s", r.Status, r.Body)
	}
	// An existing user (member elsewhere) joins without a password.
	h.must(201, "POST", base, w.admin, map[string]string{"email": "Outsider@example.com", "role": "writer"})
	if r := h.do("POST", base, w.admin, map[string]string{"email": "outsider@example.com", "role": "writer"}); r.Status != 409 {
		t.Fatalf("second add: %d", r.Status)
	}
	if r := h.do("POST", base, w.admin, map[string]string{"email": "x@example.com", "role": "owner", "password": testPassword}); r.Status != 400 {
		t.Fatalf("bad role: %d", r.Status)
	}
}

func TestAccounts(t *testing.T) {
	h := newHarness(t)
	_, admin := h.signupAndLogin("admin@example.com")
	a := h.must(201, "POST", "/v1/accounts", admin, map[string]string{"name": "Acme Corp / EU"})
	if a["trust_domain"] != "acme-corp---eu" {
		t.Fatalf("trust domain %v", a["trust_domain"])
	}
	if r := h.do("POST", "/v1/accounts", admin, map[string]string{"name": "Acme Corp / EU"}); r.Status != 409 {
		t.Fatalf("duplicate name: %d", r.Status)
	}
	base := "/v1/accounts/" + a["account_id"].(string)
	bad := []struct {
		body  map[string]any
		field string
	}{
		{map[string]any{"approval_policy": map[string]any{"required_approvals": 11}}, "approval_policy.required_approvals"},
		{map[string]any{"approval_policy": map[string]any{"required_approvals": 0}}, "approval_policy.required_approvals"},
		{map[string]any{"azure_cvm_pcr_priority": []int{0, 1, 2}}, "azure_cvm_pcr_priority"},
		{map[string]any{"azure_cvm_pcr_priority": []int{0, 0, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22}}, "azure_cvm_pcr_priority[1]"},
		{map[string]any{"azure_cvm_pcr_priority": []int{23, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22}}, "azure_cvm_pcr_priority[0]"},
		{map[string]any{"trust_domain": "Bad Domain"}, "trust_domain"},
		{map[string]any{"sgx_accepted_tcb_statuses": []string{"UpToDate", "Revoked"}}, "sgx_accepted_tcb_statuses[1]"},
		{map[string]any{"sgx_accepted_tcb_statuses": []string{}}, "sgx_accepted_tcb_statuses"},
		{map[string]any{"name": "  "}, "name"},
	}
	for _, b := range bad {
		r := h.do("PATCH", base, admin, b.body)
		if code, field := r.errorOf(t); r.Status != 400 || code != "validation_failed" || field != b.field {
			t.Errorf("PATCH %v: %d %s", b.body, r.Status, r.Body)
		}
	}
	prio := []int{7, 0, 1, 2, 3, 4, 5, 6, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22}
	u := h.must(200, "PATCH", base, admin, map[string]any{
		"approval_policy":           map[string]any{"required_approvals": 3, "allow_self_approval": false},
		"azure_cvm_pcr_priority":    prio,
		"sgx_accepted_tcb_statuses": []string{"UpToDate", "unknown"},
	})
	pol := u["approval_policy"].(map[string]any)
	if pol["required_approvals"] != float64(3) || pol["allow_self_approval"] != false || u["azure_cvm_pcr_priority"].([]any)[0] != float64(7) {
		t.Fatalf("update not applied: %v", u)
	}
	// A later partial patch keeps what it does not name.
	u = h.must(200, "PATCH", base, admin, map[string]any{"approval_policy": map[string]any{"required_approvals": 2}})
	if u["approval_policy"].(map[string]any)["allow_self_approval"] != false {
		t.Fatalf("partial patch reset other fields: %v", u)
	}
	h.must(204, "DELETE", base, admin, nil)
	if r := h.do("GET", base, admin, nil); r.Status != 404 {
		t.Fatalf("deleted account: %d", r.Status)
	}
}

func TestPaging(t *testing.T) {
	h := newHarness(t)
	w := h.newWorld()
	base := "/v1/accounts/" + w.accountID + "/apps"
	for i := 0; i < 6; i++ {
		h.must(201, "POST", base, w.admin, map[string]string{"name": "p" + string(rune('0'+i)), "type": "edp"})
	}
	var names []string
	cur := ""
	for pages := 0; ; pages++ {
		if pages > 10 {
			t.Fatal("paging does not end")
		}
		l := h.must(200, "GET", base+"?type=edp&limit=4&cursor="+cur, w.admin, nil)
		for _, it := range l["items"].([]any) {
			names = append(names, it.(map[string]any)["name"].(string))
		}
		next, ok := l["next_cursor"].(string)
		if !ok {
			break
		}
		cur = next
	}
	if strings.Join(names, ",") != "p0,p1,p2,p3,p4,p5" {
		t.Fatalf("paged names %v", names)
	}
	for _, q := range []string{"?limit=0", "?limit=501", "?limit=x", "?cursor=zzz", "?type=nope"} {
		r := h.do("GET", base+q, w.admin, nil)
		if r.Status != 400 {
			t.Errorf("%s: %d", q, r.Status)
		}
	}
}
