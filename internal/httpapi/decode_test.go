package httpapi

import (
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/openccm/openccm/internal/errs"
	"github.com/openccm/openccm/pkg/apiv1"
)

// FuzzDecode feeds arbitrary bodies to the strict decoder: it must never
// panic, and every failure must be a client error (400 or 413), never internal.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{`{"name":"a","type":"edp"}`, `{"certificate":{"validity_days":"x"}}`, `{"x":1}`, `[]`, ``, `{} {}`, `{"labels":{"a":1}}`, "\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		r := httptest.NewRequest("POST", "/", strings.NewReader(body))
		var v apiv1.CreateAppRequest
		err := decode(r, &v)
		if err == nil {
			return
		}
		switch errs.KindOf(err) {
		case errs.InvalidJSON, errs.Invalid, errs.TooLarge:
		default:
			t.Fatalf("decode(%q) gave a %v error: %v", body, errs.KindOf(err), err)
		}
	})
}
