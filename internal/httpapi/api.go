// Package httpapi serves the OpenCCM REST API v1: routing, authentication,
// the role policy table, request decoding, and the one function that turns
// errors into HTTP responses. Handlers are thin: the rules live in the
// domain services.
package httpapi

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/openccm/openccm/internal/account"
	"github.com/openccm/openccm/internal/app"
	"github.com/openccm/openccm/internal/approval"
	"github.com/openccm/openccm/internal/attest"
	"github.com/openccm/openccm/internal/audit"
	"github.com/openccm/openccm/internal/ca"
	"github.com/openccm/openccm/internal/core"
	"github.com/openccm/openccm/internal/errs"
	"github.com/openccm/openccm/internal/identity"
	"github.com/openccm/openccm/internal/image"
	"github.com/openccm/openccm/internal/registry"
	"github.com/openccm/openccm/internal/store"
	"github.com/openccm/openccm/pkg/apiv1"
)

// DefaultMaxBody is the default request body limit (8 MiB).
const DefaultMaxBody = 8 << 20

// Pinger reports whether the database is reachable and migrated.
type Pinger interface {
	Ping(ctx context.Context) error
	SchemaVersion(ctx context.Context) (int, error)
}

// Config configures the API.
type Config struct {
	Services *core.Services
	DB       Pinger
	// Spec is the OpenAPI document served at /api/openapi.yaml.
	Spec []byte
	// Metrics is where request metrics are registered; Gatherer serves /metrics.
	Metrics  prometheus.Registerer
	Gatherer prometheus.Gatherer
	Log      *slog.Logger
	// MaxBody limits request bodies (default 8 MiB).
	MaxBody int64
	// Fallback serves what is not the API (the web console); nil answers
	// those paths with a JSON 404 too.
	Fallback http.Handler
}

// API is the HTTP handler of the REST API.
type API struct {
	id       *identity.Service
	accounts *account.Service
	regs     *registry.Service
	apps     *app.Service
	images   *image.Service
	tasks    *approval.Service
	attest   *attest.Service
	ca       *ca.Service
	audit    *audit.Log
	st       store.Store
	db       Pinger
	spec     []byte
	gatherer prometheus.Gatherer
	log      *slog.Logger
	maxBody  int64
	metrics  *metrics
	routes   []route
	handler  http.Handler
}

// New builds the API.
func New(c Config) (*API, error) {
	if c.Services == nil || c.DB == nil {
		return nil, errors.New("httpapi: services and database are required")
	}
	sv := c.Services
	a := &API{id: sv.Identity, accounts: sv.Accounts, regs: sv.Registries, apps: sv.Apps, images: sv.Images,
		tasks: sv.Tasks, attest: sv.Attest, ca: sv.CA, audit: sv.Audit, st: sv.Store, db: c.DB,
		spec: c.Spec, gatherer: c.Gatherer, log: c.Log, maxBody: c.MaxBody}
	if a.log == nil {
		a.log = slog.New(slog.DiscardHandler)
	}
	if a.maxBody <= 0 {
		a.maxBody = DefaultMaxBody
	}
	reg := c.Metrics
	if reg == nil {
		r := prometheus.NewRegistry()
		reg, a.gatherer = r, r
	}
	if a.gatherer == nil {
		a.gatherer = prometheus.DefaultGatherer
	}
	m, err := newMetrics(reg)
	if err != nil {
		return nil, err
	}
	a.metrics = m
	a.routes = a.routeTable()
	mux := http.NewServeMux()
	methodsByPath := map[string][]string{}
	for _, rt := range a.routes {
		mux.Handle(rt.method+" "+rt.pattern, a.wrap(rt))
		methodsByPath[rt.pattern] = append(methodsByPath[rt.pattern], rt.method)
	}
	// A known path with another method gets a JSON 405, not the mux's text.
	for p, methods := range methodsByPath {
		allow := strings.Join(methods, ", ")
		for _, m := range []string{"GET", "POST", "PUT", "PATCH", "DELETE"} {
			if slices.Contains(methods, m) {
				continue
			}
			mux.HandleFunc(m+" "+p, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Allow", allow)
				writeJSON(w, http.StatusMethodNotAllowed, errorBody(apiv1.CodeMethodNotAllowed, "this path accepts "+allow, r))
			})
		}
	}
	noRoute := func(w http.ResponseWriter, r *http.Request) {
		a.writeError(w, r, errs.NotFoundf("no route matches %s %s", r.Method, r.URL.Path))
	}
	mux.HandleFunc("/v1/", noRoute)
	mux.HandleFunc("/api/", noRoute)
	if c.Fallback != nil {
		mux.Handle("/", c.Fallback)
	} else {
		mux.HandleFunc("/", noRoute)
	}
	a.handler = a.middleware(mux)
	return a, nil
}

// ServeHTTP serves the API.
func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) { a.handler.ServeHTTP(w, r) }

func (a *API) metricsHandler() http.Handler {
	return promhttp.HandlerFor(a.gatherer, promhttp.HandlerOpts{})
}

// Prune removes expired sessions, old sign-in failures and expired nonces every interval
// until ctx ends.
func (a *API) Prune(ctx context.Context, every time.Duration) error {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			if err := a.id.PruneExpired(ctx); err != nil && ctx.Err() == nil {
				a.log.Warn("pruning expired sessions failed", slog.Any("error", err))
			}
			if err := a.attest.PruneNonces(ctx); err != nil && ctx.Err() == nil {
				a.log.Warn("pruning expired nonces failed", slog.Any("error", err))
			}
		}
	}
}
