package runtime

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mdlayher/vsock"

	"github.com/openccm/openccm/internal/enclaveos/manifest"
	"github.com/openccm/openccm/internal/enclaveos/runtime/runtimetest"
)

// parentFixture is a Parent on a fake nitro-cli and a TCP listener.
type parentFixture struct {
	parent *Parent
	cli    *runtimetest.NitroCLI
	addr   string // the relay's address
	eif    string
}

func newParentFixture(t *testing.T, edit func(*ParentConfig)) *parentFixture {
	t.Helper()
	dir := t.TempDir()
	cli, err := runtimetest.NewNitroCLI(dir)
	if err != nil {
		t.Fatal(err)
	}
	eif := filepath.Join(dir, "enclave.eif")
	if err := os.WriteFile(eif, []byte("EIF"), 0o644); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	m := &manifest.Manifest{
		Version: 1, EIF: eif, MemoryMiB: 512, CPUCount: 2,
		AccountID: "acc-1", AppID: "app-1", ServerURL: "https://ccm.example.com",
		CertificateEnabled: true, KeyPath: "/etc/tls/key.pem", CertPath: "/etc/tls/cert.pem",
	}
	cfg := ParentConfig{
		Manifest: m, EIFPath: eif, Resources: Resources{MemoryMiB: 512, CPUCount: 2},
		NitroCLI: &NitroCLI{Path: cli.Path}, Listener: ln, PollInterval: 20 * time.Millisecond,
	}
	if edit != nil {
		edit(&cfg)
	}
	p, err := NewParent(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &parentFixture{parent: p, cli: cli, addr: ln.Addr().String(), eif: eif}
}

// start runs the parent in the background; the returned channel receives
// Run's error.
func (f *parentFixture) start(ctx context.Context) <-chan error {
	done := make(chan error, 1)
	go func() { done <- f.parent.Run(ctx) }()
	return done
}

func (f *parentFixture) calls(t *testing.T) [][]string {
	t.Helper()
	calls, err := f.cli.Calls()
	if err != nil {
		t.Fatal(err)
	}
	return calls
}

// waitFor polls cond until it holds or a few seconds pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func waitRun(t *testing.T, done <-chan error) error {
	t.Helper()
	select {
	case err := <-done:
		return err
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return")
		return nil
	}
}

func subcommands(calls [][]string) []string {
	var s []string
	for _, c := range calls {
		s = append(s, c[0])
	}
	return slices.Compact(s)
}

