package cli

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/openccm/openccm/internal/enclaveos/manifest"
	enclaverun "github.com/openccm/openccm/internal/enclaveos/runtime"
	"github.com/openccm/openccm/internal/enclaveos/runtime/runtimetest"
	"github.com/openccm/openccm/pkg/apiv1"
)

// runEnclaveCmd runs `ccm enclave ARGS` with deps and returns its output
// and error (an *exitError carries the exit code).
func runEnclaveCmd(ctx context.Context, deps enclaveDeps, args ...string) (stdout, stderr string, err error) {
	cmd := newEnclaveCmdWith(deps)
	var out, errb bytes.Buffer
	cmd.SetArgs(args)
	cmd.SetIn(strings.NewReader(""))
	cmd.SetOut(&out)
	cmd.SetErr(&errb)
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	err = cmd.ExecuteContext(ctx)
	return out.String(), errb.String(), err
}

// writeEnclaveImage writes a manifest and its EIF (named relatively) into
// a directory, as an output image holds them in /opt/ccm.
func writeEnclaveImage(t *testing.T) (manifestPath, eifPath string) {
	t.Helper()
	dir := t.TempDir()
	m := &manifest.Manifest{Version: 1, EIF: "enclave.eif", MemoryMiB: 512, CPUCount: 2,
		AccountID: "acc-1", ServerURL: "https://ccm.example.com"}
	b, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	manifestPath, eifPath = filepath.Join(dir, "enclave.json"), filepath.Join(dir, "enclave.eif")
	if err := os.WriteFile(manifestPath, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(eifPath, []byte("EIF"), 0o644); err != nil {
		t.Fatal(err)
	}
	return manifestPath, eifPath
}

func tcpDeps(env map[string]string) enclaveDeps {
	d := defaultEnclaveDeps()
	d.getenv = func(k string) string { return env[k] }
	d.listen = func(uint32) (net.Listener, error) { return net.Listen("tcp", "127.0.0.1:0") }
	return d
}

func TestEnclaveRunTakesItsSizeFromTheEnvironment(t *testing.T) {
	manifestPath, eif := writeEnclaveImage(t)
	cli, err := runtimetest.NewNitroCLI(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	deps := tcpDeps(map[string]string{"MEM_SIZE": "4G", "CPU_COUNT": "4"})
	done := make(chan error, 1)
	go func() {
		_, _, err := runEnclaveCmd(t.Context(), deps, "run", "--manifest", manifestPath, "--nitro-cli", cli.Path, "--poll-interval", "20ms")
		done <- err
	}()
	for deadline := time.Now().Add(5 * time.Second); !cli.Running(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the enclave did not start")
		}
	}
	if err := cli.Exit(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("ccm enclave run: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("ccm enclave run did not return when the enclave exited")
	}
	calls, err := cli.Calls()
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"run-enclave", "--eif-path", eif, "--memory", "4096", "--cpu-count", "4"}
	if len(calls) == 0 || !slices.Equal(calls[0], want) {
		t.Fatalf("calls %q, want first %q", calls, want)
	}
}

func TestEnclaveRunRefusals(t *testing.T) {
	manifestPath, _ := writeEnclaveImage(t)
	tests := []struct {
		name string
		env  map[string]string
		args []string
		want []string
	}{
		{"names MEM_SIZE when it is not a size", map[string]string{"MEM_SIZE": "big"}, nil, []string{`MEM_SIZE="big"`}},
		{"names CPU_COUNT when it is not a number", map[string]string{"CPU_COUNT": "2.5"}, nil, []string{`CPU_COUNT="2.5"`}},
		{"names both when both are wrong", map[string]string{"MEM_SIZE": "-1", "CPU_COUNT": "0"}, nil, []string{"MEM_SIZE", "CPU_COUNT"}},
		{"says which manifest is missing", nil, []string{"--manifest", "/nonexistent/enclave.json"}, []string{"/nonexistent/enclave.json"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			args := append([]string{"enclave", "run", "--manifest", manifestPath, "--nitro-cli", "/nonexistent/nitro-cli"}, tc.args...)
			_, stderr, code := runCCM(args...)
			if code == 0 {
				t.Fatal("exit status 0")
			}
			for _, s := range tc.want {
				if !strings.Contains(stderr, s) {
					t.Errorf("stderr %q does not contain %q", stderr, s)
				}
			}
		})
	}
}

// fakeRelay answers the agent as the parent's relay would, in front of a
// server that refuses attestations with reason (or serves only the
// configuration when reason is empty).
func fakeRelay(t *testing.T, cfg enclaverun.EnclaveConfig, reason string) enclaveDeps {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /ccm/config", func(w http.ResponseWriter, _ *http.Request) { reply(w, 200, cfg) })
	mux.HandleFunc("POST /v1/attest/challenge", func(w http.ResponseWriter, _ *http.Request) {
		reply(w, 200, apiv1.Challenge{Nonce: "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", ExpiresAt: time.Now().Add(time.Minute)})
	})
	mux.HandleFunc("POST /v1/attest", func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		reply(w, 422, apiv1.ErrorBody{Error: apiv1.ErrorDetail{Code: apiv1.CodeAttestationFailed, Reason: reason, Message: "the image is not approved"}})
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	d := defaultEnclaveDeps()
	d.agentHTTP = func(uint32, uint32) *http.Client { return srv.Client() }
	d.relayURL = srv.URL
	d.attester = fakeDocument{}
	return d
}

// fakeDocument is an NSM whose documents the fake relay never checks.
type fakeDocument struct{}

func (fakeDocument) AttestationDocument(context.Context, []byte) ([]byte, error) {
	return []byte("document"), nil
}

func TestEnclaveAgent(t *testing.T) {
	t.Run("runs the command with its output and exit status", func(t *testing.T) {
		deps := fakeRelay(t, enclaverun.EnclaveConfig{AccountID: "acc-1"}, "")
		out, _, err := runEnclaveCmd(t.Context(), deps, "agent", "--", "sh", "-c", "echo hello; exit 5")
		var ee *exitError
		if !errors.As(err, &ee) || ee.code != 5 {
			t.Fatalf("ccm enclave agent: %v, want exit status 5", err)
		}
		if out != "hello\n" {
			t.Errorf("stdout %q, want the command's", out)
		}
	})
	t.Run("leaves the command's flags to the command", func(t *testing.T) {
		deps := fakeRelay(t, enclaverun.EnclaveConfig{AccountID: "acc-1"}, "")
		_, _, err := runEnclaveCmd(t.Context(), deps, "agent", "--port", "8443", "sh", "-c", "exit 0", "--port")
		if err != nil {
			t.Fatalf("ccm enclave agent: %v", err)
		}
	})
	t.Run("stops with the server's reason when the attestation is refused", func(t *testing.T) {
		dir := t.TempDir()
		deps := fakeRelay(t, enclaverun.EnclaveConfig{AccountID: "acc-1", CertificateEnabled: true,
			KeyPath: filepath.Join(dir, "key.pem"), CertPath: filepath.Join(dir, "cert.pem")}, "image_not_approved")
		marker := filepath.Join(dir, "ran")
		_, _, err := runEnclaveCmd(t.Context(), deps, "agent", "--", "touch", marker)
		var ee *exitError
		if !errors.As(err, &ee) || ee.code != 1 || !strings.Contains(ee.msg, "image_not_approved") {
			t.Fatalf("ccm enclave agent: %v, want exit status 1 naming image_not_approved", err)
		}
		if _, err := os.Stat(marker); err == nil {
			t.Error("the command ran")
		}
	})
	t.Run("refuses a CA file without certificates", func(t *testing.T) {
		deps := fakeRelay(t, enclaverun.EnclaveConfig{AccountID: "acc-1"}, "")
		ca := writeFile(t, "ca.pem", []byte("not PEM"))
		if _, _, err := runEnclaveCmd(t.Context(), deps, "agent", "--ca-file", ca, "--", "true"); err == nil || !strings.Contains(err.Error(), "no PEM certificate") {
			t.Fatalf("ccm enclave agent: %v", err)
		}
	})
	t.Run("needs a command", func(t *testing.T) {
		if _, _, code := runCCM("enclave", "agent"); code == 0 {
			t.Fatal("exit status 0")
		}
	})
}

func TestEnclaveHelpDocumentsTheEnvironment(t *testing.T) {
	out := mustRun(t, "enclave", "run", "--help")
	for _, s := range []string{"MEM_SIZE", "CPU_COUNT", "/dev/nitro_enclaves", "--poll-interval", "--enclave-cid"} {
		if !strings.Contains(out, s) {
			t.Errorf("help does not mention %s", s)
		}
	}
}
