package webui

import (
	"net"
	"net/http"
	"strings"

	"github.com/openccm/openccm/internal/store"
)

// routes lists the console's pages. Pages that change something are POSTs
// with the session's CSRF token; the services enforce roles as for the API.
func (u *UI) routes() {
	m := u.mux
	m.HandleFunc("GET /login", u.loginPage)
	m.HandleFunc("POST /login", u.login)
	m.Handle("POST /logout", u.authed(false, u.logout))
	m.Handle("GET /accounts", u.authed(false, u.accountsPage))
	m.Handle("POST /accounts", u.authed(false, u.createAccount))
	m.Handle("GET /{$}", u.authed(true, func(w http.ResponseWriter, r *http.Request, s *session) error {
		http.Redirect(w, r, "/apps", http.StatusSeeOther)
		return nil
	}))
	m.Handle("GET /apps", u.authed(true, u.appsPage))
	m.Handle("GET /apps/new", u.authed(true, u.newAppPage))
	m.Handle("POST /apps", u.authed(true, requireRole(store.RoleWriter, u.createApp)))
	m.Handle("GET /apps/{app_id}", u.authed(true, u.appPage))
	u.moreRoutes(m)
	m.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "404 page not found", http.StatusNotFound)
	})
}

func (u *UI) loginPage(w http.ResponseWriter, r *http.Request) {
	p := u.base(nil, "Sign in", "")
	p.Form.Set("next", r.URL.Query().Get("next"))
	u.render(w, r, http.StatusOK, "login", p)
}

// safeNext keeps a post-login redirect on this site.
func safeNext(next string) string {
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/\\") {
		return "/apps"
	}
	return next
}

func (u *UI) login(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	addr, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		addr = r.RemoteAddr
	}
	token, sess, err := u.svc.Identity.Login(r.Context(), r.PostFormValue("email"), r.PostFormValue("password"), addr)
	if err != nil {
		p := u.base(nil, "Sign in", "")
		p.Form.Set("email", r.PostFormValue("email"))
		p.Form.Set("next", r.PostFormValue("next"))
		p.Error = "Wrong email or password."
		if f, msg, ok := fieldErr(err); ok && f != "" {
			p.Errors[f] = msg
			p.Error = ""
		} else if strings.Contains(err.Error(), "too many") {
			p.Error = "Too many failed sign-ins; try again later."
		}
		u.render(w, r, http.StatusUnauthorized, "login", p)
		return
	}
	u.setCookie(w, sessionCookie, token, int(sess.ExpiresAt.Sub(sess.CreatedAt).Seconds()))
	http.Redirect(w, r, safeNext(r.PostFormValue("next")), http.StatusSeeOther)
}

func (u *UI) logout(w http.ResponseWriter, r *http.Request, s *session) error {
	if err := u.svc.Identity.Logout(r.Context(), s.p); err != nil {
		return err
	}
	u.clearCookie(w, sessionCookie)
	http.Redirect(w, r, "/login", http.StatusSeeOther)
	return nil
}

func (u *UI) accountsPage(w http.ResponseWriter, r *http.Request, s *session) error {
	u.pickAccount(w, r, s)
	p := u.base(s, "Accounts", "accounts")
	u.render(w, r, http.StatusOK, "accounts", p)
	return nil
}

func (u *UI) createAccount(w http.ResponseWriter, r *http.Request, s *session) error {
	a, err := u.svc.Accounts.Create(r.Context(), s.p, r.PostFormValue("name"), accountPatchNone())
	if err != nil {
		if f, msg, ok := fieldErr(err); ok {
			p := u.base(s, "Accounts", "accounts")
			p.Errors[f] = msg
			p.Form = r.PostForm
			u.render(w, r, http.StatusBadRequest, "accounts", p)
			return nil
		}
		return err
	}
	u.setCookie(w, accountCookie, a.ID, 0)
	http.Redirect(w, r, "/apps", http.StatusSeeOther)
	return nil
}

// appsData is the Applications page.
type appsData struct {
	Apps []*store.App
	Type string
}

func (u *UI) appsPage(w http.ResponseWriter, r *http.Request, s *session) error {
	t := r.URL.Query().Get("type")
	apps, _, err := u.svc.Apps.List(r.Context(), s.account.ID, t, store.Page{Limit: store.MaxPageLimit})
	if err != nil {
		return err
	}
	p := u.base(s, "Applications", "apps")
	p.Data = appsData{Apps: apps, Type: t}
	u.render(w, r, http.StatusOK, "apps", p)
	return nil
}