func TestParent(t *testing.T) {
	t.Run("starts the enclave with its size, serves the relay, and returns when the enclave exits", func(t *testing.T) {
		f := newParentFixture(t, nil)
		done := f.start(t.Context())
		waitFor(t, "the enclave to start", f.cli.Running)

		resp, err := http.Get("http://" + f.addr + ConfigPath)
		if err != nil {
			t.Fatal(err)
		}
		var cfg EnclaveConfig
		err = json.NewDecoder(resp.Body).Decode(&cfg)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		want := EnclaveConfig{AccountID: "acc-1", AppID: "app-1", CertificateEnabled: true, KeyPath: "/etc/tls/key.pem", CertPath: "/etc/tls/cert.pem"}
		if cfg != want {
			t.Errorf("config %+v, want %+v", cfg, want)
		}

		if err := f.cli.Exit(); err != nil {
			t.Fatal(err)
		}
		if err := waitRun(t, done); err != nil {
			t.Fatalf("Run: %v", err)
		}
		calls := f.calls(t)
		wantRun := []string{"run-enclave", "--eif-path", f.eif, "--memory", "512", "--cpu-count", "2"}
		if !slices.Equal(calls[0], wantRun) {
			t.Errorf("first call %q, want %q", calls[0], wantRun)
		}
		if got := subcommands(calls); !slices.Equal(got, []string{"run-enclave", "describe-enclaves"}) {
			t.Errorf("calls %q: want run-enclave then describe-enclaves only", got)
		}
		if _, err := http.Get("http://" + f.addr + ConfigPath); err == nil {
			t.Error("the relay still serves after Run returned")
		}
	})

	t.Run("terminates the enclave when the context ends", func(t *testing.T) {
		f := newParentFixture(t, nil)
		ctx, cancel := context.WithCancel(t.Context())
		done := f.start(ctx)
		waitFor(t, "the enclave to start", f.cli.Running)
		cancel()
		if err := waitRun(t, done); err != nil {
			t.Fatalf("Run: %v", err)
		}
		calls := f.calls(t)
		last := calls[len(calls)-1]
		if want := []string{"terminate-enclave", "--enclave-id", runtimetest.EnclaveID}; !slices.Equal(last, want) {
			t.Errorf("last call %q, want %q", last, want)
		}
		if f.cli.Running() {
			t.Error("the enclave still runs")
		}
	})

	t.Run("passes the enclave CID and debug mode to nitro-cli", func(t *testing.T) {
		f := newParentFixture(t, func(c *ParentConfig) {
			c.CID = 21
			c.DebugMode = true
			c.Resources = Resources{MemoryMiB: 4096, CPUCount: 4}
		})
		done := f.start(t.Context())
		waitFor(t, "the enclave to start", f.cli.Running)
		if err := f.cli.Exit(); err != nil {
			t.Fatal(err)
		}
		if err := waitRun(t, done); err != nil {
			t.Fatalf("Run: %v", err)
		}
		want := []string{"run-enclave", "--eif-path", f.eif, "--memory", "4096", "--cpu-count", "4", "--enclave-cid", "21", "--debug-mode"}
		if got := f.calls(t)[0]; !slices.Equal(got, want) {
			t.Errorf("run-enclave call %q, want %q", got, want)
		}
	})

	t.Run("fails with nitro-cli's message when the enclave does not start", func(t *testing.T) {
		f := newParentFixture(t, nil)
		if err := f.cli.FailRun("[ E26 ] Insufficient memory requested."); err != nil {
			t.Fatal(err)
		}
		err := waitRun(t, f.start(t.Context()))
		if err == nil || !strings.Contains(err.Error(), "E26") || !strings.Contains(err.Error(), "starting the enclave") {
			t.Fatalf("Run: %v, want the E26 message", err)
		}
		if got := subcommands(f.calls(t)); !slices.Equal(got, []string{"run-enclave"}) {
			t.Errorf("calls %q, want run-enclave only", got)
		}
	})

	t.Run("terminates the enclave when it can no longer be watched", func(t *testing.T) {
		f := newParentFixture(t, nil)
		done := f.start(t.Context())
		waitFor(t, "the enclave to start", f.cli.Running)
		if err := f.cli.FailDescribe(); err != nil {
			t.Fatal(err)
		}
		err := waitRun(t, done)
		if err == nil || !strings.Contains(err.Error(), "E39") {
			t.Fatalf("Run: %v, want the describe-enclaves failure", err)
		}
		if f.cli.Running() {
			t.Error("the enclave was not terminated")
		}
	})

	t.Run("fails before starting anything when the EIF is missing", func(t *testing.T) {
		f := newParentFixture(t, func(c *ParentConfig) { c.EIFPath = filepath.Join(t.TempDir(), "missing.eif") })
		if err := waitRun(t, f.start(t.Context())); err == nil || !strings.Contains(err.Error(), "missing.eif") {
			t.Fatalf("Run: %v, want the missing EIF", err)
		}
		if calls := f.calls(t); len(calls) != 0 {
			t.Errorf("nitro-cli was called: %q", calls)
		}
	})
}

func TestNewParentRefusesBadSettings(t *testing.T) {
	m := &manifest.Manifest{Version: 1, EIF: "/e.eif", MemoryMiB: 512, CPUCount: 2, AccountID: "a", ServerURL: "ftp://ccm"}
	_, err := NewParent(ParentConfig{Manifest: m, Resources: Resources{0, 2}})
	if err == nil || !strings.Contains(err.Error(), "must be positive") || !strings.Contains(err.Error(), "https://") {
		t.Fatalf("NewParent: %v, want both the size and the URL reported", err)
	}
}

func TestEIFPath(t *testing.T) {
	for _, tc := range []struct{ eif, want string }{
		{"/opt/ccm/enclave.eif", "/opt/ccm/enclave.eif"},
		{"enclave.eif", "/opt/ccm/enclave.eif"},
		{"sub/app.eif", "/opt/ccm/sub/app.eif"},
	} {
		if got := EIFPath("/opt/ccm/enclave.json", &manifest.Manifest{EIF: tc.eif}); got != tc.want {
			t.Errorf("EIFPath(%q) = %q, want %q", tc.eif, got, tc.want)
		}
	}
}

func TestAllowPeer(t *testing.T) {
	tests := []struct {
		name string
		addr net.Addr
		cid  uint64
		want bool
	}{
		{"accepts the enclave", &vsock.Addr{ContextID: 16, Port: 1234}, 16, true},
		{"refuses another enclave", &vsock.Addr{ContextID: 17, Port: 1234}, 16, false},
		{"refuses every enclave while the CID is unknown", &vsock.Addr{ContextID: 16, Port: 1234}, 0, false},
		{"accepts TCP, which only tests use", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 80}, 0, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := allowPeer(tc.addr, tc.cid); got != tc.want {
				t.Errorf("allowPeer = %v, want %v", got, tc.want)
			}
		})
	}
}
