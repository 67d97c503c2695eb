package httpapi

import (
	"fmt"
	"strings"
	"testing"

	"github.com/openccm/openccm/internal/store"
)

// sample is a valid request for one account route, and its success status.
type sample struct {
	query  string
	body   any
	status int
}

// accountSamples has one valid request per account-scoped route. The test
// fails when a route is added without a row here, so that every endpoint is
// in the role matrix.
var accountSamples = map[string]sample{
	"GET /v1/accounts/{account_id}":                                       {status: 200},
	"PATCH /v1/accounts/{account_id}":                                     {body: map[string]any{"approval_policy": map[string]any{"required_approvals": 2}}, status: 200},
	"DELETE /v1/accounts/{account_id}":                                    {status: 204},
	"GET /v1/accounts/{account_id}/members":                               {status: 200},
	"POST /v1/accounts/{account_id}/members":                              {body: map[string]string{"email": "new@example.com", "role": "reader", "password": testPassword}, status: 201},
	"PATCH /v1/accounts/{account_id}/members/{user_id}":                   {body: map[string]string{"role": "writer"}, status: 200},
	"DELETE /v1/accounts/{account_id}/members/{user_id}":                  {status: 204},
	"GET /v1/accounts/{account_id}/registries":                            {status: 200},
	"POST /v1/accounts/{account_id}/registries":                           {body: map[string]string{"url": "other.example.com", "username": "u", "password": "p4ssword"}, status: 201},
	"GET /v1/accounts/{account_id}/registries/match":                      {query: "?image=registry.example.com/team/app:1", status: 200},
	"GET /v1/accounts/{account_id}/registries/{registry_id}":              {status: 200},
	"PATCH /v1/accounts/{account_id}/registries/{registry_id}":            {body: map[string]string{"description": "d"}, status: 200},
	"DELETE /v1/accounts/{account_id}/registries/{registry_id}":           {status: 204},
	"GET /v1/accounts/{account_id}/apps":                                  {status: 200},
	"POST /v1/accounts/{account_id}/apps":                                 {body: map[string]string{"name": "new", "type": "edp"}, status: 201},
	"GET /v1/accounts/{account_id}/apps/{app_id}":                         {status: 200},
	"PATCH /v1/accounts/{account_id}/apps/{app_id}":                       {body: map[string]string{"description": "x"}, status: 200},
	"DELETE /v1/accounts/{account_id}/apps/{app_id}":                      {query: "?cascade=true", status: 204},
	"POST /v1/accounts/{account_id}/apps/{app_id}/images":                 {body: map[string]any{"version": "9", "measurement": strings.Repeat("77", 48)}, status: 201},
	"GET /v1/accounts/{account_id}/apps/{app_id}/images":                  {status: 200},
	"GET /v1/accounts/{account_id}/images":                                {status: 200},
	"GET /v1/accounts/{account_id}/images/{image_id}":                     {status: 200},
	"DELETE /v1/accounts/{account_id}/images/{image_id}":                  {status: 204},
	"GET /v1/accounts/{account_id}/images/{image_id}/build":               {status: 404}, // a ready image has no build
	"GET /v1/accounts/{account_id}/images/{image_id}/policy":              {status: 404}, // only aci images have one
	"GET /v1/accounts/{account_id}/tasks":                                 {status: 200},
	"GET /v1/accounts/{account_id}/tasks/{task_id}":                       {status: 200},
	"POST /v1/accounts/{account_id}/tasks/{task_id}/approve":              {body: map[string]string{"comment": "ok"}, status: 200},
	"POST /v1/accounts/{account_id}/tasks/{task_id}/deny":                 {body: map[string]string{"reason": "no"}, status: 200},
	"POST /v1/accounts/{account_id}/attest/explain":                       {body: map[string]any{"platform": "azure_cvm", "pcrs": map[string]string{}}, status: 200},
	"GET /v1/accounts/{account_id}/certificates":                          {status: 200},
	"GET /v1/accounts/{account_id}/certificates/{certificate_id}":         {status: 200},
	"POST /v1/accounts/{account_id}/certificates/{certificate_id}/revoke": {body: map[string]string{"reason": "test"}, status: 200},
	"GET /v1/accounts/{account_id}/audit":                                 {status: 200},
	"GET /v1/accounts/{account_id}/audit/verify":                          {status: 200},
}

// fill puts a world's IDs into a route pattern. other selects, for object
// IDs, the other account's objects.
func fill(pattern string, accountID string, w *world, otherObjects bool) string {
	reg, ap, user, img, task, cert := w.registryID, w.appID, w.spareMemberUserID, w.imageID, w.taskID, w.certID
	if otherObjects {
		reg, ap, user, img, task, cert = w.otherRegistryID, w.otherAppID, w.otherMemberUserID, w.otherImageID, w.otherTaskID, w.otherCertID
	}
	return strings.NewReplacer("{account_id}", accountID, "{registry_id}", reg, "{app_id}", ap, "{user_id}", user,
		"{image_id}", img, "{task_id}", task, "{certificate_id}", cert).Replace(pattern)
}

func accountRoutes(t *testing.T, a *API) []route {
	var out []route
	for _, rt := range a.routes {
		if rt.access.scope != accountScoped {
			continue
		}
		if _, ok := accountSamples[rt.method+" "+rt.pattern]; !ok {
			t.Errorf("route %s %s has no row in accountSamples: add it to the role matrix", rt.method, rt.pattern)
		}
		out = append(out, rt)
	}
	return out
}

