package agent

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"time"

	enclaverun "github.com/openccm/openccm/internal/enclaveos/runtime"
	"github.com/openccm/openccm/pkg/client"
)

// The defaults of a zero Backoff, the enclave agent's.
const (
	defaultRetryInitial  = time.Second
	defaultRetryMax      = 30 * time.Second
	defaultRetryAttempts = 10
)

// withDefaults returns b with the defaults in its zero fields.
func withDefaults(b enclaverun.Backoff) enclaverun.Backoff {
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

// retry calls f until it succeeds, fails permanently, has been tried
// b.Attempts times, or ctx ends; it returns f's last error.
func retry(ctx context.Context, b enclaverun.Backoff, log *slog.Logger, op string, f func(context.Context) error) error {
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
		delay = min(2*delay, b.Max)
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

// transient reports whether err may go away by itself: the server could
// not be reached, or answered 5xx or 429. A 4xx answer (a rejected
// attestation among them) and a failure of the device or of the files are
// permanent.
func transient(err error) bool {
	var ce *client.Error
	if errors.As(err, &ce) {
		return ce.Status >= 500 || ce.Status == http.StatusTooManyRequests
	}
	var ue *url.Error
	var ne net.Error
	return errors.As(err, &ue) || errors.As(err, &ne)
}
