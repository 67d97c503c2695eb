// Package errs defines the error type that carries a Kind and a message safe
// to show to clients. Domain services return these; internal/httpapi is the
// only place that turns them into HTTP statuses.
package errs

import (
	"errors"
	"fmt"
)

// Kind classifies an error for the client.
type Kind int

// The kinds of error. The zero value is Internal: an error nobody classified
// is a bug and is never shown to the client.
const (
	Internal         Kind = iota
	Invalid               // a field is missing or wrong (400 validation_failed)
	InvalidJSON           // the body is not JSON or has wrong types (400 invalid_json)
	Unauthenticated       // no, bad or expired credentials (401)
	PermissionDenied      // authenticated, but not allowed (403)
	NotFound              // no such object in this account (404)
	Conflict              // uniqueness, or a state that forbids the change (409)
	TooLarge              // body over the limit (413)
	Rejected              // evidence rejected (422 attestation_failed)
	RateLimited           // too many requests (429)
	Transient             // a dependency is down; retry later (503)
)

var kindNames = [...]string{
	Internal:         "internal",
	Invalid:          "invalid",
	InvalidJSON:      "invalid_json",
	Unauthenticated:  "unauthenticated",
	PermissionDenied: "permission_denied",
	NotFound:         "not_found",
	Conflict:         "conflict",
	TooLarge:         "too_large",
	Rejected:         "rejected",
	RateLimited:      "rate_limited",
	Transient:        "transient",
}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", int(k))
}

// Error is an error with a Kind and a client-safe message.
type Error struct {
	Kind Kind
	// Msg is a human sentence safe to return to clients.
	Msg string
	// Field is the JSON path of the offending input field, if any.
	Field string
	// Reason is a machine-readable sub-code (attestation reasons).
	Reason string
	// Err is the underlying cause; it is logged, never returned to clients.
	Err error
}

func (e *Error) Error() string {
	s := e.Msg
	if e.Field != "" {
		s = e.Field + ": " + s
	}
	if e.Err != nil {
		if s == "" {
			return e.Err.Error()
		}
		return s + ": " + e.Err.Error()
	}
	return s
}

func (e *Error) Unwrap() error { return e.Err }

// E returns an error of the given kind with a client-safe message.
func E(kind Kind, format string, args ...any) *Error {
	return &Error{Kind: kind, Msg: fmt.Sprintf(format, args...)}
}

// Invalidf reports a bad input field (400 validation_failed).
func Invalidf(field, format string, args ...any) *Error {
	return &Error{Kind: Invalid, Field: field, Msg: fmt.Sprintf(format, args...)}
}

// NotFoundf reports a missing object (404).
func NotFoundf(format string, args ...any) *Error {
	return &Error{Kind: NotFound, Msg: fmt.Sprintf(format, args...)}
}

// Conflictf reports a uniqueness or state conflict (409).
func Conflictf(format string, args ...any) *Error {
	return &Error{Kind: Conflict, Msg: fmt.Sprintf(format, args...)}
}

// Forbiddenf reports an action the caller's role does not allow (403).
func Forbiddenf(format string, args ...any) *Error {
	return &Error{Kind: PermissionDenied, Msg: fmt.Sprintf(format, args...)}
}

// Wrap returns err classified as kind with a client-safe message, keeping err
// as the (never shown) cause.
func Wrap(kind Kind, err error, format string, args ...any) *Error {
	return &Error{Kind: kind, Msg: fmt.Sprintf(format, args...), Err: err}
}

// KindOf returns the Kind of the first *Error in err's chain, or Internal.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return Internal
}

// Is reports whether err is an *Error of the given kind.
func Is(kind Kind, err error) bool {
	return err != nil && KindOf(err) == kind
}
