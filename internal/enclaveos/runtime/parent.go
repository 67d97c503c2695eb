package runtime

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sync/atomic"
	"time"

	"github.com/openccm/openccm/internal/enclaveos/manifest"
)

// Parent defaults and bounds.
const (
	// DefaultPollInterval is how often the parent asks nitro-cli whether
	// the enclave still runs.
	DefaultPollInterval = 5 * time.Second
	// maxDescribeFailures consecutive failures of describe-enclaves make
	// the parent give up: it can no longer tell whether the enclave runs.
	maxDescribeFailures = 5
	// runEnclaveTimeout bounds nitro-cli run-enclave, which loads the EIF
	// into the enclave's memory and waits for it to boot.
	runEnclaveTimeout = 5 * time.Minute
	// terminateTimeout bounds nitro-cli terminate-enclave.
	terminateTimeout = time.Minute
	// relayShutdownTimeout bounds how long the relay waits for requests in
	// flight when the parent stops.
	relayShutdownTimeout = 5 * time.Second
)

// ParentConfig configures a Parent.
type ParentConfig struct {
	// Manifest is the output image's enclave.json.
	Manifest *manifest.Manifest
	// EIFPath is the enclave image file; see EIFPath.
	EIFPath string
	// Resources are the enclave's size; see ResolveResources.
	Resources Resources
	// CID is the enclave's vsock context ID; zero lets nitro-cli choose.
	CID uint32
	// DebugMode starts the enclave in debug mode (it cannot attest).
	DebugMode bool
	// NitroCLI starts, watches and stops the enclave; nil means the
	// nitro-cli in PATH.
	NitroCLI *NitroCLI
	// Listener is where the relay serves the enclave; nil means
	// ListenVsock(Port). The parent closes it.
	Listener net.Listener
	// Port is the relay's vsock port when Listener is nil; zero means
	// DefaultPort.
	Port uint32
	// PollInterval is how often the parent checks that the enclave runs;
	// zero means DefaultPollInterval.
	PollInterval time.Duration
	Log          *slog.Logger
}

// Parent runs an enclave on the parent instance and relays its
// attestation: the `ccm enclave run` side.
type Parent struct {
	c     ParentConfig
	cli   *NitroCLI
	relay *Relay
	log   *slog.Logger
}

// NewParent checks c and returns its Parent.
func NewParent(c ParentConfig) (*Parent, error) {
	var errs []error
	if c.Manifest == nil {
		return nil, errors.New("enclave run: no manifest")
	}
	if c.EIFPath == "" {
		c.EIFPath = c.Manifest.EIF
	}
	if c.Resources.MemoryMiB <= 0 || c.Resources.CPUCount <= 0 {
		errs = append(errs, fmt.Errorf("enclave run: memory (%d MiB) and CPU count (%d) must be positive", c.Resources.MemoryMiB, c.Resources.CPUCount))
	}
	if c.PollInterval <= 0 {
		c.PollInterval = DefaultPollInterval
	}
	if c.Port == 0 {
		c.Port = DefaultPort
	}
	log := c.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cli := c.NitroCLI
	if cli == nil {
		cli = &NitroCLI{}
	}
	m := c.Manifest
	relay, err := NewRelay(RelayConfig{
		ServerURL: m.ServerURL,
		ServerCA:  m.ServerCA,
		Enclave: EnclaveConfig{
			AccountID: m.AccountID, AppID: m.AppID,
			CertificateEnabled: m.CertificateEnabled, KeyPath: m.KeyPath, CertPath: m.CertPath,
		},
		Log: log,
	})
	if err != nil {
		errs = append(errs, fmt.Errorf("enclave run: %w", err))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return &Parent{c: c, cli: cli, relay: relay, log: log}, nil
}

// EIFPath returns the enclave image file of the manifest at manifestPath: a
// relative path in the manifest is relative to the manifest's directory.
func EIFPath(manifestPath string, m *manifest.Manifest) string {
	if m.EIF == "" || filepath.IsAbs(m.EIF) {
		return m.EIF
	}
	return filepath.Join(filepath.Dir(manifestPath), m.EIF)
}

// Run starts the relay and the enclave, and returns when the enclave has
// exited (nil), when ctx ends (after terminating the enclave: nil), or when
// the relay fails or the enclave can no longer be watched (after
// terminating it: an error).
func (p *Parent) Run(ctx context.Context) error {
	ln := p.c.Listener
	if _, err := os.Stat(p.c.EIFPath); err != nil {
		if ln != nil {
			_ = ln.Close()
		}
		return fmt.Errorf("enclave image: %w", err)
	}
	if ln == nil {
		var err error
		if ln, err = ListenVsock(p.c.Port); err != nil {
			return err
		}
	}
	peers := &peerListener{Listener: ln, log: p.log}
	if p.c.CID != 0 {
		peers.cid.Store(uint64(p.c.CID))
	}
	srv := &http.Server{
		Handler:           p.relay,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		IdleTimeout:       time.Minute,
		ErrorLog:          slog.NewLogLogger(p.log.Handler(), slog.LevelWarn),
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(peers) }()
	defer func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), relayShutdownTimeout)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	p.log.Info("relay listening", logKeyAddr, ln.Addr().String())

	r := p.c.Resources
	if p.c.DebugMode {
		p.log.Warn("starting the enclave in debug mode: its PCRs are zeros and the server will refuse its attestation")
	}
	p.log.Info("starting the enclave", logKeyPath, p.c.EIFPath, logKeyMemory, r.MemoryMiB, logKeyCPUs, r.CPUCount)
	// run-enclave is not cancelled midway: a half-started enclave would be
	// left with no one to terminate it. A stop that arrives meanwhile is
	// seen right after.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), runEnclaveTimeout)
	enc, err := p.cli.RunEnclave(rctx, RunOptions{EIFPath: p.c.EIFPath, Resources: r, CID: p.c.CID, DebugMode: p.c.DebugMode})
	cancel()
	if err != nil {
		return fmt.Errorf("starting the enclave: %w", err)
	}
	peers.cid.Store(enc.CID)
	p.log.Info("enclave started", logKeyEnclaveID, enc.ID, logKeyCID, enc.CID)

	return p.watch(ctx, enc.ID, served)
}

