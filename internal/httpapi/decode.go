package httpapi

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/openccm/openccm/internal/errs"
	"github.com/openccm/openccm/internal/ids"
	"github.com/openccm/openccm/internal/store"
)

// decode reads a JSON request body into v strictly: one JSON value, no
// unknown fields, within the body size limit.
func decode(r *http.Request, v any) error {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || mt != "application/json" {
			return errs.E(errs.InvalidJSON, "Content-Type must be application/json")
		}
	}
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return decodeErr(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return decodeErr(err)
		}
		return errs.E(errs.InvalidJSON, "the body must hold exactly one JSON value")
	}
	return nil
}

// decodeOptional decodes a body that may be left out entirely (with or
// without a Content-Length): an empty body leaves v as it is.
func decodeOptional(r *http.Request, v any) error {
	b, err := io.ReadAll(r.Body)
	if err != nil {
		return decodeErr(err)
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return nil
	}
	r.Body = io.NopCloser(bytes.NewReader(b))
	return decode(r, v)
}

func decodeErr(err error) error {
	var (
		mbe *http.MaxBytesError
		se  *json.SyntaxError
		te  *json.UnmarshalTypeError
	)
	switch {
	case errors.As(err, &mbe):
		return errs.E(errs.TooLarge, "the body is larger than %d bytes", mbe.Limit)
	case errors.Is(err, io.EOF):
		return errs.E(errs.InvalidJSON, "the body is empty; a JSON object is required")
	case errors.As(err, &se), errors.Is(err, io.ErrUnexpectedEOF):
		return errs.E(errs.InvalidJSON, "the body is not valid JSON")
	case errors.As(err, &te):
		e := errs.E(errs.InvalidJSON, "wrong type: want %s, got JSON %s", jsonType(te.Type.Kind().String()), te.Value)
		e.Field = te.Field
		return e
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		f, _ := strconv.Unquote(strings.TrimPrefix(err.Error(), "json: unknown field "))
		return errs.Invalidf(f, "is not a known field")
	}
	return errs.Wrap(errs.InvalidJSON, err, "the body is not valid JSON for this request")
}

func jsonType(goKind string) string {
	switch goKind {
	case "string":
		return "a string"
	case "bool":
		return "a boolean"
	case "int", "int8", "int16", "int32", "int64", "uint", "uint8", "uint16", "uint32", "uint64", "float32", "float64":
		return "a number"
	case "slice", "array":
		return "an array"
	case "map", "struct", "ptr":
		return "an object"
	}
	return goKind
}

// page reads ?limit= and ?cursor=.
func page(r *http.Request) (store.Page, error) {
	p := store.Page{Limit: store.DefaultPageLimit}
	q := r.URL.Query()
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > store.MaxPageLimit {
			return p, errs.Invalidf("limit", "must be a whole number from 1 to %d", store.MaxPageLimit)
		}
		p.Limit = n
	}
	if c := q.Get("cursor"); c != "" {
		b, err := base64.RawURLEncoding.DecodeString(c)
		if err != nil || !ids.Valid(string(b)) {
			return p, errs.Invalidf("cursor", "is not a cursor this server returned")
		}
		p.After = string(b)
	}
	return p, nil
}

func cursor(next string) string {
	if next == "" {
		return ""
	}
	return base64.RawURLEncoding.EncodeToString([]byte(next))
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	if v != nil {
		enc := json.NewEncoder(w)
		_ = enc.Encode(v)
	}
}
