package runtime

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/openccm/openccm/internal/workload"
	"github.com/openccm/openccm/pkg/apiv1"
	"github.com/openccm/openccm/pkg/client"
)

// Agent bounds.
const (
	// DefaultRelayURL is the relay's base URL for a vsock client, which
	// ignores the host.
	DefaultRelayURL = "http://parent.vsock"
	// maxConfigBody bounds the EnclaveConfig the relay serves.
	maxConfigBody = 64 << 10
	// platformNitro is the platform of the evidence the agent sends.
	platformNitro = "nitro"
)

// AgentConfig configures an Agent.
type AgentConfig struct {
	// HTTPClient reaches the parent's relay; nil means
	// VsockHTTPClient(ParentCID, DefaultPort).
	HTTPClient *http.Client
	// RelayURL is the relay's base URL; empty means DefaultRelayURL.
	RelayURL string
	// Attester makes the attestation documents; nil means NSM{}.
	Attester Attester
	// Roots, when set, are the account CA certificates the issued
	// certificate must chain to. The parent sees and could alter what it
	// relays; a CA baked into the (measured) enclave image catches a
	// certificate that the server did not issue.
	Roots *x509.CertPool
	// Retry paces the retries of transient failures.
	Retry workload.Backoff
	// Stdin, Stdout and Stderr are the command's; nil means the null
	// device.
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	// Env is the command's environment; nil means the agent's.
	Env []string
	// Signals are forwarded to the command while it runs (see
	// ForwardedSignals).
	Signals <-chan os.Signal
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
	Log *slog.Logger
}

// Agent attests the enclave, keeps its certificate fresh, and runs the
// original image's command: the `ccm enclave agent` side.
type Agent struct {
	c     AgentConfig
	hc    *http.Client
	api   *client.Client
	relay string
	log   *slog.Logger
	now   func() time.Time
}

// NewAgent checks c and returns its Agent.
func NewAgent(c AgentConfig) (*Agent, error) {
	hc := c.HTTPClient
	if hc == nil {
		hc = VsockHTTPClient(ParentCID, DefaultPort)
	}
	relay := strings.TrimRight(c.RelayURL, "/")
	if relay == "" {
		relay = DefaultRelayURL
	}
	api, err := client.New(client.Config{BaseURL: relay, HTTPClient: hc, UserAgent: "openccm-enclave-agent"})
	if err != nil {
		return nil, fmt.Errorf("enclave agent: %w", err)
	}
	if c.Attester == nil {
		c.Attester = NSM{}
	}
	c.Retry = c.Retry.WithDefaults()
	log := c.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	now := c.Now
	if now == nil {
		now = time.Now
	}
	return &Agent{c: c, hc: hc, api: api, relay: relay, log: log, now: now}, nil
}

// Run attests the enclave when its app wants a certificate, writes the key
// and the certificate, runs argv, renews the certificate at 2/3 of its
// life while argv runs, and returns argv's exit code (128 plus the signal
// when a signal ended it).
//
// An error means argv did not run: the configuration could not be fetched,
// the attestation failed or ctx ended first (the code is then 1), or argv
// could not start (127 when it was not found, 126 otherwise). Once argv
// runs, Run waits for it to exit whatever happens to ctx, which then only
// stops the renewals: argv is stopped by the signals forwarded to it.
func (a *Agent) Run(ctx context.Context, argv []string) (int, error) {
	if len(argv) == 0 {
		return 1, errors.New("enclave agent: no command to run")
	}
	var cfg EnclaveConfig
	err := workload.Retry(ctx, a.c.Retry, a.log, "fetching the enclave configuration", func(ctx context.Context) error {
		var err error
		cfg, err = a.fetchConfig(ctx)
		return err
	})
	if err != nil {
		return 1, fmt.Errorf("enclave agent: fetching the configuration from the parent: %w", err)
	}

	var cert *certState
	if cfg.CertificateEnabled {
		if cert, err = a.firstCertificate(ctx, cfg); err != nil {
			return 1, fmt.Errorf("enclave agent: %w", err)
		}
	} else {
		a.log.Info("the app's certificate is disabled; running the command without one")
	}
	return a.runCommand(ctx, argv, cert)
}

// fetchConfig gets the EnclaveConfig from the relay.
func (a *Agent) fetchConfig(ctx context.Context) (EnclaveConfig, error) {
	var cfg EnclaveConfig
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, a.relay+ConfigPath, nil)
	if err != nil {
		return cfg, fmt.Errorf("GET %s: %w", ConfigPath, err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := a.hc.Do(req)
	if err != nil {
		return cfg, err // a *url.Error, which names the request
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxConfigBody+1))
	if err != nil {
		return cfg, fmt.Errorf("reading %s: %w", ConfigPath, err)
	}
	if resp.StatusCode != http.StatusOK {
		msg := resp.Status
		var eb apiv1.ErrorBody
		if json.Unmarshal(body, &eb) == nil && eb.Error.Message != "" {
			msg += ": " + eb.Error.Message
		}
		return cfg, &workload.StatusError{Status: resp.StatusCode, Message: "GET " + ConfigPath + ": " + msg}
	}
	if len(body) > maxConfigBody {
		return cfg, fmt.Errorf("%s is larger than %d bytes", ConfigPath, maxConfigBody)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&cfg); err != nil {
		return cfg, fmt.Errorf("decoding %s: %w", ConfigPath, err)
	}
	if cfg.AccountID == "" {
		return cfg, fmt.Errorf("%s has no account_id", ConfigPath)
	}
	return cfg, nil
}

