package httpapi

import (
	"errors"
	"log/slog"
	"net/http"

	"github.com/openccm/openccm/internal/errs"
	"github.com/openccm/openccm/pkg/apiv1"
)

// status maps an error kind to its HTTP status and API error code.
var status = map[errs.Kind]struct {
	code int
	name string
}{
	errs.Invalid:          {http.StatusBadRequest, apiv1.CodeValidationFailed},
	errs.InvalidJSON:      {http.StatusBadRequest, apiv1.CodeInvalidJSON},
	errs.Unauthenticated:  {http.StatusUnauthorized, apiv1.CodeUnauthenticated},
	errs.PermissionDenied: {http.StatusForbidden, apiv1.CodeForbidden},
	errs.NotFound:         {http.StatusNotFound, apiv1.CodeNotFound},
	errs.Conflict:         {http.StatusConflict, apiv1.CodeConflict},
	errs.TooLarge:         {http.StatusRequestEntityTooLarge, apiv1.CodeTooLarge},
	errs.Rejected:         {http.StatusUnprocessableEntity, apiv1.CodeAttestationFailed},
	errs.RateLimited:      {http.StatusTooManyRequests, apiv1.CodeRateLimited},
	errs.Transient:        {http.StatusServiceUnavailable, apiv1.CodeUnavailable},
	errs.Internal:         {http.StatusInternalServerError, apiv1.CodeInternal},
}

// writeError is the one place where an error becomes an HTTP response. It
// logs the error once; internal errors are logged with their cause and
// answered with a fixed message, so that no SQL, path or secret leaks.
func (a *API) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var e *errs.Error
	if !errors.As(err, &e) {
		e = &errs.Error{Kind: errs.Internal, Err: err}
	}
	st, ok := status[e.Kind]
	if !ok {
		st = status[errs.Internal]
	}
	rid := requestID(r.Context())
	body := apiv1.ErrorBody{Error: apiv1.ErrorDetail{
		Code: st.name, Message: e.Msg, Field: e.Field, Reason: e.Reason, RequestID: rid,
	}}
	switch e.Kind {
	case errs.Internal:
		a.log.Error("request failed", slog.String("request_id", rid), slog.String("route", r.Pattern), slog.Any("error", err))
		body.Error.Message = "internal error; the server log has details under this request_id"
		body.Error.Field, body.Error.Reason = "", ""
	case errs.Transient:
		a.log.Warn("dependency unavailable", slog.String("request_id", rid), slog.Any("error", err))
		if body.Error.Message == "" {
			body.Error.Message = "a service the server depends on is unavailable; retry later"
		}
	default:
		a.log.Debug("request refused", slog.String("request_id", rid), slog.String("code", st.name), slog.String("field", e.Field))
	}
	if body.Error.Message == "" {
		body.Error.Message = http.StatusText(st.code)
	}
	if st.code == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="openccm"`)
	}
	writeJSON(w, st.code, body)
}
