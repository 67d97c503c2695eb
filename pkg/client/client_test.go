package client

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openccm/openccm/pkg/apiv1"
)

// recorder is a fake server that answers every request with a fixed status
// and body and remembers what it was asked.
type recorder struct {
	mu     sync.Mutex
	reqs   []*http.Request
	bodies []string
	status int
	body   string
	ctype  string
}

func (r *recorder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	b, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	r.reqs = append(r.reqs, req)
	r.bodies = append(r.bodies, string(b))
	r.mu.Unlock()
	ct := r.ctype
	if ct == "" {
		ct = "application/json"
	}
	w.Header().Set("Content-Type", ct)
	status := r.status
	if status == 0 {
		status = http.StatusOK
	}
	w.WriteHeader(status)
	io.WriteString(w, r.body)
}

func (r *recorder) last(t *testing.T) (*http.Request, string) {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.reqs) == 0 {
		t.Fatal("the server got no request")
	}
	return r.reqs[len(r.reqs)-1], r.bodies[len(r.bodies)-1]
}

func newTestClient(t *testing.T, h http.Handler, cfg Config) *Client {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	cfg.BaseURL = srv.URL + cfg.BaseURL
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestRequests(t *testing.T) {
	ctx := context.Background()
	const acct = "a/1" // escaped in paths
	tests := []struct {
		name       string
		call       func(c *Client) error
		method     string
		path       string // escaped
		query      string
		wantInBody string
	}{
		{"login posts the credentials", func(c *Client) error {
			_, err := c.Login(ctx, apiv1.Credentials{Email: "a@b.c", Password: "pw"})
			return err
		}, "POST", "/v1/sessions", "", `"password":"pw"`},
		{"logout deletes the current session", func(c *Client) error { return c.Logout(ctx) },
			"DELETE", "/v1/sessions/current", "", ""},
		{"signup posts to signup", func(c *Client) error {
			_, err := c.Signup(ctx, apiv1.Credentials{Email: "a@b.c", Password: "pw"})
			return err
		}, "POST", "/v1/signup", "", `"email":"a@b.c"`},
		{"me", func(c *Client) error { _, err := c.Me(ctx); return err }, "GET", "/v1/me", "", ""},
		{"version", func(c *Client) error { _, err := c.Version(ctx); return err }, "GET", "/v1/version", "", ""},
		{"token revocation escapes the id", func(c *Client) error { return c.DeleteToken(ctx, "t 1") },
			"DELETE", "/v1/tokens/t%201", "", ""},
		{"list tokens sends limit and cursor", func(c *Client) error {
			_, err := c.ListTokens(ctx, ListOptions{Limit: 7, Cursor: "xyz"})
			return err
		}, "GET", "/v1/tokens", "cursor=xyz&limit=7", ""},
		{"account update patches", func(c *Client) error {
			n := "new"
			_, err := c.UpdateAccount(ctx, acct, apiv1.UpdateAccountRequest{Name: &n})
			return err
		}, "PATCH", "/v1/accounts/a%2F1", "", `{"name":"new"}`},
		{"set member role patches the member", func(c *Client) error {
			_, err := c.SetMemberRole(ctx, acct, "u1", "writer")
			return err
		}, "PATCH", "/v1/accounts/a%2F1/members/u1", "", `{"role":"writer"}`},
		{"remove member", func(c *Client) error { return c.RemoveMember(ctx, acct, "u1") },
			"DELETE", "/v1/accounts/a%2F1/members/u1", "", ""},
		{"registry match sends the image", func(c *Client) error {
			_, err := c.MatchRegistry(ctx, acct, "docker.io/library/nginx:1.2")
			return err
		}, "GET", "/v1/accounts/a%2F1/registries/match", "image=docker.io%2Flibrary%2Fnginx%3A1.2", ""},
		{"list apps filters by type", func(c *Client) error {
			_, err := c.ListApps(ctx, acct, "edp", ListOptions{})
			return err
		}, "GET", "/v1/accounts/a%2F1/apps", "type=edp", ""},
		{"delete app with cascade", func(c *Client) error { return c.DeleteApp(ctx, acct, "x", true) },
			"DELETE", "/v1/accounts/a%2F1/apps/x", "cascade=true", ""},
		{"delete app without cascade", func(c *Client) error { return c.DeleteApp(ctx, acct, "x", false) },
			"DELETE", "/v1/accounts/a%2F1/apps/x", "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := &recorder{body: `{}`}
			c := newTestClient(t, rec, Config{Token: "s3cret", UserAgent: "test/1"})
			if err := tc.call(c); err != nil {
				t.Fatal(err)
			}
			req, body := rec.last(t)
			if req.Method != tc.method || req.URL.EscapedPath() != tc.path || req.URL.RawQuery != tc.query {
				t.Errorf("request = %s %s?%s, want %s %s?%s", req.Method, req.URL.EscapedPath(), req.URL.RawQuery, tc.method, tc.path, tc.query)
			}
			if got := req.Header.Get("Authorization"); got != "Bearer s3cret" {
				t.Errorf("Authorization = %q", got)
			}
			if got := req.Header.Get("User-Agent"); got != "test/1" {
				t.Errorf("User-Agent = %q", got)
			}
			if body != "" && req.Header.Get("Content-Type") != "application/json" {
				t.Errorf("Content-Type = %q", req.Header.Get("Content-Type"))
			}
			if !strings.Contains(body, tc.wantInBody) {
				t.Errorf("body %s does not contain %s", body, tc.wantInBody)
			}
		})
	}
}

