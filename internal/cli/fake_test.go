package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openccm/openccm/pkg/apiv1"
)

// fakeServer is a small in-memory OpenCCM server for the CLI's tests. It
// implements the routes the client verbs use, pages lists two items at a
// time (so that the CLI's paging is exercised), and records every request.
type fakeServer struct {
	*httptest.Server

	mu         sync.Mutex
	requests   []recordedRequest
	n          int
	passwords  map[string]string // email → password
	userIDs    map[string]string // email → user ID
	sessions   map[string]string // bearer token → email
	accounts   []*apiv1.Account
	members    map[string][]*apiv1.Member // account ID → members
	tokens     []*apiv1.Token
	registries map[string][]*apiv1.Registry // account ID → registries
	regSecrets map[string]string            // registry ID → password
	apps       map[string][]*apiv1.App      // account ID → apps
	images     imageState                   // images, builds, tasks, audit log: fake_images_test.go
	attest     attestState                  // nonces, the CA, certificates: fake_attest_test.go
}

type recordedRequest struct {
	Method, Path, Query, Body, Auth string
}

var fakeNow = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

func newFakeServer(t *testing.T, tls bool) *fakeServer {
	f := &fakeServer{
		passwords:  map[string]string{},
		userIDs:    map[string]string{},
		sessions:   map[string]string{},
		members:    map[string][]*apiv1.Member{},
		registries: map[string][]*apiv1.Registry{},
		regSecrets: map[string]string{},
		apps:       map[string][]*apiv1.App{},
	}
	mux := http.NewServeMux()
	f.routes(mux)
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(strings.NewReader(string(body)))
		f.mu.Lock()
		defer f.mu.Unlock()
		f.requests = append(f.requests, recordedRequest{
			Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery,
			Body: string(body), Auth: r.Header.Get("Authorization"),
		})
		mux.ServeHTTP(w, r)
	})
	f.Server = httptest.NewUnstartedServer(handler)
	f.Config.ErrorLog = discardLog
	if tls {
		f.StartTLS()
	} else {
		f.Start()
	}
	t.Cleanup(f.Close)
	return f
}

// last returns the last request whose method and path match.
func (f *fakeServer) last(method, path string) (recordedRequest, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := len(f.requests) - 1; i >= 0; i-- {
		if r := f.requests[i]; r.Method == method && r.Path == path {
			return r, true
		}
	}
	return recordedRequest{}, false
}

func (f *fakeServer) allRequests() []recordedRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.requests)
}

func (f *fakeServer) id() string {
	f.n++
	return fmt.Sprintf("00000000-0000-4000-8000-%012d", f.n)
}

func reply(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	if v != nil {
		json.NewEncoder(w).Encode(v)
	}
}

func fail(w http.ResponseWriter, status int, code, field, msg string) {
	reply(w, status, apiv1.ErrorBody{Error: apiv1.ErrorDetail{Code: code, Message: msg, Field: field}})
}

// page serves items two at a time at most; the cursor is the next index.
func page[T any](w http.ResponseWriter, r *http.Request, items []*T) {
	limit, _ := strconv.Atoi(r.URL.Query().Get("limit"))
	if limit <= 0 || limit > 2 {
		limit = 2
	}
	start, _ := strconv.Atoi(r.URL.Query().Get("cursor"))
	l := apiv1.List[T]{Items: []T{}}
	for i := start; i < len(items) && i < start+limit; i++ {
		l.Items = append(l.Items, *items[i])
	}
	if start+limit < len(items) {
		l.NextCursor = strconv.Itoa(start + limit)
	}
	reply(w, http.StatusOK, l)
}

func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	if err := json.NewDecoder(r.Body).Decode(v); err != nil {
		fail(w, 400, apiv1.CodeInvalidJSON, "", "body is not valid JSON")
		return false
	}
	return true
}

func find[T any](items []*T, match func(*T) bool) (int, *T) {
	for i, it := range items {
		if match(it) {
			return i, it
		}
	}
	return -1, nil
}

