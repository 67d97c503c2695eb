package workload

import (
	"context"
	"crypto/x509"
	"log/slog"
	"time"
)

// MinRenewDelay is the default RenewConfig.MinDelay: it keeps a server
// that issues certificates already at 2/3 of their life from being asked
// again at once.
const MinRenewDelay = time.Second

// RenewConfig configures Renew.
type RenewConfig struct {
	// Retry paces the retries of a failed renewal; its Attempts does not
	// apply, since a renewal is retried until it succeeds.
	Retry Backoff
	// MinDelay is the shortest wait before a renewal; zero means
	// MinRenewDelay.
	MinDelay time.Duration
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
	// Log gets the schedule and the failures; nil discards.
	Log *slog.Logger
}

// Renew keeps a workload's certificate fresh until ctx ends: it calls
// renew at 2/3 of cert's life, then at 2/3 of the life of the certificate
// renew returned, and so on. A failed renewal is retried with backoff,
// indefinitely: the workload keeps the certificate it has meanwhile, and
// the failures are logged as warnings, as errors once that certificate has
// expired.
//
// renew attests again with the key of cert and writes the new certificate
// where the workload reads it: keeping the key means the key file and the
// certificate file never disagree while they are rewritten.
func Renew(ctx context.Context, c RenewConfig, cert *x509.Certificate, renew func(context.Context) (*x509.Certificate, error)) {
	b := c.Retry.WithDefaults()
	minDelay := c.MinDelay
	if minDelay <= 0 {
		minDelay = MinRenewDelay
	}
	now := c.Now
	if now == nil {
		now = time.Now
	}
	log := c.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	for {
		at := cert.NotBefore.Add(cert.NotAfter.Sub(cert.NotBefore) * 2 / 3)
		wait := max(at.Sub(now()), minDelay)
		log.Info("certificate renewal scheduled", logKeyRenewAt, now().Add(wait).UTC())
		if !sleep(ctx, wait) {
			return
		}
		delay := b.Initial
		for {
			next, err := renew(ctx)
			if err == nil {
				cert = next
				break
			}
			if ctx.Err() != nil {
				return
			}
			level := slog.LevelWarn
			if now().After(cert.NotAfter) {
				level = slog.LevelError
			}
			log.Log(ctx, level, "renewing the certificate failed; retrying",
				logKeyError, err, logKeyDelay, delay, logKeyExpires, cert.NotAfter.UTC())
			if !sleep(ctx, delay) {
				return
			}
			delay = b.Next(delay)
		}
	}
}
