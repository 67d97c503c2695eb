// Package webui serves OpenCCM's web console at /: server-rendered
// html/template pages with htmx (vendored, embedded; no build step) on the
// same domain services as the REST API. Sign-in sets an HttpOnly, Secure,
// SameSite=Strict session cookie; every form carries a CSRF token derived
// from the session; the Content-Security-Policy allows no inline script.
package webui

import (
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"embed"
	"encoding/base64"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/openccm/openccm/internal/audit"
	"github.com/openccm/openccm/internal/core"
	"github.com/openccm/openccm/internal/errs"
	"github.com/openccm/openccm/internal/identity"
	"github.com/openccm/openccm/internal/store"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Cookie names.
const (
	sessionCookie = "ccm_session"
	accountCookie = "ccm_account"
)

// csp allows only this origin's scripts and styles, no inline script, no
// framing, and forms that post only here.
const csp = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
	"frame-ancestors 'none'; form-action 'self'; base-uri 'none'; object-src 'none'"

// Config configures the UI.
type Config struct {
	Services *core.Services
	Log      *slog.Logger
	// Insecure drops the Secure flag of cookies (plain-HTTP development).
	Insecure bool
}

// UI is the web console's handler.
type UI struct {
	svc      *core.Services
	log      *slog.Logger
	insecure bool
	pages    map[string]*template.Template
	mux      *http.ServeMux
}

// New builds the UI.
func New(c Config) (*UI, error) {
	if c.Services == nil {
		return nil, errors.New("webui: services are required")
	}
	u := &UI{svc: c.Services, log: c.Log, insecure: c.Insecure, pages: map[string]*template.Template{}, mux: http.NewServeMux()}
	if u.log == nil {
		u.log = slog.New(slog.DiscardHandler)
	}
	if err := u.parseTemplates(); err != nil {
		return nil, err
	}
	static, _ := fs.Sub(staticFS, "static")
	u.mux.Handle("GET /static/", http.StripPrefix("/static/", cacheStatic(http.FileServerFS(static))))
	u.routes()
	return u, nil
}

func cacheStatic(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=3600")
		h.ServeHTTP(w, r)
	})
}

// ServeHTTP serves the console with its security headers.
func (u *UI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", csp)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "same-origin")
	if !strings.HasPrefix(r.URL.Path, "/static/") {
		h.Set("Cache-Control", "no-store")
	}
	u.mux.ServeHTTP(w, r)
}

func (u *UI) parseTemplates() error {
	funcs := template.FuncMap{
		"join":  strings.Join,
		"lower": strings.ToLower,
		"time": func(t time.Time) string {
			if t.IsZero() {
				return "—"
			}
			return t.UTC().Format("2006-01-02 15:04 UTC")
		},
		"short": func(s string) string {
			if len(s) > 13 {
				return s[:8] + "…" + s[len(s)-4:]
			}
			return s
		},
		"query": url.QueryEscape,
		"seq": func(n int) []int {
			s := make([]int, n)
			for i := range s {
				s[i] = i
			}
			return s
		},
		"add":         func(a, b int) int { return a + b },
		"roleAtLeast": func(have store.Role, want string) bool { return have.AtLeast(store.Role(want)) },
		"creds":       func(p *page, prefix string) credFields { return credFields{Page: p, Prefix: prefix} },
	}
	base, err := template.New("").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/parts.html")
	if err != nil {
		return fmt.Errorf("webui: %w", err)
	}
	entries, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		return err
	}
	for _, e := range entries {
		name := strings.TrimSuffix(strings.TrimPrefix(e, "templates/"), ".html")
		if name == "layout" || name == "parts" {
			continue
		}
		t, err := base.Clone()
		if err != nil {
			return err
		}
		if _, err := t.ParseFS(templateFS, e); err != nil {
			return fmt.Errorf("webui: %s: %w", e, err)
		}
		u.pages[name] = t
	}
	return nil
}

// credFields is what the "credentials" template receives.
type credFields struct {
	Page   *page
	Prefix string
}

// page is what every page template receives.
type page struct {
	Title    string
	Nav      string
	User     *identity.Principal
	Role     store.Role
	Account  *store.Account
	Accounts []*store.UserAccount
	CSRF     string
	Flash    string
	Error    string
	// Errors maps a form field (the API's JSON path) to its message.
	Errors map[string]string
	// Form holds what was typed, so that a refused form keeps it.
	Form url.Values
	Data any
}

