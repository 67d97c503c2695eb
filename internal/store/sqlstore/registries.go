package sqlstore

import (
	"context"

	"github.com/openccm/openccm/internal/store"
)

const registryColumns = `id, account_id, url, username, description, password_ciphertext, created_at, updated_at`

func scanRegistry(s scanner) (*store.Registry, error) {
	var r store.Registry
	err := s.Scan(&r.ID, &r.AccountID, &r.URL, &r.Username, &r.Description, &r.PasswordCiphertext,
		timeScan{&r.CreatedAt}, timeScan{&r.UpdatedAt})
	if err != nil {
		return nil, err
	}
	return &r, nil
}

// CreateRegistry inserts r; ConflictError "registries.url" when the
// account already has a registry with that URL, ErrNotFound when the
// account does not exist.
func (q *queries) CreateRegistry(ctx context.Context, r *store.Registry) error {
	_, err := q.exec(ctx, `INSERT INTO registries (`+registryColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		r.ID, r.AccountID, r.URL, r.Username, r.Description, blob(r.PasswordCiphertext),
		q.d.time(r.CreatedAt), q.d.time(r.UpdatedAt))
	return wrap("creating registry", err)
}

// GetRegistry returns the account's registry with ID registryID.
func (q *queries) GetRegistry(ctx context.Context, accountID, registryID string) (*store.Registry, error) {
	r, err := scanRegistry(q.queryRow(ctx, `SELECT `+registryColumns+` FROM registries
		WHERE account_id = ? AND id = ?`, accountID, registryID))
	if err != nil {
		return nil, wrap("getting registry", err)
	}
	return r, nil
}

// ListRegistries lists the account's registries in ID order.
func (q *queries) ListRegistries(ctx context.Context, accountID string, p store.Page) ([]*store.Registry, error) {
	query, args := paged(`SELECT `+registryColumns+` FROM registries WHERE account_id = ?`,
		[]any{accountID}, "id", p)
	rows, err := q.query(ctx, query, args...)
	rs, err := collect(rows, err, scanRegistry)
	if err != nil {
		return nil, wrap("listing registries", err)
	}
	return rs, nil
}

// GetRegistryByURL returns the account's registry whose URL is url,
// compared exactly.
func (q *queries) GetRegistryByURL(ctx context.Context, accountID, url string) (*store.Registry, error) {
	r, err := scanRegistry(q.queryRow(ctx, `SELECT `+registryColumns+` FROM registries
		WHERE account_id = ? AND url = ?`, accountID, url))
	if err != nil {
		return nil, wrap("getting registry by URL", err)
	}
	return r, nil
}

// UpdateRegistry replaces every field of the registry with r.ID in
// r.AccountID except its IDs and CreatedAt.
func (q *queries) UpdateRegistry(ctx context.Context, r *store.Registry) error {
	return q.execOne(ctx, "updating registry", `UPDATE registries SET
		url = ?, username = ?, description = ?, password_ciphertext = ?, updated_at = ?
		WHERE account_id = ? AND id = ?`,
		r.URL, r.Username, r.Description, blob(r.PasswordCiphertext), q.d.time(r.UpdatedAt),
		r.AccountID, r.ID)
}

// DeleteRegistry deletes the account's registry with ID registryID.
func (q *queries) DeleteRegistry(ctx context.Context, accountID, registryID string) error {
	return q.execOne(ctx, "deleting registry",
		`DELETE FROM registries WHERE account_id = ? AND id = ?`, accountID, registryID)
}
