package httpapi

import (
	"net"
	"net/http"

	"github.com/openccm/openccm/internal/account"
	"github.com/openccm/openccm/internal/errs"
	"github.com/openccm/openccm/internal/ids"
	"github.com/openccm/openccm/internal/store"
	"github.com/openccm/openccm/pkg/apiv1"
)

func (a *API) signup(w http.ResponseWriter, r *http.Request, _ *call) error {
	var req apiv1.Credentials
	if err := decode(r, &req); err != nil {
		return err
	}
	u, err := a.id.Signup(r.Context(), req.Email, req.Password)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, toUser(u, nil))
	return nil
}

func (a *API) login(w http.ResponseWriter, r *http.Request, _ *call) error {
	var req apiv1.Credentials
	if err := decode(r, &req); err != nil {
		return err
	}
	addr, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		addr = r.RemoteAddr
	}
	tok, sess, err := a.id.Login(r.Context(), req.Email, req.Password, addr)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, apiv1.Session{Token: tok, ExpiresAt: sess.ExpiresAt})
	return nil
}

func (a *API) logout(w http.ResponseWriter, r *http.Request, c *call) error {
	if err := a.id.Logout(r.Context(), c.principal); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *API) me(w http.ResponseWriter, r *http.Request, c *call) error {
	u, accounts, err := a.id.Me(r.Context(), c.principal)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toUser(u, accounts))
	return nil
}

func (a *API) createToken(w http.ResponseWriter, r *http.Request, c *call) error {
	var req apiv1.CreateTokenRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	role, err := account.ParseRole("role", req.Role)
	if err != nil {
		return err
	}
	if req.AccountID != "" && !ids.Valid(req.AccountID) {
		return &errs.Error{Kind: errs.NotFound, Field: "account_id", Msg: "no such account"}
	}
	secret, t, err := a.id.CreateToken(r.Context(), c.principal, req.Name, req.AccountID, role, req.ExpiresAt)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, toToken(t, secret))
	return nil
}

func (a *API) listTokens(w http.ResponseWriter, r *http.Request, c *call) error {
	pg, err := page(r)
	if err != nil {
		return err
	}
	rows, next, err := a.id.ListTokens(r.Context(), c.principal, pg)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, list(rows, next, func(t0 *store.Token) apiv1.Token { return toToken(t0, "") }))
	return nil
}

func (a *API) revokeToken(w http.ResponseWriter, r *http.Request, c *call) error {
	if err := a.id.RevokeToken(r.Context(), c.principal, r.PathValue("token_id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
