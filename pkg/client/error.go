package client

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/openccm/openccm/pkg/apiv1"
)

// Error is a non-2xx response of the server.
type Error struct {
	Status    int    // HTTP status code
	Code      string // apiv1.Code*; empty when the body was not an API error
	Message   string
	Field     string // JSON path of the field at fault, if any
	Reason    string // why evidence was rejected (attestation_failed)
	RequestID string
}

// Error reads like "validation_failed: name: must not be empty (HTTP 400)".
func (e *Error) Error() string {
	var b strings.Builder
	if e.Code != "" {
		b.WriteString(e.Code)
	} else {
		b.WriteString(strings.ToLower(http.StatusText(e.Status)))
		if b.Len() == 0 {
			b.WriteString("error")
		}
	}
	if e.Reason != "" {
		fmt.Fprintf(&b, " (%s)", e.Reason)
	}
	if e.Field != "" {
		b.WriteString(": ")
		b.WriteString(e.Field)
	}
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	fmt.Fprintf(&b, " (HTTP %d", e.Status)
	if e.RequestID != "" {
		fmt.Fprintf(&b, ", request %s", e.RequestID)
	}
	b.WriteString(")")
	return b.String()
}

// HasCode reports whether err is an *Error with the given code.
func HasCode(err error, code string) bool {
	var e *Error
	return errors.As(err, &e) && e.Code == code
}

// maxPlainMessage bounds the message taken from a body that is not an API error.
const maxPlainMessage = 200

func newError(resp *http.Response, data []byte) *Error {
	e := &Error{Status: resp.StatusCode, RequestID: resp.Header.Get("X-Request-Id")}
	var body apiv1.ErrorBody
	if json.Unmarshal(data, &body) == nil && body.Error.Code != "" {
		d := body.Error
		e.Code, e.Message, e.Field, e.Reason = d.Code, d.Message, d.Field, d.Reason
		if d.RequestID != "" {
			e.RequestID = d.RequestID
		}
		return e
	}
	// Not an API error (a proxy, a load balancer, a wrong URL): keep the
	// start of the body, on one line, as the message.
	msg := strings.Join(strings.Fields(string(data)), " ")
	if len(msg) > maxPlainMessage {
		msg = msg[:maxPlainMessage]
		for !utf8.ValidString(msg) {
			msg = msg[:len(msg)-1]
		}
		msg += "…"
	}
	e.Message = msg
	return e
}
