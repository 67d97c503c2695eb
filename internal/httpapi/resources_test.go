package httpapi

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/openccm/openccm/internal/store"
)

func TestRegistries(t *testing.T) {
	h := newHarness(t)
	w := h.newWorld()
	base := "/v1/accounts/" + w.accountID + "/registries"
	const pw = "Sup3r-Secret-Registry-Password"
	var bodies [][]byte
	keep := func(r response) response { bodies = append(bodies, r.Body); return r }

	hub := keep(h.do("POST", base, w.admin, map[string]string{"url": "https://Index.Docker.io/", "username": "bob", "password": pw, "description": "hub"}))
	if hub.Status != 201 || hub.JSON(t)["url"] != "docker.io" {
		t.Fatalf("docker hub registry: %d %s", hub.Status, hub.Body)
	}
	acr := keep(h.do("POST", base, w.admin, map[string]string{"url": "myreg.azurecr.io:443", "username": "bob", "password": pw}))
	if acr.Status != 201 {
		t.Fatalf("%d %s", acr.Status, acr.Body)
	}
	acrID := acr.JSON(t)["registry_id"].(string)
	if r := h.do("POST", base, w.admin, map[string]string{"url": "myreg.azurecr.io:443", "username": "x", "password": "y"}); r.Status != 409 {
		t.Fatalf("duplicate url: %d", r.Status)
	}
	for _, c := range []struct {
		body  map[string]string
		field string
	}{
		{map[string]string{"username": "u", "password": "p"}, "url"},
		{map[string]string{"url": "r.example.com", "password": "p"}, "username"},
		{map[string]string{"url": "r.example.com", "username": "u"}, "password"},
		{map[string]string{"url": "ftp://r.example.com", "username": "u", "password": "p"}, "url"},
		{map[string]string{"url": "r.example.com/path", "username": "u", "password": "p"}, "url"},
		{map[string]string{"url": "r.example.com:99999", "username": "u", "password": "p"}, "url"},
		{map[string]string{"url": "bad_host!", "username": "u", "password": "p"}, "url"},
	} {
		r := keep(h.do("POST", base, w.admin, c.body))
		if code, field := r.errorOf(t); r.Status != 400 || code != "validation_failed" || field != c.field {
			t.Errorf("%v: %d %s", c.body, r.Status, r.Body)
		}
	}

	matches := map[string]string{
		"nginx":                   "docker.io",
		"library/nginx:1.25":      "docker.io",
		"docker.io/library/nginx": "docker.io",
		"index.docker.io/library/nginx@sha256:" + strings.Repeat("a", 64): "docker.io",
		"myreg.azurecr.io:443/team/app:v1":                                "myreg.azurecr.io:443",
	}
	for image, want := range matches {
		r := keep(h.do("GET", base+"/match?image="+image, w.tokens[store.RoleReader], nil))
		if r.Status != 200 || r.JSON(t)["url"] != want {
			t.Errorf("match %s: %d %s, want %s", image, r.Status, r.Body, want)
		}
	}
	if r := h.do("GET", base+"/match?image=quay.io/x/y", w.admin, nil); r.Status != 404 {
		t.Errorf("no match: %d", r.Status)
	}
	if r := h.do("GET", base+"/match", w.admin, nil); r.Status != 400 {
		t.Errorf("match without image: %d", r.Status)
	}
	if r := h.do("GET", base+"/match?image=UPPER/Case", w.admin, nil); r.Status != 400 {
		t.Errorf("match with a bad image: %d", r.Status)
	}

	rec, err := h.st.GetRegistry(context.Background(), w.accountID, acrID)
	if err != nil {
		t.Fatal(err)
	}
	before := rec.PasswordCiphertext
	if bytes.Contains(before, []byte(pw)) {
		t.Fatal("the stored password is not encrypted")
	}
	keep(h.do("PATCH", base+"/"+acrID, w.admin, map[string]string{"password": "a-new-password", "description": "rotated"}))
	user, got, err := h.api.regs.Credentials(context.Background(), w.accountID, acrID)
	if err != nil || user != "bob" || got != "a-new-password" {
		t.Fatalf("credentials after rotation: %q %q %v", user, got, err)
	}
	if r := h.do("PATCH", base+"/"+acrID, w.admin, map[string]string{"password": ""}); r.Status != 400 {
		t.Fatalf("empty password accepted: %d", r.Status)
	}

	t.Run("a sealed password moved to another row does not open", func(t *testing.T) {
		other, _ := h.st.GetRegistry(context.Background(), w.accountID, hub.JSON(t)["registry_id"].(string))
		other.PasswordCiphertext = before
		if err := h.st.UpdateRegistry(context.Background(), other); err != nil {
			t.Fatal(err)
		}
		if _, _, err := h.api.regs.Credentials(context.Background(), w.accountID, other.ID); err == nil {
			t.Fatal("a ciphertext copied from another row opened")
		}
	})

	keep(h.do("GET", base, w.admin, nil))
	if r := keep(h.do("GET", base+"/"+acrID, w.tokens[store.RoleReader], nil)); r.Status != 200 {
		t.Fatalf("get: %d", r.Status)
	}
	h.must(204, "DELETE", base+"/"+acrID, w.admin, nil)
	if r := h.do("GET", base+"/"+acrID, w.admin, nil); r.Status != 404 {
		t.Fatalf("deleted registry: %d", r.Status)
	}

	for _, secret := range []string{pw, "a-new-password", "registry-pass-A", "registry-pass-B"} {
		for _, b := range bodies {
			if bytes.Contains(b, []byte(secret)) {
				t.Fatalf("a response carries a registry password: %s", b)
			}
		}
		if strings.Contains(h.logs.String(), secret) {
			t.Fatalf("the log carries a registry password")
		}
		if strings.Contains(h.logs.String(), testPassword) {
			t.Fatalf("the log carries a user password")
		}
	}
}