func TestNoTokenSendsNoAuthorization(t *testing.T) {
	rec := &recorder{body: `{"version":"1"}`}
	c := newTestClient(t, rec, Config{})
	v, err := c.Version(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if v.Version != "1" {
		t.Errorf("version = %q", v.Version)
	}
	req, _ := rec.last(t)
	if h, ok := req.Header["Authorization"]; ok {
		t.Errorf("Authorization sent without a token: %q", h)
	}
	if req.Header.Get("User-Agent") == "" {
		t.Error("no User-Agent")
	}
	// WithToken adds it without changing the original.
	if _, err := c.WithToken("t").Version(context.Background()); err != nil {
		t.Fatal(err)
	}
	if req, _ := rec.last(t); req.Header.Get("Authorization") != "Bearer t" {
		t.Errorf("Authorization = %q", req.Header.Get("Authorization"))
	}
}

func TestBaseURLWithPath(t *testing.T) {
	rec := &recorder{body: `{}`}
	c := newTestClient(t, rec, Config{BaseURL: "/ccm/"})
	if _, err := c.Me(context.Background()); err != nil {
		t.Fatal(err)
	}
	if req, _ := rec.last(t); req.URL.Path != "/ccm/v1/me" {
		t.Errorf("path = %q", req.URL.Path)
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	for _, cfg := range []Config{
		{},
		{BaseURL: "ftp://x"},
		{BaseURL: "https://"},
		{BaseURL: "https://x?a=b"},
		{BaseURL: "https://x", Fingerprint: "abcd"},
		{BaseURL: "https://x", Fingerprint: strings.Repeat("a", 64), CAFile: "ca.pem"},
		{BaseURL: "https://x", CAFile: filepath.Join(t.TempDir(), "missing.pem")},
	} {
		if _, err := New(cfg); err == nil {
			t.Errorf("New(%+v) succeeded", cfg)
		}
	}
}

func TestErrors(t *testing.T) {
	tests := []struct {
		name    string
		status  int
		ctype   string
		body    string
		want    Error
		wantMsg string
	}{
		{
			name:    "decodes an API error with its field",
			status:  400,
			body:    `{"error":{"code":"validation_failed","message":"must not be empty","field":"name","request_id":"r1"}}`,
			want:    Error{Status: 400, Code: "validation_failed", Message: "must not be empty", Field: "name", RequestID: "r1"},
			wantMsg: "validation_failed: name: must not be empty (HTTP 400, request r1)",
		},
		{
			name:    "decodes an attestation failure with its reason",
			status:  422,
			body:    `{"error":{"code":"attestation_failed","message":"nonce expired","reason":"nonce_invalid"}}`,
			want:    Error{Status: 422, Code: "attestation_failed", Message: "nonce expired", Reason: "nonce_invalid"},
			wantMsg: "attestation_failed (nonce_invalid): nonce expired (HTTP 422)",
		},
		{
			name:    "keeps the start of a body that is not JSON",
			status:  502,
			ctype:   "text/html",
			body:    "<html>\n  bad   gateway\n</html>",
			want:    Error{Status: 502, Message: "<html> bad gateway </html>"},
			wantMsg: "bad gateway: <html> bad gateway </html> (HTTP 502)",
		},
		{
			name:    "survives an empty body",
			status:  404,
			want:    Error{Status: 404},
			wantMsg: "not found (HTTP 404)",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := newTestClient(t, &recorder{status: tc.status, body: tc.body, ctype: tc.ctype}, Config{})
			_, err := c.GetAccount(context.Background(), "a")
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error %v (%T) is not an *Error", err, err)
			}
			if *e != tc.want {
				t.Errorf("error = %+v, want %+v", *e, tc.want)
			}
			if e.Error() != tc.wantMsg {
				t.Errorf("Error() = %q, want %q", e.Error(), tc.wantMsg)
			}
		})
	}
	t.Run("HasCode matches the code", func(t *testing.T) {
		err := fmt.Errorf("wrapped: %w", &Error{Status: 404, Code: apiv1.CodeNotFound})
		if !HasCode(err, apiv1.CodeNotFound) || HasCode(err, apiv1.CodeConflict) || HasCode(errors.New("x"), apiv1.CodeNotFound) {
			t.Error("HasCode is wrong")
		}
	})
	t.Run("truncates a long plain body", func(t *testing.T) {
		c := newTestClient(t, &recorder{status: 500, body: strings.Repeat("é", 1000)}, Config{})
		_, err := c.Me(context.Background())
		var e *Error
		if !errors.As(err, &e) || len(e.Message) > maxPlainMessage+len("…") {
			t.Errorf("error = %v", err)
		}
	})
}

