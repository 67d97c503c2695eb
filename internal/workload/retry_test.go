package workload

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/url"
	"syscall"
	"testing"
	"time"

	"github.com/openccm/openccm/pkg/client"
)

func TestTransient(t *testing.T) {
	urlError := &url.Error{Op: "Post", URL: "http://parent.vsock/v1/attest", Err: syscall.ECONNREFUSED}
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"a 503 is transient", &client.Error{Status: 503}, true},
		{"a 429 is transient", fmt.Errorf("attest: %w", &client.Error{Status: 429}), true},
		{"a 422 is permanent", fmt.Errorf("attest: %w", &client.Error{Status: 422, Reason: "binding_mismatch"}), false},
		{"a 404 is permanent", &client.Error{Status: 404}, false},
		{"a relay 502 is transient", &StatusError{Status: 502}, true},
		{"a relay 400 is permanent", fmt.Errorf("config: %w", &StatusError{Status: 400}), false},
		{"a transport failure is transient", fmt.Errorf("challenge: %w", urlError), true},
		{"a hardware failure is permanent", errors.New("evidence: nsm: ioctl failed"), false},
		{"a dial failure is transient", fmt.Errorf("attest: %w", &net.OpError{Op: "dial", Net: "vsock", Err: syscall.ECONNREFUSED}), true},
		{"a file failure is permanent", fmt.Errorf("the key: %w", &fs.PathError{Op: "open", Path: "/opt/ccm/tls/key.pem", Err: syscall.EACCES}), false},
		{"a missing device is permanent", fmt.Errorf("evidence: no SEV-SNP guest device: %w", &fs.PathError{Op: "stat", Path: "/dev/sev-guest", Err: syscall.ENOENT}), false},
		{"a device's errno is permanent", fmt.Errorf("evidence: getting a report: %w", syscall.EIO), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Transient(tc.err); got != tc.want {
				t.Errorf("Transient(%v) = %v, want %v", tc.err, got, tc.want)
			}
		})
	}
}

func TestBackoff(t *testing.T) {
	tests := []struct {
		name string
		b    Backoff
		want Backoff
	}{
		{"takes the defaults for zero fields", Backoff{}, Backoff{Initial: time.Second, Max: 30 * time.Second, Attempts: 10}},
		{"keeps the fields set", Backoff{Initial: time.Millisecond, Max: time.Minute, Attempts: 3},
			Backoff{Initial: time.Millisecond, Max: time.Minute, Attempts: 3}},
		{"raises a Max below Initial to the default", Backoff{Initial: 2 * time.Second, Max: time.Second},
			Backoff{Initial: 2 * time.Second, Max: 30 * time.Second, Attempts: 10}},
		{"raises a Max below an Initial above the default Max to Initial", Backoff{Initial: time.Minute},
			Backoff{Initial: time.Minute, Max: time.Minute, Attempts: 10}},
		{"takes the defaults for negative fields", Backoff{Initial: -1, Attempts: -1},
			Backoff{Initial: time.Second, Max: 30 * time.Second, Attempts: 10}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.b.WithDefaults()
			if got != tc.want {
				t.Errorf("WithDefaults() = %+v, want %+v", got, tc.want)
			}
			if again := got.WithDefaults(); again != got {
				t.Errorf("WithDefaults() twice = %+v, want %+v", again, got)
			}
		})
	}

	t.Run("doubles the delay up to Max", func(t *testing.T) {
		b := Backoff{Initial: time.Second, Max: 5 * time.Second}
		var got []time.Duration
		for d := b.Initial; len(got) < 5; d = b.Next(d) {
			got = append(got, d)
		}
		want := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 5 * time.Second, 5 * time.Second}
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("delays %v, want %v", got, want)
			}
		}
	})
}

func TestRetry(t *testing.T) {
	unavailable := &client.Error{Status: 503}
	refused := &client.Error{Status: 422, Reason: "no_matching_image"}
	fast := Backoff{Initial: time.Millisecond, Max: 2 * time.Millisecond, Attempts: 4}
	tests := []struct {
		name      string
		errs      []error // f's answers in turn; nil after the last
		wantCalls int
		wantErr   error
	}{
		{"returns at once on success", nil, 1, nil},
		{"retries transient failures until success", []error{unavailable, unavailable}, 3, nil},
		{"does not retry a permanent failure", []error{unavailable, refused, unavailable}, 2, refused},
		{"gives up after its attempts with the last error", []error{unavailable, unavailable, unavailable, unavailable, unavailable}, 4, unavailable},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			calls := 0
			err := Retry(t.Context(), fast, nil, "testing", func(context.Context) error {
				calls++
				if calls <= len(tc.errs) {
					return tc.errs[calls-1]
				}
				return nil
			})
			if err != tc.wantErr {
				t.Errorf("Retry: %v, want %v", err, tc.wantErr)
			}
			if calls != tc.wantCalls {
				t.Errorf("%d calls, want %d", calls, tc.wantCalls)
			}
		})
	}

	t.Run("stops waiting when the context ends", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		calls := 0
		err := Retry(ctx, Backoff{Initial: time.Hour, Attempts: 5}, nil, "testing", func(context.Context) error {
			calls++
			cancel()
			return unavailable
		})
		if err != unavailable || calls != 1 {
			t.Errorf("Retry: %v after %d calls, want the 503 after 1", err, calls)
		}
	})
	t.Run("tries Attempts times with a zero Backoff's default", func(t *testing.T) {
		calls := 0
		_ = Retry(t.Context(), Backoff{}, nil, "testing", func(context.Context) error {
			calls++
			return refused
		})
		if calls != 1 {
			t.Errorf("%d calls, want 1", calls)
		}
	})
}
