package sqlstore

import (
	"context"

	"github.com/openccm/openccm/internal/store"
)

const appColumns = `id, account_id, name, type, description, domains, approved_domains,
	pending_domain_task_id, input_image_name, output_image_name,
	cert_enabled, cert_validity_days, cert_key_path, cert_cert_path, labels, created_at, updated_at`

func scanApp(s scanner) (*store.App, error) {
	var a store.App
	err := s.Scan(&a.ID, &a.AccountID, &a.Name, &a.Type, &a.Description,
		listScan[string]{&a.Domains}, listScan[string]{&a.ApprovedDomains},
		&a.PendingDomainTaskID, &a.InputImageName, &a.OutputImageName,
		&a.Certificate.Enabled, &a.Certificate.ValidityDays, &a.Certificate.KeyPath, &a.Certificate.CertPath,
		mapScan[string]{&a.Labels}, timeScan{&a.CreatedAt}, timeScan{&a.UpdatedAt})
	if err != nil {
		return nil, err
	}
	return &a, nil
}

// CreateApp inserts a; ConflictError "apps.name" on a duplicate name in
// the account, ErrNotFound when the account does not exist.
func (q *queries) CreateApp(ctx context.Context, a *store.App) error {
	_, err := q.exec(ctx, `INSERT INTO apps (`+appColumns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		a.ID, a.AccountID, a.Name, string(a.Type), a.Description,
		jsonList(a.Domains), jsonList(a.ApprovedDomains),
		a.PendingDomainTaskID, a.InputImageName, a.OutputImageName,
		a.Certificate.Enabled, a.Certificate.ValidityDays, a.Certificate.KeyPath, a.Certificate.CertPath,
		jsonMap(a.Labels), q.d.time(a.CreatedAt), q.d.time(a.UpdatedAt))
	return wrap("creating app", err)
}

// GetApp returns the account's app with ID appID.
func (q *queries) GetApp(ctx context.Context, accountID, appID string) (*store.App, error) {
	a, err := scanApp(q.queryRow(ctx, `SELECT `+appColumns+` FROM apps WHERE account_id = ? AND id = ?`,
		accountID, appID))
	if err != nil {
		return nil, wrap("getting app", err)
	}
	return a, nil
}

// ListApps lists the account's apps in ID order.
func (q *queries) ListApps(ctx context.Context, accountID string, f store.AppFilter, p store.Page) ([]*store.App, error) {
	query := `SELECT ` + appColumns + ` FROM apps WHERE account_id = ?`
	args := []any{accountID}
	if f.Type != "" {
		query += ` AND type = ?`
		args = append(args, string(f.Type))
	}
	query, args = paged(query, args, "id", p)
	rows, err := q.query(ctx, query, args...)
	as, err := collect(rows, err, scanApp)
	if err != nil {
		return nil, wrap("listing apps", err)
	}
	return as, nil
}

// UpdateApp replaces every field of the app with a.ID in a.AccountID
// except its IDs, Type and CreatedAt: an app's type never changes.
func (q *queries) UpdateApp(ctx context.Context, a *store.App) error {
	return q.execOne(ctx, "updating app", `UPDATE apps SET
		name = ?, description = ?, domains = ?, approved_domains = ?, pending_domain_task_id = ?,
		input_image_name = ?, output_image_name = ?,
		cert_enabled = ?, cert_validity_days = ?, cert_key_path = ?, cert_cert_path = ?,
		labels = ?, updated_at = ?
		WHERE account_id = ? AND id = ?`,
		a.Name, a.Description, jsonList(a.Domains), jsonList(a.ApprovedDomains), a.PendingDomainTaskID,
		a.InputImageName, a.OutputImageName,
		a.Certificate.Enabled, a.Certificate.ValidityDays, a.Certificate.KeyPath, a.Certificate.CertPath,
		jsonMap(a.Labels), q.d.time(a.UpdatedAt),
		a.AccountID, a.ID)
}

// DeleteApp deletes the account's app with ID appID.
func (q *queries) DeleteApp(ctx context.Context, accountID, appID string) error {
	return q.execOne(ctx, "deleting app", `DELETE FROM apps WHERE account_id = ? AND id = ?`, accountID, appID)
}
