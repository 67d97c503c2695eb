package agent_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openccm/openccm/internal/aci"
	"github.com/openccm/openccm/internal/aci/agent"
	"github.com/openccm/openccm/internal/aci/agent/agenttest"
	"github.com/openccm/openccm/internal/workload"
)

// fakeBinary is the content of the "ccm binary" the tests copy.
const fakeBinary = "#!/bin/sh\necho fake ccm\n"

func newDevice(t testing.TB) *agenttest.Device {
	t.Helper()
	d, err := agenttest.NewDevice()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// fixture is an Agent on a fake device and its host's certificates,
// talking to a fake server.
type fixture struct {
	srv    *agenttest.Server
	device *agenttest.Device
	cfg    agent.Config
	dir    string
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{srv: agenttest.NewServer(t), device: newDevice(t), dir: filepath.Join(t.TempDir(), "run")}
	if err := os.Mkdir(f.dir, 0o777); err != nil {
		t.Fatal(err)
	}
	sc, err := f.device.WriteSecurityContext(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	exe := filepath.Join(t.TempDir(), "ccm")
	if err := os.WriteFile(exe, []byte(fakeBinary), 0o700); err != nil {
		t.Fatal(err)
	}
	f.cfg = agent.Config{
		ServerURL:  f.srv.URL(),
		AccountID:  agenttest.AccountID,
		AppID:      agenttest.AppID,
		ServerCA:   []byte(f.srv.TLSCertificatePEM()),
		AccountCA:  []byte(f.srv.AccountCAPEM()),
		Attester:   &agent.Guest{Device: f.device, SecurityContextDir: sc},
		Dir:        f.dir,
		Executable: exe,
		Retry:      workload.Backoff{Initial: 5 * time.Millisecond, Max: 20 * time.Millisecond, Attempts: 4},
	}
	return f
}

func (f *fixture) path(file string) string { return filepath.Join(f.dir, file) }

// start runs the agent until the test ends or stop is called; wait
// returns Run's error once it has returned, and false if it has not within
// 5 s.
func (f *fixture) start(t *testing.T, minRenew time.Duration) (stop func(), wait func() (error, bool)) {
	t.Helper()
	a, err := agent.New(f.cfg)
	if err != nil {
		t.Fatal(err)
	}
	if minRenew > 0 {
		agent.SetMinRenewDelay(a, minRenew)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	var runErr error
	go func() {
		defer close(done)
		runErr = a.Run(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	return cancel, func() (error, bool) {
		select {
		case <-done:
			return runErr, true
		case <-time.After(5 * time.Second):
			return nil, false
		}
	}
}

// waitFor polls until cond holds, or fails the test after 10 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

func mode(t *testing.T, path string) fs.FileMode {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return st.Mode()
}

func readPEMCerts(t *testing.T, path string) []*x509.Certificate {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []*x509.Certificate
	for {
		var block *pem.Block
		if block, b = pem.Decode(b); block == nil {
			return out
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, c)
	}
}

func readKey(t *testing.T, path string) *ecdsa.PrivateKey {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(b)
	if block == nil || block.Type != "PRIVATE KEY" {
		t.Fatalf("%s: no PRIVATE KEY block", path)
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	ek, ok := k.(*ecdsa.PrivateKey)
	if !ok {
		t.Fatalf("%s: a %T, not an ECDSA key", path, k)
	}
	return ek
}

func TestTheDefaultFilesAreTheOnesThePolicyNames(t *testing.T) {
	if got := filepath.Join(aci.RunDir, agent.ReadyFile); got != aci.ReadyFile {
		t.Errorf("ready file %s, the policy waits for %s", got, aci.ReadyFile)
	}
	if got := filepath.Join(aci.RunDir, agent.BinaryFile); got != aci.WaitBinary {
		t.Errorf("binary %s, the policy runs %s", got, aci.WaitBinary)
	}
}

func TestRunWritesTheKeyAndCertificateThenTheReadyFile(t *testing.T) {
	f := newFixture(t)
	var (
		mu       sync.Mutex
		atAttest []string
	)
	f.srv.OnAttest(func() {
		mu.Lock()
		defer mu.Unlock()
		if !exists(f.path(agent.BinaryFile)) {
			atAttest = append(atAttest, "the binary is not copied yet")
		}
		if exists(f.path(agent.ReadyFile)) {
			atAttest = append(atAttest, "the ready file exists before the certificate")
		}
	})
	stop, wait := f.start(t, 0)
	waitFor(t, "the ready file", func() bool { return exists(f.path(agent.ReadyFile)) })
	mu.Lock()
	for _, problem := range atAttest {
		t.Error(problem)
	}
	mu.Unlock()

	for file, want := range map[string]fs.FileMode{
		agent.KeyFile: 0o600, agent.CertFile: 0o644, agent.BinaryFile: 0o755, agent.ReadyFile: 0o644,
		"tls": fs.ModeDir | 0o755, "bin": fs.ModeDir | 0o755,
	} {
		if got := mode(t, f.path(file)); got != want {
			t.Errorf("%s: mode %v, want %v", file, got, want)
		}
	}
	if b, err := os.ReadFile(f.path(agent.BinaryFile)); err != nil || string(b) != fakeBinary {
		t.Errorf("binary: %q, %v", b, err)
	}
	var ready map[string]string
	if b, err := os.ReadFile(f.path(agent.ReadyFile)); err != nil || json.Unmarshal(b, &ready) != nil {
		t.Fatalf("ready file: %q, %v", b, err)
	}
	if ready["cert_file"] != f.path(agent.CertFile) || ready["key_file"] != f.path(agent.KeyFile) {
		t.Errorf("ready file: %v", ready)
	}

	certs := readPEMCerts(t, f.path(agent.CertFile))
	issued := f.srv.Issued()
	if len(certs) != 2 || len(issued) != 1 || !certs[0].Equal(issued[0]) {
		t.Fatalf("cert.pem holds %d certificates; issued %d", len(certs), len(issued))
	}
	if certs[1].Subject.CommonName != "acme account CA" {
		t.Errorf("chain: %s", certs[1].Subject)
	}
	if key := readKey(t, f.path(agent.KeyFile)); !key.PublicKey.Equal(certs[0].PublicKey) {
		t.Error("the key is not the certificate's")
	}
	if got := f.srv.AppIDs(); len(got) != 1 || got[0] != agenttest.AppID {
		t.Errorf("app IDs sent: %v", got)
	}

	stop()
	if err, ok := wait(); !ok || err != nil {
		t.Errorf("Run after stop: returned %v, error %v", ok, err)
	}
}

func TestRunStopsWithTheServersReason(t *testing.T) {
	otherChip := [64]byte{0: 0xee}
	tests := []struct {
		name   string
		setup  func(*fixture)
		reason string
	}{
		{name: "when the server refuses the evidence",
			setup:  func(f *fixture) { f.srv.SetReject("image_not_approved") },
			reason: "image_not_approved"},
		{name: "when the policy digest is no image's",
			setup:  func(f *fixture) { f.device.Template.HostData = [32]byte{1} },
			reason: "no_matching_image"},
		{name: "when the host's VCEK is another chip's",
			setup:  func(f *fixture) { f.device.Template.ChipID = otherChip },
			reason: "signature_invalid"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			tc.setup(f)
			a, err := agent.New(f.cfg)
			if err != nil {
				t.Fatal(err)
			}
			err = a.Run(t.Context())
			if err == nil || !strings.Contains(err.Error(), tc.reason) || !strings.Contains(err.Error(), "422") {
				t.Fatalf("Run: %v; want a 422 with %q", err, tc.reason)
			}
			if n := f.srv.Attempts(); n != 1 {
				t.Errorf("%d attempts; a refusal is not retried", n)
			}
			for _, file := range []string{agent.ReadyFile, agent.CertFile, agent.KeyFile} {
				if exists(f.path(file)) {
					t.Errorf("%s was written", file)
				}
			}
		})
	}
}

func TestRunRetriesAnUnavailableServer(t *testing.T) {
	f := newFixture(t)
	f.srv.SetUnavailable(2)
	_, _ = f.start(t, 0)
	waitFor(t, "the ready file", func() bool { return exists(f.path(agent.ReadyFile)) })
	if n := f.srv.Attempts(); n != 3 {
		t.Errorf("%d attempts, want 3", n)
	}
}

func TestRunGivesUpAfterTheAttempts(t *testing.T) {
	f := newFixture(t)
	f.srv.SetUnavailable(100)
	a, err := agent.New(f.cfg)
	if err != nil {
		t.Fatal(err)
	}
	err = a.Run(t.Context())
	if err == nil || !strings.Contains(err.Error(), "503") {
		t.Fatalf("Run: %v", err)
	}
	if n := f.srv.Attempts(); n != f.cfg.Retry.Attempts {
		t.Errorf("%d attempts, want %d", n, f.cfg.Retry.Attempts)
	}
}

func TestRunRefusesACertificateOfAnotherCA(t *testing.T) {
	f := newFixture(t)
	f.cfg.AccountCA = []byte(agenttest.NewServer(t).AccountCAPEM())
	a, err := agent.New(f.cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Run(t.Context()); err == nil || !strings.Contains(err.Error(), "does not chain to the account CA") {
		t.Fatalf("Run: %v", err)
	}
	if exists(f.path(agent.ReadyFile)) || exists(f.path(agent.CertFile)) {
		t.Error("files were written")
	}
}

func TestRunFailsWhenTheDeviceFails(t *testing.T) {
	f := newFixture(t)
	f.device.Fail = errors.New("no SEV-SNP guest device")
	a, err := agent.New(f.cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Run(t.Context()); err == nil || !strings.Contains(err.Error(), "no SEV-SNP guest device") {
		t.Fatalf("Run: %v", err)
	}
	if n := f.device.Calls(); n != 1 {
		t.Errorf("device asked %d times; its failure is not retried", n)
	}
}

func TestRunRenewsTheCertificateWithTheSameKey(t *testing.T) {
	f := newFixture(t)
	// Certificates already past 2/3 of their life: renewed at once.
	f.srv.SetValidity(time.Hour, time.Minute)
	_, _ = f.start(t, 10*time.Millisecond)
	waitFor(t, "the ready file", func() bool { return exists(f.path(agent.ReadyFile)) })
	key := readKey(t, f.path(agent.KeyFile))
	waitFor(t, "two renewals", func() bool { return len(f.srv.Issued()) >= 3 })

	issued := f.srv.Issued()
	leaf := readPEMCerts(t, f.path(agent.CertFile))[0]
	if leaf.Equal(issued[0]) {
		t.Error("cert.pem still holds the first certificate")
	}
	for i, c := range issued {
		if !key.PublicKey.Equal(c.PublicKey) {
			t.Errorf("certificate %d is for another key", i)
		}
	}
	if got := readKey(t, f.path(agent.KeyFile)); !got.Equal(key) {
		t.Error("the key file changed")
	}
}

func TestRunIsStoppedWhileAttesting(t *testing.T) {
	f := newFixture(t)
	f.srv.SetUnavailable(1000)
	f.cfg.Retry = workload.Backoff{Initial: time.Hour, Attempts: 5}
	stop, wait := f.start(t, 0)
	waitFor(t, "an attempt", func() bool { return f.srv.Attempts() > 0 })
	stop()
	if err, ok := wait(); !ok || err != nil {
		t.Errorf("Run after stop: returned %v, error %v", ok, err)
	}
}

func TestConfigFromEnv(t *testing.T) {
	caPEM := agenttest.NewServer(t).AccountCAPEM()
	full := map[string]string{
		agent.EnvServerURL: "https://ccm.example.com", agent.EnvAccountID: "acc", agent.EnvAppID: "app",
		agent.EnvServerCA: caPEM, agent.EnvAccountCA: caPEM,
	}
	with := func(k, v string) map[string]string {
		m := map[string]string{}
		for k, v := range full {
			m[k] = v
		}
		m[k] = v
		return m
	}
	tests := []struct {
		name string
		env  map[string]string
		want []string // error substrings; none for success
	}{
		{name: "reads every variable", env: full},
		{name: "names every missing variable at once", env: map[string]string{},
			want: []string{"CCM_SERVER_URL is not set", "CCM_ACCOUNT_ID is not set", "CCM_APP_ID is not set"}},
		{name: "names a missing app ID", env: with(agent.EnvAppID, ""), want: []string{"CCM_APP_ID is not set"}},
		{name: "names a server CA that is a key", env: with(agent.EnvServerCA, "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"),
			want: []string{"CCM_SERVER_CA: PEM block 1 is a PUBLIC KEY"}},
		{name: "names a server CA that is not PEM", env: with(agent.EnvServerCA, "not pem"), want: []string{"CCM_SERVER_CA: data that is not PEM"}},
		{name: "names an account CA that is not PEM", env: with(agent.EnvAccountCA, "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"),
			want: []string{"CCM_ACCOUNT_CA: certificate 1"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := agent.ConfigFromEnv(func(k string) string { return tc.env[k] })
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatal(err)
				}
				if c.ServerURL != "https://ccm.example.com" || c.AccountID != "acc" || c.AppID != "app" ||
					!bytes.Equal(c.ServerCA, []byte(strings.TrimSpace(caPEM))) || !bytes.Equal(c.AccountCA, c.ServerCA) {
					t.Errorf("config %+v", c)
				}
				return
			}
			for _, w := range tc.want {
				if err == nil || !strings.Contains(err.Error(), w) {
					t.Errorf("error %v, want one containing %q", err, w)
				}
			}
		})
	}
}

func TestGuestChecksTheDevicesReport(t *testing.T) {
	d := newDevice(t)
	sc, err := d.WriteSecurityContext(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	rd := [64]byte{1, 2, 3}
	ev, err := (&agent.Guest{Device: d, SecurityContextDir: sc}).Evidence(t.Context(), rd)
	if err != nil {
		t.Fatal(err)
	}
	if len(ev.Report) != 1184 || !bytes.Equal(ev.Report[0x50:0x90], rd[:]) || len(ev.VCEK) == 0 || len(ev.ASK) == 0 || len(ev.ARK) == 0 {
		t.Errorf("evidence: report %d bytes, vcek %d, ask %d, ark %d", len(ev.Report), len(ev.VCEK), len(ev.ASK), len(ev.ARK))
	}

	for _, tc := range []struct {
		name   string
		device agent.Device
		want   string
	}{
		{"rejects a report for other report data", otherData{d}, "does not carry the report data"},
		{"rejects a short report", short{d}, "has 1000 bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := (&agent.Guest{Device: tc.device, SecurityContextDir: sc}).Evidence(t.Context(), rd)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want %q", err, tc.want)
			}
		})
	}
}

type otherData struct{ d *agenttest.Device }

func (o otherData) Report(ctx context.Context, _ [64]byte) ([]byte, error) {
	return o.d.Report(ctx, [64]byte{9})
}

type short struct{ d *agenttest.Device }

func (s short) Report(ctx context.Context, rd [64]byte) ([]byte, error) {
	r, err := s.d.Report(ctx, rd)
	return r[:1000], err
}
