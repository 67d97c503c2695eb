// Package agent is the attestation sidecar of an app on Azure Confidential
// Container Instances, `ccm agent aci`: it attests the container group with
// an SEV-SNP report, writes the workload's key and certificate into the
// volume it shares with the app container, marks them ready, and renews
// the certificate. The app container's side is `ccm wait`, which starts the
// app once the ready file exists.
package agent

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/openccm/openccm/internal/aci"
	"github.com/openccm/openccm/internal/workload"
	"github.com/openccm/openccm/pkg/client"
)

// The agent's files, relative to its directory (Config.Dir, aci.RunDir by
// default). The directories are mode 0755 and the files world-readable
// but for the key, since the app may run as another user.
const (
	// KeyFile is the workload's private key, PKCS #8 PEM, mode 0600.
	KeyFile = "tls/key.pem"
	// CertFile is the workload's certificate followed by the chain the
	// server returned (the account CA that issued it), PEM, mode 0644.
	CertFile = "tls/cert.pem"
	// BinaryFile is the copy of the agent's own ccm binary, mode 0755:
	// the app container runs `ccm wait` from it (aci.WaitBinary).
	BinaryFile = "bin/ccm"
	// ReadyFile appears once KeyFile and CertFile hold a certificate
	// (aci.ReadyFile). It holds {"cert_file", "key_file"}: their paths.
	ReadyFile = "ready"
)

const (
	// platformACI is the platform of the evidence the agent sends.
	platformACI = "aci"
	// httpTimeout bounds one request to the server.
	httpTimeout = time.Minute
	userAgent   = "openccm-aci-agent"
)

// Structured log attribute keys.
const (
	logKeyCertID  = "certificate_id"
	logKeyExpires = "expires_at"
	logKeyPath    = "path"
	logKeyServer  = "server_url"
)

// Config configures an Agent. ConfigFromEnv fills the server, account,
// app and CA fields from the container's environment.
type Config struct {
	// ServerURL is the OpenCCM server's base URL.
	ServerURL string
	// AccountID is the app's account; AppID, the app the evidence may
	// match.
	AccountID, AppID string
	// ServerCA, when set, is the PEM the server's TLS certificate must
	// chain to (the server's own certificate when it is self-signed);
	// unset, the system roots. Ignored when HTTPClient is set.
	ServerCA []byte
	// AccountCA, when set, is the PEM of the account CA that every issued
	// certificate must chain to.
	AccountCA []byte
	// HTTPClient, when set, reaches the server as it is.
	HTTPClient *http.Client
	// Attester makes the evidence (Guest in a container group).
	Attester Attester
	// Dir is the directory shared with the app container; empty means
	// aci.RunDir.
	Dir string
	// Executable is the ccm binary copied to BinaryFile; empty means the
	// running one (os.Executable).
	Executable string
	// KeyOwner, when set, owns KeyFile: the app's user, when it is not the
	// agent's, so that it can read its key (which stays mode 0600).
	KeyOwner *workload.Owner
	// Retry paces the retries of transient failures (the server
	// unreachable, 5xx, 429): Attempts bounds the tries of the first
	// attestation; renewals retry until the agent stops.
	Retry workload.Backoff
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
	Log *slog.Logger
}

// Agent is `ccm agent aci`.
type Agent struct {
	c        Config
	api      *client.Client
	roots    *x509.CertPool // the account CA, or nil
	dir      string
	log      *slog.Logger
	now      func() time.Time
	minRenew time.Duration // zero means workload.MinRenewDelay
}

// New checks c and returns its Agent.
func New(c Config) (*Agent, error) {
	switch {
	case c.ServerURL == "":
		return nil, errors.New("aci agent: no server URL")
	case c.AccountID == "":
		return nil, errors.New("aci agent: no account ID")
	case c.AppID == "":
		return nil, errors.New("aci agent: no app ID")
	case c.Attester == nil:
		return nil, errors.New("aci agent: no Attester")
	}
	a := &Agent{c: c, dir: c.Dir, log: c.Log, now: c.Now}
	if a.dir == "" {
		a.dir = aci.RunDir
	}
	if !filepath.IsAbs(a.dir) {
		return nil, fmt.Errorf("aci agent: the directory %q is not absolute", a.dir)
	}
	if a.log == nil {
		a.log = slog.New(slog.DiscardHandler)
	}
	if a.now == nil {
		a.now = time.Now
	}
	a.c.Retry = c.Retry.WithDefaults()
	if len(c.AccountCA) > 0 {
		pool, err := certPool(c.AccountCA)
		if err != nil {
			return nil, fmt.Errorf("aci agent: the account CA: %w", err)
		}
		a.roots = pool
	}
	hc := c.HTTPClient
	if hc == nil {
		tlsConf := &tls.Config{MinVersion: tls.VersionTLS12}
		if len(c.ServerCA) > 0 {
			pool, err := certPool(c.ServerCA)
			if err != nil {
				return nil, fmt.Errorf("aci agent: the server CA: %w", err)
			}
			tlsConf.RootCAs = pool
		}
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.TLSClientConfig = tlsConf
		hc = &http.Client{Transport: tr, Timeout: httpTimeout}
	}
	api, err := client.New(client.Config{BaseURL: c.ServerURL, HTTPClient: hc, UserAgent: userAgent})
	if err != nil {
		return nil, fmt.Errorf("aci agent: %w", err)
	}
	a.api = api
	return a, nil
}

