// Package workloadtest has the fake OpenCCM server that tests of the
// workload agents attest to: it verifies their evidence with a real
// platform verifier that trusts fake vendor roots, and issues certificates
// from an account CA of its own.
package workloadtest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/openccm/openccm/internal/platform"
	"github.com/openccm/openccm/pkg/apiv1"
	"github.com/openccm/openccm/pkg/client"
)

// The IDs a Server knows.
const (
	AccountID = "acc-1"
	AppID     = "app-1"
)

// Config configures a Server.
type Config struct {
	// Verifier verifies the evidence; requests must name its platform.
	Verifier platform.Verifier
	// Check, when set, judges the claims of evidence that verified: a
	// reason other than "" refuses the attestation with it and message.
	Check func(c *platform.Claims) (reason, message string)
}

// Server is the attestation side of an OpenCCM server, over TLS: it hands
// out nonces for AccountID, verifies evidence with Config.Verifier (the
// binding of the nonce and the CSR's key included), and issues
// certificates from an account CA of its own.
type Server struct {
	srv   *httptest.Server
	c     Config
	ca    *x509.Certificate
	caKey *ecdsa.PrivateKey

	mu       sync.Mutex
	nonces   map[string]bool
	validity time.Duration
	backdate time.Duration
	unavail  int
	reject   string
	onAttest func()
	attempts int
	issued   []*x509.Certificate
	appIDs   []string
}

// NewServer starts a Server, closed when the test ends.
func NewServer(t testing.TB, c Config) *Server {
	t.Helper()
	if c.Verifier == nil {
		t.Fatal("workloadtest: a Server needs a Verifier")
	}
	s := &Server{c: c, nonces: map[string]bool{}, validity: time.Hour}
	s.ca, s.caKey = NewCA(t, "acme account CA")
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/attest/challenge", s.challenge)
	mux.HandleFunc("POST /v1/attest", s.attest)
	s.srv = httptest.NewTLSServer(mux)
	t.Cleanup(s.srv.Close)
	return s
}

// NewCA returns a new self-signed CA certificate named commonName, and its
// key.
func NewCA(t testing.TB, commonName string) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: commonName},
		NotBefore: time.Now().Add(-24 * time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c, key
}

// URL returns the server's base URL.
func (s *Server) URL() string { return s.srv.URL }

// TLSCertificatePEM returns the server's (self-signed) TLS certificate,
// which a client must trust.
func (s *Server) TLSCertificatePEM() string {
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.srv.Certificate().Raw}))
}

// AccountCA returns the account CA that issues the certificates.
func (s *Server) AccountCA() *x509.Certificate { return s.ca }

// AccountCAPEM returns AccountCA as PEM.
func (s *Server) AccountCAPEM() string {
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.ca.Raw}))
}

// SetValidity makes the certificates issued from now on valid from
// backdate ago until validity from now.
func (s *Server) SetValidity(backdate, validity time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.backdate, s.validity = backdate, validity
}

// SetUnavailable makes the next n attestations answer 503.
func (s *Server) SetUnavailable(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.unavail = n
}

// SetReject makes every attestation answer 422 with reason; "" stops it.
func (s *Server) SetReject(reason string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reject = reason
}

// OnAttest calls f at the start of every attestation, before answering.
func (s *Server) OnAttest(f func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.onAttest = f
}

// Attempts returns the number of POST /v1/attest received.
func (s *Server) Attempts() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.attempts
}

// Issued returns the certificates issued, in order.
func (s *Server) Issued() []*x509.Certificate {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.issued)
}

// AppIDs returns the app_id of every attestation request, in order.
func (s *Server) AppIDs() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.appIDs)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func (s *Server) challenge(w http.ResponseWriter, r *http.Request) {
	var req apiv1.ChallengeRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil || req.AccountID != AccountID {
		writeJSON(w, http.StatusNotFound, apiv1.ErrorBody{Error: apiv1.ErrorDetail{Code: apiv1.CodeNotFound, Message: "account not found"}})
		return
	}
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	nonce := base64.StdEncoding.EncodeToString(b)
	s.mu.Lock()
	s.nonces[nonce] = true
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, apiv1.Challenge{Nonce: nonce, ExpiresAt: time.Now().Add(5 * time.Minute)})
}

func (s *Server) attest(w http.ResponseWriter, r *http.Request) {
	reject := func(reason, msg string) {
		writeJSON(w, http.StatusUnprocessableEntity, apiv1.ErrorBody{Error: apiv1.ErrorDetail{
			Code: apiv1.CodeAttestationFailed, Reason: reason, Message: msg}})
	}
	s.mu.Lock()
	onAttest := s.onAttest
	s.mu.Unlock()
	if onAttest != nil {
		onAttest()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.attempts++
	if s.unavail > 0 {
		s.unavail--
		writeJSON(w, http.StatusServiceUnavailable, apiv1.ErrorBody{Error: apiv1.ErrorDetail{Code: apiv1.CodeUnavailable, Message: "try later"}})
		return
	}
	var req apiv1.AttestRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		writeJSON(w, http.StatusBadRequest, apiv1.ErrorBody{Error: apiv1.ErrorDetail{Code: apiv1.CodeInvalidJSON, Message: err.Error()}})
		return
	}
	s.appIDs = append(s.appIDs, req.AppID)
	if !s.nonces[req.Nonce] || req.AccountID != AccountID {
		reject("nonce_invalid", "unknown nonce")
		return
	}
	delete(s.nonces, req.Nonce)
	if p := s.c.Verifier.Platform(); req.Platform != string(p) {
		reject("evidence_malformed", fmt.Sprintf("platform is not %s", p))
		return
	}
	if s.reject != "" {
		reject(s.reject, "refused by the test")
		return
	}
	block, _ := pem.Decode([]byte(req.CSR))
	if block == nil {
		reject("evidence_malformed", "no CSR")
		return
	}
	csr, err := x509.ParseCertificateRequest(block.Bytes)
	if err != nil || csr.CheckSignature() != nil {
		reject("evidence_malformed", "bad CSR")
		return
	}
	nonce, _ := base64.StdEncoding.DecodeString(req.Nonce)
	binding := client.Binding(nonce, csr.RawSubjectPublicKeyInfo)
	claims, err := s.c.Verifier.Verify(r.Context(), req.Evidence, platform.Options{Binding: &binding})
	if err != nil {
		reject(platform.ReasonOf(err), err.Error())
		return
	}
	if s.c.Check != nil {
		if reason, msg := s.c.Check(claims); reason != "" {
			reject(reason, msg)
			return
		}
	}
	now := time.Now()
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	der, err := x509.CreateCertificate(rand.Reader, &x509.Certificate{
		SerialNumber: serial, Subject: pkix.Name{CommonName: "app.example.com"}, DNSNames: []string{"app.example.com"},
		NotBefore: now.Add(-s.backdate), NotAfter: now.Add(s.validity),
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}, s.ca, csr.PublicKey, s.caKey)
	if err != nil {
		writeJSON(w, http.StatusInternalServerError, apiv1.ErrorBody{Error: apiv1.ErrorDetail{Code: apiv1.CodeInternal}})
		return
	}
	leaf, _ := x509.ParseCertificate(der)
	s.issued = append(s.issued, leaf)
	writeJSON(w, http.StatusOK, apiv1.AttestResponse{
		Certificate:   string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})),
		Chain:         []string{s.AccountCAPEM()},
		CertificateID: fmt.Sprintf("cert-%d", len(s.issued)), AppID: AppID, ImageID: "img-1", ExpiresAt: leaf.NotAfter,
	})
}
