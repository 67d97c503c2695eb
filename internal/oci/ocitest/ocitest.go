// Package ocitest serves in-process OCI registries for tests, guarded by
// basic authentication the way private registries are.
package ocitest

import (
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/registry"
)

// BasicAuth guards a registry: every request needs a known user, except
// reads of repositories under public/. Users in NoAccess authenticate but
// may not touch anything (403).
type BasicAuth struct {
	Users    map[string]string
	NoAccess map[string]bool
	Next     http.Handler
}

func (a BasicAuth) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	user, pass, ok := r.BasicAuth()
	read := r.Method == http.MethodGet || r.Method == http.MethodHead
	public := strings.HasPrefix(r.URL.Path, "/v2/public/")
	switch {
	case !ok && read && public:
	case !ok || a.Users[user] == "" || a.Users[user] != pass:
		w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
		http.Error(w, `{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`, http.StatusUnauthorized)
		return
	case a.NoAccess[user] && r.URL.Path != "/v2/":
		http.Error(w, `{"errors":[{"code":"DENIED","message":"requested access to the resource is denied"}]}`, http.StatusForbidden)
		return
	}
	a.Next.ServeHTTP(w, r)
}

// NewRegistry serves an empty registry over plain HTTP that accepts users
// (name → password) and the user "nobody" (password "nobody") who may not
// access anything. It returns the registry's host:port.
func NewRegistry(t testing.TB, users map[string]string) string {
	t.Helper()
	return Serve(t, users, nil)
}

// Serve is NewRegistry with a middleware around the authenticated
// registry (nil for none), for tests that inject faults or count requests.
func Serve(t testing.TB, users map[string]string, wrap func(http.Handler) http.Handler) string {
	t.Helper()
	all := map[string]string{"nobody": "nobody"}
	for u, p := range users {
		all[u] = p
	}
	var h http.Handler = registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	if wrap != nil {
		h = wrap(h)
	}
	s := httptest.NewServer(BasicAuth{Users: all, NoAccess: map[string]bool{"nobody": true}, Next: h})
	t.Cleanup(s.Close)
	return strings.TrimPrefix(s.URL, "http://")
}
