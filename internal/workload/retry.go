package workload

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"syscall"
	"time"

	"github.com/openccm/openccm/pkg/client"
)

// The defaults of a zero Backoff.
const (
	defaultRetryInitial  = time.Second
	defaultRetryMax      = 30 * time.Second
	defaultRetryAttempts = 10
)

// Backoff paces an agent's retries of transient failures (see Transient):
// the first retry waits Initial, each next one twice as long, up to Max.
// Attempts bounds the tries of one Retry; renewals (Renew) retry until
// they succeed or their context ends. Zero fields take the defaults: 1 s,
// 30 s, 10.
type Backoff struct {
	Initial, Max time.Duration
	Attempts     int
}

// WithDefaults returns b with the defaults in its zero fields, and Max at
// least Initial.
func (b Backoff) WithDefaults() Backoff {
	if b.Initial <= 0 {
		b.Initial = defaultRetryInitial
	}
	if b.Max < b.Initial {
		b.Max = max(defaultRetryMax, b.Initial)
	}
	if b.Attempts <= 0 {
		b.Attempts = defaultRetryAttempts
	}
	return b
}

// Next returns the delay after d: twice d, up to Max.
func (b Backoff) Next(d time.Duration) time.Duration { return min(2*d, b.Max) }

// Retry calls f until it succeeds, fails permanently (see Transient), has
// been tried b.Attempts times, or ctx ends; it returns f's last error. Each
// retry is logged as a warning naming op. A zero field of b takes its
// default; a nil log discards.
func Retry(ctx context.Context, b Backoff, log *slog.Logger, op string, f func(context.Context) error) error {
	b = b.WithDefaults()
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	delay := b.Initial
	for attempt := 1; ; attempt++ {
		err := f(ctx)
		if err == nil || !Transient(err) || attempt >= b.Attempts || ctx.Err() != nil {
			return err
		}
		log.Warn("transient failure; retrying", logKeyOp, op, logKeyAttempt, attempt, logKeyDelay, delay, logKeyError, err)
		if !sleep(ctx, delay) {
			return err
		}
		delay = b.Next(delay)
	}
}

// sleep waits for d, and reports false when ctx ends first.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// StatusError is a non-2xx HTTP answer that did not come through the API
// client, whose answers are *client.Error: the enclave agent's fetch of its
// configuration from the parent's relay, for one.
type StatusError struct {
	// Status is the HTTP status code.
	Status int
	// Message is the whole error message.
	Message string
}

func (e *StatusError) Error() string { return e.Message }

// Transient reports whether err may go away by itself: the server (or a
// relay in front of it) could not be reached, or answered 5xx or 429, as a
// *client.Error or a *StatusError. Any other answer (a 4xx, such as a 422
// attestation_failed that refuses the evidence) and any other failure (of
// the attestation hardware, or of the files) is permanent.
func Transient(err error) bool {
	var ce *client.Error
	if errors.As(err, &ce) {
		return retryableStatus(ce.Status)
	}
	var se *StatusError
	if errors.As(err, &se) {
		return retryableStatus(se.Status)
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		return true
	}
	// A syscall.Errno is a net.Error too, but one outside a *net.OpError
	// (or a *url.Error) comes from the files or the attestation device.
	var ne net.Error
	if errors.As(err, &ne) {
		_, errno := ne.(syscall.Errno)
		return !errno
	}
	return false
}

func retryableStatus(s int) bool {
	return s >= 500 || s == http.StatusTooManyRequests
}
