package webui

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/openccm/openccm/internal/account"
	"github.com/openccm/openccm/internal/attest"
	"github.com/openccm/openccm/internal/audit"
	"github.com/openccm/openccm/internal/ca"
	"github.com/openccm/openccm/internal/errs"
	"github.com/openccm/openccm/internal/registry"
	"github.com/openccm/openccm/internal/store"
)

// settingsRoutes registers tasks, settings, certificates, audit and explain.
func (u *UI) settingsRoutes(m *http.ServeMux) {
	m.Handle("GET /tasks", u.authed(true, u.tasksPage))
	m.Handle("GET /tasks/{task_id}", u.authed(true, u.taskPage))
	m.Handle("POST /tasks/{task_id}/approve", u.authed(true, u.decideTask(store.DecisionApprove)))
	m.Handle("POST /tasks/{task_id}/deny", u.authed(true, u.decideTask(store.DecisionDeny)))

	m.Handle("GET /settings", u.authed(true, u.settingsTab("general")))
	m.Handle("GET /settings/policy", u.authed(true, u.settingsTab("general")))
	m.Handle("GET /settings/registries", u.authed(true, u.settingsTab("registries")))
	m.Handle("GET /settings/members", u.authed(true, u.settingsTab("members")))
	m.Handle("GET /settings/tokens", u.authed(true, u.settingsTab("tokens")))
	m.Handle("POST /settings/policy", u.authed(true, u.savePolicy))
	m.Handle("POST /settings/pcr-priority", u.authed(true, u.savePCRPriority))
	m.Handle("POST /settings/sgx-tcb", u.authed(true, u.saveTCBStatuses))
	m.Handle("POST /settings/registries", u.authed(true, u.addRegistry))
	m.Handle("POST /settings/registries/{registry_id}/delete", u.authed(true, u.deleteRegistry))
	m.Handle("POST /settings/members", u.authed(true, u.addMember))
	m.Handle("POST /settings/members/{user_id}/role", u.authed(true, u.setMemberRole))
	m.Handle("POST /settings/members/{user_id}/delete", u.authed(true, u.removeMember))
	m.Handle("POST /settings/tokens", u.authed(true, u.createToken))
	m.Handle("POST /settings/tokens/{token_id}/revoke", u.authed(true, u.revokeToken))

	m.Handle("GET /certificates", u.authed(true, u.certificatesPage))
	m.Handle("POST /certificates/{certificate_id}/revoke", u.authed(true, u.revokeCertificate))
	m.Handle("GET /ca.pem", u.authed(true, u.caPEM))
	m.Handle("GET /ca.crl", u.authed(true, u.caCRL))

	m.Handle("GET /audit", u.authed(true, u.auditPage))

	m.Handle("GET /explain", u.authed(true, u.explainPage))
	m.Handle("POST /explain", u.authed(true, u.explainPage))
}

// need refuses a change the session's role does not allow, as the API's
// policy table does.
func need(s *session, role store.Role) error {
	if !s.role.AtLeast(role) {
		return errs.Forbiddenf("this needs the %s role in the account; you are %s", role, s.role)
	}
	return nil
}

// redirectFlash answers a successful form with 303 to path and a message.
func redirectFlash(w http.ResponseWriter, r *http.Request, path, flash string) {
	sep := "?"
	if strings.Contains(path, "?") {
		sep = "&"
	}
	http.Redirect(w, r, path+sep+"flash="+url.QueryEscape(flash), http.StatusSeeOther)
}

// errStatus classifies an error a page shows in place (as an alert or a
// field error) instead of the error page; ok is false for other errors.
func errStatus(err error) (status int, field, msg string, ok bool) {
	var e *errs.Error
	if !errors.As(err, &e) {
		return 0, "", "", false
	}
	switch e.Kind {
	case errs.Invalid, errs.InvalidJSON:
		return http.StatusBadRequest, e.Field, e.Msg, true
	case errs.PermissionDenied:
		return http.StatusForbidden, e.Field, e.Msg, true
	case errs.Conflict:
		return http.StatusConflict, e.Field, e.Msg, true
	}
	return 0, "", "", false
}