func TestResponseSizeIsLimited(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"version":"`)
		chunk := strings.Repeat("a", 1<<20)
		for range 17 {
			io.WriteString(w, chunk)
		}
		io.WriteString(w, `"}`)
	})
	c := newTestClient(t, h, Config{})
	if _, err := c.Version(context.Background()); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("error = %v, want a size error", err)
	}
}

// pagedAccounts serves n accounts in pages of the requested limit, the
// cursor being the index of the next one.
func pagedAccounts(n int, limits *[]int) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		limit, _ := strconv.Atoi(r.URL.Query().Get("limit"))
		if limit == 0 {
			limit = 50
		}
		*limits = append(*limits, limit)
		start, _ := strconv.Atoi(r.URL.Query().Get("cursor"))
		var l apiv1.List[apiv1.Account]
		for i := start; i < n && i < start+limit; i++ {
			l.Items = append(l.Items, apiv1.Account{AccountID: strconv.Itoa(i)})
		}
		if start+limit < n {
			l.NextCursor = strconv.Itoa(start + limit)
		}
		json.NewEncoder(w).Encode(l)
	})
}

func TestListAll(t *testing.T) {
	ctx := context.Background()
	t.Run("follows the cursor to the last page", func(t *testing.T) {
		var limits []int
		c := newTestClient(t, pagedAccounts(1234, &limits), Config{})
		all, err := ListAll(ctx, c.ListAccounts)
		if err != nil {
			t.Fatal(err)
		}
		if len(all) != 1234 || all[0].AccountID != "0" || all[1233].AccountID != "1233" {
			t.Errorf("got %d accounts", len(all))
		}
		if len(limits) != 3 || limits[0] != maxPageSize {
			t.Errorf("pages fetched with limits %v", limits)
		}
	})
	t.Run("returns an empty slice for an empty list", func(t *testing.T) {
		c := newTestClient(t, &recorder{body: `{"items":null}`}, Config{})
		all, err := ListAll(ctx, c.ListAccounts)
		if err != nil || all == nil || len(all) != 0 {
			t.Errorf("ListAll = %v, %v", all, err)
		}
	})
	t.Run("stops on a cursor that does not move", func(t *testing.T) {
		c := newTestClient(t, &recorder{body: `{"items":[{"account_id":"x"}],"next_cursor":"same"}`}, Config{})
		if _, err := ListAll(ctx, c.ListAccounts); err == nil {
			t.Error("no error for a looping cursor")
		}
	})
	t.Run("stops early when the caller breaks", func(t *testing.T) {
		var limits []int
		c := newTestClient(t, pagedAccounts(1234, &limits), Config{})
		n := 0
		for _, err := range Items(ctx, c.ListAccounts) {
			if err != nil {
				t.Fatal(err)
			}
			if n++; n == 3 {
				break
			}
		}
		if len(limits) != 1 {
			t.Errorf("fetched %d pages, want 1", len(limits))
		}
	})
	t.Run("passes the error of a page", func(t *testing.T) {
		c := newTestClient(t, &recorder{status: 403, body: `{"error":{"code":"forbidden","message":"no"}}`}, Config{})
		if _, err := ListAll(ctx, c.ListAccounts); !HasCode(err, apiv1.CodeForbidden) {
			t.Errorf("error = %v", err)
		}
	})
}

