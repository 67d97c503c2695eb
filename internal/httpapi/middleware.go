package httpapi

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"path"
	"regexp"
	"strconv"
	"time"

	"github.com/openccm/openccm/internal/errs"
)

type ctxKey int

const (
	keyRequestID ctxKey = iota
	keyCall
)

func requestID(ctx context.Context) string {
	s, _ := ctx.Value(keyRequestID).(string)
	return s
}

var goodRequestID = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// statusWriter remembers the status and size of a response.
type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += n
	return n, err
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// middleware wraps the mux with, from the outside in: request IDs, access
// logs and metrics, panic recovery, security headers and the body limit.
func (a *API) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rid := r.Header.Get("X-Request-Id")
		if !goodRequestID.MatchString(rid) {
			b := make([]byte, 8)
			_, _ = rand.Read(b)
			rid = hex.EncodeToString(b)
		}
		ctx := context.WithValue(r.Context(), keyRequestID, rid)
		// The handler fills this in once it knows the caller.
		c := &call{}
		ctx = context.WithValue(ctx, keyCall, c)
		r = r.WithContext(ctx)
		h := w.Header()
		h.Set("X-Request-Id", rid)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Cache-Control", "no-store")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Frame-Options", "DENY")
		sw := &statusWriter{ResponseWriter: w}
		r.Body = http.MaxBytesReader(sw, r.Body, a.maxBody)

		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				a.writeError(sw, r, errs.Wrap(errs.Internal, fmt.Errorf("panic: %v", v), "internal error"))
			}
			if sw.status == 0 {
				sw.status = http.StatusOK
			}
			route := r.Pattern
			if route == "" {
				route = "unmatched"
			}
			d := time.Since(start)
			a.metrics.requests.WithLabelValues(r.Method, route, strconv.Itoa(sw.status)).Inc()
			a.metrics.duration.WithLabelValues(r.Method, route).Observe(d.Seconds())
			// The path, never the query or headers: nothing secret travels there,
			// but tokens and passwords travel in headers and bodies.
			attrs := []slog.Attr{
				slog.String("request_id", rid),
				slog.String("method", r.Method),
				slog.String("path", r.URL.Path),
				slog.String("route", route),
				slog.Int("status", sw.status),
				slog.Int("bytes", sw.bytes),
				slog.Duration("duration", d),
				slog.String("remote", r.RemoteAddr),
			}
			if c.principal != nil {
				attrs = append(attrs, slog.String("user_id", c.principal.UserID))
				if c.principal.Token != nil {
					attrs = append(attrs, slog.String("token_id", c.principal.Token.ID))
				}
			}
			a.log.LogAttrs(r.Context(), slog.LevelInfo, "http request", attrs...)
		}()
		if p := r.URL.Path; p != "/" && (p == "" || path.Clean(p) != p) {
			// The mux would answer an unclean path (//, /./, a trailing
			// slash) with an HTML redirect; the API answers JSON.
			a.writeError(sw, r, errs.NotFoundf("no route matches %s %s", r.Method, p))
			return
		}
		next.ServeHTTP(sw, r)
	})
}
