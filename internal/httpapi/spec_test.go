package httpapi

import (
	"sort"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/openccm/openccm/api"
)

// TestSpecMatchesRoutes checks that every route the server registers is in
// api/openapi.yaml and every operation of the spec is served.
func TestSpecMatchesRoutes(t *testing.T) {
	var doc struct {
		OpenAPI string                    `yaml:"openapi"`
		Paths   map[string]map[string]any `yaml:"paths"`
	}
	if err := yaml.Unmarshal(api.Spec, &doc); err != nil {
		t.Fatalf("api/openapi.yaml: %v", err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Fatalf("openapi version %q", doc.OpenAPI)
	}
	inSpec := map[string]bool{}
	for path, ops := range doc.Paths {
		for method, v := range ops {
			op, ok := v.(map[string]any)
			switch method {
			case "get", "post", "put", "patch", "delete":
			default:
				continue // parameters, summary, …
			}
			if !ok {
				t.Errorf("%s %s is not an operation object", method, path)
				continue
			}
			inSpec[strings.ToUpper(method)+" "+path] = true
			if op["operationId"] == nil {
				t.Errorf("%s %s has no operationId", method, path)
			}
		}
	}
	h := newHarness(t)
	served := map[string]bool{}
	for _, rt := range h.api.routes {
		key := rt.method + " " + rt.pattern
		served[key] = true
		if !inSpec[key] {
			t.Errorf("route %s is not in api/openapi.yaml", key)
		}
	}
	var keys []string
	for k := range inSpec {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if !served[k] {
			t.Errorf("api/openapi.yaml has %s, which the server does not serve", k)
			continue
		}
		// And the mux really routes it (not to the catch-all).
		method, path, _ := strings.Cut(k, " ")
		path = strings.NewReplacer("{account_id}", "x", "{registry_id}", "x", "{app_id}", "x", "{user_id}", "x", "{token_id}", "x", "{image_id}", "x", "{task_id}", "x", "{certificate_id}", "x").Replace(path)
		r := h.do(method, path, "", nil)
		if r.Status == 405 || (r.Status == 404 && strings.Contains(string(r.Body), "no route matches")) {
			t.Errorf("%s is not routed: %d %s", k, r.Status, r.Body)
		}
	}
	if len(inSpec) == 0 {
		t.Fatal("the spec has no operations")
	}
}

func TestSpecIsServed(t *testing.T) {
	h := newHarness(t)
	r := h.do("GET", "/api/openapi.yaml", "", nil)
	if r.Status != 200 || string(r.Body) != string(api.Spec) || !strings.Contains(r.Header.Get("Content-Type"), "yaml") {
		t.Fatalf("GET /api/openapi.yaml: %d %q", r.Status, r.Header.Get("Content-Type"))
	}
}

func TestOperationsEndpoints(t *testing.T) {
	h := newHarness(t)
	h.must(200, "GET", "/healthz", "", nil)
	h.must(200, "GET", "/readyz", "", nil)
	v := h.must(200, "GET", "/v1/version", "", nil)
	if v["schema_version"].(float64) < 1 || v["go_version"] == "" {
		t.Fatalf("version %v", v)
	}
	h.do("GET", "/v1/me", "", nil)
	r := h.do("GET", "/metrics", "", nil)
	if r.Status != 200 || !strings.Contains(string(r.Body), `openccm_http_requests_total{code="401",method="GET",route="GET /v1/me"} 1`) {
		t.Fatalf("metrics: %d\n%s", r.Status, r.Body)
	}
}
