package runtime

import (
	"bytes"
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/openccm/openccm/pkg/apiv1"
)

// upstream is a TLS server in place of the OpenCCM server that records what
// reaches it.
type upstream struct {
	srv  *httptest.Server
	mu   sync.Mutex
	seen []seenRequest
}

type seenRequest struct {
	method, path, query, contentType, auth string
	body                                   string
}

func newUpstream(t *testing.T) *upstream {
	u := &upstream{}
	u.srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		u.mu.Lock()
		u.seen = append(u.seen, seenRequest{r.Method, r.URL.Path, r.URL.RawQuery, r.Header.Get("Content-Type"), r.Header.Get("Authorization"), string(b)})
		u.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Request-Id", "req-1")
		w.Header().Set("Set-Cookie", "upstream=1")
		switch r.URL.Path {
		case "/v1/attest/challenge":
			_, _ = io.WriteString(w, `{"nonce":"bm9uY2U=","expires_at":"2030-01-01T00:00:00Z"}`)
		case "/v1/attest":
			w.WriteHeader(http.StatusUnprocessableEntity)
			_, _ = io.WriteString(w, `{"error":{"code":"attestation_failed","reason":"no_matching_image","message":"no image"}}`)
		default:
			_, _ = io.WriteString(w, `{"secret":"the relay must never reach this"}`)
		}
	}))
	t.Cleanup(u.srv.Close)
	return u
}

func (u *upstream) requests() []seenRequest {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]seenRequest(nil), u.seen...)
}

func (u *upstream) caPEM() string {
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: u.srv.Certificate().Raw}))
}

func newTestRelay(t *testing.T, c RelayConfig) *httptest.Server {
	t.Helper()
	r, err := NewRelay(c)
	if err != nil {
		t.Fatal(err)
	}
	s := httptest.NewServer(r)
	t.Cleanup(s.Close)
	return s
}

func send(t *testing.T, method, url, body string, header map[string]string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func errorCode(t *testing.T, body string) string {
	t.Helper()
	var eb apiv1.ErrorBody
	if err := json.Unmarshal([]byte(body), &eb); err != nil {
		t.Fatalf("body %q is not an API error: %v", body, err)
	}
	return eb.Error.Code
}

func TestRelayForwardsTheAttestationRequests(t *testing.T) {
	up := newUpstream(t)
	relay := newTestRelay(t, RelayConfig{ServerURL: up.srv.URL + "/", ServerCA: up.caPEM()})

	resp, body := send(t, "POST", relay.URL+"/v1/attest/challenge?x=1", `{"account_id":"acc-1"}`,
		map[string]string{"Content-Type": "application/json", "Authorization": "Bearer stolen"})
	if resp.StatusCode != 200 || !strings.Contains(body, `"nonce":"bm9uY2U="`) {
		t.Fatalf("challenge: %d %s", resp.StatusCode, body)
	}
	if resp.Header.Get("X-Request-Id") != "req-1" || resp.Header.Get("Content-Type") != "application/json" {
		t.Errorf("challenge headers %v: want the server's Content-Type and X-Request-Id", resp.Header)
	}
	if resp.Header.Get("Set-Cookie") != "" {
		t.Error("the relay passed on a header it should not")
	}

	resp, body = send(t, "POST", relay.URL+"/v1/attest", `{"account_id":"acc-1","platform":"nitro"}`, nil)
	if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, "no_matching_image") {
		t.Fatalf("attest: %d %s, want the server's 422 as it is", resp.StatusCode, body)
	}

	seen := up.requests()
	want := []seenRequest{
		{"POST", "/v1/attest/challenge", "", "application/json", "", `{"account_id":"acc-1"}`},
		{"POST", "/v1/attest", "", "application/json", "", `{"account_id":"acc-1","platform":"nitro"}`},
	}
	if len(seen) != len(want) {
		t.Fatalf("the server saw %+v, want %+v", seen, want)
	}
	for i := range want {
		if seen[i] != want[i] {
			t.Errorf("request %d: the server saw %+v, want %+v", i, seen[i], want[i])
		}
	}
}

