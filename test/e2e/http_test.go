package e2e

import (
	"bytes"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openccm/openccm/pkg/apiv1"
	"github.com/openccm/openccm/pkg/client"
)

// exchange is one recorded HTTP request and its response.
type exchange struct {
	Method, Path string
	Status       int
	Header       http.Header
	Body         string
}

// recorder keeps every response body a test received, so that it can check
// that a secret never came back from the server.
type recorder struct {
	mu        sync.Mutex
	exchanges []exchange
}

// recordingTransport is an http.RoundTripper that records into rec.
type recordingTransport struct {
	base http.RoundTripper
	rec  *recorder
}

func (r recordingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := r.base.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	r.rec.mu.Lock()
	r.rec.exchanges = append(r.rec.exchanges, exchange{Method: req.Method, Path: req.URL.Path, Status: resp.StatusCode, Header: resp.Header.Clone(), Body: string(body)})
	r.rec.mu.Unlock()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	return resp, nil
}

// last returns the latest exchange.
func (r *recorder) last(t *testing.T) exchange {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.exchanges) == 0 {
		t.Fatal("no HTTP exchange recorded")
	}
	return r.exchanges[len(r.exchanges)-1]
}

// all returns every exchange so far.
func (r *recorder) all() []exchange {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]exchange(nil), r.exchanges...)
}

// pinnedTransport trusts exactly the certificate whose SHA-256 fingerprint
// the server printed, like client.Config.Fingerprint does.
func pinnedTransport(t *testing.T, fingerprint string) *http.Transport {
	t.Helper()
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if fingerprint == "" {
		return tr
	}
	want, err := client.ParseFingerprint(fingerprint)
	if err != nil {
		t.Fatalf("the fingerprint the server printed: %v", err)
	}
	tr.TLSClientConfig = &tls.Config{
		MinVersion:         tls.VersionTLS12,
		InsecureSkipVerify: true, // replaced by the pin below
		VerifyConnection: func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return errors.New("no server certificate")
			}
			if got := client.Fingerprint(cs.PeerCertificates[0].Raw); got != want {
				return fmt.Errorf("server certificate %s is not the pinned %s", got, want)
			}
			return nil
		},
	}
	return tr
}

// api talks to one server with a recording, fingerprint-pinned HTTP client.
type api struct {
	srv *server
	rec *recorder
	hc  *http.Client
}

// newAPI returns an api for srv whose response bodies go to rec.
func newAPI(t *testing.T, srv *server, rec *recorder) *api {
	t.Helper()
	tr := pinnedTransport(t, srv.Fingerprint)
	t.Cleanup(tr.CloseIdleConnections)
	hc := &http.Client{Transport: recordingTransport{base: tr, rec: rec}, Timeout: 30 * time.Second}
	return &api{srv: srv, rec: rec, hc: hc}
}

// client returns a pkg/client Client that authenticates with token (none
// when empty) over the recording client.
func (a *api) client(t *testing.T, token string) *client.Client {
	t.Helper()
	c, err := client.New(client.Config{BaseURL: a.srv.URL, Token: token, HTTPClient: a.hc})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// do sends a raw request; a non-empty body is sent as application/json.
func (a *api) do(t *testing.T, method, path, token, body string) (int, http.Header, []byte) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, a.srv.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := a.hc.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading the body: %v", method, path, err)
	}
	return resp.StatusCode, resp.Header, b
}

// wantStatus checks a raw request's status and returns its body.
func (a *api) wantStatus(t *testing.T, want int, method, path, token, body string) []byte {
	t.Helper()
	status, _, b := a.do(t, method, path, token, body)
	if status != want {
		t.Errorf("%s %s: status %d, want %d; body: %s", method, path, status, want, b)
	}
	return b
}

// wantError checks that a raw request fails with status, code and (when
// not empty) field, in the error body of the contract.
func (a *api) wantError(t *testing.T, status int, code, field, method, path, token, body string) {
	t.Helper()
	got, hdr, b := a.do(t, method, path, token, body)
	checkErrorBody(t, fmt.Sprintf("%s %s", method, path), got, hdr, b, status, code, field)
}

func checkErrorBody(t *testing.T, what string, gotStatus int, hdr http.Header, b []byte, status int, code, field string) {
	t.Helper()
	if gotStatus != status {
		t.Errorf("%s: status %d, want %d; body: %s", what, gotStatus, status, b)
		return
	}
	if ct := hdr.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("%s: error Content-Type %q, want application/json", what, ct)
	}
	var eb apiv1.ErrorBody
	if err := json.Unmarshal(b, &eb); err != nil {
		t.Errorf("%s: the error body is not JSON: %v: %s", what, err, b)
		return
	}
	if eb.Error.Code != code {
		t.Errorf("%s: error code %q, want %q; body: %s", what, eb.Error.Code, code, b)
	}
	if eb.Error.Message == "" {
		t.Errorf("%s: the error has no message: %s", what, b)
	}
	if field != "" && eb.Error.Field != field {
		t.Errorf("%s: error field %q, want %q; body: %s", what, eb.Error.Field, field, b)
	}
}

// wantAPIError checks that err, from pkg/client, is an API error with
// status, code and (when not empty) field.
func wantAPIError(t *testing.T, what string, err error, status int, code, field string) {
	t.Helper()
	var ce *client.Error
	if !errors.As(err, &ce) {
		t.Errorf("%s: error %v, want HTTP %d %s", what, err, status, code)
		return
	}
	if ce.Status != status || ce.Code != code {
		t.Errorf("%s: got HTTP %d %q (%v), want HTTP %d %q", what, ce.Status, ce.Code, err, status, code)
	}
	if field != "" && ce.Field != field {
		t.Errorf("%s: error field %q, want %q (%v)", what, ce.Field, field, err)
	}
}

// mustJSON decodes b into a new T.
func mustJSON[T any](t *testing.T, b []byte) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("decoding %s: %v", b, err)
	}
	return v
}