// TestRoleMatrix checks every account endpoint × every role, for session
// tokens and for API tokens, against the policy table: a role below the
// route's gets 403, a role at or above it gets the route's success status.
func TestRoleMatrix(t *testing.T) {
	routes := accountRoutes(t, newHarness(t).api)
	for _, rt := range routes {
		s := accountSamples[rt.method+" "+rt.pattern]
		for _, role := range []store.Role{store.RoleReader, store.RoleWriter, store.RoleManager} {
			for _, via := range []string{"session", "api token"} {
				name := fmt.Sprintf("%s %s as %s via %s", rt.method, rt.pattern, role, via)
				t.Run(name, func(t *testing.T) {
					h := newHarness(t)
					w := h.newWorld()
					tok := w.tokens[role]
					if via == "api token" {
						// The admin's token limited to this role: the token's
						// role, not the creator's, must decide.
						tok = h.must(201, "POST", "/v1/tokens", w.admin,
							map[string]string{"name": "t", "account_id": w.accountID, "role": string(role)})["token"].(string)
					}
					r := h.do(rt.method, fill(rt.pattern, w.accountID, w, false)+s.query, tok, s.body)
					want := s.status
					if !role.AtLeast(rt.access.role) {
						want = 403
					}
					if r.Status != want {
						t.Fatalf("status %d, want %d: %s", r.Status, want, r.Body)
					}
					if want == 403 {
						if code, _ := r.errorOf(t); code != "forbidden" {
							t.Fatalf("code %q, want forbidden", code)
						}
					}
				})
			}
		}
	}
}

// TestOtherAccountsAreInvisible checks that another account's objects are
// always 404: through the other account's path, and through one's own
// account path with the other account's object IDs.
func TestOtherAccountsAreInvisible(t *testing.T) {
	h := newHarness(t)
	w := h.newWorld()
	routes := accountRoutes(t, h.api)
	// A manager of account A who is not a member of account B.
	mgr := w.tokens[store.RoleManager]
	// The admin is a manager of both, but this API token is limited to A.
	scoped := h.must(201, "POST", "/v1/tokens", w.admin,
		map[string]string{"name": "a-only", "account_id": w.accountID, "role": "manager"})["token"].(string)
	for _, rt := range routes {
		s := accountSamples[rt.method+" "+rt.pattern]
		cases := []struct {
			name, path, token string
		}{
			{"a non-member in the other account", fill(rt.pattern, w.otherAccountID, w, true), mgr},
			{"an API token of another account", fill(rt.pattern, w.otherAccountID, w, true), scoped},
			{"a missing account", fill(rt.pattern, "01a22850-0000-7000-8000-000000000000", w, true), mgr},
			{"a malformed account id", fill(rt.pattern, "not-a-uuid", w, true), mgr},
		}
		if strings.Contains(rt.pattern, "{registry_id}") || strings.Contains(rt.pattern, "{app_id}") || strings.Contains(rt.pattern, "{user_id}") ||
			strings.Contains(rt.pattern, "{image_id}") || strings.Contains(rt.pattern, "{task_id}") || strings.Contains(rt.pattern, "{certificate_id}") {
			cases = append(cases, struct{ name, path, token string }{
				"the other account's object through this account", fill(rt.pattern, w.accountID, w, true), mgr})
		}
		for _, c := range cases {
			t.Run(fmt.Sprintf("%s %s: %s", rt.method, rt.pattern, c.name), func(t *testing.T) {
				r := h.do(rt.method, c.path+s.query, c.token, s.body)
				if r.Status != 404 {
					t.Fatalf("status %d, want 404: %s", r.Status, r.Body)
				}
				if code, _ := r.errorOf(t); code != "not_found" {
					t.Fatalf("code %q, want not_found", code)
				}
			})
		}
	}
	// The other account and its objects are untouched.
	ob := "/v1/accounts/" + w.otherAccountID
	h.must(200, "GET", ob+"/registries/"+w.otherRegistryID, w.admin, nil)
	h.must(200, "GET", ob+"/apps/"+w.otherAppID, w.admin, nil)
}

func TestEveryProtectedRouteNeedsCredentials(t *testing.T) {
	h := newHarness(t)
	w := h.newWorld()
	for _, rt := range h.api.routes {
		if rt.access.scope == public {
			continue
		}
		path := fill(rt.pattern, w.accountID, w, false)
		path = strings.ReplaceAll(path, "{token_id}", "01a22850-0000-7000-8000-000000000000")
		for _, tok := range []string{"", "ccms_bogus", "ccmt_bogus", "Basic xyz"} {
			r := h.do(rt.method, path, tok, nil)
			if r.Status != 401 {
				t.Errorf("%s %s with token %q: status %d, want 401", rt.method, rt.pattern, tok, r.Status)
				continue
			}
			if code, _ := r.errorOf(t); code != "unauthenticated" {
				t.Errorf("%s %s: code %q", rt.method, rt.pattern, code)
			}
			if r.Header.Get("WWW-Authenticate") == "" {
				t.Errorf("%s %s: 401 without WWW-Authenticate", rt.method, rt.pattern)
			}
		}
	}
}

func TestSessionOnlyRoutesRefuseAPITokens(t *testing.T) {
	h := newHarness(t)
	w := h.newWorld()
	tok := h.must(201, "POST", "/v1/tokens", w.admin,
		map[string]string{"name": "t", "account_id": w.accountID, "role": "manager"})["token"].(string)
	for _, rt := range h.api.routes {
		if !rt.access.sessionOnly {
			continue
		}
		r := h.do(rt.method, rt.pattern, tok, map[string]string{})
		if r.Status != 403 {
			t.Errorf("%s %s with an API token: status %d, want 403", rt.method, rt.pattern, r.Status)
		}
	}
}