// emails maps the account's members' user IDs to their emails.
func (u *UI) emails(ctx context.Context, s *session) map[string]string {
	out := map[string]string{}
	ms, _, err := u.svc.Accounts.Members(ctx, s.account.ID, store.Page{Limit: store.MaxPageLimit})
	if err != nil {
		return out
	}
	for _, m := range ms {
		out[m.UserID] = m.Email
	}
	return out
}

func who(emails map[string]string, userID string) string {
	if e, ok := emails[userID]; ok {
		return e
	}
	if userID == "" {
		return "—"
	}
	if len(userID) > 13 {
		return userID[:8] + "…"
	}
	return userID
}

// ---- Tasks ----

// taskRow is a task as the lists show it.
type taskRow struct {
	T            *store.Task
	SubjectURL   string
	SubjectLabel string
	CreatedBy    string
	Approvals    int
}

type tasksData struct {
	Tab  string // pending or closed
	Kind string
	Rows []taskRow
}

type taskData struct {
	Row       taskRow
	CanDecide bool
	Decided   string // the viewer's decision, when made
}

// subjects resolves tasks' subjects to labels and links, caching lookups.
type subjects struct {
	u      *UI
	ctx    context.Context
	acct   string
	apps   map[string]*store.App
	images map[string]*store.Image
}

func (sb *subjects) app(id string) *store.App {
	if a, ok := sb.apps[id]; ok {
		return a
	}
	a, err := sb.u.svc.Store.GetApp(sb.ctx, sb.acct, id)
	if err != nil {
		a = nil
	}
	sb.apps[id] = a
	return a
}

func (sb *subjects) image(id string) *store.Image {
	if i, ok := sb.images[id]; ok {
		return i
	}
	i, err := sb.u.svc.Store.GetImage(sb.ctx, sb.acct, id)
	if err != nil {
		i = nil
	}
	sb.images[id] = i
	return i
}

func (u *UI) newSubjects(ctx context.Context, s *session) *subjects {
	return &subjects{u: u, ctx: ctx, acct: s.account.ID, apps: map[string]*store.App{}, images: map[string]*store.Image{}}
}

func (sb *subjects) row(t *store.Task, emails map[string]string) taskRow {
	r := taskRow{T: t, CreatedBy: who(emails, t.CreatedBy)}
	for _, d := range t.Decisions {
		if d.Decision == store.DecisionApprove {
			r.Approvals++
		}
	}
	switch t.SubjectType {
	case "image":
		if img := sb.image(t.SubjectID); img != nil {
			r.SubjectURL = "/images/" + img.ID
			r.SubjectLabel = "version " + img.Version
			if a := sb.app(img.AppID); a != nil {
				r.SubjectLabel = a.Name + " " + img.Version
			}
		} else {
			r.SubjectLabel = "deleted image"
		}
	case "app":
		if a := sb.app(t.SubjectID); a != nil {
			r.SubjectURL, r.SubjectLabel = "/apps/"+a.ID, a.Name
		} else {
			r.SubjectLabel = "deleted application"
		}
	default:
		r.SubjectLabel = t.SubjectType + " " + t.SubjectID
	}
	return r
}

func (u *UI) tasksPage(w http.ResponseWriter, r *http.Request, s *session) error {
	q := r.URL.Query()
	tab, kind := q.Get("tab"), q.Get("kind")
	if tab != "closed" {
		tab = "pending"
	}
	if kind != string(store.TaskImageApproval) && kind != string(store.TaskDomainApproval) {
		kind = ""
	}
	var tasks []*store.Task
	statuses := []store.TaskStatus{store.TaskPending}
	if tab == "closed" {
		statuses = []store.TaskStatus{store.TaskApproved, store.TaskDenied}
	}
	for _, st := range statuses {
		rows, _, err := u.svc.Tasks.List(r.Context(), s.account.ID, string(st), kind, store.Page{Limit: store.MaxPageLimit})
		if err != nil {
			return err
		}
		tasks = append(tasks, rows...)
	}
	// Newest first (IDs are UUIDv7: creation order).
	sort.SliceStable(tasks, func(i, j int) bool { return tasks[i].ID > tasks[j].ID })
	emails := u.emails(r.Context(), s)
	sb := u.newSubjects(r.Context(), s)
	d := tasksData{Tab: tab, Kind: kind}
	for _, t := range tasks {
		d.Rows = append(d.Rows, sb.row(t, emails))
	}
	p := u.base(s, "Tasks", "tasks")
	p.Flash = q.Get("flash")
	p.Data = d
	u.render(w, r, http.StatusOK, "tasks", p)
	return nil
}