// watch waits for the enclave id to exit, for ctx to end, or for the relay
// to fail.
func (p *Parent) watch(ctx context.Context, id string, served <-chan error) error {
	tick := time.NewTicker(p.c.PollInterval)
	defer tick.Stop()
	failures := 0
	for {
		select {
		case <-ctx.Done():
			p.log.Info("stopping the enclave", logKeyEnclaveID, id)
			return p.terminate(ctx, id)
		case err := <-served:
			p.log.Error("the relay stopped; terminating the enclave", logKeyError, err)
			return errors.Join(fmt.Errorf("relay: %w", err), p.terminate(ctx, id))
		case <-tick.C:
			list, err := p.cli.DescribeEnclaves(ctx)
			if err != nil {
				if ctx.Err() != nil {
					continue // the stop is handled above
				}
				failures++
				p.log.Warn("describing the enclaves failed", logKeyError, err, logKeyAttempt, failures)
				if failures >= maxDescribeFailures {
					return errors.Join(fmt.Errorf("watching the enclave: %w", err), p.terminate(ctx, id))
				}
				continue
			}
			failures = 0
			if !slices.ContainsFunc(list, func(e Enclave) bool { return e.ID == id }) {
				p.log.Info("the enclave exited", logKeyEnclaveID, id)
				return nil
			}
		}
	}
}

// terminate stops the enclave id, even when ctx has ended.
func (p *Parent) terminate(ctx context.Context, id string) error {
	tctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), terminateTimeout)
	defer cancel()
	if err := p.cli.TerminateEnclave(tctx, id); err != nil {
		p.log.Error("terminating the enclave failed", logKeyEnclaveID, id, logKeyError, err)
		return fmt.Errorf("terminating enclave %s: %w", id, err)
	}
	p.log.Info("enclave terminated", logKeyEnclaveID, id)
	return nil
}

// peerListener closes the vsock connections that do not come from the
// enclave: other enclaves on the instance must not attest through it.
type peerListener struct {
	net.Listener
	cid atomic.Uint64 // the enclave's context ID; zero while unknown
	log *slog.Logger
}

// Accept implements net.Listener.
func (l *peerListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if allowPeer(c.RemoteAddr(), l.cid.Load()) {
			return c, nil
		}
		l.log.Warn("refused a connection that is not from the enclave", logKeyPeer, c.RemoteAddr().String())
		_ = c.Close()
	}
}
