package runtime

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/openccm/openccm/internal/platform/nitro"
	"github.com/openccm/openccm/internal/platform/platformtest"
	"github.com/openccm/openccm/internal/workload"
	"github.com/openccm/openccm/internal/workload/workloadtest"
	"github.com/openccm/openccm/pkg/apiv1"
	"github.com/openccm/openccm/pkg/client"
)

// fakeNSM signs attestation documents with a fake Nitro CA, as /dev/nsm
// does with AWS's.
type fakeNSM struct {
	ca *platformtest.NitroCA
}

func (f fakeNSM) AttestationDocument(_ context.Context, userData []byte) ([]byte, error) {
	return f.ca.Document(platformtest.NitroDoc{UserData: userData})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// newServer starts a fake OpenCCM server that verifies Nitro documents with
// the real verifier against the fake Nitro root.
func newServer(t *testing.T, nitroRoot *x509.Certificate) *workloadtest.Server {
	t.Helper()
	v, err := nitro.NewVerifier(nitro.Config{Roots: []*x509.Certificate{nitroRoot}})
	if err != nil {
		t.Fatal(err)
	}
	return workloadtest.NewServer(t, workloadtest.Config{Verifier: v})
}

// agentFixture is an Agent talking to a Relay (over TCP) in front of a
// fake OpenCCM server, with a fake NSM.
type agentFixture struct {
	ccm      *workloadtest.Server
	agent    *Agent
	keyPath  string
	certPath string
	signals  chan os.Signal
	dir      string
}

func newAgentFixture(t *testing.T, cfg EnclaveConfig, edit func(*AgentConfig)) *agentFixture {
	t.Helper()
	nitroCA, err := platformtest.NewNitroCA()
	if err != nil {
		t.Fatal(err)
	}
	ccm := newServer(t, nitroCA.Root())
	dir := t.TempDir()
	f := &agentFixture{ccm: ccm, dir: dir, signals: make(chan os.Signal, 1),
		keyPath: filepath.Join(dir, "tls", "private", "key.pem"), certPath: filepath.Join(dir, "tls", "cert.pem")}
	if cfg.KeyPath == "" {
		cfg.KeyPath = f.keyPath
	}
	if cfg.CertPath == "" {
		cfg.CertPath = f.certPath
	}
	relay, err := NewRelay(RelayConfig{ServerURL: ccm.URL(), ServerCA: ccm.TLSCertificatePEM(), Enclave: cfg})
	if err != nil {
		t.Fatal(err)
	}
	relaySrv := httptest.NewServer(relay)
	t.Cleanup(relaySrv.Close)
	ac := AgentConfig{
		HTTPClient: &http.Client{Timeout: 10 * time.Second}, RelayURL: relaySrv.URL,
		Attester: fakeNSM{ca: nitroCA}, Retry: workload.Backoff{Initial: 10 * time.Millisecond, Max: 20 * time.Millisecond, Attempts: 5},
		Signals: f.signals,
	}
	if edit != nil {
		edit(&ac)
	}
	if f.agent, err = NewAgent(ac); err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *agentFixture) run(t *testing.T, argv ...string) (int, error) {
	t.Helper()
	return f.agent.Run(t.Context(), argv)
}

// readPEM returns the DER blocks of a PEM file.
func readPEM(t *testing.T, path string) []*pem.Block {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var blocks []*pem.Block
	for {
		var p *pem.Block
		p, b = pem.Decode(b)
		if p == nil {
			return blocks
		}
		blocks = append(blocks, p)
	}
}

func mode(t *testing.T, path string) os.FileMode {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode().Perm()
}

var enabled = EnclaveConfig{AccountID: "acc-1", AppID: "app-1", CertificateEnabled: true}

func TestAgentWritesTheIdentityThenRunsTheCommand(t *testing.T) {
	f := newAgentFixture(t, enabled, nil)
	// The command sees both files, and its exit code comes back.
	script := fmt.Sprintf("test -s %q && test -s %q && exit 7", f.keyPath, f.certPath)
	code, err := f.run(t, "sh", "-c", script)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if code != 7 {
		t.Fatalf("exit code %d, want 7: the command did not see the files, or its code was lost", code)
	}
	if m := mode(t, f.keyPath); m != 0o600 {
		t.Errorf("key mode %o, want 600", m)
	}
	if m := mode(t, f.certPath); m != 0o644 {
		t.Errorf("certificate mode %o, want 644", m)
	}

	keyBlocks := readPEM(t, f.keyPath)
	if len(keyBlocks) != 1 || keyBlocks[0].Type != "PRIVATE KEY" {
		t.Fatalf("key file holds %d blocks, want one PRIVATE KEY", len(keyBlocks))
	}
	key, err := x509.ParsePKCS8PrivateKey(keyBlocks[0].Bytes)
	if err != nil {
		t.Fatal(err)
	}
	ek, ok := key.(*ecdsa.PrivateKey)
	if !ok || ek.Curve != elliptic.P256() {
		t.Fatalf("key %T, want ECDSA P-256", key)
	}
	certBlocks := readPEM(t, f.certPath)
	if len(certBlocks) != 2 {
		t.Fatalf("certificate file holds %d blocks, want the leaf and the CA", len(certBlocks))
	}
	leaf, err := x509.ParseCertificate(certBlocks[0].Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if !ek.PublicKey.Equal(leaf.PublicKey) {
		t.Error("the certificate is not for the key")
	}
	if string(certBlocks[1].Bytes) != string(f.ccm.AccountCA().Raw) {
		t.Error("the second certificate is not the account CA")
	}
	if ids := f.ccm.AppIDs(); len(ids) == 0 || ids[len(ids)-1] != "app-1" {
		t.Errorf("the attestations named apps %q, want app-1", ids)
	}
}

func TestAgentStopsOnARefusal(t *testing.T) {
	f := newAgentFixture(t, enabled, nil)
	f.ccm.SetReject("no_matching_image")
	marker := filepath.Join(f.dir, "ran")
	code, err := f.run(t, "touch", marker)
	var ce *client.Error
	if !errors.As(err, &ce) || ce.Status != 422 || ce.Reason != "no_matching_image" {
		t.Fatalf("Run: %v, want the server's 422 no_matching_image", err)
	}
	if !strings.Contains(err.Error(), "no_matching_image") {
		t.Errorf("error %q does not name the reason", err)
	}
	if code != 1 {
		t.Errorf("exit code %d, want 1", code)
	}
	if attempts := f.ccm.Attempts(); attempts != 1 {
		t.Errorf("%d attestations, want 1: a refusal is not retried", attempts)
	}
	if _, err := os.Stat(marker); err == nil {
		t.Error("the command ran without a certificate")
	}
	if _, err := os.Stat(f.keyPath); err == nil {
		t.Error("a key was written for a refused attestation")
	}
}

func TestAgentRetriesTransientFailures(t *testing.T) {
	f := newAgentFixture(t, enabled, nil)
	f.ccm.SetUnavailable(2)
	code, err := f.run(t, "true")
	if err != nil || code != 0 {
		t.Fatalf("Run: %d, %v", code, err)
	}
	if attempts, issued := f.ccm.Attempts(), f.ccm.Issued(); attempts != 3 || len(issued) != 1 {
		t.Errorf("%d attempts and %d certificates, want 3 and 1", attempts, len(issued))
	}
}

func TestAgentGivesUpAfterItsAttempts(t *testing.T) {
	f := newAgentFixture(t, enabled, nil)
	f.ccm.SetUnavailable(100)
	_, err := f.run(t, "true")
	var ce *client.Error
	if !errors.As(err, &ce) || ce.Status != 503 {
		t.Fatalf("Run: %v, want the last 503", err)
	}
	if attempts := f.ccm.Attempts(); attempts != 5 {
		t.Errorf("%d attempts, want 5", attempts)
	}
}

func TestAgentRefusesACertificateOutsideItsTrustedCA(t *testing.T) {
	other, _ := workloadtest.NewCA(t, "someone else's CA")
	pool := x509.NewCertPool()
	pool.AddCert(other)
	f := newAgentFixture(t, enabled, func(c *AgentConfig) { c.Roots = pool })
	_, err := f.run(t, "true")
	if err == nil || !strings.Contains(err.Error(), "does not chain to the account CA") {
		t.Fatalf("Run: %v, want the chain refused", err)
	}
	if _, err := os.Stat(f.certPath); err == nil {
		t.Error("the certificate was written")
	}

	pool.AddCert(f.ccm.AccountCA())
	if code, err := f.run(t, "true"); err != nil || code != 0 {
		t.Fatalf("with the right CA: %d, %v", code, err)
	}
}

func TestAgentWithoutCertificate(t *testing.T) {
	f := newAgentFixture(t, EnclaveConfig{AccountID: "acc-1"}, nil)
	code, err := f.run(t, "sh", "-c", "exit 3")
	if err != nil || code != 3 {
		t.Fatalf("Run: %d, %v, want 3", code, err)
	}
	if attempts := f.ccm.Attempts(); attempts != 0 {
		t.Errorf("%d attestations, want none", attempts)
	}
	if _, err := os.Stat(f.keyPath); err == nil {
		t.Error("a key was written")
	}
}

func TestAgentReportsACommandThatCannotStart(t *testing.T) {
	f := newAgentFixture(t, EnclaveConfig{AccountID: "acc-1"}, nil)
	code, err := f.run(t, filepath.Join(f.dir, "no-such-program"))
	if err == nil || code != 127 {
		t.Fatalf("Run: %d, %v, want 127 and an error", code, err)
	}
}

func TestAgentRenewsTheCertificateAndForwardsSignals(t *testing.T) {
	f := newAgentFixture(t, enabled, nil)
	f.ccm.SetValidity(0, 1500*time.Millisecond)
	done := make(chan struct{})
	var code int
	var err error
	go func() {
		defer close(done)
		code, err = f.run(t, "sleep", "30")
	}()
	waitFor(t, "a renewed certificate", func() bool {
		issued := f.ccm.Issued()
		if len(issued) < 2 {
			return false
		}
		blocks := readPEM(t, f.certPath)
		return len(blocks) > 0 && string(blocks[0].Bytes) == string(issued[len(issued)-1].Raw)
	})
	issued := f.ccm.Issued()
	if !issued[0].PublicKey.(*ecdsa.PublicKey).Equal(issued[1].PublicKey) {
		t.Error("the renewal changed the key: the key file and the certificate file could disagree while they are rewritten")
	}

	f.signals <- syscall.SIGTERM
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("the command did not stop on the forwarded SIGTERM")
	}
	if err != nil || code != 128+int(syscall.SIGTERM) {
		t.Fatalf("Run: %d, %v, want %d", code, err, 128+int(syscall.SIGTERM))
	}
}

func TestAgentAndTheContext(t *testing.T) {
	t.Run("does not start the command when the context has ended", func(t *testing.T) {
		f := newAgentFixture(t, enabled, nil)
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		marker := filepath.Join(f.dir, "ran")
		if _, err := f.agent.Run(ctx, []string{"touch", marker}); !errors.Is(err, context.Canceled) {
			t.Fatalf("Run: %v, want context.Canceled", err)
		}
		if _, err := os.Stat(marker); err == nil {
			t.Error("the command ran")
		}
	})
	t.Run("lets a running command finish when the context ends", func(t *testing.T) {
		f := newAgentFixture(t, EnclaveConfig{AccountID: "acc-1"}, nil)
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		started := filepath.Join(f.dir, "started")
		go func() { // cancels once the command runs (or after 5 s)
			defer cancel()
			for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
				if _, err := os.Stat(started); err == nil {
					return
				}
			}
		}()
		code, err := f.agent.Run(ctx, []string{"sh", "-c", fmt.Sprintf("touch %q; sleep 0.3; exit 4", started)})
		if err != nil || code != 4 {
			t.Fatalf("Run: %d, %v, want 4", code, err)
		}
	})
}

func TestAgentRetriesTheConfigurationFetch(t *testing.T) {
	// A relay that is not up yet, then is.
	var calls int
	var mu sync.Mutex
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		calls++
		if calls < 3 {
			writeJSON(w, 502, apiv1.ErrorBody{Error: apiv1.ErrorDetail{Code: apiv1.CodeUnavailable, Message: "not yet"}})
			return
		}
		writeJSON(w, 200, EnclaveConfig{AccountID: "acc-1"})
	}))
	defer srv.Close()
	a, err := NewAgent(AgentConfig{HTTPClient: srv.Client(), RelayURL: srv.URL, Retry: workload.Backoff{Initial: time.Millisecond, Attempts: 5}})
	if err != nil {
		t.Fatal(err)
	}
	if code, err := a.Run(t.Context(), []string{"true"}); err != nil || code != 0 {
		t.Fatalf("Run: %d, %v", code, err)
	}
	if calls != 3 {
		t.Errorf("%d fetches, want 3", calls)
	}
}
