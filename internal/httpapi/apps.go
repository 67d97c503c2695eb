package httpapi

import (
	"net/http"

	"github.com/openccm/openccm/internal/app"
	"github.com/openccm/openccm/internal/errs"
	"github.com/openccm/openccm/pkg/apiv1"
)

func certPatch(c *apiv1.CertificateSettingsPatch) *app.CertificatePatch {
	if c == nil {
		return nil
	}
	return &app.CertificatePatch{Enabled: c.Enabled, ValidityDays: c.ValidityDays, KeyPath: c.KeyPath, CertPath: c.CertPath}
}

func (a *API) listApps(w http.ResponseWriter, r *http.Request, c *call) error {
	pg, err := page(r)
	if err != nil {
		return err
	}
	rows, next, err := a.apps.List(r.Context(), c.accountID, r.URL.Query().Get("type"), pg)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, list(rows, next, toApp))
	return nil
}

func (a *API) createApp(w http.ResponseWriter, r *http.Request, c *call) error {
	var req apiv1.CreateAppRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	in := app.Input{Name: &req.Name, Type: &req.Type, Description: &req.Description,
		InputImageName: &req.InputImageName, OutputImageName: &req.OutputImageName, Certificate: certPatch(req.Certificate)}
	if req.Domains != nil {
		in.Domains = &req.Domains
	}
	if req.Labels != nil {
		in.Labels = &req.Labels
	}
	ap, err := a.apps.Create(r.Context(), c.accountID, c.principal.UserID, in)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, toApp(ap))
	return nil
}

func (a *API) getApp(w http.ResponseWriter, r *http.Request, c *call) error {
	ap, err := a.apps.Get(r.Context(), c.accountID, r.PathValue("app_id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toApp(ap))
	return nil
}

func (a *API) updateApp(w http.ResponseWriter, r *http.Request, c *call) error {
	var req apiv1.UpdateAppRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	ap, err := a.apps.Update(r.Context(), c.accountID, r.PathValue("app_id"), c.principal.UserID, app.Input{
		Name: req.Name, Type: req.Type, Description: req.Description, Domains: req.Domains,
		InputImageName: req.InputImageName, OutputImageName: req.OutputImageName,
		Certificate: certPatch(req.Certificate), Labels: req.Labels,
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toApp(ap))
	return nil
}

func (a *API) deleteApp(w http.ResponseWriter, r *http.Request, c *call) error {
	cascade := false
	switch v := r.URL.Query().Get("cascade"); v {
	case "", "false":
	case "true":
		cascade = true
	default:
		return errs.Invalidf("cascade", "must be true or false")
	}
	if err := a.apps.Delete(r.Context(), c.accountID, r.PathValue("app_id"), cascade); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