func newTLSServer(t *testing.T) *httptest.Server {
	t.Helper()
	srv := httptest.NewUnstartedServer(&recorder{body: `{"version":"1"}`})
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // failed handshakes are expected
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv
}

func TestFingerprintPinning(t *testing.T) {
	srv := newTLSServer(t)
	fp := Fingerprint(srv.Certificate().Raw)
	colons := func(s string) string {
		var parts []string
		for i := 0; i < len(s); i += 2 {
			parts = append(parts, s[i:i+2])
		}
		return strings.Join(parts, ":")
	}
	other := Fingerprint([]byte("another certificate"))
	tests := []struct {
		name        string
		fingerprint string
		ok          bool
	}{
		{"connects with the server's fingerprint", fp, true},
		{"accepts upper case with colons", strings.ToUpper(colons(fp)), true},
		{"refuses another fingerprint", other, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := New(Config{BaseURL: srv.URL, Fingerprint: tc.fingerprint})
			if err != nil {
				t.Fatal(err)
			}
			_, err = c.Version(context.Background())
			if tc.ok && err != nil {
				t.Fatalf("error = %v", err)
			}
			if !tc.ok {
				var fm *FingerprintMismatchError
				if !errors.As(err, &fm) {
					t.Fatalf("error = %v, want a fingerprint mismatch", err)
				}
				if fm.Got != fp || fm.Want != other {
					t.Errorf("mismatch = %+v", fm)
				}
			}
		})
	}
	t.Run("the system roots do not trust a self-signed server", func(t *testing.T) {
		c, err := New(Config{BaseURL: srv.URL})
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.Version(context.Background())
		var ve *tls.CertificateVerificationError
		if !errors.As(err, &ve) {
			t.Fatalf("error = %v, want a certificate verification error", err)
		}
		if Fingerprint(ve.UnverifiedCertificates[0].Raw) != fp {
			t.Error("the unverified certificate is not the server's")
		}
	})
}

func TestCAFile(t *testing.T) {
	srv := newTLSServer(t)
	dir := t.TempDir()
	write := func(name string, der []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := write("good.pem", srv.Certificate().Raw)
	t.Run("trusts a server whose CA is in the file", func(t *testing.T) {
		c, err := New(Config{BaseURL: srv.URL, CAFile: good})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Version(context.Background()); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("distrusts a server whose CA is not in the file", func(t *testing.T) {
		bad := write("bad.pem", selfSigned(t))
		c, err := New(Config{BaseURL: srv.URL, CAFile: bad})
		if err != nil {
			t.Fatal(err)
		}
		var ve *tls.CertificateVerificationError
		if _, err := c.Version(context.Background()); !errors.As(err, &ve) {
			t.Fatalf("error = %v, want a certificate verification error", err)
		}
	})
	t.Run("rejects a file without certificates", func(t *testing.T) {
		p := filepath.Join(dir, "empty.pem")
		os.WriteFile(p, []byte("nothing"), 0o600)
		if _, err := New(Config{BaseURL: srv.URL, CAFile: p}); err == nil {
			t.Error("New succeeded")
		}
	})
}

// selfSigned returns a DER certificate unrelated to httptest's.
func selfSigned(t *testing.T) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "other CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return der
}