func (u *UI) taskData(ctx context.Context, s *session, taskID string) (taskData, error) {
	t, err := u.svc.Tasks.Get(ctx, s.account.ID, taskID)
	if err != nil {
		return taskData{}, err
	}
	d := taskData{Row: u.newSubjects(ctx, s).row(t, u.emails(ctx, s))}
	for _, dec := range t.Decisions {
		if dec.UserID == s.p.UserID {
			d.Decided = string(dec.Decision)
		}
	}
	d.CanDecide = t.Status == store.TaskPending && s.role.AtLeast(store.RoleWriter) && d.Decided == ""
	return d, nil
}

func (u *UI) taskPage(w http.ResponseWriter, r *http.Request, s *session) error {
	d, err := u.taskData(r.Context(), s, r.PathValue("task_id"))
	if err != nil {
		return err
	}
	p := u.base(s, "Task", "tasks")
	p.Flash = r.URL.Query().Get("flash")
	p.Data = d
	u.render(w, r, http.StatusOK, "task", p)
	return nil
}

func (u *UI) decideTask(dec store.Decision) handler {
	return func(w http.ResponseWriter, r *http.Request, s *session) error {
		id := r.PathValue("task_id")
		field := "comment"
		if dec == store.DecisionDeny {
			field = "reason"
		}
		comment := r.PostFormValue(field)
		err := need(s, store.RoleWriter)
		if err == nil {
			_, err = u.svc.Tasks.Decide(r.Context(), s.account.ID, id, s.p.UserID, dec, comment)
		}
		if err == nil {
			msg := "You approved the task."
			if dec == store.DecisionDeny {
				msg = "You declined the task."
			}
			redirectFlash(w, r, "/tasks/"+id, msg)
			return nil
		}
		status, f, msg, ok := errStatus(err)
		if !ok {
			return err
		}
		d, derr := u.taskData(r.Context(), s, id)
		if derr != nil {
			return derr
		}
		p := u.base(s, "Task", "tasks")
		p.Data = d
		p.Form = r.PostForm
		if f != "" && status == http.StatusBadRequest {
			p.Errors[f] = msg
		} else {
			p.Error = msg
		}
		u.render(w, r, status, "task", p)
		return nil
	}
}

// ---- Settings ----

type settingsData struct {
	Tab        string
	Account    *store.Account
	PCR        string
	Registries []*store.Registry
	Members    []*store.Member
	Tokens     []tokenRow
	// NewToken is a token just created: shown once, never again.
	NewToken string
	// Roles are the roles the viewer may give (members, tokens).
	Roles []string
	Me    string
	// TCB lists every SGX TCB status with whether the account accepts it.
	TCB []tcbChoice
}

type tcbChoice struct {
	Status   string
	Accepted bool
}

type tokenRow struct {
	T         *store.Token
	CreatedBy string
	CanRevoke bool
}

func joinInts(p []int) string {
	s := make([]string, len(p))
	for i, v := range p {
		s[i] = strconv.Itoa(v)
	}
	return strings.Join(s, ", ")
}

func rolesUpTo(r store.Role) []string {
	out := []string{}
	for _, x := range []store.Role{store.RoleReader, store.RoleWriter, store.RoleManager} {
		if r.AtLeast(x) {
			out = append(out, string(x))
		}
	}
	return out
}

func (u *UI) settingsTab(tab string) handler {
	return func(w http.ResponseWriter, r *http.Request, s *session) error {
		p := u.base(s, "Settings", "settings")
		p.Flash = r.URL.Query().Get("flash")
		return u.renderSettings(w, r, s, tab, http.StatusOK, p, "")
	}
}