func TestApps(t *testing.T) {
	h := newHarness(t)
	w := h.newWorld()
	base := "/v1/accounts/" + w.accountID + "/apps"
	a := h.must(201, "POST", base, w.admin, map[string]any{
		"name": "payments", "type": "enclave_os", "description": "pay",
		"domains":          []string{"Payments.Example.com", "*.pay.example.com"},
		"input_image_name": "docker.io/library/nginx", "output_image_name": "registry.example.com:5000/payments-nitro",
		"certificate": map[string]any{"validity_days": 90, "key_path": "/opt/ccm/key.pem", "cert_path": "/opt/ccm/cert.pem"},
		"labels":      map[string]string{"team": "pay"},
	})
	if d := a["domains"].([]any); d[0] != "payments.example.com" || len(a["approved_domains"].([]any)) != 0 {
		t.Fatalf("domains %v approved %v", a["domains"], a["approved_domains"])
	}
	c := a["certificate"].(map[string]any)
	if c["enabled"] != true || c["validity_days"] != float64(90) || c["key_path"] != "/opt/ccm/key.pem" {
		t.Fatalf("certificate %v", c)
	}
	id := a["app_id"].(string)
	// Its domains wait for approval; approve them so that they can change again.
	h.must(200, "POST", "/v1/accounts/"+w.accountID+"/tasks/"+a["pending_domain_task_id"].(string)+"/approve", w.admin, nil)
	if r := h.do("POST", base, w.admin, map[string]any{"name": "payments", "type": "edp"}); r.Status != 409 {
		t.Fatalf("duplicate name: %d", r.Status)
	}
	// The same name in another account is fine.
	h.must(201, "POST", "/v1/accounts/"+w.otherAccountID+"/apps", w.admin, map[string]any{"name": "payments", "type": "edp"})

	d := h.must(201, "POST", base, w.admin, map[string]any{"name": "defaults", "type": "azure_cvm"})
	if c := d["certificate"].(map[string]any); c["enabled"] != true || c["validity_days"] != float64(30) {
		t.Fatalf("default certificate %v", c)
	}

	u := h.must(200, "PATCH", base+"/"+id, w.admin, map[string]any{"description": "new", "certificate": map[string]any{"enabled": false}})
	if u["description"] != "new" || u["certificate"].(map[string]any)["validity_days"] != float64(90) ||
		u["certificate"].(map[string]any)["enabled"] != false || len(u["domains"].([]any)) != 2 || u["labels"].(map[string]any)["team"] != "pay" {
		t.Fatalf("patch changed more than it named: %v", u)
	}
	for _, c := range []struct {
		body  map[string]any
		field string
	}{
		{map[string]any{"type": "edp"}, "type"},
		{map[string]any{"output_image_name": ""}, "output_image_name"},
		{map[string]any{"name": ""}, "name"},
		{map[string]any{"domains": []string{"a.example.com", "A.example.com"}}, "domains[1]"},
	} {
		r := h.do("PATCH", base+"/"+id, w.admin, c.body)
		if _, field := r.errorOf(t); r.Status != 400 || field != c.field {
			t.Errorf("PATCH %v: %d %s", c.body, r.Status, r.Body)
		}
	}
	if r := h.do("PATCH", base+"/"+id, w.admin, map[string]any{"name": "defaults"}); r.Status != 409 {
		t.Fatalf("rename onto another app: %d", r.Status)
	}
	u = h.must(200, "PATCH", base+"/"+id, w.admin, map[string]any{"domains": []string{}, "labels": map[string]string{}})
	if len(u["domains"].([]any)) != 0 || len(u["labels"].(map[string]any)) != 0 {
		t.Fatalf("clearing domains/labels: %v", u)
	}
	l := h.must(200, "GET", base+"?type=azure_cvm", w.tokens[store.RoleReader], nil)
	if items := l["items"].([]any); len(items) != 1 || items[0].(map[string]any)["name"] != "defaults" {
		t.Fatalf("filter by type: %v", l)
	}
	if r := h.do("DELETE", base+"/"+id+"?cascade=maybe", w.admin, nil); r.Status != 400 {
		t.Fatalf("bad cascade: %d", r.Status)
	}
	h.must(204, "DELETE", base+"/"+id, w.admin, nil)
	if r := h.do("GET", base+"/"+id, w.admin, nil); r.Status != 404 {
		t.Fatalf("deleted app: %d", r.Status)
	}
}
