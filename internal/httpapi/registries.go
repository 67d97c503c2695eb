package httpapi

import (
	"net/http"

	"github.com/openccm/openccm/internal/registry"
	"github.com/openccm/openccm/pkg/apiv1"
)

func (a *API) listRegistries(w http.ResponseWriter, r *http.Request, c *call) error {
	pg, err := page(r)
	if err != nil {
		return err
	}
	rows, next, err := a.regs.List(r.Context(), c.accountID, pg)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, list(rows, next, toRegistry))
	return nil
}

func (a *API) createRegistry(w http.ResponseWriter, r *http.Request, c *call) error {
	var req apiv1.CreateRegistryRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	reg, err := a.regs.Create(r.Context(), c.accountID, registry.Input{
		URL: &req.URL, Username: &req.Username, Password: &req.Password, Description: &req.Description,
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, toRegistry(reg))
	return nil
}

func (a *API) matchRegistry(w http.ResponseWriter, r *http.Request, c *call) error {
	reg, err := a.regs.Match(r.Context(), c.accountID, r.URL.Query().Get("image"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toRegistry(reg))
	return nil
}

func (a *API) getRegistry(w http.ResponseWriter, r *http.Request, c *call) error {
	reg, err := a.regs.Get(r.Context(), c.accountID, r.PathValue("registry_id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toRegistry(reg))
	return nil
}

func (a *API) updateRegistry(w http.ResponseWriter, r *http.Request, c *call) error {
	var req apiv1.UpdateRegistryRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	reg, err := a.regs.Update(r.Context(), c.accountID, r.PathValue("registry_id"), registry.Input{
		URL: req.URL, Username: req.Username, Password: req.Password, Description: req.Description,
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toRegistry(reg))
	return nil
}

func (a *API) deleteRegistry(w http.ResponseWriter, r *http.Request, c *call) error {
	if err := a.regs.Delete(r.Context(), c.accountID, r.PathValue("registry_id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