// Path returns the path of one of the agent's files (KeyFile, …).
func (a *Agent) Path(file string) string { return filepath.Join(a.dir, file) }

// Run copies the ccm binary to BinaryFile, attests, writes KeyFile and
// CertFile, then creates ReadyFile, and renews the certificate at 2/3 of
// its lifetime until ctx ends; then it returns nil.
//
// The binary goes first, so that the app container's `ccm wait` can start
// waiting while the agent attests. The ready file goes last, once the key
// and the certificate are in place. An error means the agent never got a
// certificate: the server refused the evidence (a 4xx answer, such as 422
// attestation_failed with its reason), the server stayed unreachable for
// Retry.Attempts tries, or the device or the files failed.
func (a *Agent) Run(ctx context.Context) error {
	if err := a.installBinary(); err != nil {
		return fmt.Errorf("aci agent: copying the ccm binary: %w", err)
	}
	if err := makeDir(filepath.Dir(a.Path(CertFile))); err != nil {
		return fmt.Errorf("aci agent: %w", err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return fmt.Errorf("aci agent: generating the key: %w", err)
	}
	var cert *x509.Certificate
	err = workload.Retry(ctx, a.c.Retry, a.log, "attesting", func(ctx context.Context) error {
		c, err := a.attest(ctx, key, true)
		cert = c
		return err
	})
	if ctx.Err() != nil {
		return nil
	}
	if err != nil {
		return fmt.Errorf("aci agent: attesting: %w", err)
	}
	ready, err := json.Marshal(map[string]string{"cert_file": a.Path(CertFile), "key_file": a.Path(KeyFile)})
	if err != nil {
		return fmt.Errorf("aci agent: %w", err)
	}
	if err := workload.WriteFile(a.Path(ReadyFile), append(ready, '\n'), 0o644, nil); err != nil {
		return fmt.Errorf("aci agent: the ready file: %w", err)
	}
	a.log.Info("ready", logKeyPath, a.Path(ReadyFile))
	a.renewLoop(ctx, key, cert)
	return nil
}

// installBinary copies the ccm binary to BinaryFile.
func (a *Agent) installBinary() error {
	src := a.c.Executable
	if src == "" {
		exe, err := os.Executable()
		if err != nil {
			return fmt.Errorf("finding the running binary: %w", err)
		}
		src = exe
	}
	dst := a.Path(BinaryFile)
	if err := makeDir(filepath.Dir(dst)); err != nil {
		return err
	}
	// A restarted agent may have been started from its own copy.
	if si, err := os.Stat(src); err == nil {
		if di, err := os.Stat(dst); err == nil && os.SameFile(si, di) {
			return nil
		}
	}
	if err := copyFileAtomic(dst, src, 0o755); err != nil {
		return err
	}
	a.log.Info("ccm binary copied", logKeyPath, dst)
	return nil
}

// attest runs one attestation for key and, when it succeeds, writes the
// certificate (and, with writeKey, the key first).
func (a *Agent) attest(ctx context.Context, key *ecdsa.PrivateKey, writeKey bool) (*x509.Certificate, error) {
	id, err := a.api.AttestWorkload(ctx, client.AttestParams{
		AccountID: a.c.AccountID,
		AppID:     a.c.AppID,
		Platform:  platformACI,
		Key:       key,
		Evidence: func(ctx context.Context, binding [32]byte) (json.RawMessage, error) {
			var reportData [64]byte // binding, then zeros
			copy(reportData[:], binding[:])
			ev, err := a.c.Attester.Evidence(ctx, reportData)
			if err != nil {
				return nil, err
			}
			return json.Marshal(ev)
		},
	})
	if err != nil {
		return nil, err
	}
	if a.roots != nil {
		inter := x509.NewCertPool()
		for _, c := range id.Chain {
			inter.AddCert(c)
		}
		if _, err := id.Certificate.Verify(x509.VerifyOptions{
			Roots: a.roots, Intermediates: inter, CurrentTime: a.now(),
			KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
		}); err != nil {
			return nil, fmt.Errorf("the issued certificate does not chain to the account CA (%s): %w", EnvAccountCA, err)
		}
	}
	if writeKey {
		keyPEM, err := id.KeyPEM()
		if err != nil {
			return nil, err
		}
		if err := workload.WriteFile(a.Path(KeyFile), keyPEM, 0o600, a.c.KeyOwner); err != nil {
			return nil, fmt.Errorf("the key: %w", err)
		}
	}
	if err := workload.WriteFile(a.Path(CertFile), id.CertificatePEM(), 0o644, nil); err != nil {
		return nil, fmt.Errorf("the certificate: %w", err)
	}
	a.log.Info("certificate written", logKeyCertID, id.Response.CertificateID,
		logKeyExpires, id.Certificate.NotAfter.UTC(), logKeyPath, a.Path(CertFile))
	return id.Certificate, nil
}

// renewLoop renews the certificate, with the same key, at 2/3 of each
// certificate's life until ctx ends (see workload.Renew).
func (a *Agent) renewLoop(ctx context.Context, key *ecdsa.PrivateKey, cert *x509.Certificate) {
	workload.Renew(ctx, workload.RenewConfig{
		Retry: a.c.Retry, MinDelay: a.minRenew, Now: a.now, Log: a.log.With(logKeyServer, a.c.ServerURL),
	}, cert, func(ctx context.Context) (*x509.Certificate, error) {
		return a.attest(ctx, key, false)
	})
}