func TestRelayRefusesEverythingElse(t *testing.T) {
	up := newUpstream(t)
	relay := newTestRelay(t, RelayConfig{ServerURL: up.srv.URL, ServerCA: up.caPEM()})
	tests := []struct {
		name, method, path, body string
		status                   int
		code                     string
	}{
		{"refuses another API path", "GET", "/v1/version", "", 404, apiv1.CodeNotFound},
		{"refuses an account route", "POST", "/v1/accounts", "{}", 404, apiv1.CodeNotFound},
		{"refuses the attest path with a trailing slash", "POST", "/v1/attest/", "{}", 404, apiv1.CodeNotFound},
		{"refuses a path that climbs out of an allowed one", "POST", "/v1/attest/challenge/../../accounts", "{}", 404, apiv1.CodeNotFound},
		{"refuses an encoded path that decodes to another route", "POST", "/v1/attest%2Fexplain", "{}", 404, apiv1.CodeNotFound},
		{"refuses the server's health check", "GET", "/healthz", "", 404, apiv1.CodeNotFound},
		{"refuses the root", "GET", "/", "", 404, apiv1.CodeNotFound},
		{"refuses GET on the attest path", "GET", "/v1/attest", "", 405, apiv1.CodeMethodNotAllowed},
		{"refuses POST on the configuration", "POST", "/ccm/config", "{}", 405, apiv1.CodeMethodNotAllowed},
		{"refuses a challenge body over its limit", "POST", "/v1/attest/challenge", strings.Repeat("x", maxChallengeBody+1), 413, apiv1.CodeTooLarge},
		{"refuses an attestation body over its limit", "POST", "/v1/attest", strings.Repeat("x", maxAttestBody+1), 413, apiv1.CodeTooLarge},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := send(t, tc.method, relay.URL+tc.path, tc.body, nil)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d (%s)", resp.StatusCode, tc.status, body)
			}
			if got := errorCode(t, body); got != tc.code {
				t.Errorf("code %q, want %q", got, tc.code)
			}
		})
	}
	if seen := up.requests(); len(seen) != 0 {
		t.Errorf("refused requests reached the server: %+v", seen)
	}
}

func TestRelayUpstreamFailures(t *testing.T) {
	t.Run("answers 502 when the server's certificate is not trusted", func(t *testing.T) {
		up := newUpstream(t)
		relay := newTestRelay(t, RelayConfig{ServerURL: up.srv.URL}) // system roots
		resp, body := send(t, "POST", relay.URL+"/v1/attest/challenge", `{}`, nil)
		if resp.StatusCode != http.StatusBadGateway || errorCode(t, body) != apiv1.CodeUnavailable {
			t.Fatalf("%d %s, want 502 unavailable", resp.StatusCode, body)
		}
		if seen := up.requests(); len(seen) != 0 {
			t.Errorf("the request reached an untrusted server: %+v", seen)
		}
	})
	t.Run("answers 502 when the server is down", func(t *testing.T) {
		up := newUpstream(t)
		ca := up.caPEM()
		url := up.srv.URL
		up.srv.Close()
		relay := newTestRelay(t, RelayConfig{ServerURL: url, ServerCA: ca})
		resp, body := send(t, "POST", relay.URL+"/v1/attest", `{}`, nil)
		if resp.StatusCode != http.StatusBadGateway || errorCode(t, body) != apiv1.CodeUnavailable {
			t.Fatalf("%d %s, want 502 unavailable", resp.StatusCode, body)
		}
	})
	t.Run("answers 502 when the server's answer is too large", func(t *testing.T) {
		big := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			_, _ = w.Write(bytes.Repeat([]byte("x"), maxRelayResponse+1))
		}))
		defer big.Close()
		ca := string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: big.Certificate().Raw}))
		relay := newTestRelay(t, RelayConfig{ServerURL: big.URL, ServerCA: ca})
		resp, _ := send(t, "POST", relay.URL+"/v1/attest", `{}`, nil)
		if resp.StatusCode != http.StatusBadGateway {
			t.Fatalf("status %d, want 502", resp.StatusCode)
		}
	})
}

func TestNewRelayChecksItsSettings(t *testing.T) {
	for _, tc := range []struct{ name, url, ca string }{
		{"refuses a URL of another scheme", "ftp://ccm.example.com", ""},
		{"refuses a URL without a host", "https:///v1", ""},
		{"refuses a URL with a query", "https://ccm.example.com/?a=b", ""},
		{"refuses a URL with credentials", "https://u:p@ccm.example.com", ""},
		{"refuses a server CA without a certificate", "https://ccm.example.com", "not PEM"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := NewRelay(RelayConfig{ServerURL: tc.url, ServerCA: tc.ca}); err == nil {
				t.Fatal("NewRelay accepted it")
			}
		})
	}
}