// renderSettings loads one settings tab and renders it with p's messages.
func (u *UI) renderSettings(w http.ResponseWriter, r *http.Request, s *session, tab string, status int, p *page, newToken string) error {
	ctx := r.Context()
	acct, err := u.svc.Accounts.Get(ctx, s.account.ID)
	if err != nil {
		return err
	}
	d := settingsData{Tab: tab, Account: acct, PCR: joinInts(acct.AzureCVMPCRPriority), NewToken: newToken,
		Roles: rolesUpTo(s.role), Me: s.p.UserID}
	for _, st := range account.TCBStatuses {
		d.TCB = append(d.TCB, tcbChoice{Status: st, Accepted: slices.Contains(acct.SGXAcceptedTCBStatuses, st)})
	}
	switch tab {
	case "registries":
		if d.Registries, _, err = u.svc.Registries.List(ctx, s.account.ID, store.Page{Limit: store.MaxPageLimit}); err != nil {
			return err
		}
	case "members":
		if d.Members, _, err = u.svc.Accounts.Members(ctx, s.account.ID, store.Page{Limit: store.MaxPageLimit}); err != nil {
			return err
		}
	case "tokens":
		toks, _, err := u.svc.Identity.ListTokens(ctx, s.p, store.Page{Limit: store.MaxPageLimit})
		if err != nil {
			return err
		}
		emails := u.emails(ctx, s)
		for _, t := range toks {
			if t.AccountID != s.account.ID {
				continue
			}
			mine := t.UserID == s.p.UserID
			if !mine && s.role != store.RoleManager {
				continue
			}
			d.Tokens = append(d.Tokens, tokenRow{T: t, CreatedBy: who(emails, t.UserID),
				CanRevoke: (mine && s.role.AtLeast(store.RoleWriter)) || s.role == store.RoleManager})
		}
	}
	// A refused form keeps what was typed, but never a password.
	p.Form.Del("password")
	p.Data = d
	u.render(w, r, status, "settings", p)
	return nil
}

// formFailed re-renders a settings tab for a refused form, or returns err
// for errors that are not the form's.
func (u *UI) formFailed(w http.ResponseWriter, r *http.Request, s *session, tab, defField string, err error) error {
	status, f, msg, ok := errStatus(err)
	if !ok {
		return err
	}
	p := u.base(s, "Settings", "settings")
	p.Form = r.PostForm
	switch {
	case status == http.StatusBadRequest && f != "":
		p.Errors[f] = msg
	case status == http.StatusBadRequest && defField != "":
		p.Errors[defField] = msg
	default:
		p.Error = msg
	}
	return u.renderSettings(w, r, s, tab, status, p, "")
}

func (u *UI) savePolicy(w http.ResponseWriter, r *http.Request, s *session) error {
	if err := need(s, store.RoleManager); err != nil {
		return u.formFailed(w, r, s, "general", "", err)
	}
	n, err := strconv.Atoi(strings.TrimSpace(r.PostFormValue("required_approvals")))
	if err != nil {
		return u.formFailed(w, r, s, "general", "", errs.Invalidf("approval_policy.required_approvals", "must be a whole number from 1 to 10"))
	}
	self := r.PostFormValue("allow_self_approval") == "on"
	if _, err := u.svc.Accounts.Update(r.Context(), s.account.ID, account.Patch{RequiredApprovals: &n, AllowSelfApproval: &self}); err != nil {
		return u.formFailed(w, r, s, "general", "approval_policy.required_approvals", err)
	}
	redirectFlash(w, r, "/settings", "Approval policy saved.")
	return nil
}

// saveTCBStatuses sets the SGX TCB statuses the account accepts.
func (u *UI) saveTCBStatuses(w http.ResponseWriter, r *http.Request, s *session) error {
	if err := need(s, store.RoleManager); err != nil {
		return u.formFailed(w, r, s, "general", "", err)
	}
	if err := r.ParseForm(); err != nil {
		return err
	}
	statuses := r.PostForm["sgx_accepted_tcb_statuses"]
	if len(statuses) == 0 { // an empty Patch field means "unchanged"
		return u.formFailed(w, r, s, "general", "sgx_accepted_tcb_statuses", errs.Invalidf("sgx_accepted_tcb_statuses", "must list at least one status"))
	}
	if _, err := u.svc.Accounts.Update(r.Context(), s.account.ID, account.Patch{TCBStatuses: statuses}); err != nil {
		var e *errs.Error
		if errors.As(err, &e) && e.Kind == errs.Invalid {
			err = errs.Invalidf("sgx_accepted_tcb_statuses", "%s", e.Msg)
		}
		return u.formFailed(w, r, s, "general", "sgx_accepted_tcb_statuses", err)
	}
	redirectFlash(w, r, "/settings", "Accepted SGX TCB statuses saved.")
	return nil
}

