// Package server is the composition root of `ccm server`: it builds every
// component in order from the configuration, serves the API, runs the
// long-lived tasks under one errgroup, and shuts down gracefully.
package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"golang.org/x/sync/errgroup"

	"github.com/openccm/openccm/api"
	"github.com/openccm/openccm/internal/attest"
	"github.com/openccm/openccm/internal/buildinfo"
	"github.com/openccm/openccm/internal/config"
	"github.com/openccm/openccm/internal/core"
	"github.com/openccm/openccm/internal/httpapi"
	"github.com/openccm/openccm/internal/platform/gpu"
	"github.com/openccm/openccm/internal/secret"
	"github.com/openccm/openccm/internal/store/sqlstore"
	"github.com/openccm/openccm/internal/verifiers"
	"github.com/openccm/openccm/internal/webui"
)

// shutdownGrace is how long in-flight requests get after SIGTERM.
const shutdownGrace = 20 * time.Second

// Run starts the server and blocks until ctx ends (SIGTERM/SIGINT) or it
// fails. It writes the address it listens on, and the TLS fingerprint, to out.
func Run(ctx context.Context, cfg config.Server, log *slog.Logger, out io.Writer) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return fmt.Errorf("creating data dir: %w", err)
	}

	box, err := openMasterKey(cfg, log)
	if err != nil {
		return err
	}

	database := cfg.Database
	if database == "" {
		database = cfg.DatabasePath()
	}
	db, err := sqlstore.Open(ctx, database, log)
	if err != nil {
		return fmt.Errorf("opening database: %w", err)
	}
	defer db.Close()

	roots, err := trustRoots(cfg, log)
	if err != nil {
		return err
	}
	vs, err := verifiers.New(roots, nil)
	if err != nil {
		return err
	}
	gpuVerifier, err := gpuVerifier(cfg, log)
	if err != nil {
		return err
	}
	svc, err := core.New(core.Config{Store: db, Box: box, Log: log, Verifiers: vs, GPU: gpuVerifier, NonceTTL: time.Duration(cfg.NonceTTL),
		SessionTTL: time.Duration(cfg.SessionTTL), AllowSignup: cfg.AllowSignup})
	if err != nil {
		return err
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	console, err := webui.New(webui.Config{Services: svc, Log: log, Insecure: cfg.InsecureHTTP})
	if err != nil {
		return err
	}
	handler, err := httpapi.New(httpapi.Config{Services: svc, DB: db, Spec: api.Spec,
		Metrics: reg, Gatherer: reg, Log: log, MaxBody: cfg.MaxBodyBytes, Fallback: console})
	if err != nil {
		return err
	}

	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       2 * time.Minute,
		WriteTimeout:      2 * time.Minute,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	scheme, serverCA := "https", ""
	if cfg.InsecureHTTP {
		scheme = "http"
		log.Warn("SERVING PLAIN HTTP: passwords and tokens cross the network in clear; use this for local development only")
		fmt.Fprintln(out, "WARNING: --insecure-http: passwords and tokens are sent unencrypted. Local development only.")
	} else {
		cert, err := serverCertificate(cfg, log)
		if err != nil {
			return err
		}
		srv.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}}
		if cfg.TLSCert == "" {
			serverCA = pemCertificate(cert.Certificate[0])
		}
		fmt.Fprintf(out, "TLS certificate SHA-256 fingerprint: %s\n", Fingerprint(cert.Certificate[0]))
	}

	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", cfg.Listen, err)
	}
	serverURL := strings.TrimRight(cfg.PublicURL, "/")
	if serverURL == "" {
		serverURL = scheme + "://" + ln.Addr().String()
	}
	builds, err := buildRunner(cfg, svc, serverURL, serverCA, log)
	if err != nil {
		ln.Close()
		return err
	}
	if srv.TLSConfig != nil {
		ln = tls.NewListener(ln, srv.TLSConfig)
	}
	log.Info("ccm server started", "version", buildinfo.Version(), "address", ln.Addr().String(), "scheme", scheme)
	fmt.Fprintf(out, "ccm server listening on %s://%s\n", scheme, ln.Addr())

	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("serving: %w", err)
		}
		return nil
	})
	g.Go(func() error { return handler.Prune(gctx, 10*time.Minute) })
	if builds != nil {
		g.Go(func() error { return builds.Run(gctx) })
	}
	g.Go(func() error {
		<-gctx.Done()
		log.Info("shutting down", "grace", shutdownGrace.String())
		sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
		defer cancel()
		return srv.Shutdown(sctx)
	})
	err = g.Wait()
	log.Info("ccm server stopped")
	return err
}

