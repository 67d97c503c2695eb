package httpapi

import (
	"encoding/base64"
	"encoding/pem"
	"net/http"

	"github.com/openccm/openccm/internal/attest"
	"github.com/openccm/openccm/internal/ca"
	"github.com/openccm/openccm/internal/errs"
	"github.com/openccm/openccm/internal/ids"
	"github.com/openccm/openccm/internal/store"
	"github.com/openccm/openccm/pkg/apiv1"
)

func (a *API) challenge(w http.ResponseWriter, r *http.Request, _ *call) error {
	var req apiv1.ChallengeRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	if req.AccountID == "" {
		return errs.Invalidf("account_id", "is required")
	}
	nonce, exp, err := a.attest.Challenge(r.Context(), req.AccountID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, apiv1.Challenge{Nonce: base64.StdEncoding.EncodeToString(nonce), ExpiresAt: exp})
	return nil
}

func (a *API) attestation(w http.ResponseWriter, r *http.Request, _ *call) error {
	var req apiv1.AttestRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	if req.AccountID == "" {
		return errs.Invalidf("account_id", "is required")
	}
	res, err := a.attest.Attest(r.Context(), attest.Request{AccountID: req.AccountID, AppID: req.AppID,
		Platform: req.Platform, Nonce: req.Nonce, CSR: req.CSR, Evidence: req.Evidence})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, apiv1.AttestResponse{
		Certificate: ca.PEM(res.Leaf), Chain: []string{ca.PEM(res.CA)}, CertificateID: res.Certificate.ID,
		AppID: res.Image.AppID, ImageID: res.Image.ID, ExpiresAt: res.Certificate.NotAfter,
	})
	return nil
}

// publicAccount checks the account of a public, account-scoped route.
func (a *API) publicAccount(r *http.Request) (string, error) {
	id := r.PathValue("account_id")
	if !ids.Valid(id) {
		return "", errs.NotFoundf("no such account")
	}
	if _, err := a.accounts.Get(r.Context(), id); err != nil {
		return "", err
	}
	return id, nil
}

func (a *API) caCertificate(w http.ResponseWriter, r *http.Request, _ *call) error {
	id, err := a.publicAccount(r)
	if err != nil {
		return err
	}
	c, err := a.ca.Certificate(r.Context(), id)
	if err != nil {
		return err
	}
	switch r.URL.Query().Get("format") {
	case "", "json", "pem":
	default:
		return errs.Invalidf("format", "must be json (the default) or pem")
	}
	if r.URL.Query().Get("format") == "pem" {
		w.Header().Set("Content-Type", "application/x-pem-file")
		_ = pem.Encode(w, &pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
		return nil
	}
	writeJSON(w, http.StatusOK, apiv1.CACertificate{Certificate: ca.PEM(c)})
	return nil
}

func (a *API) caCRL(w http.ResponseWriter, r *http.Request, _ *call) error {
	id, err := a.publicAccount(r)
	if err != nil {
		return err
	}
	crl, err := a.ca.CRL(r.Context(), id)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/pkix-crl")
	w.Header().Set("Cache-Control", "public, max-age=300")
	_, _ = w.Write(crl)
	return nil
}

func (a *API) toCertificate(c *store.Certificate) apiv1.Certificate {
	return apiv1.Certificate{
		CertificateID: c.ID, AppID: c.AppID, ImageID: c.ImageID, Serial: c.Serial, CommonName: c.CommonName,
		DNSNames: nonNil(c.DNSNames), URIs: nonNil(c.URIs), NotBefore: c.NotBefore, ExpiresAt: c.NotAfter,
		Status: string(a.ca.Status(c)), RevokedAt: c.RevokedAt, RevocationReason: c.RevocationReason,
		Certificate: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.DER})), CreatedAt: c.CreatedAt,
	}
}

func (a *API) listCertificates(w http.ResponseWriter, r *http.Request, c *call) error {
	pg, err := page(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	rows, next, err := a.ca.List(r.Context(), c.accountID, store.CertificateFilter{
		AppID: q.Get("app_id"), ImageID: q.Get("image_id"), Status: store.CertificateStatus(q.Get("status"))}, pg)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, list(rows, next, a.toCertificate))
	return nil
}

func (a *API) getCertificate(w http.ResponseWriter, r *http.Request, c *call) error {
	cert, err := a.ca.Get(r.Context(), c.accountID, r.PathValue("certificate_id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, a.toCertificate(cert))
	return nil
}

func (a *API) revokeCertificate(w http.ResponseWriter, r *http.Request, c *call) error {
	var req apiv1.RevokeRequest
	if err := decodeOptional(r, &req); err != nil {
		return err
	}
	cert, err := a.ca.Revoke(r.Context(), a.audit, c.accountID, r.PathValue("certificate_id"), req.Reason)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, a.toCertificate(cert))
	return nil
}
