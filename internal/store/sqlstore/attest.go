package sqlstore

import (
	"context"
	"errors"
	"time"

	"github.com/openccm/openccm/internal/store"
)

// CreateNonce stores a challenge.
func (q *queries) CreateNonce(ctx context.Context, n *store.Nonce) error {
	_, err := q.exec(ctx, `INSERT INTO nonces (hash, account_id, created_at, expires_at) VALUES (?, ?, ?, ?)`,
		n.Hash, n.AccountID, q.d.time(n.CreatedAt), q.d.time(n.ExpiresAt))
	return wrap("creating nonce", err)
}

// ConsumeNonce deletes the account's unexpired nonce in one statement, so
// that exactly one of concurrent consumers succeeds.
func (q *queries) ConsumeNonce(ctx context.Context, accountID string, hash []byte, now time.Time) error {
	return q.execOne(ctx, "consuming nonce",
		`DELETE FROM nonces WHERE hash = ? AND account_id = ? AND expires_at > ?`, hash, accountID, q.d.time(now))
}

// DeleteExpiredNonces removes the nonces that expired at or before now.
func (q *queries) DeleteExpiredNonces(ctx context.Context, now time.Time) (int, error) {
	res, err := q.exec(ctx, `DELETE FROM nonces WHERE expires_at <= ?`, q.d.time(now))
	if err != nil {
		return 0, wrap("deleting expired nonces", err)
	}
	n, err := res.RowsAffected()
	return int(n), wrap("deleting expired nonces", err)
}

// CountNonces counts the account's unexpired nonces.
func (q *queries) CountNonces(ctx context.Context, accountID string, now time.Time) (int, error) {
	var n int
	err := q.queryRow(ctx, `SELECT count(*) FROM nonces WHERE account_id = ? AND expires_at > ?`, accountID, q.d.time(now)).Scan(&n)
	return n, wrap("counting nonces", err)
}

// CreateCA stores an account's CA.
func (q *queries) CreateCA(ctx context.Context, ca *store.CA) error {
	_, err := q.exec(ctx, `INSERT INTO cas (account_id, cert_der, key_ciphertext, created_at) VALUES (?, ?, ?, ?)`,
		ca.AccountID, blob(ca.CertDER), blob(ca.KeyCiphertext), q.d.time(ca.CreatedAt))
	return wrap("creating CA", err)
}

// GetCA returns an account's CA.
func (q *queries) GetCA(ctx context.Context, accountID string) (*store.CA, error) {
	var ca store.CA
	err := q.queryRow(ctx, `SELECT account_id, cert_der, key_ciphertext, created_at FROM cas WHERE account_id = ?`, accountID).
		Scan(&ca.AccountID, &ca.CertDER, &ca.KeyCiphertext, timeScan{&ca.CreatedAt})
	if err != nil {
		return nil, wrap("getting CA", err)
	}
	return &ca, nil
}

const certColumns = `id, account_id, app_id, image_id, serial, common_name, dns_names, uris, not_before, not_after,
	status, revoked_at, revocation_reason, der, created_at`

func scanCert(s scanner) (*store.Certificate, error) {
	var c store.Certificate
	err := s.Scan(&c.ID, &c.AccountID, &c.AppID, &c.ImageID, &c.Serial, &c.CommonName,
		listScan[string]{&c.DNSNames}, listScan[string]{&c.URIs}, timeScan{&c.NotBefore}, timeScan{&c.NotAfter},
		&c.Status, nullTimeScan{&c.RevokedAt}, &c.RevocationReason, &c.DER, timeScan{&c.CreatedAt})
	if err != nil {
		return nil, err
	}
	return &c, nil
}