// render writes a page; a full document, or only its "content" block for htmx requests.
func (u *UI) render(w http.ResponseWriter, r *http.Request, status int, name string, p *page) {
	t := u.pages[name]
	if t == nil {
		http.Error(w, "no such page", http.StatusInternalServerError)
		return
	}
	var buf bytes.Buffer
	tmpl := "layout"
	if p.User == nil {
		tmpl = "bare"
	}
	if err := t.ExecuteTemplate(&buf, tmpl, p); err != nil {
		u.log.Error("rendering a page", "page", name, "error", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// csrfToken is derived from the session token, which only the browser
// holding the HttpOnly cookie knows: no state to share between replicas.
func csrfToken(session string) string {
	h := sha256.Sum256([]byte("openccm-csrf-v1\x00" + session))
	return base64.RawURLEncoding.EncodeToString(h[:])
}

// session is a signed-in request.
type session struct {
	p       *identity.Principal
	token   string
	account *store.Account
	role    store.Role
	list    []*store.UserAccount
}

type handler func(w http.ResponseWriter, r *http.Request, s *session) error

// requireRole refuses the handler to members below min in the current
// account: the services do not check roles (the API's policy table does),
// so every page that changes something names its role here.
func requireRole(min store.Role, h handler) handler {
	return func(w http.ResponseWriter, r *http.Request, s *session) error {
		if err := need(s, min); err != nil {
			return err
		}
		return h(w, r, s)
	}
}

// authed wraps a page that needs a signed-in user (and, when needAccount,
// a current account). POSTs must carry the session's CSRF token.
func (u *UI) authed(needAccount bool, h handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := r.Cookie(sessionCookie)
		if err != nil || c.Value == "" {
			u.toLogin(w, r)
			return
		}
		p, err := u.svc.Identity.Authenticate(r.Context(), c.Value)
		if err != nil || p.ViaToken() {
			u.clearCookie(w, sessionCookie)
			u.toLogin(w, r)
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			if err := r.ParseMultipartForm(8 << 20); err != nil && !errors.Is(err, http.ErrNotMultipart) {
				http.Error(w, "bad form", http.StatusBadRequest)
				return
			}
			got := r.PostFormValue("csrf")
			if got == "" {
				got = r.Header.Get("X-CSRF-Token")
			}
			if subtle.ConstantTimeCompare([]byte(got), []byte(csrfToken(c.Value))) != 1 {
				u.log.Warn("web form without a valid CSRF token refused", "path", r.URL.Path)
				http.Error(w, "forbidden: the form is stale or was not sent by this site; reload the page", http.StatusForbidden)
				return
			}
		}
		s := &session{p: p, token: c.Value}
		s.list, _, err = u.svc.Identity.Accounts(r.Context(), p, store.Page{Limit: store.MaxPageLimit})
		if err != nil {
			u.fail(w, r, s, err)
			return
		}
		if needAccount {
			if !u.pickAccount(w, r, s) {
				http.Redirect(w, r, "/accounts", http.StatusSeeOther)
				return
			}
		}
		ctx := audit.WithActor(r.Context(), audit.Actor{Type: audit.ActorUser, ID: p.UserID})
		if err := h(w, r.WithContext(ctx), s); err != nil {
			u.fail(w, r, s, err)
		}
	})
}

// pickAccount selects the current account: ?account=, then the cookie,
// then the first account.
func (u *UI) pickAccount(w http.ResponseWriter, r *http.Request, s *session) bool {
	want := r.URL.Query().Get("account")
	if want == "" {
		if c, err := r.Cookie(accountCookie); err == nil {
			want = c.Value
		}
	}
	for _, ua := range s.list {
		if ua.Account.ID == want {
			s.account, s.role = ua.Account, ua.Role
		}
	}
	if s.account == nil && len(s.list) > 0 {
		s.account, s.role = s.list[0].Account, s.list[0].Role
	}
	if s.account == nil {
		return false
	}
	u.setCookie(w, accountCookie, s.account.ID, 0)
	return true
}

func (u *UI) base(s *session, title, nav string) *page {
	p := &page{Title: title, Nav: nav, Errors: map[string]string{}, Form: url.Values{}}
	if s != nil {
		p.User, p.Account, p.Role, p.Accounts, p.CSRF = s.p, s.account, s.role, s.list, csrfToken(s.token)
	}
	return p
}

func (u *UI) toLogin(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("HX-Request") == "true" {
		w.Header().Set("HX-Redirect", "/login")
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	http.Redirect(w, r, "/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
}

func (u *UI) setCookie(w http.ResponseWriter, name, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: value, Path: "/", MaxAge: maxAge,
		HttpOnly: true, Secure: !u.insecure, SameSite: http.SameSiteStrictMode})
}

func (u *UI) clearCookie(w http.ResponseWriter, name string) { u.setCookie(w, name, "", -1) }

// fail renders an error: field errors are for the forms to show; others
// get an error page with a safe message.
func (u *UI) fail(w http.ResponseWriter, r *http.Request, s *session, err error) {
	var e *errs.Error
	status, msg := http.StatusInternalServerError, "Something went wrong on the server. The log has the details."
	if errors.As(err, &e) {
		switch e.Kind {
		case errs.NotFound:
			status, msg = http.StatusNotFound, e.Msg
		case errs.PermissionDenied:
			status, msg = http.StatusForbidden, e.Msg
		case errs.Conflict:
			status, msg = http.StatusConflict, e.Msg
		case errs.Invalid, errs.InvalidJSON:
			status, msg = http.StatusBadRequest, strings.TrimSpace(e.Field+" "+e.Msg)
		case errs.Internal:
		default:
			status, msg = http.StatusBadRequest, e.Msg
		}
	}
	if status == http.StatusInternalServerError {
		u.log.Error("web request failed", "path", r.URL.Path, "error", err)
	}
	p := u.base(s, "Error", "")
	p.Error = msg
	u.render(w, r, status, "error", p)
}

// fieldErr returns the field and message of a validation error, or "".
func fieldErr(err error) (string, string, bool) {
	var e *errs.Error
	if errors.As(err, &e) && (e.Kind == errs.Invalid || e.Kind == errs.Conflict) {
		return e.Field, e.Msg, true
	}
	return "", "", false
}