// trustRoots loads the roots added with --trust-roots, warning about each:
// an added root lets whoever holds its key forge evidence.
func trustRoots(cfg config.Server, log *slog.Logger) (config.TrustRoots, error) {
	if cfg.TrustRoots == "" {
		return config.TrustRoots{}, nil
	}
	r, err := config.LoadTrustRoots(cfg.TrustRoots)
	if err != nil {
		return r, err
	}
	for _, c := range r.Nitro {
		log.Warn("trusting an added Nitro root: evidence it signs is accepted", "subject", c.Subject.String(), "sha256", config.Fingerprint(c))
	}
	for _, c := range r.IntelSGX {
		log.Warn("trusting an added Intel SGX root: evidence it signs is accepted", "subject", c.Subject.String(), "sha256", config.Fingerprint(c))
	}
	for _, c := range r.AMDCertificates() {
		log.Warn("trusting an added AMD root: evidence it signs is accepted", "subject", c.Subject.String(), "sha256", config.Fingerprint(c))
	}
	return r, nil
}

// gpuVerifier loads the --gpu-jwks key set, if any; the file is read
// again when it changes (NVIDIA rotates its keys every day or two).
func gpuVerifier(cfg config.Server, log *slog.Logger) (attest.GPUVerifier, error) {
	if cfg.GPUJWKS == "" {
		log.Info("no --gpu-jwks: images with gpu: required will not attest")
		return nil, nil
	}
	v, err := gpu.NewFileVerifier(cfg.GPUJWKS, gpu.FileConfig{Config: gpu.Config{Leeway: time.Minute}, Log: log})
	if err != nil {
		return nil, fmt.Errorf("gpu_jwks: %w", err)
	}
	log.Info("GPU attestation tokens are verified with the keys of the --gpu-jwks file", "file", cfg.GPUJWKS)
	return v, nil
}

func openMasterKey(cfg config.Server, log *slog.Logger) (*secret.Box, error) {
	var (
		key     []byte
		created bool
		err     error
	)
	if cfg.MasterKeyFile != "" {
		// A named key is shared by replicas: never invent a new one.
		key, err = secret.LoadKeyFile(cfg.MasterKeyFile)
	} else {
		key, created, err = secret.LoadOrCreateKeyFile(cfg.MasterKeyPath())
	}
	if err != nil {
		return nil, err
	}
	box, err := secret.New(key)
	if err != nil {
		return nil, err
	}
	if created {
		log.Warn("created a new master key: back it up; without it saved secrets cannot be read", "path", cfg.MasterKeyPath(), "key_id", box.KeyID())
	} else {
		log.Info("master key loaded", "key_id", box.KeyID())
	}
	return box, nil
}

func serverCertificate(cfg config.Server, log *slog.Logger) (tls.Certificate, error) {
	if cfg.TLSCert != "" {
		c, err := tls.LoadX509KeyPair(cfg.TLSCert, cfg.TLSKey)
		if err != nil {
			return c, fmt.Errorf("loading TLS certificate: %w", err)
		}
		return c, nil
	}
	c, created, err := loadOrCreateSelfSigned(cfg.DataDir, cfg.Listen, time.Now())
	if err != nil {
		return c, fmt.Errorf("self-signed TLS certificate: %w", err)
	}
	if created {
		log.Warn("generated a self-signed TLS certificate; clients must pin its fingerprint or trust the file", "cert", cfg.DataDir+"/tls.crt")
	}
	return c, nil
}
