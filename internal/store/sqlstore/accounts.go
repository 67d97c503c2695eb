package sqlstore

import (
	"context"

	"github.com/openccm/openccm/internal/store"
)

const accountColumns = `id, name, trust_domain, required_approvals, allow_self_approval,
	azure_cvm_pcr_priority, sgx_accepted_tcb_statuses, created_at, updated_at`

func scanAccount(s scanner) (*store.Account, error) {
	var a store.Account
	err := s.Scan(&a.ID, &a.Name, &a.TrustDomain,
		&a.ApprovalPolicy.RequiredApprovals, &a.ApprovalPolicy.AllowSelfApproval,
		listScan[int]{&a.AzureCVMPCRPriority}, listScan[string]{&a.SGXAcceptedTCBStatuses},
		timeScan{&a.CreatedAt}, timeScan{&a.UpdatedAt})
	if err != nil {
		return nil, err
	}
	return &a, nil
}

// CreateAccount inserts a; ConflictError "accounts.name" on a duplicate name.
func (q *queries) CreateAccount(ctx context.Context, a *store.Account) error {
	_, err := q.exec(ctx, `INSERT INTO accounts (`+accountColumns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		a.ID, a.Name, a.TrustDomain,
		a.ApprovalPolicy.RequiredApprovals, a.ApprovalPolicy.AllowSelfApproval,
		jsonList(a.AzureCVMPCRPriority), jsonList(a.SGXAcceptedTCBStatuses),
		q.d.time(a.CreatedAt), q.d.time(a.UpdatedAt))
	return wrap("creating account", err)
}

// GetAccount returns the account with ID accountID.
func (q *queries) GetAccount(ctx context.Context, accountID string) (*store.Account, error) {
	a, err := scanAccount(q.queryRow(ctx, `SELECT `+accountColumns+` FROM accounts WHERE id = ?`, accountID))
	if err != nil {
		return nil, wrap("getting account", err)
	}
	return a, nil
}

// UpdateAccount replaces every field of the account with a.ID except its
// ID and CreatedAt.
func (q *queries) UpdateAccount(ctx context.Context, a *store.Account) error {
	return q.execOne(ctx, "updating account", `UPDATE accounts SET
		name = ?, trust_domain = ?, required_approvals = ?, allow_self_approval = ?,
		azure_cvm_pcr_priority = ?, sgx_accepted_tcb_statuses = ?, updated_at = ?
		WHERE id = ?`,
		a.Name, a.TrustDomain, a.ApprovalPolicy.RequiredApprovals, a.ApprovalPolicy.AllowSelfApproval,
		jsonList(a.AzureCVMPCRPriority), jsonList(a.SGXAcceptedTCBStatuses), q.d.time(a.UpdatedAt),
		a.ID)
}

// DeleteAccount deletes the account; foreign keys cascade the delete to
// everything in it.
func (q *queries) DeleteAccount(ctx context.Context, accountID string) error {
	return q.execOne(ctx, "deleting account", `DELETE FROM accounts WHERE id = ?`, accountID)
}