func (u *UI) savePCRPriority(w http.ResponseWriter, r *http.Request, s *session) error {
	if err := need(s, store.RoleManager); err != nil {
		return u.formFailed(w, r, s, "general", "", err)
	}
	var order []int
	for _, f := range strings.FieldsFunc(r.PostFormValue("azure_cvm_pcr_priority"), func(c rune) bool { return c == ',' || c == ' ' || c == '\t' }) {
		n, err := strconv.Atoi(f)
		if err != nil {
			return u.formFailed(w, r, s, "general", "", errs.Invalidf("azure_cvm_pcr_priority", "must be whole numbers separated by commas (%q is not)", f))
		}
		order = append(order, n)
	}
	if order == nil {
		order = []int{}
	}
	if _, err := u.svc.Accounts.Update(r.Context(), s.account.ID, account.Patch{PCRPriority: order}); err != nil {
		var e *errs.Error
		if errors.As(err, &e) && e.Kind == errs.Invalid && strings.HasPrefix(e.Field, "azure_cvm_pcr_priority") {
			msg := e.Msg
			if e.Field != "azure_cvm_pcr_priority" {
				// "azure_cvm_pcr_priority[3]" names a position: say which.
				msg = "entry " + strings.TrimSuffix(strings.TrimPrefix(e.Field, "azure_cvm_pcr_priority["), "]") + " (from 0) " + e.Msg
			}
			err = errs.Invalidf("azure_cvm_pcr_priority", "%s", msg)
		}
		return u.formFailed(w, r, s, "general", "azure_cvm_pcr_priority", err)
	}
	redirectFlash(w, r, "/settings", "PCR priority saved.")
	return nil
}

func (u *UI) addRegistry(w http.ResponseWriter, r *http.Request, s *session) error {
	if err := need(s, store.RoleWriter); err != nil {
		return u.formFailed(w, r, s, "registries", "", err)
	}
	f := r.PostForm
	host, user, pw, desc := f.Get("url"), f.Get("username"), f.Get("password"), f.Get("description")
	reg, err := u.svc.Registries.Create(r.Context(), s.account.ID, registry.Input{URL: &host, Username: &user, Password: &pw, Description: &desc})
	if err != nil {
		return u.formFailed(w, r, s, "registries", "url", err)
	}
	redirectFlash(w, r, "/settings/registries", "Registry "+reg.URL+" saved.")
	return nil
}

func (u *UI) deleteRegistry(w http.ResponseWriter, r *http.Request, s *session) error {
	if err := need(s, store.RoleWriter); err != nil {
		return u.formFailed(w, r, s, "registries", "", err)
	}
	if err := u.svc.Registries.Delete(r.Context(), s.account.ID, r.PathValue("registry_id")); err != nil {
		return u.formFailed(w, r, s, "registries", "", err)
	}
	redirectFlash(w, r, "/settings/registries", "Registry deleted.")
	return nil
}

func (u *UI) addMember(w http.ResponseWriter, r *http.Request, s *session) error {
	if err := need(s, store.RoleManager); err != nil {
		return u.formFailed(w, r, s, "members", "", err)
	}
	role, err := account.ParseRole("role", r.PostFormValue("role"))
	if err != nil {
		return u.formFailed(w, r, s, "members", "", err)
	}
	m, err := u.svc.Accounts.AddMember(r.Context(), s.account.ID, r.PostFormValue("email"), role, r.PostFormValue("password"))
	if err != nil {
		return u.formFailed(w, r, s, "members", "email", err)
	}
	redirectFlash(w, r, "/settings/members", m.Email+" is now a "+string(m.Role)+".")
	return nil
}

func (u *UI) setMemberRole(w http.ResponseWriter, r *http.Request, s *session) error {
	if err := need(s, store.RoleManager); err != nil {
		return u.formFailed(w, r, s, "members", "", err)
	}
	role, err := account.ParseRole("role", r.PostFormValue("role"))
	if err != nil {
		return u.formFailed(w, r, s, "members", "", err)
	}
	m, err := u.svc.Accounts.SetMemberRole(r.Context(), s.account.ID, r.PathValue("user_id"), role)
	if err != nil {
		// Field errors of this row's form have nowhere else to go.
		if st, _, msg, ok := errStatus(err); ok && st == http.StatusBadRequest {
			err = errs.Conflictf("%s", msg)
		}
		return u.formFailed(w, r, s, "members", "", err)
	}
	redirectFlash(w, r, "/settings/members", m.Email+" is now a "+string(m.Role)+".")
	return nil
}

