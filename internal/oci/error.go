package oci

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// Error is a failed pull or push. Its message names the image and says what
// went wrong in words a user can act on; Err keeps the registry's answer.
type Error struct {
	Op  string // "pulling" or "pushing"
	Ref string // the image, fully qualified when it parsed
	// Status is the registry's HTTP status, or 0 if there was no answer.
	Status int
	// Permanent is true when retrying cannot help: bad credentials, no
	// access, no such image, an invalid reference, no linux/amd64 image.
	Permanent bool
	// Msg says what went wrong, without the image name.
	Msg string
	Err error
}

func (e *Error) Error() string {
	s := e.Op + " " + e.Ref + ": " + e.Msg
	// With an HTTP status, Msg already says what the registry answered; the
	// raw answer stays in Err. Without one, the cause is the only detail.
	if e.Err != nil && e.Status == 0 {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *Error) Unwrap() error { return e.Err }

// IsPermanent reports whether err is an *Error that retrying cannot fix.
// Errors of any other type count as transient.
func IsPermanent(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Permanent
}

// classify turns an error from go-containerregistry into an *Error.
// Anything not known to be permanent is transient: failing a build that a
// retry would have fixed costs more than one wasted retry.
func classify(op string, r name.Reference, err error) *Error {
	e := &Error{Op: op, Ref: display(r), Err: err}
	var te *transport.Error
	if !errors.As(err, &te) {
		switch {
		case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
			e.Msg = "interrupted"
		default:
			e.Msg = "cannot talk to the registry"
		}
		return e
	}
	e.Status = te.StatusCode
	switch s := te.StatusCode; {
	case s == http.StatusUnauthorized:
		e.Permanent = true
		e.Msg = "the registry refused the credentials (401)"
	case s == http.StatusForbidden:
		e.Permanent = true
		e.Msg = "access denied (403)"
	case s == http.StatusNotFound:
		e.Permanent = true
		e.Msg = "no such image (404" + codes(te) + ")"
	case s == http.StatusTooManyRequests:
		e.Msg = "the registry is rate limiting requests (429)"
	case s >= 500:
		e.Msg = fmt.Sprintf("the registry is unavailable (%d)", s)
	default:
		e.Msg = fmt.Sprintf("the registry answered %d%s", s, codes(te))
		// Other 4xx answers (400 manifest invalid, 405 no pushes) repeat.
		e.Permanent = s >= 400 && s != http.StatusRequestTimeout
	}
	return e
}

// codes renders the registry's error codes, " manifest unknown" for
// MANIFEST_UNKNOWN.
func codes(te *transport.Error) string {
	var b strings.Builder
	for i, d := range te.Errors {
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString(" ")
		b.WriteString(strings.ToLower(strings.ReplaceAll(string(d.Code), "_", " ")))
	}
	return b.String()
}
