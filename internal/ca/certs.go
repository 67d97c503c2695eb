package ca

import (
	"context"
	"errors"

	"github.com/openccm/openccm/internal/audit"
	"github.com/openccm/openccm/internal/errs"
	"github.com/openccm/openccm/internal/ids"
	"github.com/openccm/openccm/internal/store"
)

// Status returns a certificate's status as clients see it: issued,
// revoked, or expired (issued and past NotAfter).
func (s *Service) Status(c *store.Certificate) store.CertificateStatus {
	if c.Status == store.CertIssued && !s.now().Before(c.NotAfter) {
		return store.CertExpired
	}
	return c.Status
}

// Get returns a certificate of the account.
func (s *Service) Get(ctx context.Context, accountID, certID string) (*store.Certificate, error) {
	if !ids.Valid(certID) {
		return nil, errs.NotFoundf("no such certificate")
	}
	c, err := s.st.GetCertificate(ctx, accountID, certID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, errs.NotFoundf("no such certificate")
	}
	return c, err
}

// List lists an account's certificates.
func (s *Service) List(ctx context.Context, accountID string, f store.CertificateFilter, pg store.Page) ([]*store.Certificate, string, error) {
	switch f.Status {
	case "", store.CertIssued, store.CertRevoked, store.CertExpired:
	default:
		return nil, "", errs.Invalidf("status", "must be issued, revoked or expired")
	}
	for field, v := range map[string]string{"app_id": f.AppID, "image_id": f.ImageID} {
		if v != "" && !ids.Valid(v) {
			return nil, "", errs.Invalidf(field, "is not an ID")
		}
	}
	f.Now = s.now()
	rows, err := s.st.ListCertificates(ctx, accountID, f, pg.Plus1())
	if err != nil {
		return nil, "", err
	}
	rows, next := store.Trim(rows, pg, func(c *store.Certificate) string { return c.ID })
	return rows, next, nil
}

// Revoke revokes a certificate; its serial goes into the CRL until it expires.
func (s *Service) Revoke(ctx context.Context, auditLog *audit.Log, accountID, certID, reason string) (*store.Certificate, error) {
	if len([]rune(reason)) > 500 {
		return nil, errs.Invalidf("reason", "must be at most 500 characters")
	}
	if !ids.Valid(certID) {
		return nil, errs.NotFoundf("no such certificate")
	}
	var out *store.Certificate
	err := s.st.WithTx(ctx, func(tx store.Store) error {
		if err := tx.RevokeCertificate(ctx, accountID, certID, s.now(), reason); err != nil {
			return err
		}
		if err := auditLog.Append(ctx, tx, audit.Event{AccountID: accountID, Action: "certificate.revoke",
			SubjectType: "certificate", SubjectID: certID, Details: map[string]any{"reason": reason}}); err != nil {
			return err
		}
		var err error
		out, err = tx.GetCertificate(ctx, accountID, certID)
		return err
	})
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, errs.NotFoundf("no such certificate")
	case errors.Is(err, store.ErrConflict):
		return nil, errs.Conflictf("the certificate is already revoked")
	case err != nil:
		return nil, err
	}
	s.log.Info("certificate revoked", "account_id", accountID, "certificate_id", certID)
	return out, nil
}