func (u *UI) removeMember(w http.ResponseWriter, r *http.Request, s *session) error {
	if err := need(s, store.RoleManager); err != nil {
		return u.formFailed(w, r, s, "members", "", err)
	}
	if err := u.svc.Accounts.RemoveMember(r.Context(), s.account.ID, r.PathValue("user_id")); err != nil {
		return u.formFailed(w, r, s, "members", "", err)
	}
	redirectFlash(w, r, "/settings/members", "Member removed.")
	return nil
}

func (u *UI) createToken(w http.ResponseWriter, r *http.Request, s *session) error {
	if err := need(s, store.RoleWriter); err != nil {
		return u.formFailed(w, r, s, "tokens", "", err)
	}
	role, err := account.ParseRole("role", r.PostFormValue("role"))
	if err != nil {
		return u.formFailed(w, r, s, "tokens", "", err)
	}
	var exp *time.Time
	if v := strings.TrimSpace(r.PostFormValue("expires_at")); v != "" {
		t, err := time.Parse("2006-01-02", v)
		if err != nil {
			return u.formFailed(w, r, s, "tokens", "", errs.Invalidf("expires_at", "must be a date (YYYY-MM-DD)"))
		}
		exp = &t
	}
	secret, t, err := u.svc.Identity.CreateToken(r.Context(), s.p, r.PostFormValue("name"), s.account.ID, role, exp)
	if err != nil {
		return u.formFailed(w, r, s, "tokens", "name", err)
	}
	// The secret is shown in this response only: no redirect, nothing in a URL.
	p := u.base(s, "Settings", "settings")
	p.Flash = "API token " + t.Name + " created."
	return u.renderSettings(w, r, s, "tokens", http.StatusCreated, p, secret)
}

func (u *UI) revokeToken(w http.ResponseWriter, r *http.Request, s *session) error {
	if err := need(s, store.RoleWriter); err != nil {
		return u.formFailed(w, r, s, "tokens", "", err)
	}
	if err := u.svc.Identity.RevokeToken(r.Context(), s.p, r.PathValue("token_id")); err != nil {
		return u.formFailed(w, r, s, "tokens", "", err)
	}
	redirectFlash(w, r, "/settings/tokens", "API token revoked.")
	return nil
}

// ---- Certificates ----

type certRow struct {
	C        *store.Certificate
	Status   string
	AppName  string
	ImageURL string
}

type certsData struct {
	Status string
	AppID  string
	Apps   []*store.App
	Rows   []certRow
	Next   string
	Query  string // the filters, for the next page's link
}

func (u *UI) certificatesPage(w http.ResponseWriter, r *http.Request, s *session) error {
	return u.renderCertificates(w, r, s, http.StatusOK, u.base(s, "Certificates", "certificates"))
}

func (u *UI) renderCertificates(w http.ResponseWriter, r *http.Request, s *session, status int, p *page) error {
	ctx := r.Context()
	q := r.URL.Query()
	d := certsData{Status: q.Get("status"), AppID: q.Get("app")}
	switch d.Status {
	case "issued", "revoked", "expired":
	default:
		d.Status = ""
	}
	apps, _, err := u.svc.Apps.List(ctx, s.account.ID, "", store.Page{Limit: store.MaxPageLimit})
	if err != nil {
		return err
	}
	d.Apps = apps
	names := map[string]string{}
	known := false
	for _, a := range apps {
		names[a.ID] = a.Name
		known = known || a.ID == d.AppID
	}
	if !known {
		d.AppID = ""
	}
	certs, next, err := u.svc.CA.List(ctx, s.account.ID, store.CertificateFilter{AppID: d.AppID, Status: store.CertificateStatus(d.Status)},
		store.Page{Limit: 100, After: q.Get("cursor")})
	if err != nil {
		return err
	}
	for _, c := range certs {
		row := certRow{C: c, Status: string(u.svc.CA.Status(c)), AppName: names[c.AppID]}
		if row.AppName == "" {
			row.AppName = "deleted application"
		}
		if c.ImageID != "" {
			row.ImageURL = "/images/" + c.ImageID
		}
		d.Rows = append(d.Rows, row)
	}
	d.Next = next
	v := url.Values{}
	if d.Status != "" {
		v.Set("status", d.Status)
	}
	if d.AppID != "" {
		v.Set("app", d.AppID)
	}
	d.Query = v.Encode()
	if p.Flash == "" {
		p.Flash = q.Get("flash")
	}
	p.Data = d
	u.render(w, r, status, "certificates", p)
	return nil
}