func (f *fakeServer) routes(mux *http.ServeMux) {
	// auth wraps the handlers that need a session; the caller's email is passed on.
	auth := func(h func(w http.ResponseWriter, r *http.Request, email string)) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			email, ok := f.sessions[strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")]
			if !ok {
				fail(w, 401, apiv1.CodeUnauthenticated, "", "missing or invalid credentials")
				return
			}
			h(w, r, email)
		}
	}
	// inAccount also checks the account exists.
	inAccount := func(h func(w http.ResponseWriter, r *http.Request, a *apiv1.Account)) http.HandlerFunc {
		return auth(func(w http.ResponseWriter, r *http.Request, _ string) {
			_, a := find(f.accounts, func(a *apiv1.Account) bool { return a.AccountID == r.PathValue("a") })
			if a == nil {
				fail(w, 404, apiv1.CodeNotFound, "", "account not found")
				return
			}
			h(w, r, a)
		})
	}

	mux.HandleFunc("GET /v1/version", func(w http.ResponseWriter, r *http.Request) {
		reply(w, 200, apiv1.Version{Version: "test"})
	})
	mux.HandleFunc("POST /v1/signup", func(w http.ResponseWriter, r *http.Request) {
		var c apiv1.Credentials
		if !decode(w, r, &c) {
			return
		}
		if len(c.Password) < 12 {
			fail(w, 400, apiv1.CodeValidationFailed, "password", "must have at least 12 characters")
			return
		}
		f.passwords[c.Email] = c.Password
		f.userIDs[c.Email] = f.id()
		reply(w, 201, apiv1.User{UserID: f.userIDs[c.Email], Email: c.Email, CreatedAt: fakeNow})
	})
	mux.HandleFunc("POST /v1/sessions", func(w http.ResponseWriter, r *http.Request) {
		var c apiv1.Credentials
		if !decode(w, r, &c) {
			return
		}
		if p, ok := f.passwords[c.Email]; !ok || p != c.Password {
			fail(w, 401, apiv1.CodeUnauthenticated, "", "wrong email or password")
			return
		}
		tok := "session-" + f.id()
		f.sessions[tok] = c.Email
		reply(w, 201, apiv1.Session{Token: tok, ExpiresAt: fakeNow.Add(12 * time.Hour)})
	})
	mux.HandleFunc("DELETE /v1/sessions/current", auth(func(w http.ResponseWriter, r *http.Request, _ string) {
		delete(f.sessions, strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer "))
		w.WriteHeader(204)
	}))

	mux.HandleFunc("POST /v1/tokens", auth(func(w http.ResponseWriter, r *http.Request, email string) {
		var req apiv1.CreateTokenRequest
		if !decode(w, r, &req) {
			return
		}
		t := &apiv1.Token{TokenID: f.id(), Name: req.Name, AccountID: req.AccountID, Role: req.Role,
			CreatedBy: f.userIDs[email], CreatedAt: fakeNow, ExpiresAt: req.ExpiresAt}
		f.tokens = append(f.tokens, t)
		secret := "ccm_" + strings.ReplaceAll(t.TokenID, "-", "")
		f.sessions[secret] = email
		created := *t
		created.Token = secret
		reply(w, 201, created)
	}))
	mux.HandleFunc("GET /v1/tokens", auth(func(w http.ResponseWriter, r *http.Request, _ string) { page(w, r, f.tokens) }))
	mux.HandleFunc("DELETE /v1/tokens/{id}", auth(func(w http.ResponseWriter, r *http.Request, _ string) {
		i, _ := find(f.tokens, func(t *apiv1.Token) bool { return t.TokenID == r.PathValue("id") })
		if i < 0 {
			fail(w, 404, apiv1.CodeNotFound, "", "token not found")
			return
		}
		f.tokens = slices.Delete(f.tokens, i, i+1)
		w.WriteHeader(204)
	}))

	mux.HandleFunc("POST /v1/accounts", auth(func(w http.ResponseWriter, r *http.Request, email string) {
		var req apiv1.CreateAccountRequest
		if !decode(w, r, &req) {
			return
		}
		if req.Name == "" {
			fail(w, 400, apiv1.CodeValidationFailed, "name", "must not be empty")
			return
		}
		a := &apiv1.Account{AccountID: f.id(), Name: req.Name, TrustDomain: strings.ToLower(req.Name), Role: "manager",
			ApprovalPolicy: apiv1.ApprovalPolicy{RequiredApprovals: 1, AllowSelfApproval: true}, CreatedAt: fakeNow, UpdatedAt: fakeNow}
		f.accounts = append(f.accounts, a)
		f.members[a.AccountID] = []*apiv1.Member{{UserID: f.userIDs[email], Email: email, Role: "manager", CreatedAt: fakeNow}}
		reply(w, 201, a)
	}))
	mux.HandleFunc("GET /v1/accounts", auth(func(w http.ResponseWriter, r *http.Request, _ string) { page(w, r, f.accounts) }))
	mux.HandleFunc("GET /v1/accounts/{a}", inAccount(func(w http.ResponseWriter, r *http.Request, a *apiv1.Account) {
		reply(w, 200, a)
	}))
	mux.HandleFunc("PATCH /v1/accounts/{a}", inAccount(func(w http.ResponseWriter, r *http.Request, a *apiv1.Account) {
		var req apiv1.UpdateAccountRequest
		if !decode(w, r, &req) {
			return
		}
		if req.Name != nil {
			a.Name = *req.Name
		}
		if p := req.ApprovalPolicy; p != nil && p.RequiredApprovals != nil {
			a.ApprovalPolicy.RequiredApprovals = *p.RequiredApprovals
		}
		if p := req.ApprovalPolicy; p != nil && p.AllowSelfApproval != nil {
			a.ApprovalPolicy.AllowSelfApproval = *p.AllowSelfApproval
		}
		reply(w, 200, a)
	}))
	mux.HandleFunc("DELETE /v1/accounts/{a}", inAccount(func(w http.ResponseWriter, r *http.Request, a *apiv1.Account) {
		i, _ := find(f.accounts, func(x *apiv1.Account) bool { return x == a })
		f.accounts = slices.Delete(f.accounts, i, i+1)
		w.WriteHeader(204)
	}))

	mux.HandleFunc("GET /v1/accounts/{a}/members", inAccount(func(w http.ResponseWriter, r *http.Request, a *apiv1.Account) {
		page(w, r, f.members[a.AccountID])
	}))
	mux.HandleFunc("POST /v1/accounts/{a}/members", inAccount(func(w http.ResponseWriter, r *http.Request, a *apiv1.Account) {
		var req apiv1.AddMemberRequest
		if !decode(w, r, &req) {
			return
		}
		if _, ok := f.userIDs[req.Email]; !ok {
			if req.Password == "" {
				fail(w, 400, apiv1.CodeValidationFailed, "password", "required for a new user")
				return
			}
			f.userIDs[req.Email] = f.id()
			f.passwords[req.Email] = req.Password
		}
		m := &apiv1.Member{UserID: f.userIDs[req.Email], Email: req.Email, Role: req.Role, CreatedAt: fakeNow}
		f.members[a.AccountID] = append(f.members[a.AccountID], m)
		reply(w, 201, m)
	}))
	mux.HandleFunc("PATCH /v1/accounts/{a}/members/{u}", inAccount(func(w http.ResponseWriter, r *http.Request, a *apiv1.Account) {
		var req apiv1.SetRoleRequest
		if !decode(w, r, &req) {
			return
		}
		_, m := find(f.members[a.AccountID], func(m *apiv1.Member) bool { return m.UserID == r.PathValue("u") })
		if m == nil {
			fail(w, 404, apiv1.CodeNotFound, "", "member not found")
			return
		}
		m.Role = req.Role
		reply(w, 200, m)
	}))
	mux.HandleFunc("DELETE /v1/accounts/{a}/members/{u}", inAccount(func(w http.ResponseWriter, r *http.Request, a *apiv1.Account) {
		i, _ := find(f.members[a.AccountID], func(m *apiv1.Member) bool { return m.UserID == r.PathValue("u") })
		if i < 0 {
			fail(w, 404, apiv1.CodeNotFound, "", "member not found")
			return
		}
		f.members[a.AccountID] = slices.Delete(f.members[a.AccountID], i, i+1)
		w.WriteHeader(204)
	}))

	mux.HandleFunc("GET /v1/accounts/{a}/registries", inAccount(func(w http.ResponseWriter, r *http.Request, a *apiv1.Account) {
		page(w, r, f.registries[a.AccountID])
	}))
	mux.HandleFunc("POST /v1/accounts/{a}/registries", inAccount(func(w http.ResponseWriter, r *http.Request, a *apiv1.Account) {
		var req apiv1.CreateRegistryRequest
		if !decode(w, r, &req) {
			return
		}
		reg := &apiv1.Registry{RegistryID: f.id(), URL: req.URL, Username: req.Username, Description: req.Description, CreatedAt: fakeNow, UpdatedAt: fakeNow}
		f.registries[a.AccountID] = append(f.registries[a.AccountID], reg)
		f.regSecrets[reg.RegistryID] = req.Password
		reply(w, 201, reg)
	}))
	mux.HandleFunc("GET /v1/accounts/{a}/registries/match", inAccount(func(w http.ResponseWriter, r *http.Request, a *apiv1.Account) {
		host, _, _ := strings.Cut(r.URL.Query().Get("image"), "/")
		_, reg := find(f.registries[a.AccountID], func(x *apiv1.Registry) bool { return x.URL == host })
		if reg == nil {
			fail(w, 404, apiv1.CodeNotFound, "", "no saved registry matches")
			return
		}
		reply(w, 200, reg)
	}))
	mux.HandleFunc("GET /v1/accounts/{a}/registries/{r}", inAccount(func(w http.ResponseWriter, r *http.Request, a *apiv1.Account) {
		_, reg := find(f.registries[a.AccountID], func(x *apiv1.Registry) bool { return x.RegistryID == r.PathValue("r") })
		if reg == nil {
			fail(w, 404, apiv1.CodeNotFound, "", "registry not found")
			return
		}
		reply(w, 200, reg)
	}))
	mux.HandleFunc("DELETE /v1/accounts/{a}/registries/{r}", inAccount(func(w http.ResponseWriter, r *http.Request, a *apiv1.Account) {
		i, _ := find(f.registries[a.AccountID], func(x *apiv1.Registry) bool { return x.RegistryID == r.PathValue("r") })
		if i < 0 {
			fail(w, 404, apiv1.CodeNotFound, "", "registry not found")
			return
		}
		f.registries[a.AccountID] = slices.Delete(f.registries[a.AccountID], i, i+1)
		w.WriteHeader(204)
	}))

	appTypes := []string{"enclave_os", "edp", "aci", "sev_snp", "azure_cvm"}
	mux.HandleFunc("GET /v1/accounts/{a}/apps", inAccount(func(w http.ResponseWriter, r *http.Request, a *apiv1.Account) {
		apps := f.apps[a.AccountID]
		if t := r.URL.Query().Get("type"); t != "" {
			apps = slices.DeleteFunc(slices.Clone(apps), func(x *apiv1.App) bool { return x.Type != t })
		}
		page(w, r, apps)
	}))
	mux.HandleFunc("POST /v1/accounts/{a}/apps", inAccount(func(w http.ResponseWriter, r *http.Request, a *apiv1.Account) {
		var req apiv1.CreateAppRequest
		if !decode(w, r, &req) {
			return
		}
		if !slices.Contains(appTypes, req.Type) {
			fail(w, 400, apiv1.CodeValidationFailed, "type", "must be one of "+strings.Join(appTypes, ", "))
			return
		}
		app := &apiv1.App{AppID: f.id(), Name: req.Name, Type: req.Type, Description: req.Description,
			Domains: req.Domains, ApprovedDomains: []string{}, InputImageName: req.InputImageName, OutputImageName: req.OutputImageName,
			Certificate: apiv1.CertificateSettings{Enabled: true, ValidityDays: 30}, Labels: req.Labels, CreatedAt: fakeNow, UpdatedAt: fakeNow}
		if c := req.Certificate; c != nil && c.Enabled != nil {
			app.Certificate.Enabled = *c.Enabled
		}
		f.apps[a.AccountID] = append(f.apps[a.AccountID], app)
		reply(w, 201, app)
	}))
	findApp := func(w http.ResponseWriter, r *http.Request, a *apiv1.Account) (int, *apiv1.App) {
		i, app := find(f.apps[a.AccountID], func(x *apiv1.App) bool { return x.AppID == r.PathValue("app") })
		if app == nil {
			fail(w, 404, apiv1.CodeNotFound, "", "app not found")
		}
		return i, app
	}
	mux.HandleFunc("GET /v1/accounts/{a}/apps/{app}", inAccount(func(w http.ResponseWriter, r *http.Request, a *apiv1.Account) {
		if _, app := findApp(w, r, a); app != nil {
			reply(w, 200, app)
		}
	}))
	mux.HandleFunc("PATCH /v1/accounts/{a}/apps/{app}", inAccount(func(w http.ResponseWriter, r *http.Request, a *apiv1.Account) {
		_, app := findApp(w, r, a)
		if app == nil {
			return
		}
		var req apiv1.UpdateAppRequest
		if !decode(w, r, &req) {
			return
		}
		if req.Description != nil {
			app.Description = *req.Description
		}
		if req.Domains != nil {
			app.Domains = *req.Domains
		}
		reply(w, 200, app)
	}))
	mux.HandleFunc("DELETE /v1/accounts/{a}/apps/{app}", inAccount(func(w http.ResponseWriter, r *http.Request, a *apiv1.Account) {
		i, app := findApp(w, r, a)
		if app == nil {
			return
		}
		if app.Labels["images"] == "yes" && r.URL.Query().Get("cascade") != "true" {
			fail(w, 409, apiv1.CodeConflict, "", "the app has images")
			return
		}
		f.apps[a.AccountID] = slices.Delete(f.apps[a.AccountID], i, i+1)
		w.WriteHeader(204)
	}))

	f.imageRoutes(mux, auth, inAccount, findApp)
	f.attestRoutes(mux, inAccount)
}
