package workload

import (
	"context"
	"crypto/x509"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"time"
)

// levels is a slog handler that records the level of every record.
type levels struct {
	mu   sync.Mutex
	msgs map[string][]slog.Level
}

func (h *levels) Enabled(context.Context, slog.Level) bool { return true }
func (h *levels) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h *levels) WithGroup(string) slog.Handler            { return h }
func (h *levels) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.msgs[r.Message] = append(h.msgs[r.Message], r.Level)
	return nil
}

func (h *levels) of(msg string) []slog.Level {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.msgs[msg]
}

func TestRenew(t *testing.T) {
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	fast := Backoff{Initial: time.Millisecond, Max: 2 * time.Millisecond}
	// cert is 2/3 through its life at now+at.
	cert := func(at time.Duration) *x509.Certificate {
		return &x509.Certificate{NotBefore: now.Add(at - 2*time.Hour), NotAfter: now.Add(at + time.Hour)}
	}
	unavailable := errors.New("503")

	t.Run("renews each certificate at 2/3 of its life, retrying failures", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		// The first certificate is due; the ones renew returns, in an
		// hour, so that Renew would wait, but the test stops it first.
		answers := []struct {
			cert *x509.Certificate
			err  error
		}{{nil, unavailable}, {nil, unavailable}, {cert(-time.Minute), nil}, {cert(time.Hour), nil}}
		calls := 0
		done := make(chan struct{})
		go func() {
			defer close(done)
			Renew(ctx, RenewConfig{Retry: fast, MinDelay: time.Millisecond, Now: clock}, cert(-time.Minute),
				func(context.Context) (*x509.Certificate, error) {
					a := answers[calls]
					calls++
					if calls == len(answers) {
						cancel()
					}
					return a.cert, a.err
				})
		}()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatal("Renew did not return once its context ended")
		}
		if calls != len(answers) {
			t.Errorf("%d renewals, want %d: two failures, then two certificates due at once", calls, len(answers))
		}
	})
	t.Run("waits until 2/3 of the certificate's life", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
		defer cancel()
		calls := 0
		Renew(ctx, RenewConfig{Retry: fast, MinDelay: time.Millisecond, Now: clock}, cert(time.Hour),
			func(context.Context) (*x509.Certificate, error) {
				calls++
				return cert(time.Hour), nil
			})
		if calls != 0 {
			t.Errorf("%d renewals of a certificate due in an hour", calls)
		}
	})
	t.Run("logs failures as warnings, as errors once the certificate has expired", func(t *testing.T) {
		for _, tc := range []struct {
			name string
			cert *x509.Certificate
			want slog.Level
		}{
			{"valid", cert(-time.Minute), slog.LevelWarn},
			{"expired", &x509.Certificate{NotBefore: now.Add(-2 * time.Hour), NotAfter: now.Add(-time.Hour)}, slog.LevelError},
		} {
			t.Run(tc.name, func(t *testing.T) {
				ctx, cancel := context.WithCancel(t.Context())
				defer cancel()
				h := &levels{msgs: map[string][]slog.Level{}}
				Renew(ctx, RenewConfig{Retry: fast, MinDelay: time.Millisecond, Now: clock, Log: slog.New(h)}, tc.cert,
					func(context.Context) (*x509.Certificate, error) {
						if len(h.of("renewing the certificate failed; retrying")) == 1 {
							cancel()
						}
						return nil, unavailable
					})
				if got := h.of("renewing the certificate failed; retrying"); len(got) != 1 || got[0] != tc.want {
					t.Errorf("failures logged at %v, want one at %v", got, tc.want)
				}
			})
		}
	})
}