func (u *UI) revokeCertificate(w http.ResponseWriter, r *http.Request, s *session) error {
	err := need(s, store.RoleWriter)
	if err == nil {
		_, err = u.svc.CA.Revoke(r.Context(), u.svc.Audit, s.account.ID, r.PathValue("certificate_id"), r.PostFormValue("reason"))
	}
	if err != nil {
		status, _, msg, ok := errStatus(err)
		if !ok {
			return err
		}
		p := u.base(s, "Certificates", "certificates")
		p.Error = msg
		return u.renderCertificates(w, r, s, status, p)
	}
	redirectFlash(w, r, "/certificates", "Certificate revoked; it is in the CRL until it expires.")
	return nil
}

// fileName makes an account name safe for a download's file name.
func fileName(name string) string {
	var b strings.Builder
	for _, c := range strings.ToLower(name) {
		if c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' {
			b.WriteRune(c)
		} else {
			b.WriteByte('-')
		}
	}
	if b.Len() == 0 {
		return "account"
	}
	return b.String()
}

func (u *UI) caPEM(w http.ResponseWriter, r *http.Request, s *session) error {
	c, err := u.svc.CA.Certificate(r.Context(), s.account.ID)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/x-pem-file")
	w.Header().Set("Content-Disposition", `attachment; filename="`+fileName(s.account.Name)+`-ca.pem"`)
	_, _ = w.Write([]byte(ca.PEM(c)))
	return nil
}

func (u *UI) caCRL(w http.ResponseWriter, r *http.Request, s *session) error {
	crl, err := u.svc.CA.CRL(r.Context(), s.account.ID)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/pkix-crl")
	w.Header().Set("Content-Disposition", `attachment; filename="`+fileName(s.account.Name)+`-ca.crl"`)
	_, _ = w.Write(crl)
	return nil
}

// ---- Audit log ----

type auditRow struct {
	E          *store.AuditEvent
	Actor      string
	SubjectURL string
	Details    string
}

type auditData struct {
	Verify audit.Result
	Rows   []auditRow
	Next   string
	First  bool
}

const auditPageSize = 50

func (u *UI) auditPage(w http.ResponseWriter, r *http.Request, s *session) error {
	ctx := r.Context()
	res, err := u.svc.Audit.Verify(ctx, u.svc.Store, s.account.ID)
	if err != nil {
		return err
	}
	pg := store.Page{Limit: auditPageSize}
	cur := r.URL.Query().Get("cursor")
	if cur != "" {
		if n, err := strconv.ParseInt(cur, 10, 64); err != nil || n < 1 {
			cur = ""
		}
	}
	pg.After = cur
	rows, err := u.svc.Store.ListAudit(ctx, s.account.ID, store.AuditFilter{Descending: true}, pg.Plus1())
	if err != nil {
		return err
	}
	d := auditData{Verify: res, First: cur == ""}
	if len(rows) > pg.Limit {
		rows = rows[:pg.Limit]
		d.Next = strconv.FormatInt(rows[len(rows)-1].Seq, 10)
	}
	emails := u.emails(ctx, s)
	for _, e := range rows {
		row := auditRow{E: e, Actor: e.ActorType}
		if e.ActorID != "" {
			if e.ActorType == audit.ActorUser {
				row.Actor += " " + who(emails, e.ActorID)
			} else {
				row.Actor += " " + e.ActorID
			}
		}
		switch e.SubjectType {
		case "app":
			row.SubjectURL = "/apps/" + e.SubjectID
		case "image":
			row.SubjectURL = "/images/" + e.SubjectID
		case "task":
			row.SubjectURL = "/tasks/" + e.SubjectID
		}
		var buf bytes.Buffer
		if len(e.Details) > 0 && string(e.Details) != "{}" && string(e.Details) != "null" {
			if json.Indent(&buf, e.Details, "", "  ") == nil {
				row.Details = buf.String()
			} else {
				row.Details = string(e.Details)
			}
		}
		d.Rows = append(d.Rows, row)
	}
	p := u.base(s, "Audit log", "audit")
	p.Data = d
	u.render(w, r, http.StatusOK, "audit", p)
	return nil
}

