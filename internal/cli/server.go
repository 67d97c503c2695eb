package cli

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/spf13/cobra"

	"github.com/openccm/openccm/internal/config"
	"github.com/openccm/openccm/internal/server"
)

// newServerCmd is `ccm server`. The configuration file is read first; every
// flag the user sets overrides it.
func newServerCmd() *cobra.Command {
	var (
		configFile string
		flagCfg    = config.Defaults()
		sessionTTL time.Duration
		nonceTTL   time.Duration
		buildLease time.Duration
	)
	cmd := &cobra.Command{
		Use:   "server",
		Short: "Run the OpenCCM server",
		Long: `Run the OpenCCM server.

With no flags it keeps everything in ./ccm-data: a SQLite database (ccm.db),
the master key that encrypts stored secrets (master.key — back it up), and a
self-signed TLS certificate whose SHA-256 fingerprint it prints at start.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg := config.Defaults()
			if configFile != "" {
				var err error
				if cfg, err = config.Load(configFile); err != nil {
					return err
				}
			}
			f := cmd.Flags()
			set := func(name string, apply func()) {
				if f.Changed(name) {
					apply()
				}
			}
			set("data-dir", func() { cfg.DataDir = flagCfg.DataDir })
			set("listen", func() { cfg.Listen = flagCfg.Listen })
			set("database", func() { cfg.Database = flagCfg.Database })
			set("master-key-file", func() { cfg.MasterKeyFile = flagCfg.MasterKeyFile })
			set("tls-cert", func() { cfg.TLSCert = flagCfg.TLSCert })
			set("tls-key", func() { cfg.TLSKey = flagCfg.TLSKey })
			set("insecure-http", func() { cfg.InsecureHTTP = flagCfg.InsecureHTTP })
			set("allow-signup", func() { cfg.AllowSignup = flagCfg.AllowSignup })
			set("session-ttl", func() { cfg.SessionTTL = config.Duration(sessionTTL) })
			set("max-body-bytes", func() { cfg.MaxBodyBytes = flagCfg.MaxBodyBytes })
			set("log-level", func() { cfg.LogLevel = flagCfg.LogLevel })
			set("trust-roots", func() { cfg.TrustRoots = flagCfg.TrustRoots })
			set("nonce-ttl", func() { cfg.NonceTTL = config.Duration(nonceTTL) })
			set("log-format", func() { cfg.LogFormat = flagCfg.LogFormat })
			set("public-url", func() { cfg.PublicURL = flagCfg.PublicURL })
			set("build-workers", func() { cfg.BuildWorkers = flagCfg.BuildWorkers })
			set("build-lease", func() { cfg.BuildLease = config.Duration(buildLease) })
			set("nitro-blobs", func() { cfg.NitroBlobs = flagCfg.NitroBlobs })
			set("enclave-binary", func() { cfg.EnclaveBinary = flagCfg.EnclaveBinary })
			set("enclave-base-image", func() { cfg.EnclaveBaseImage = flagCfg.EnclaveBaseImage })
			set("agent-image", func() { cfg.AgentImage = flagCfg.AgentImage })
			set("gpu-jwks", func() { cfg.GPUJWKS = flagCfg.GPUJWKS })
			if err := cfg.Validate(); err != nil {
				return err
			}
			log := newLogger(cmd, cfg)
			return server.Run(cmd.Context(), cfg, log, cmd.OutOrStdout())
		},
	}
	f := cmd.Flags()
	f.StringVar(&configFile, "config", "", "YAML configuration file (unknown keys are errors; flags override it)")
	f.StringVar(&flagCfg.DataDir, "data-dir", flagCfg.DataDir, "directory for the SQLite database, master key and self-signed certificate")
	f.StringVar(&flagCfg.Listen, "listen", flagCfg.Listen, "address to listen on (host:port)")
	f.StringVar(&flagCfg.Database, "database", "", "PostgreSQL URL (postgres://…); empty: SQLite in the data dir")
	f.StringVar(&flagCfg.MasterKeyFile, "master-key-file", "", "master key file shared by replicas (default: DATA_DIR/master.key, created on first start)")
	f.StringVar(&flagCfg.TLSCert, "tls-cert", "", "TLS certificate (PEM); default: a self-signed one in the data dir")
	f.StringVar(&flagCfg.TLSKey, "tls-key", "", "TLS private key (PEM)")
	f.BoolVar(&flagCfg.InsecureHTTP, "insecure-http", false, "serve plain HTTP (local development only: credentials cross the network in clear)")
	f.BoolVar(&flagCfg.AllowSignup, "allow-signup", false, "let anyone sign up (by default only the first user can)")
	f.DurationVar(&sessionTTL, "session-ttl", time.Duration(flagCfg.SessionTTL), "lifetime of a sign-in session")
	f.Int64Var(&flagCfg.MaxBodyBytes, "max-body-bytes", flagCfg.MaxBodyBytes, "request body size limit")
	f.StringVar(&flagCfg.TrustRoots, "trust-roots", "", "YAML file of vendor roots to ADD to the built-in ones (nitro, amd, intel_sgx: lists of PEM files) — for test infrastructure; each is logged")
	f.DurationVar(&nonceTTL, "nonce-ttl", time.Duration(flagCfg.NonceTTL), "lifetime of an attestation challenge")
	f.StringVar(&flagCfg.LogLevel, "log-level", flagCfg.LogLevel, "debug, info, warn or error")
	f.StringVar(&flagCfg.LogFormat, "log-format", flagCfg.LogFormat, "text or json")
	f.StringVar(&flagCfg.PublicURL, "public-url", "", "the server's URL as workloads and enclave parents reach it (default: https://LISTEN)")
	f.IntVar(&flagCfg.BuildWorkers, "build-workers", flagCfg.BuildWorkers, "build jobs (Enclave OS, ACI) run at once by this server; 0 runs none")
	f.DurationVar(&buildLease, "build-lease", time.Duration(flagCfg.BuildLease), "how long a build job stays claimed without renewal; a dead server's jobs restart after it")
	f.StringVar(&flagCfg.NitroBlobs, "nitro-blobs", "", "folder with the Nitro kernel blobs bzImage, cmdline, init and nsm.ko (aws-nitro-enclaves-cli's blobs); needed for Enclave OS builds")
	f.StringVar(&flagCfg.EnclaveBinary, "enclave-binary", "", "static linux/amd64 ccm binary to put into enclaves and output images (default: this executable)")
	f.StringVar(&flagCfg.EnclaveBaseImage, "enclave-base-image", "", "base image of Enclave OS output images, providing nitro-cli (default: empty)")
	f.StringVar(&flagCfg.GPUJWKS, "gpu-jwks", "", "JSON Web Key Set of the keys that sign NVIDIA GPU attestation tokens (NRAS); needed for images with gpu: required")
	f.StringVar(&flagCfg.AgentImage, "agent-image", "", "image of the attestation agent sidecar of ACI container groups; needed for ACI builds")
	return cmd
}

func newLogger(cmd *cobra.Command, cfg config.Server) *slog.Logger {
	var level slog.Level
	if err := level.UnmarshalText([]byte(cfg.LogLevel)); err != nil {
		fmt.Fprintln(cmd.ErrOrStderr(), "bad log level:", err)
	}
	opts := &slog.HandlerOptions{Level: level}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(cmd.ErrOrStderr(), opts))
	}
	return slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), opts))
}
