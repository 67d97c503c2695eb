package httpapi

import (
	"mime"
	"net/http"

	"github.com/openccm/openccm/internal/image"
	"github.com/openccm/openccm/internal/platform/nitro"
	"github.com/openccm/openccm/internal/store"
	"github.com/openccm/openccm/pkg/apiv1"
)

func (a *API) createImage(w http.ResponseWriter, r *http.Request, c *call) error {
	var req apiv1.CreateImageRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	img, err := a.images.Create(r.Context(), c.accountID, r.PathValue("app_id"), c.principal.UserID, req)
	if err != nil {
		return err
	}
	status := http.StatusCreated
	if img.Status == store.ImagePending {
		// A build job was queued; the image becomes ready when it finishes.
		status = http.StatusAccepted
	}
	writeJSON(w, status, toImage(img))
	return nil
}

func imageFilter(r *http.Request) store.ImageFilter {
	q := r.URL.Query()
	return store.ImageFilter{
		Type: store.AppType(q.Get("type")), Status: store.ImageStatus(q.Get("status")),
		ApprovalStatus: store.ApprovalStatus(q.Get("approval_status")),
	}
}

func (a *API) listAppImages(w http.ResponseWriter, r *http.Request, c *call) error {
	f := imageFilter(r)
	f.AppID = r.PathValue("app_id")
	return a.listImagesWith(w, r, c, f)
}

func (a *API) listImages(w http.ResponseWriter, r *http.Request, c *call) error {
	return a.listImagesWith(w, r, c, imageFilter(r))
}

func (a *API) listImagesWith(w http.ResponseWriter, r *http.Request, c *call, f store.ImageFilter) error {
	pg, err := page(r)
	if err != nil {
		return err
	}
	rows, next, err := a.images.List(r.Context(), c.accountID, f, pg)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, list(rows, next, toImage))
	return nil
}

func (a *API) getImage(w http.ResponseWriter, r *http.Request, c *call) error {
	img, err := a.images.Get(r.Context(), c.accountID, r.PathValue("image_id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toImage(img))
	return nil
}

func (a *API) deleteImage(w http.ResponseWriter, r *http.Request, c *call) error {
	if err := a.images.Delete(r.Context(), c.accountID, r.PathValue("image_id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *API) imageBuild(w http.ResponseWriter, r *http.Request, c *call) error {
	j, err := a.images.Build(r.Context(), c.accountID, r.PathValue("image_id"))
	if err != nil {
		return err
	}
	b := apiv1.Build{JobID: j.ID, ImageID: j.ImageID, Kind: j.Kind, Status: string(j.Status),
		Progress: j.Progress, Log: nonNil(j.Log), Attempts: j.Attempts, Error: j.Error, CreatedAt: j.CreatedAt, UpdatedAt: j.UpdatedAt}
	if j.Status == store.JobQueued && j.Attempts > 0 {
		next := j.NextAttemptAt
		b.NextAttemptAt = &next
	}
	writeJSON(w, http.StatusOK, b)
	return nil
}

func (a *API) toolSigstruct(w http.ResponseWriter, r *http.Request, _ *call) error {
	var req apiv1.SigstructRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	ss, err := image.ParseSigstructBase64(req.Sigstruct)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, image.SigstructInfo(ss))
	return nil
}

func (a *API) toolNitroMeasurements(w http.ResponseWriter, r *http.Request, _ *call) error {
	var req apiv1.NitroMeasurementsRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	m, err := nitro.ParseMeasurements(req.MeasurementJSON)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, apiv1.NitroMeasurements{PCR0: m.PCR0, PCR1: m.PCR1, PCR2: m.PCR2, PCR8: m.PCR8})
	return nil
}

// imagePolicy serves an ACI image's ARM template (a download), or its
// policy in Rego with ?format=rego.
func (a *API) imagePolicy(w http.ResponseWriter, r *http.Request, c *call) error {
	format := r.URL.Query().Get("format")
	b, name, err := a.images.Policy(r.Context(), c.accountID, r.PathValue("image_id"), format)
	if err != nil {
		return err
	}
	ct := "application/json"
	if format == "rego" {
		ct = "text/plain; charset=utf-8"
	}
	w.Header().Set("Content-Type", ct)
	w.Header().Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": name}))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
	return nil
}
