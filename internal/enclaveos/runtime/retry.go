package runtime

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"time"

	"github.com/openccm/openccm/pkg/client"
)

// Default Backoff.
const (
	defaultRetryInitial  = time.Second
	defaultRetryMax      = 30 * time.Second
	defaultRetryAttempts = 10
)

// Backoff paces the agent's retries of transient failures (the relay or
// the server unreachable, 5xx, 429): the first retry waits Initial, each
// next one twice as long, up to Max. Attempts bounds the tries of the
// first attestation and of the configuration fetch; renewals retry until
// the command exits. Zero fields take the defaults: 1 s, 30 s, 10.
type Backoff struct {
	Initial, Max time.Duration
	Attempts     int
}

func (b Backoff) withDefaults() Backoff {
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

// next returns the delay after d.
func (b Backoff) next(d time.Duration) time.Duration { return min(2*d, b.Max) }

// retry calls f until it succeeds, fails permanently, has been tried
// b.Attempts times, or ctx ends; it returns f's last error.
func retry(ctx context.Context, b Backoff, log *slog.Logger, op string, f func(context.Context) error) error {
	delay := b.Initial
	for attempt := 1; ; attempt++ {
		err := f(ctx)
		if err == nil || !transient(err) || attempt >= b.Attempts || ctx.Err() != nil {
			return err
		}
		log.Warn("transient failure; retrying", logKeyOp, op, logKeyAttempt, attempt, logKeyDelay, delay, logKeyError, err)
		if !sleep(ctx, delay) {
			return err
		}
		delay = b.next(delay)
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

// statusError is a non-2xx answer of the relay outside the API client.
type statusError struct {
	status int
	msg    string
}

func (e *statusError) Error() string { return e.msg }

// transient reports whether err may go away by itself: the relay or the
// server could not be reached or answered 5xx or 429. A 4xx answer (a
// rejected attestation among them) and a failure of the hardware are
// permanent.
func transient(err error) bool {
	var ce *client.Error
	if errors.As(err, &ce) {
		return retryableStatus(ce.Status)
	}
	var se *statusError
	if errors.As(err, &se) {
		return retryableStatus(se.status)
	}
	var ue *url.Error
	var ne net.Error
	return errors.As(err, &ue) || errors.As(err, &ne)
}

func retryableStatus(s int) bool {
	return s >= 500 || s == http.StatusTooManyRequests
}
