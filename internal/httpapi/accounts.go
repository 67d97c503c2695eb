package httpapi

import (
	"net/http"

	"github.com/openccm/openccm/internal/account"
	"github.com/openccm/openccm/internal/store"
	"github.com/openccm/openccm/pkg/apiv1"
)

func accountPatch(name *string, td *string, ap *apiv1.ApprovalPolicyPatch, prio []int, tcb []string) account.Patch {
	p := account.Patch{Name: name, TrustDomain: td, PCRPriority: prio, TCBStatuses: tcb}
	if ap != nil {
		p.RequiredApprovals, p.AllowSelfApproval = ap.RequiredApprovals, ap.AllowSelfApproval
	}
	return p
}

func (a *API) createAccount(w http.ResponseWriter, r *http.Request, c *call) error {
	var req apiv1.CreateAccountRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	acct, err := a.accounts.Create(r.Context(), c.principal, req.Name,
		accountPatch(nil, req.TrustDomain, req.ApprovalPolicy, req.AzureCVMPCRPriority, req.SGXAcceptedTCBStatuses))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, toAccount(acct, store.RoleManager))
	return nil
}

func (a *API) listAccounts(w http.ResponseWriter, r *http.Request, c *call) error {
	pg, err := page(r)
	if err != nil {
		return err
	}
	rows, next, err := a.id.Accounts(r.Context(), c.principal, pg)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, list(rows, next, func(ua *store.UserAccount) apiv1.Account { return toAccount(ua.Account, ua.Role) }))
	return nil
}

func (a *API) getAccount(w http.ResponseWriter, r *http.Request, c *call) error {
	acct, err := a.accounts.Get(r.Context(), c.accountID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toAccount(acct, c.role))
	return nil
}

func (a *API) updateAccount(w http.ResponseWriter, r *http.Request, c *call) error {
	var req apiv1.UpdateAccountRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	acct, err := a.accounts.Update(r.Context(), c.accountID,
		accountPatch(req.Name, req.TrustDomain, req.ApprovalPolicy, req.AzureCVMPCRPriority, req.SGXAcceptedTCBStatuses))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toAccount(acct, c.role))
	return nil
}

func (a *API) deleteAccount(w http.ResponseWriter, r *http.Request, c *call) error {
	if err := a.accounts.Delete(r.Context(), c.accountID); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *API) listMembers(w http.ResponseWriter, r *http.Request, c *call) error {
	pg, err := page(r)
	if err != nil {
		return err
	}
	rows, next, err := a.accounts.Members(r.Context(), c.accountID, pg)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, list(rows, next, toMember))
	return nil
}

func (a *API) addMember(w http.ResponseWriter, r *http.Request, c *call) error {
	var req apiv1.AddMemberRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	role, err := account.ParseRole("role", req.Role)
	if err != nil {
		return err
	}
	m, err := a.accounts.AddMember(r.Context(), c.accountID, req.Email, role, req.Password)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, toMember(m))
	return nil
}

func (a *API) setMemberRole(w http.ResponseWriter, r *http.Request, c *call) error {
	var req apiv1.SetRoleRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	role, err := account.ParseRole("role", req.Role)
	if err != nil {
		return err
	}
	m, err := a.accounts.SetMemberRole(r.Context(), c.accountID, r.PathValue("user_id"), role)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toMember(m))
	return nil
}

func (a *API) removeMember(w http.ResponseWriter, r *http.Request, c *call) error {
	if err := a.accounts.RemoveMember(r.Context(), c.accountID, r.PathValue("user_id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