// certState is the workload's identity: one key for the agent's lifetime,
// and the certificate of the latest attestation.
type certState struct {
	cfg      EnclaveConfig
	key      *ecdsa.PrivateKey
	keyPath  string
	certPath string
	cert     *x509.Certificate
}

// firstCertificate makes the key, attests, and writes the key and the
// certificate, retrying transient failures.
func (a *Agent) firstCertificate(ctx context.Context, cfg EnclaveConfig) (*certState, error) {
	st := &certState{cfg: cfg, keyPath: cfg.KeyPath, certPath: cfg.CertPath}
	if st.keyPath == "" {
		st.keyPath = DefaultKeyPath
	}
	if st.certPath == "" {
		st.certPath = DefaultCertPath
	}
	if !filepath.IsAbs(st.keyPath) || !filepath.IsAbs(st.certPath) {
		return nil, fmt.Errorf("the key path %q and the certificate path %q must be absolute", st.keyPath, st.certPath)
	}
	if filepath.Clean(st.keyPath) == filepath.Clean(st.certPath) {
		return nil, fmt.Errorf("the key and the certificate would both be written to %s", st.keyPath)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generating the key: %w", err)
	}
	st.key = key
	err = workload.Retry(ctx, a.c.Retry, a.log, "attesting the enclave", func(ctx context.Context) error {
		return a.attest(ctx, st)
	})
	if err != nil {
		return nil, fmt.Errorf("attesting the enclave: %w", err)
	}
	return st, nil
}

// attest runs one attestation for st's key and, when it succeeds, writes
// the key and the certificate.
func (a *Agent) attest(ctx context.Context, st *certState) error {
	id, err := a.api.AttestWorkload(ctx, client.AttestParams{
		AccountID: st.cfg.AccountID,
		AppID:     st.cfg.AppID,
		Platform:  platformNitro,
		Key:       st.key,
		Evidence: func(ctx context.Context, binding [32]byte) (json.RawMessage, error) {
			doc, err := a.c.Attester.AttestationDocument(ctx, binding[:])
			if err != nil {
				return nil, err
			}
			return json.Marshal(map[string]string{"document": base64.StdEncoding.EncodeToString(doc)})
		},
	})
	if err != nil {
		return err
	}
	if a.c.Roots != nil {
		inter := x509.NewCertPool()
		for _, c := range id.Chain {
			inter.AddCert(c)
		}
		if _, err := id.Certificate.Verify(x509.VerifyOptions{
			Roots: a.c.Roots, Intermediates: inter, CurrentTime: a.now(),
			KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
		}); err != nil {
			return fmt.Errorf("the issued certificate does not chain to the account CA the enclave trusts: %w", err)
		}
	}
	keyPEM, err := id.KeyPEM()
	if err != nil {
		return err
	}
	if err := workload.WriteFile(st.keyPath, keyPEM, 0o600, nil); err != nil {
		return fmt.Errorf("the key: %w", err)
	}
	if err := workload.WriteFile(st.certPath, id.CertificatePEM(), 0o644, nil); err != nil {
		return fmt.Errorf("the certificate: %w", err)
	}
	st.cert = id.Certificate
	a.log.Info("certificate written", logKeyCertID, id.Response.CertificateID,
		logKeyExpires, id.Certificate.NotAfter.UTC(), logKeyPath, st.certPath)
	return nil
}

// renewLoop renews st's certificate, with its key, at 2/3 of each
// certificate's life until ctx ends (see workload.Renew): the command keeps
// the certificate it has while a renewal fails.
func (a *Agent) renewLoop(ctx context.Context, st *certState) {
	workload.Renew(ctx, workload.RenewConfig{Retry: a.c.Retry, Now: a.now, Log: a.log}, st.cert,
		func(ctx context.Context) (*x509.Certificate, error) {
			if err := a.attest(ctx, st); err != nil {
				return nil, err
			}
			return st.cert, nil
		})
}

// runCommand runs argv to its end, forwarding signals and renewing st's
// certificate (when there is one) meanwhile.
func (a *Agent) runCommand(ctx context.Context, argv []string, st *certState) (int, error) {
	if err := ctx.Err(); err != nil {
		return 1, fmt.Errorf("enclave agent: %w", err)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = a.c.Stdin, a.c.Stdout, a.c.Stderr
	cmd.Env = a.c.Env
	cmd.WaitDelay = childWaitDelay
	if err := cmd.Start(); err != nil {
		return startExitCode(err), fmt.Errorf("enclave agent: starting the command: %w", err)
	}
	a.log.Info("command started", logKeyPath, cmd.Path)
	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()

	rctx, stopRenewing := context.WithCancel(ctx)
	var wg sync.WaitGroup
	if st != nil {
		wg.Go(func() { a.renewLoop(rctx, st) })
	}
	for {
		select {
		case sig := <-a.c.Signals:
			a.log.Info("forwarding a signal to the command", logKeySignal, sig.String())
			_ = cmd.Process.Signal(sig)
		case err := <-waited:
			stopRenewing()
			wg.Wait()
			code := exitCode(err)
			a.log.Info("command exited", logKeyExitCode, code)
			return code, nil
		}
	}
}
