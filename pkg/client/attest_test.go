package client

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"math/big"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openccm/openccm/internal/attest"
	"github.com/openccm/openccm/pkg/apiv1"
)

func TestBindingAgreesWithTheServer(t *testing.T) {
	for _, n := range []int{0, 1, 32, 91} {
		nonce, spki := make([]byte, 32), make([]byte, n)
		rand.Read(nonce)
		rand.Read(spki)
		if got, want := Binding(nonce, spki), attest.Binding(nonce, spki); got != want {
			t.Errorf("spki of %d bytes: client binding %x, server binding %x", n, got, want)
		}
	}
	if bindingLabel != attest.BindingLabel {
		t.Errorf("label %q, server's %q", bindingLabel, attest.BindingLabel)
	}
	// The formula, spelt out, so that a change to both is noticed too.
	nonce, spki := bytes.Repeat([]byte{1}, 32), []byte("spki")
	if got, want := Binding(nonce, spki), sha256.Sum256([]byte("openccm-attest-v1"+string(nonce)+"spki")); got != want {
		t.Errorf("binding = %x, want %x", got, want)
	}
}

func TestAttestationAndCertificateRequests(t *testing.T) {
	ctx := context.Background()
	const acct = "a/1" // escaped in paths
	tests := []struct {
		name   string
		call   func(c *Client) error
		method string
		path   string // escaped
		query  string
		body   string // exact, "" for none
	}{
		{"challenge posts the account", func(c *Client) error { _, err := c.Challenge(ctx, acct); return err },
			"POST", "/v1/attest/challenge", "", `{"account_id":"a/1"}`},
		{"attest posts the request", func(c *Client) error {
			_, err := c.Attest(ctx, apiv1.AttestRequest{AccountID: acct, Platform: "nitro", Nonce: "bm9uY2U=", CSR: "csr",
				Evidence: json.RawMessage(`{"document":"AA=="}`)})
			return err
		}, "POST", "/v1/attest", "", `{"account_id":"a/1","platform":"nitro","nonce":"bm9uY2U=","csr":"csr","evidence":{"document":"AA=="}}`},
		{"attest sends the app", func(c *Client) error {
			_, err := c.Attest(ctx, apiv1.AttestRequest{AccountID: acct, AppID: "x", Platform: "aci", Evidence: json.RawMessage(`{}`)})
			return err
		}, "POST", "/v1/attest", "", `{"account_id":"a/1","app_id":"x","platform":"aci","nonce":"","csr":"","evidence":{}}`},
		{"get CA", func(c *Client) error { _, err := c.GetCA(ctx, acct); return err },
			"GET", "/v1/accounts/a%2F1/ca", "", ""},
		{"get CRL", func(c *Client) error { _, err := c.GetCRL(ctx, acct); return err },
			"GET", "/v1/accounts/a%2F1/ca/crl", "", ""},
		{"list certificates without filters", func(c *Client) error {
			_, err := c.ListCertificates(ctx, acct, CertificateListOptions{})
			return err
		}, "GET", "/v1/accounts/a%2F1/certificates", "", ""},
		{"list certificates sends the filters", func(c *Client) error {
			_, err := c.ListCertificates(ctx, acct, CertificateListOptions{ListOptions: ListOptions{Limit: 3, Cursor: "c"},
				AppID: "app", ImageID: "img", Status: "revoked"})
			return err
		}, "GET", "/v1/accounts/a%2F1/certificates", "app_id=app&cursor=c&image_id=img&limit=3&status=revoked", ""},
		{"get certificate escapes the id", func(c *Client) error { _, err := c.GetCertificate(ctx, acct, "c 1"); return err },
			"GET", "/v1/accounts/a%2F1/certificates/c%201", "", ""},
		{"revoke without a reason sends an empty object", func(c *Client) error {
			_, err := c.RevokeCertificate(ctx, acct, "c1", "")
			return err
		}, "POST", "/v1/accounts/a%2F1/certificates/c1/revoke", "", `{}`},
		{"revoke with a reason", func(c *Client) error {
			_, err := c.RevokeCertificate(ctx, acct, "c1", "key compromise")
			return err
		}, "POST", "/v1/accounts/a%2F1/certificates/c1/revoke", "", `{"reason":"key compromise"}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, token := range []string{"", "s3cret"} {
				rec := &recorder{body: `{}`}
				c := newTestClient(t, rec, Config{Token: token})
				if err := tc.call(c); err != nil {
					t.Fatal(err)
				}
				req, body := rec.last(t)
				if req.Method != tc.method || req.URL.EscapedPath() != tc.path || req.URL.RawQuery != tc.query {
					t.Errorf("request = %s %s?%s, want %s %s?%s", req.Method, req.URL.EscapedPath(), req.URL.RawQuery, tc.method, tc.path, tc.query)
				}
				if got := strings.TrimSpace(body); got != tc.body {
					t.Errorf("body = %s, want %s", got, tc.body)
				}
				auth, sent := req.Header["Authorization"]
				if token == "" && sent {
					t.Errorf("Authorization sent without a token: %q", auth)
				}
				if token != "" && req.Header.Get("Authorization") != "Bearer "+token {
					t.Errorf("Authorization = %q", req.Header.Get("Authorization"))
				}
			}
		})
	}
}

func TestDecodesCertificateAnswers(t *testing.T) {
	ctx := context.Background()
	rec := &recorder{status: http.StatusCreated, body: `{"nonce":"AAEC","expires_at":"2030-01-02T03:04:05Z"}`}
	c := newTestClient(t, rec, Config{})
	ch, err := c.Challenge(ctx, "a")
	if err != nil || ch.Nonce != "AAEC" || !ch.ExpiresAt.Equal(time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)) {
		t.Errorf("challenge = %+v, %v", ch, err)
	}

	der := []byte{0x30, 0x82, 0x01, 0x00, 0xff, '\n', 0}
	rec.status, rec.body, rec.ctype = 200, string(der), "application/pkix-crl"
	crl, err := c.GetCRL(ctx, "a")
	if err != nil || !bytes.Equal(crl, der) {
		t.Errorf("CRL = %x, %v; want the body as it is", crl, err)
	}

	rec.ctype = ""
	rec.body = `{"items":[{"certificate_id":"c1","status":"revoked","revoked_at":"2030-01-02T03:04:05Z","dns_names":["a.example"]}],"next_cursor":""}`
	l, err := c.ListCertificates(ctx, "a", CertificateListOptions{})
	if err != nil || len(l.Items) != 1 || l.Items[0].CertificateID != "c1" || l.Items[0].RevokedAt == nil || l.Items[0].DNSNames[0] != "a.example" {
		t.Errorf("list = %+v, %v", l, err)
	}

	rec.status = 422
	rec.body = `{"error":{"code":"attestation_failed","reason":"binding_mismatch","message":"nitro: user_data is not the request's binding"}}`
	_, err = c.Attest(ctx, apiv1.AttestRequest{})
	var e *Error
	if !errors.As(err, &e) || e.Code != apiv1.CodeAttestationFailed || e.Reason != "binding_mismatch" {
		t.Errorf("error = %v", err)
	}
}

func TestCertificatePagesFollowTheCursor(t *testing.T) {
	var queries []string
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		queries = append(queries, r.URL.RawQuery)
		if r.URL.Query().Get("cursor") == "" {
			w.Write([]byte(`{"items":[{"certificate_id":"1"},{"certificate_id":"2"}],"next_cursor":"2"}`))
			return
		}
		w.Write([]byte(`{"items":[{"certificate_id":"3"}]}`))
	})
	c := newTestClient(t, h, Config{})
	all, err := ListAll(context.Background(), c.CertificatePages("a", CertificateListOptions{Status: "issued"}))
	if err != nil || len(all) != 3 || all[2].CertificateID != "3" {
		t.Fatalf("certificates = %+v, %v", all, err)
	}
	if len(queries) != 2 || queries[0] != "limit=500&status=issued" || queries[1] != "cursor=2&limit=500&status=issued" {
		t.Errorf("queries = %q", queries)
	}
}

// attestServer is a fake server for AttestWorkload: it issues nonces,
// checks that the evidence ({"binding": "<hex>"}) carries the binding of
// the nonce and the CSR's key, and issues a certificate from a test CA.
type attestServer struct {
	t      *testing.T
	ca     *x509.Certificate
	caKey  *ecdsa.PrivateKey
	mu     sync.Mutex
	nonces map[string]bool
	reqs   []apiv1.AttestRequest
	auth   []string
	// wrongKey issues the certificate for another key.
	wrongKey bool
}

func newAttestServer(t *testing.T) *attestServer {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(der)
	return &attestServer{t: t, ca: ca, caKey: key, nonces: map[string]bool{}}
}

func (s *attestServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.auth = append(s.auth, r.Header.Get("Authorization"))
	fail := func(status int, code, reason, msg string) {
		w.WriteHeader(status)
		json.NewEncoder(w).Encode(apiv1.ErrorBody{Error: apiv1.ErrorDetail{Code: code, Reason: reason, Message: msg}})
	}
	switch r.URL.Path {
	case "/v1/attest/challenge":
		nonce := make([]byte, 32)
		rand.Read(nonce)
		n := base64.StdEncoding.EncodeToString(nonce)
		s.nonces[n] = true
		w.WriteHeader(http.StatusCreated)
		json.NewEncoder(w).Encode(apiv1.Challenge{Nonce: n, ExpiresAt: time.Now().Add(5 * time.Minute)})
	case "/v1/attest":
		var req apiv1.AttestRequest
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			fail(400, apiv1.CodeInvalidJSON, "", err.Error())
			return
		}
		s.reqs = append(s.reqs, req)
		if !s.nonces[req.Nonce] {
			fail(422, apiv1.CodeAttestationFailed, "nonce_invalid", "unknown nonce")
			return
		}
		delete(s.nonces, req.Nonce)
		b, _ := pem.Decode([]byte(req.CSR))
		if b == nil || b.Type != "CERTIFICATE REQUEST" {
			fail(400, apiv1.CodeValidationFailed, "", "csr: not a PEM CERTIFICATE REQUEST")
			return
		}
		csr, err := x509.ParseCertificateRequest(b.Bytes)
		if err != nil || csr.CheckSignature() != nil || csr.Subject.CommonName != WorkloadCommonName {
			fail(400, apiv1.CodeValidationFailed, "", "csr: bad")
			return
		}
		nonce, _ := base64.StdEncoding.DecodeString(req.Nonce)
		want := attest.Binding(nonce, csr.RawSubjectPublicKeyInfo)
		var ev struct{ Binding string }
		if json.Unmarshal(req.Evidence, &ev) != nil || ev.Binding != hex.EncodeToString(want[:]) {
			fail(422, apiv1.CodeAttestationFailed, "binding_mismatch", "the evidence does not carry the binding")
			return
		}
		pub := csr.PublicKey
		if s.wrongKey {
			k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
			pub = &k.PublicKey
		}
		exp := time.Now().Add(time.Hour).Truncate(time.Second)
		der, err := x509.CreateCertificate(rand.Reader, &x509.Certificate{SerialNumber: big.NewInt(2),
			Subject: pkix.Name{CommonName: "app.example"}, DNSNames: []string{"app.example"},
			NotBefore: time.Now().Add(-time.Minute), NotAfter: exp}, s.ca, pub, s.caKey)
		if err != nil {
			s.t.Error(err)
		}
		json.NewEncoder(w).Encode(apiv1.AttestResponse{
			Certificate:   string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})),
			Chain:         []string{string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.ca.Raw}))},
			CertificateID: "cert-1", AppID: "app-1", ImageID: "img-1", ExpiresAt: exp,
		})
	default:
		w.WriteHeader(404)
	}
}

// bindingEvidence is an Evidence function that returns {"binding": hex}.
func bindingEvidence(got *[32]byte) func(context.Context, [32]byte) (json.RawMessage, error) {
	return func(_ context.Context, b [32]byte) (json.RawMessage, error) {
		*got = b
		return json.RawMessage(` {"binding":"` + hex.EncodeToString(b[:]) + `"}` + "\n"), nil
	}
}

func TestAttestWorkload(t *testing.T) {
	ctx := context.Background()
	srv := newAttestServer(t)
	c := newTestClient(t, srv, Config{})

	var binding [32]byte
	var challenge *apiv1.Challenge
	id, err := c.AttestWorkload(ctx, AttestParams{AccountID: "acct", AppID: "app-1", Platform: "nitro",
		Evidence: func(ctx context.Context, b [32]byte) (json.RawMessage, error) {
			challenge, _ = AttestChallenge(ctx)
			return bindingEvidence(&binding)(ctx, b)
		}})
	if err != nil {
		t.Fatal(err)
	}
	// A new P-256 key, certified; the chain parsed; the request as sent.
	k, ok := id.Key.(*ecdsa.PrivateKey)
	if !ok || k.Curve != elliptic.P256() {
		t.Errorf("generated key is %T", id.Key)
	}
	if !k.PublicKey.Equal(id.Certificate.PublicKey) || id.Certificate.Subject.CommonName != "app.example" {
		t.Errorf("certificate %s is not for the key", id.Certificate.Subject)
	}
	if len(id.Chain) != 1 || !id.Chain[0].Equal(srv.ca) || id.Certificate.CheckSignatureFrom(id.Chain[0]) != nil {
		t.Errorf("chain = %v", id.Chain)
	}
	if id.Response.CertificateID != "cert-1" || id.Response.ImageID != "img-1" {
		t.Errorf("response = %+v", id.Response)
	}
	req := srv.reqs[0]
	if req.AccountID != "acct" || req.AppID != "app-1" || req.Platform != "nitro" || challenge == nil || req.Nonce != challenge.Nonce {
		t.Errorf("request = %+v, challenge %+v", req, challenge)
	}
	nonce, _ := base64.StdEncoding.DecodeString(challenge.Nonce)
	spki, _ := x509.MarshalPKIXPublicKey(&k.PublicKey)
	if binding != attest.Binding(nonce, spki) {
		t.Error("the evidence function got another binding than the server's")
	}
	if string(req.Evidence) != `{"binding":"`+hex.EncodeToString(binding[:])+`"}` {
		t.Errorf("evidence sent = %s (want it trimmed)", req.Evidence)
	}
	for _, a := range srv.auth {
		if a != "" {
			t.Errorf("Authorization %q sent by a workload", a)
		}
	}

	// The helpers: PKCS #8 key, certificate then chain, a TLS certificate.
	keyPEM, err := id.KeyPEM()
	if err != nil {
		t.Fatal(err)
	}
	tc, err := tls.X509KeyPair(id.CertificatePEM(), keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	if len(tc.Certificate) != 2 || !bytes.Equal(tc.Certificate[1], srv.ca.Raw) || !strings.HasPrefix(string(keyPEM), "-----BEGIN PRIVATE KEY-----") {
		t.Errorf("PEM helpers: %d certificates, key %.30q", len(tc.Certificate), keyPEM)
	}
	if tc2 := id.TLSCertificate(); len(tc2.Certificate) != 2 || tc2.Leaf != id.Certificate || tc2.PrivateKey != id.Key {
		t.Errorf("TLSCertificate = %+v", tc2)
	}

	// A key of the caller's is used as given.
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	id, err = c.AttestWorkload(ctx, AttestParams{AccountID: "acct", Platform: "sev_snp", Key: rsaKey, Evidence: bindingEvidence(&binding)})
	if err != nil {
		t.Fatal(err)
	}
	if id.Key != crypto.Signer(rsaKey) || !rsaKey.PublicKey.Equal(id.Certificate.PublicKey) {
		t.Error("the caller's key was not certified")
	}
}

func TestAttestWorkloadFailures(t *testing.T) {
	ctx := context.Background()
	evidenceErr := errors.New("no /dev/nsm")
	var binding [32]byte
	tests := []struct {
		name     string
		params   AttestParams
		wrongKey bool
		wantErr  string
		attests  int // requests to /v1/attest
	}{
		{"needs an account", AttestParams{Platform: "nitro", Evidence: bindingEvidence(&binding)}, false, "no account ID", 0},
		{"needs a platform", AttestParams{AccountID: "a", Evidence: bindingEvidence(&binding)}, false, "no platform", 0},
		{"needs an evidence function", AttestParams{AccountID: "a", Platform: "nitro"}, false, "no Evidence function", 0},
		{"reports the evidence function's error", AttestParams{AccountID: "a", Platform: "nitro",
			Evidence: func(context.Context, [32]byte) (json.RawMessage, error) { return nil, evidenceErr }}, false, "evidence: no /dev/nsm", 0},
		{"refuses evidence that is not a JSON object", AttestParams{AccountID: "a", Platform: "nitro",
			Evidence: func(context.Context, [32]byte) (json.RawMessage, error) { return json.RawMessage(`"AAAA"`), nil }}, false, "evidence: not a JSON object", 0},
		{"reports a rejection", AttestParams{AccountID: "a", Platform: "nitro",
			Evidence: func(context.Context, [32]byte) (json.RawMessage, error) {
				return json.RawMessage(`{"binding":"00"}`), nil
			}},
			false, "attest: attestation_failed (binding_mismatch)", 1},
		{"refuses a certificate for another key", AttestParams{AccountID: "a", Platform: "nitro", Evidence: bindingEvidence(&binding)},
			true, "not for the workload's key", 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := newAttestServer(t)
			srv.wrongKey = tc.wrongKey
			c := newTestClient(t, srv, Config{})
			id, err := c.AttestWorkload(ctx, tc.params)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error = %v, want %q", err, tc.wantErr)
			}
			if id != nil {
				t.Error("an identity with the error")
			}
			if len(srv.reqs) != tc.attests {
				t.Errorf("%d attest requests, want %d", len(srv.reqs), tc.attests)
			}
			if tc.name == "reports the evidence function's error" && !errors.Is(err, evidenceErr) {
				t.Error("the evidence error is not wrapped")
			}
			if tc.name == "reports a rejection" && (!HasCode(err, apiv1.CodeAttestationFailed)) {
				t.Errorf("HasCode(attestation_failed) false for %v", err)
			}
		})
	}
}
