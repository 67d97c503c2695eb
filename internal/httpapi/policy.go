package httpapi

import (
	"net/http"
	"strings"

	"github.com/openccm/openccm/internal/audit"
	"github.com/openccm/openccm/internal/errs"
	"github.com/openccm/openccm/internal/identity"
	"github.com/openccm/openccm/internal/store"
	"github.com/openccm/openccm/pkg/apiv1"
)

// scope says who may call a route.
type scope int

const (
	// public routes need no credentials.
	public scope = iota
	// user routes need a signed-in user (or an API token) but no account.
	user
	// accountScoped routes act in the account named by {account_id}: the caller
	// must be a member (else 404, so that other accounts stay invisible)
	// with at least the route's role (else 403).
	accountScoped
)

// access is one row of the policy table.
type access struct {
	scope scope
	role  store.Role // for account routes: the lowest role allowed
	// sessionOnly routes refuse API tokens (they manage the user, not an account).
	sessionOnly bool
}

var (
	openToAll   = access{scope: public}
	signedIn    = access{scope: user}
	sessionUser = access{scope: user, sessionOnly: true}
	reader      = access{scope: accountScoped, role: store.RoleReader}
	writer      = access{scope: accountScoped, role: store.RoleWriter}
	manager     = access{scope: accountScoped, role: store.RoleManager}
)

// call is what a handler knows about the request's caller.
type call struct {
	principal *identity.Principal
	accountID string
	role      store.Role
}

type handlerFunc func(w http.ResponseWriter, r *http.Request, c *call) error

type route struct {
	method, pattern string
	access          access
	h               handlerFunc
}

// wrap enforces a route's access row, then runs its handler.
func (a *API) wrap(rt route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, _ := r.Context().Value(keyCall).(*call)
		if c == nil {
			c = &call{}
		}
		if err := a.authorize(r, rt.access, c); err != nil {
			a.writeError(w, r, err)
			return
		}
		if c.principal != nil {
			actor := audit.Actor{Type: audit.ActorUser, ID: c.principal.UserID}
			if c.principal.Token != nil {
				actor.TokenID = c.principal.Token.ID
			}
			r = r.WithContext(audit.WithActor(r.Context(), actor))
		}
		if err := rt.h(w, r, c); err != nil {
			a.writeError(w, r, err)
		}
	})
}

func (a *API) authorize(r *http.Request, ac access, c *call) error {
	if ac.scope == public {
		return nil
	}
	h := r.Header.Get("Authorization")
	scheme, tok, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return errs.E(errs.Unauthenticated, "send Authorization: Bearer <token>")
	}
	p, err := a.id.Authenticate(r.Context(), strings.TrimSpace(tok))
	if err != nil {
		return err
	}
	c.principal = p
	if ac.sessionOnly && p.ViaToken() {
		return errs.Forbiddenf("API tokens cannot use this endpoint; sign in")
	}
	if ac.scope != accountScoped {
		return nil
	}
	c.accountID = r.PathValue("account_id")
	role, err := a.id.RoleIn(r.Context(), p, c.accountID)
	if err != nil {
		return err
	}
	c.role = role
	if !role.AtLeast(ac.role) {
		return errs.Forbiddenf("this needs the %s role in the account; you are %s", ac.role, role)
	}
	return nil
}

func errorBody(code, msg string, r *http.Request) apiv1.ErrorBody {
	return apiv1.ErrorBody{Error: apiv1.ErrorDetail{Code: code, Message: msg, RequestID: requestID(r.Context())}}
}

// limited gives a route a body limit below the server's: uploads that can
// only be small (a SIGSTRUCT, a measurement JSON) are refused with 413
// long before the general limit.
func limited(n int64, h handlerFunc) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request, c *call) error {
		r.Body = http.MaxBytesReader(w, r.Body, n)
		return h(w, r, c)
	}
}

// Body limits of routes that take small uploads.
const (
	toolBodyLimit  = 64 << 10  // a SIGSTRUCT (1808 bytes) or a measurement JSON, with room to spare
	imageBodyLimit = 256 << 10 // an image body: at most one of those plus settings
)
