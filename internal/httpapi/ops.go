package httpapi

import (
	"context"
	"net/http"
	"runtime"
	"time"

	"github.com/openccm/openccm/internal/buildinfo"
	"github.com/openccm/openccm/internal/errs"
	"github.com/openccm/openccm/pkg/apiv1"
)

func (a *API) healthz(w http.ResponseWriter, r *http.Request, _ *call) error {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	return nil
}

func (a *API) readyz(w http.ResponseWriter, r *http.Request, _ *call) error {
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	if err := a.db.Ping(ctx); err != nil {
		return errs.Wrap(errs.Transient, err, "the database is not reachable or not migrated")
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
	return nil
}

func (a *API) serveMetrics(w http.ResponseWriter, r *http.Request, _ *call) error {
	a.metricsHandler().ServeHTTP(w, r)
	return nil
}

func (a *API) openapi(w http.ResponseWriter, r *http.Request, _ *call) error {
	w.Header().Set("Content-Type", "application/yaml")
	w.Header().Set("Cache-Control", "public, max-age=300")
	_, _ = w.Write(a.spec)
	return nil
}

func (a *API) version(w http.ResponseWriter, r *http.Request, _ *call) error {
	v, err := a.db.SchemaVersion(r.Context())
	if err != nil {
		return errs.Wrap(errs.Transient, err, "the database is not reachable")
	}
	writeJSON(w, http.StatusOK, apiv1.Version{
		Version: buildinfo.Version(), Commit: buildinfo.Commit(), GoVersion: runtime.Version(), SchemaVersion: v,
	})
	return nil
}