// CreateCertificate records an issued certificate.
func (q *queries) CreateCertificate(ctx context.Context, c *store.Certificate) error {
	_, err := q.exec(ctx, `INSERT INTO certificates (`+certColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		c.ID, c.AccountID, c.AppID, c.ImageID, c.Serial, c.CommonName, jsonList(c.DNSNames), jsonList(c.URIs),
		q.d.time(c.NotBefore), q.d.time(c.NotAfter), string(c.Status), q.d.nullTime(c.RevokedAt), c.RevocationReason,
		blob(c.DER), q.d.time(c.CreatedAt))
	return wrap("creating certificate", err)
}

// GetCertificate returns the account's certificate with ID certID.
func (q *queries) GetCertificate(ctx context.Context, accountID, certID string) (*store.Certificate, error) {
	c, err := scanCert(q.queryRow(ctx, `SELECT `+certColumns+` FROM certificates WHERE account_id = ? AND id = ?`, accountID, certID))
	if err != nil {
		return nil, wrap("getting certificate", err)
	}
	return c, nil
}

// ListCertificates lists the account's certificates in ID order, narrowed by f.
func (q *queries) ListCertificates(ctx context.Context, accountID string, f store.CertificateFilter, p store.Page) ([]*store.Certificate, error) {
	query := `SELECT ` + certColumns + ` FROM certificates WHERE account_id = ?`
	args := []any{accountID}
	if f.AppID != "" {
		query += ` AND app_id = ?`
		args = append(args, f.AppID)
	}
	if f.ImageID != "" {
		query += ` AND image_id = ?`
		args = append(args, f.ImageID)
	}
	switch f.Status {
	case store.CertIssued:
		query += ` AND status = 'issued' AND not_after > ?`
		args = append(args, q.d.time(f.Now))
	case store.CertExpired:
		query += ` AND status = 'issued' AND not_after <= ?`
		args = append(args, q.d.time(f.Now))
	case store.CertRevoked:
		query += ` AND status = 'revoked'`
	}
	query, args = paged(query, args, "id", p)
	rows, err := q.query(ctx, query, args...)
	cs, err := collect(rows, err, scanCert)
	if err != nil {
		return nil, wrap("listing certificates", err)
	}
	return cs, nil
}

// RevokeCertificate revokes an issued certificate.
func (q *queries) RevokeCertificate(ctx context.Context, accountID, certID string, at time.Time, reason string) error {
	err := q.execOne(ctx, "revoking certificate", `UPDATE certificates SET status = 'revoked', revoked_at = ?, revocation_reason = ?
		WHERE account_id = ? AND id = ? AND status = 'issued'`, q.d.time(at), reason, accountID, certID)
	if errors.Is(err, store.ErrNotFound) {
		if _, gerr := q.GetCertificate(ctx, accountID, certID); gerr == nil {
			return &store.ConflictError{Constraint: "certificates.status"}
		}
	}
	return err
}

// RevokeImageCertificates revokes the image's unexpired issued certificates.
func (q *queries) RevokeImageCertificates(ctx context.Context, accountID, imageID string, at time.Time, reason string) (int, error) {
	res, err := q.exec(ctx, `UPDATE certificates SET status = 'revoked', revoked_at = ?, revocation_reason = ?
		WHERE account_id = ? AND image_id = ? AND status = 'issued' AND not_after > ?`,
		q.d.time(at), reason, accountID, imageID, q.d.time(at))
	if err != nil {
		return 0, wrap("revoking image certificates", err)
	}
	n, err := res.RowsAffected()
	return int(n), wrap("revoking image certificates", err)
}

// ListRevokedUnexpired returns the account's revoked certificates that have not expired.
func (q *queries) ListRevokedUnexpired(ctx context.Context, accountID string, now time.Time) ([]*store.Certificate, error) {
	rows, err := q.query(ctx, `SELECT `+certColumns+` FROM certificates
		WHERE account_id = ? AND status = 'revoked' AND not_after > ? ORDER BY id`, accountID, q.d.time(now))
	cs, err := collect(rows, err, scanCert)
	if err != nil {
		return nil, wrap("listing revoked certificates", err)
	}
	return cs, nil
}