// ---- Explain ----

type explainData struct {
	Platforms []struct{ Value, Label string }
	Apps      []*store.App
	PCRs      []int
	Done      bool
	Decision  attest.Decision
	OK        bool
}

var explainPlatforms = []struct{ Value, Label string }{
	{"azure_cvm", "Azure confidential VM (vTPM PCRs)"},
	{"sev_snp", "AMD SEV-SNP"},
	{"nitro", "AWS Nitro Enclaves"},
	{"sgx", "Intel SGX"},
	{"aci", "Azure Confidential Containers (ACI)"},
}

func (u *UI) explainPage(w http.ResponseWriter, r *http.Request, s *session) error {
	ctx := r.Context()
	apps, _, err := u.svc.Apps.List(ctx, s.account.ID, "", store.Page{Limit: store.MaxPageLimit})
	if err != nil {
		return err
	}
	d := explainData{Platforms: explainPlatforms, Apps: apps, PCRs: make([]int, 23)}
	for i := range d.PCRs {
		d.PCRs[i] = i
	}
	p := u.base(s, "Explain image selection", "explain")
	p.Data = &d
	status := http.StatusOK
	if r.Method == http.MethodPost {
		p.Form = r.PostForm
		q, err := explainQuery(r.PostForm)
		if err == nil {
			d.Decision, err = u.svc.Attest.Select(ctx, s.account.ID, q)
		}
		if err != nil {
			var e *errs.Error
			if !errors.As(err, &e) || (e.Kind != errs.Invalid && e.Kind != errs.NotFound) {
				return err
			}
			status = http.StatusBadRequest
			if e.Field != "" {
				p.Errors[e.Field] = e.Msg
			} else {
				p.Error = e.Msg
			}
			if e.Kind == errs.NotFound {
				p.Errors = map[string]string{}
				p.Error = e.Msg
			}
		} else {
			d.Done, d.OK = true, d.Decision.Result == attest.ResultOK
		}
	} else {
		p.Form.Set("platform", "azure_cvm")
	}
	u.render(w, r, status, "explain", p)
	return nil
}

// explainQuery reads the explain form: PCRs for azure_cvm, the platform's
// measurements otherwise. Empty fields are left out.
func explainQuery(f url.Values) (attest.Query, error) {
	q := attest.Query{Platform: f.Get("platform"), AppID: f.Get("app_id")}
	if q.Platform == "azure_cvm" {
		in := map[string]string{}
		for i := 0; i < 23; i++ {
			k := fmt.Sprintf("pcr%d", i)
			if v := strings.TrimSpace(f.Get("pcrs." + k)); v != "" {
				in[k] = v
			}
		}
		pcrs, err := attest.ParsePCRs(in)
		if err != nil {
			return q, err
		}
		q.PCRs = pcrs
		return q, nil
	}
	m := map[string]any{}
	var names, ints []string
	switch q.Platform {
	case "sev_snp":
		names, ints = []string{"measurement"}, []string{"vmpl"}
	case "nitro":
		names = []string{"pcr0", "pcr1", "pcr2"}
	case "sgx":
		names, ints = []string{"mrenclave", "mrsigner"}, []string{"isvprodid", "isvsvn"}
	case "aci":
		names = []string{"host_data"}
	}
	for _, n := range names {
		if v := strings.TrimSpace(f.Get("measurements." + n)); v != "" {
			m[n] = v
		}
	}
	for _, n := range ints {
		if v := strings.TrimSpace(f.Get("measurements." + n)); v != "" {
			x, err := strconv.Atoi(v)
			if err != nil {
				return q, errs.Invalidf("measurements."+n, "must be a whole number")
			}
			m[n] = float64(x)
		}
	}
	q.Measurements = m
	return q, nil
}
