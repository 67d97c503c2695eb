package cli

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net/http"
	"net/url"
	"time"

	"github.com/openccm/openccm/internal/attest"
	"github.com/openccm/openccm/pkg/apiv1"
)

// attestState is the fake server's attestation side: one CA for every
// account, the nonces it issued, and the certificates it issued. Evidence
// is {"binding": "<hex>", …}: the fake checks that it carries the binding
// of the nonce and the CSR's key, as a verifier checks user_data.
type attestState struct {
	ca    *x509.Certificate
	caKey *ecdsa.PrivateKey

	nonces   map[string]string // nonce (base64) → account ID
	certs    map[string][]*apiv1.Certificate
	serials  map[string]*big.Int // certificate ID → serial
	attested []attestRecord      // every POST /v1/attest, accepted or not
}

// attestRecord is one attestation the fake server received.
type attestRecord struct {
	Request apiv1.AttestRequest
	CSR     *x509.CertificateRequest // nil when it did not parse
	Binding [32]byte                 // the binding of the nonce and the CSR's key
}

func (f *fakeServer) attestRoutes(mux *http.ServeMux, inAccount inAccountFunc) {
	st := &f.attest
	st.nonces = map[string]string{}
	st.certs = map[string][]*apiv1.Certificate{}
	st.serials = map[string]*big.Int{}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "acme CA", Organization: []string{"OpenCCM fake"}},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		panic(err)
	}
	st.ca, _ = x509.ParseCertificate(der)
	st.caKey = key

	// public looks the account up without credentials.
	public := func(h func(w http.ResponseWriter, r *http.Request, a *apiv1.Account)) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			_, a := find(f.accounts, func(a *apiv1.Account) bool { return a.AccountID == r.PathValue("a") })
			if a == nil {
				fail(w, 404, apiv1.CodeNotFound, "", "account not found")
				return
			}
			h(w, r, a)
		}
	}
	rejected := func(w http.ResponseWriter, reason, msg string) {
		reply(w, 422, apiv1.ErrorBody{Error: apiv1.ErrorDetail{Code: apiv1.CodeAttestationFailed, Reason: reason, Message: msg}})
	}

	mux.HandleFunc("POST /v1/attest/challenge", func(w http.ResponseWriter, r *http.Request) {
		var req apiv1.ChallengeRequest
		if !decode(w, r, &req) {
			return
		}
		if _, a := find(f.accounts, func(a *apiv1.Account) bool { return a.AccountID == req.AccountID }); a == nil {
			fail(w, 404, apiv1.CodeNotFound, "", "account not found")
			return
		}
		nonce := make([]byte, 32)
		rand.Read(nonce)
		n := base64.StdEncoding.EncodeToString(nonce)
		st.nonces[n] = req.AccountID
		reply(w, 201, apiv1.Challenge{Nonce: n, ExpiresAt: fakeNow.Add(5 * time.Minute)})
	})
	mux.HandleFunc("POST /v1/attest", func(w http.ResponseWriter, r *http.Request) {
		var req apiv1.AttestRequest
		if !decode(w, r, &req) {
			return
		}
		rec := attestRecord{Request: req}
		if b, _ := pem.Decode([]byte(req.CSR)); b != nil && b.Type == "CERTIFICATE REQUEST" {
			rec.CSR, _ = x509.ParseCertificateRequest(b.Bytes)
		}
		nonce, _ := base64.StdEncoding.DecodeString(req.Nonce)
		if rec.CSR != nil {
			rec.Binding = attest.Binding(nonce, rec.CSR.RawSubjectPublicKeyInfo)
		}
		st.attested = append(st.attested, rec)
		if rec.CSR == nil || rec.CSR.CheckSignature() != nil {
			fail(w, 400, apiv1.CodeValidationFailed, "csr", "not a valid certificate request")
			return
		}
		if acct, ok := st.nonces[req.Nonce]; !ok || acct != req.AccountID {
			rejected(w, "nonce_invalid", "the nonce is unknown, expired or already used")
			return
		}
		delete(st.nonces, req.Nonce)
		var ev struct{ Binding string }
		if err := json.Unmarshal(req.Evidence, &ev); err != nil || ev.Binding != hex.EncodeToString(rec.Binding[:]) {
			rejected(w, "binding_mismatch", "fake: the evidence's binding is not the request's binding")
			return
		}
		appID := firstNonEmpty(req.AppID, "00000000-0000-4000-8000-0000000000aa")
		serial, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 64))
		notAfter := time.Now().Add(30 * 24 * time.Hour).Truncate(time.Second).UTC()
		spiffe, _ := url.Parse("spiffe://acme/app/web")
		der, err := x509.CreateCertificate(rand.Reader, &x509.Certificate{SerialNumber: serial,
			Subject:  pkix.Name{CommonName: "web.example.com"},
			DNSNames: []string{"web.example.com", "www.example.com"}, URIs: []*url.URL{spiffe},
			NotBefore: time.Now().Add(-time.Minute), NotAfter: notAfter,
			KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		}, st.ca, rec.CSR.PublicKey, st.caKey)
		if err != nil {
			fail(w, 500, apiv1.CodeInternal, "", err.Error())
			return
		}
		leafPEM := string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
		c := &apiv1.Certificate{CertificateID: f.id(), AppID: appID, ImageID: "00000000-0000-4000-8000-0000000000bb",
			Serial: hex.EncodeToString(serial.Bytes()), CommonName: "web.example.com",
			DNSNames: []string{"web.example.com", "www.example.com"}, URIs: []string{spiffe.String()},
			NotBefore: fakeNow, ExpiresAt: notAfter, Status: "issued", Certificate: leafPEM, CreatedAt: fakeNow}
		st.certs[req.AccountID] = append(st.certs[req.AccountID], c)
		st.serials[c.CertificateID] = serial
		reply(w, 200, apiv1.AttestResponse{Certificate: leafPEM, Chain: []string{caPEM(st.ca)},
			CertificateID: c.CertificateID, AppID: c.AppID, ImageID: c.ImageID, ExpiresAt: c.ExpiresAt})
	})

	mux.HandleFunc("GET /v1/accounts/{a}/ca", public(func(w http.ResponseWriter, r *http.Request, _ *apiv1.Account) {
		reply(w, 200, apiv1.CACertificate{Certificate: caPEM(st.ca)})
	}))
	mux.HandleFunc("GET /v1/accounts/{a}/ca/crl", public(func(w http.ResponseWriter, r *http.Request, a *apiv1.Account) {
		var entries []x509.RevocationListEntry
		for _, c := range st.certs[a.AccountID] {
			if c.RevokedAt != nil {
				entries = append(entries, x509.RevocationListEntry{SerialNumber: st.serials[c.CertificateID], RevocationTime: *c.RevokedAt})
			}
		}
		der, err := x509.CreateRevocationList(rand.Reader, &x509.RevocationList{Number: big.NewInt(7),
			ThisUpdate: fakeNow, NextUpdate: fakeNow.Add(24 * time.Hour), RevokedCertificateEntries: entries}, st.ca, st.caKey)
		if err != nil {
			fail(w, 500, apiv1.CodeInternal, "", err.Error())
			return
		}
		w.Header().Set("Content-Type", "application/pkix-crl")
		w.Write(der)
	}))
	mux.HandleFunc("GET /v1/accounts/{a}/certificates", inAccount(func(w http.ResponseWriter, r *http.Request, a *apiv1.Account) {
		q := r.URL.Query()
		var out []*apiv1.Certificate
		for _, c := range st.certs[a.AccountID] {
			if (q.Get("app_id") == "" || c.AppID == q.Get("app_id")) && (q.Get("image_id") == "" || c.ImageID == q.Get("image_id")) &&
				(q.Get("status") == "" || c.Status == q.Get("status")) {
				out = append(out, c)
			}
		}
		page(w, r, out)
	}))
	findCert := func(w http.ResponseWriter, r *http.Request, a *apiv1.Account) *apiv1.Certificate {
		_, c := find(st.certs[a.AccountID], func(c *apiv1.Certificate) bool { return c.CertificateID == r.PathValue("c") })
		if c == nil {
			fail(w, 404, apiv1.CodeNotFound, "", "certificate not found")
		}
		return c
	}
	mux.HandleFunc("GET /v1/accounts/{a}/certificates/{c}", inAccount(func(w http.ResponseWriter, r *http.Request, a *apiv1.Account) {
		if c := findCert(w, r, a); c != nil {
			reply(w, 200, c)
		}
	}))
	mux.HandleFunc("POST /v1/accounts/{a}/certificates/{c}/revoke", inAccount(func(w http.ResponseWriter, r *http.Request, a *apiv1.Account) {
		var req apiv1.RevokeRequest
		if !decode(w, r, &req) {
			return
		}
		c := findCert(w, r, a)
		if c == nil {
			return
		}
		at := fakeNow.Add(time.Hour)
		c.Status, c.RevokedAt, c.RevocationReason = "revoked", &at, req.Reason
		reply(w, 200, c)
	}))
}

func caPEM(c *x509.Certificate) string {
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw}))
}

// addAccount adds an account to the fake server directly, as if someone
// else had made it, and returns its ID.
func (f *fakeServer) addAccount(name string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	a := &apiv1.Account{AccountID: f.id(), Name: name, TrustDomain: name, CreatedAt: fakeNow, UpdatedAt: fakeNow}
	f.accounts = append(f.accounts, a)
	return a.AccountID
}

// attestations returns the attestations the fake server received.
func (f *fakeServer) attestations() []attestRecord {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]attestRecord(nil), f.attest.attested...)
}
