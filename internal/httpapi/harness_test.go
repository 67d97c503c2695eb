package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openccm/openccm/api"
	"github.com/openccm/openccm/internal/attest"
	"github.com/openccm/openccm/internal/core"
	"github.com/openccm/openccm/internal/identity"
	"github.com/openccm/openccm/internal/password"
	"github.com/openccm/openccm/internal/platform"
	"github.com/openccm/openccm/internal/secret"
	"github.com/openccm/openccm/internal/store"
	"github.com/openccm/openccm/internal/store/sqlstore"
	"github.com/openccm/openccm/internal/store/sqlstore/sqltest"
)

// harness is the real API on a temp SQLite store (the store "fake").
type harness struct {
	t        *testing.T
	api      *API
	st       store.Store
	logs     *bytes.Buffer
	backend  sqltest.Backend
	database string
}

// newHarness runs the API on a temp SQLite database.
func newHarness(t *testing.T) *harness {
	return newHarnessOn(t, sqltest.Backend{Name: "sqlite", Driver: "sqlite", NewDatabase: sqltest.NewSQLite})
}

// newHarnessOn runs the API on a new database of the backend.
func newHarnessOn(t *testing.T, b sqltest.Backend) *harness {
	t.Helper()
	ctx := context.Background()
	logs := &bytes.Buffer{}
	log := slog.New(slog.NewTextHandler(&lockedWriter{w: logs}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	database := b.NewDatabase(t)
	db, err := sqlstore.Open(ctx, database, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	box, err := secret.New(bytes.Repeat([]byte{9}, secret.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	svc, err := core.New(core.Config{Store: db, Box: box, Log: log, PasswordParams: password.Fast,
		Verifiers: map[platform.Platform]platform.Verifier{
			platform.SEVSNP: fakeSNP{platform.SEVSNP}, platform.ACI: fakeSNP{platform.ACI},
		}})
	if err != nil {
		t.Fatal(err)
	}
	a, err := New(Config{Services: svc, DB: db, Spec: api.Spec, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	return &harness{t: t, api: a, st: db, logs: logs, backend: b, database: database}
}

// lockedWriter serialises writes to the log buffer from concurrent requests.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

type response struct {
	Status int
	Header http.Header
	Body   []byte
}

func (r response) JSON(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.Body, &m); err != nil {
		t.Fatalf("response %d is not a JSON object: %q", r.Status, r.Body)
	}
	return m
}

// errorOf returns the error body's code and field.
func (r response) errorOf(t *testing.T) (code, field string) {
	t.Helper()
	e, ok := r.JSON(t)["error"].(map[string]any)
	if !ok {
		t.Fatalf("status %d without an error body: %s", r.Status, r.Body)
	}
	code, _ = e["code"].(string)
	field, _ = e["field"].(string)
	return code, field
}

// do sends a request; body may be nil, a string (sent as is) or a value
// (encoded as JSON).
func (h *harness) do(method, path, token string, body any) response {
	h.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			h.t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req := httptest.NewRequest(method, path, rd)
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	rec := httptest.NewRecorder()
	h.api.ServeHTTP(rec, req)
	return response{Status: rec.Code, Header: rec.Header(), Body: rec.Body.Bytes()}
}

// must sends a request and fails the test unless the status is want.
func (h *harness) must(want int, method, path, token string, body any) map[string]any {
	h.t.Helper()
	r := h.do(method, path, token, body)
	if r.Status != want {
		h.t.Fatalf("%s %s: status %d, want %d: %s", method, path, r.Status, want, r.Body)
	}
	if len(r.Body) == 0 {
		return nil
	}
	return r.JSON(h.t)
}

const testPassword = "correct horse battery staple"

// signup creates the first user (or, with signup open, another) and signs in.
func (h *harness) signupAndLogin(email string) (userID, token string) {
	h.t.Helper()
	u := h.must(201, "POST", "/v1/signup", "", map[string]string{"email": email, "password": testPassword})
	return u["user_id"].(string), h.login(email)
}

func (h *harness) login(email string) string {
	h.t.Helper()
	s := h.must(201, "POST", "/v1/sessions", "", map[string]string{"email": email, "password": testPassword})
	return s["token"].(string)
}

// world is a signed-up admin with an account and three more members.
type world struct {
	accountID          string
	admin              string // token of the account's creator (manager)
	tokens             map[store.Role]string
	userIDs            map[store.Role]string
	registryID, appID  string
	otherAccountID     string
	otherAdmin         string
	otherRegistryID    string
	otherAppID         string
	otherMemberUserID  string
	spareMemberUserID  string
	spareMemberEmail   string
	otherAccountsToken string
	// An sev_snp image of app-a with its (pending) approval task, and the same in the other account.
	imageID, taskID           string
	otherImageID, otherTaskID string
	// A certificate issued to an attested instance of app-a, and one in the other account.
	certID, otherCertID string
}

func (h *harness) newWorld() *world {
	h.t.Helper()
	w := &world{tokens: map[store.Role]string{}, userIDs: map[store.Role]string{}}
	_, w.admin = h.signupAndLogin("admin@example.com")
	w.accountID = h.must(201, "POST", "/v1/accounts", w.admin, map[string]string{"name": "acme"})["account_id"].(string)
	base := "/v1/accounts/" + w.accountID
	for _, role := range []store.Role{store.RoleManager, store.RoleWriter, store.RoleReader} {
		email := string(role) + "@example.com"
		m := h.must(201, "POST", base+"/members", w.admin, map[string]string{"email": email, "role": string(role), "password": testPassword})
		w.userIDs[role] = m["user_id"].(string)
		w.tokens[role] = h.login(email)
	}
	w.spareMemberEmail = "spare@example.com"
	w.spareMemberUserID = h.must(201, "POST", base+"/members", w.admin,
		map[string]string{"email": w.spareMemberEmail, "role": "reader", "password": testPassword})["user_id"].(string)
	w.registryID = h.must(201, "POST", base+"/registries", w.admin,
		map[string]string{"url": "registry.example.com", "username": "u", "password": "registry-pass-A"})["registry_id"].(string)
	w.appID = h.must(201, "POST", base+"/apps", w.admin, map[string]any{"name": "app-a", "type": "sev_snp"})["app_id"].(string)

	// Another account, created by the same admin but in which the role
	// users are not members; and its own objects.
	w.otherAccountID = h.must(201, "POST", "/v1/accounts", w.admin, map[string]string{"name": "globex"})["account_id"].(string)
	ob := "/v1/accounts/" + w.otherAccountID
	w.otherAdmin = w.admin
	w.otherRegistryID = h.must(201, "POST", ob+"/registries", w.admin,
		map[string]string{"url": "registry.example.com", "username": "u", "password": "registry-pass-B"})["registry_id"].(string)
	w.otherAppID = h.must(201, "POST", ob+"/apps", w.admin, map[string]any{"name": "app-b", "type": "sev_snp"})["app_id"].(string)
	w.otherMemberUserID = h.must(201, "POST", ob+"/members", w.admin,
		map[string]string{"email": "outsider@example.com", "role": "reader", "password": testPassword})["user_id"].(string)
	img := h.must(201, "POST", base+"/apps/"+w.appID+"/images", w.admin, map[string]any{"version": "1", "measurement": strings.Repeat("11", 48)})
	w.imageID, w.taskID = img["image_id"].(string), img["task_id"].(string)
	img = h.must(201, "POST", ob+"/apps/"+w.otherAppID+"/images", w.admin, map[string]any{"version": "1", "measurement": strings.Repeat("11", 48)})
	w.otherImageID, w.otherTaskID = img["image_id"].(string), img["task_id"].(string)
	w.certID = h.issueCertificate(w.admin, w.accountID, w.appID, 0x22)
	w.otherCertID = h.issueCertificate(w.admin, w.otherAccountID, w.otherAppID, 0x22)
	return w
}

func (h *harness) doRaw(method, path, token string, body io.Reader, contentType string) response {
	h.t.Helper()
	req := httptest.NewRequest(method, path, body)
	if contentType == "" {
		contentType = "application/json"
	}
	req.Header.Set("Content-Type", contentType)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	rec := httptest.NewRecorder()
	h.api.ServeHTTP(rec, req)
	return response{Status: rec.Code, Header: rec.Header(), Body: rec.Body.Bytes()}
}

func (h *harness) doWithHeader(method, path string, headers map[string]string) response {
	h.t.Helper()
	req := httptest.NewRequest(method, path, nil)
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.api.ServeHTTP(rec, req)
	return response{Status: rec.Code, Header: rec.Header(), Body: rec.Body.Bytes()}
}

// mustIdentityAt returns an identity service on the harness's store whose
// clock reads now.
func mustIdentityAt(t *testing.T, h *harness, now time.Time) *identity.Service {
	t.Helper()
	id, err := identity.New(identity.Config{Store: h.st, PasswordParams: password.Fast, Now: func() time.Time { return now }, Audit: h.api.audit})
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// mustAttestAt returns an attestation service on the harness's store whose
// clock reads now, with the harness's verifiers.
func mustAttestAt(t *testing.T, h *harness, now time.Time) *attest.Service {
	t.Helper()
	s, err := attest.New(attest.Config{Store: h.st, CA: h.api.ca, Audit: h.api.audit, Now: func() time.Time { return now },
		Verifiers: map[platform.Platform]platform.Verifier{platform.SEVSNP: fakeSNP{platform.SEVSNP}}})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// issueCertificate approves a new sev_snp image of the app and attests as it.
func (h *harness) issueCertificate(token, accountID, appID string, fill byte) string {
	h.t.Helper()
	base := "/v1/accounts/" + accountID
	meas := strings.Repeat(fmt.Sprintf("%02x", fill), 48)
	img := h.must(201, "POST", base+"/apps/"+appID+"/images", token, map[string]any{"version": "cert-" + meas[:4], "measurement": meas})
	h.must(200, "POST", base+"/tasks/"+img["task_id"].(string)+"/approve", token, nil)
	return h.must(200, "POST", "/v1/attest", "", h.newAttestation(accountID, meas, 0).body)["certificate_id"].(string)
}
