package cli

import (
	"crypto/x509"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/openccm/openccm/internal/enclaveos/manifest"
	enclaverun "github.com/openccm/openccm/internal/enclaveos/runtime"
)

// enclaveDeps are what `ccm enclave` reaches outside the process: the
// environment, vsock and the Nitro Security Module. Tests replace them.
type enclaveDeps struct {
	getenv func(string) string
	// listen opens the relay's listener on the parent.
	listen func(port uint32) (net.Listener, error)
	// agentHTTP reaches the relay from the enclave, and relayURL is its
	// base URL.
	agentHTTP func(cid, port uint32) *http.Client
	relayURL  string
	attester  enclaverun.Attester
}

func defaultEnclaveDeps() enclaveDeps {
	return enclaveDeps{
		getenv:    os.Getenv,
		listen:    enclaverun.ListenVsock,
		agentHTTP: enclaverun.VsockHTTPClient,
		relayURL:  enclaverun.DefaultRelayURL,
		attester:  enclaverun.NSM{},
	}
}

// newEnclaveCmd is `ccm enclave`: what runs an Enclave OS output image.
func newEnclaveCmd() *cobra.Command { return newEnclaveCmdWith(defaultEnclaveDeps()) }

func newEnclaveCmdWith(deps enclaveDeps) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "enclave",
		Short: "Run an Enclave OS image: the enclave from its container, and the agent inside it",
		Long: `Run an AWS Nitro Enclave made by an Enclave OS build. The output image's
entrypoint is ccm enclave run, on the parent EC2 instance; the enclave's command is
ccm enclave agent -- <the original image's command>.`,
	}
	cmd.AddCommand(newEnclaveRunCmd(deps), newEnclaveAgentCmd(deps))
	return cmd
}

func newEnclaveRunCmd(deps enclaveDeps) *cobra.Command {
	var (
		manifestPath string
		nitroCLI     string
		port         uint32
		cid          uint32
		debugMode    bool
		poll         time.Duration
	)
	cmd := &cobra.Command{
		Use:   "run [--manifest FILE] [--nitro-cli PATH] [--port N] [--enclave-cid N] [--debug-mode]",
		Short: "Start the enclave of an Enclave OS image and relay its attestation (the image's entrypoint)",
		Long: `Start the enclave of an Enclave OS output image and relay its attestation, until
the enclave exits (exit status 0) or the container is stopped (SIGTERM or SIGINT:
the enclave is terminated, exit status 0).

It reads the manifest (--manifest, default ` + manifest.Path + `) and starts the
EIF it names (a relative path is relative to the manifest's directory) with
  nitro-cli run-enclave --eif-path EIF --memory MiB --cpu-count N [--enclave-cid N]
then polls nitro-cli describe-enclaves (--poll-interval) to see it exit.

The enclave's size is the manifest's memory_mib and cpu_count, unless the
environment says otherwise:
  MEM_SIZE    memory in MiB: a whole number, or with the suffix M (MiB) or
              G (GiB), in any case: 4096, 4096M, 4G
  CPU_COUNT   number of vCPUs, a whole number
An invalid value stops the command with an error that names the variable.

While the enclave runs, a relay listens on vsock port --port (default 8443) for
the enclave, and only for it: connections from other enclaves are closed. It
answers GET /ccm/config with the manifest's account_id, app_id,
certificate_enabled, key_path and cert_path, and forwards POST
/v1/attest/challenge and POST /v1/attest to the manifest's server_url over HTTPS,
trusting server_ca when the manifest has one and the system roots otherwise.
Every other path is 404.

The container needs the Nitro Enclaves device and vsock sockets:
  docker run --device /dev/nitro_enclaves --security-opt seccomp=unconfined IMAGE
(Docker's default seccomp profile refuses AF_VSOCK sockets), on an instance with
enclaves enabled, whose Nitro Enclaves allocator reserves at least MEM_SIZE of
memory and CPU_COUNT vCPUs, and with nitro-cli in the image's PATH (or --nitro-cli).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			m, err := manifest.Read(manifestPath)
			if err != nil {
				return err
			}
			res, err := enclaverun.ResolveResources(m, deps.getenv)
			if err != nil {
				return err
			}
			errOut := sharedWriter(cmd.ErrOrStderr())
			log := slog.New(slog.NewTextHandler(errOut, nil))
			ln, err := deps.listen(port)
			if err != nil {
				return err
			}
			p, err := enclaverun.NewParent(enclaverun.ParentConfig{
				Manifest:     m,
				EIFPath:      enclaverun.EIFPath(manifestPath, m),
				Resources:    res,
				CID:          cid,
				DebugMode:    debugMode,
				NitroCLI:     &enclaverun.NitroCLI{Path: nitroCLI, Runner: enclaverun.ExecRunner{Stderr: errOut}},
				Listener:     ln,
				Port:         port,
				PollInterval: poll,
				Log:          log,
			})
			if err != nil {
				ln.Close()
				return err
			}
			return p.Run(cmd.Context())
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&manifestPath, "manifest", manifest.Path, "the image's enclave manifest")
	fl.StringVar(&nitroCLI, "nitro-cli", enclaverun.DefaultNitroCLI, "the nitro-cli program (looked up in PATH unless a path)")
	fl.Uint32Var(&port, "port", enclaverun.DefaultPort, "the vsock port the attestation relay listens on")
	fl.Uint32Var(&cid, "enclave-cid", 0, "the enclave's vsock context ID, 4 or more (0: nitro-cli chooses)")
	fl.BoolVar(&debugMode, "debug-mode", false, "start the enclave in debug mode (its console can be read; it cannot attest)")
	fl.DurationVar(&poll, "poll-interval", enclaverun.DefaultPollInterval, "how often to check that the enclave still runs")
	return cmd
}

func newEnclaveAgentCmd(deps enclaveDeps) *cobra.Command {
	var (
		port      uint32
		parentCID uint32
		caFile    string
	)
	cmd := &cobra.Command{
		Use:   "agent [--port N] [--ca-file FILE] -- COMMAND [ARG...]",
		Short: "Attest the enclave, write its key and certificate, and run COMMAND (inside the enclave)",
		Long: `Inside the enclave: attest, write the workload's key and certificate, and run
COMMAND, the original image's command.

It fetches the enclave's configuration from the parent's relay (vsock context ID
--parent-cid, default 3, port --port, default 8443). When the app's certificate
is enabled, it makes an ECDSA P-256 key, asks the server (through the relay) for
a challenge, has the Nitro Security Module (/dev/nsm) sign an attestation
document whose user_data is the binding of the challenge and the key, and sends
it with a CSR. The key is written as PKCS #8 PEM with mode 0600 to the app's
key_path (default ` + enclaverun.DefaultKeyPath + `), the certificate followed by its chain as PEM
to cert_path (default ` + enclaverun.DefaultCertPath + `); directories are created.
Transient failures (the relay or the server unreachable, 5xx, 429) are retried
with backoff, up to 10 tries; a refusal (4xx, such as 422 attestation_failed)
stops the agent with the server's reason, and COMMAND does not run.

COMMAND then runs with the agent's standard input, output and environment. The
signals TERM, INT, HUP, QUIT, USR1 and USR2 are passed on to it, and its exit
status becomes the agent's (128+N when signal N ended it; 127 when COMMAND is
not found). While it runs, the certificate is renewed at 2/3 of its lifetime,
with the same key, and the files are replaced atomically (written aside, then
renamed).

--ca-file names the account CA certificate(s), in the enclave image, that the
issued certificate must chain to: the parent relays the server's answer and
could alter it, the measured image cannot be.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var roots *x509.CertPool
			if caFile != "" {
				b, err := os.ReadFile(caFile)
				if err != nil {
					return fmt.Errorf("--ca-file: %w", err)
				}
				roots = x509.NewCertPool()
				if !roots.AppendCertsFromPEM(b) {
					return fmt.Errorf("--ca-file %s holds no PEM certificate", caFile)
				}
			}
			errOut := sharedWriter(cmd.ErrOrStderr())
			sigs := make(chan os.Signal, 8)
			signal.Notify(sigs, enclaverun.ForwardedSignals...)
			defer signal.Stop(sigs)
			a, err := enclaverun.NewAgent(enclaverun.AgentConfig{
				HTTPClient: deps.agentHTTP(parentCID, port),
				RelayURL:   deps.relayURL,
				Attester:   deps.attester,
				Roots:      roots,
				Stdin:      cmd.InOrStdin(),
				Stdout:     cmd.OutOrStdout(),
				Stderr:     errOut,
				Signals:    sigs,
				Log:        slog.New(slog.NewTextHandler(errOut, nil)),
			})
			if err != nil {
				return err
			}
			// A SIGTERM or SIGINT ends cmd.Context(), which stops the
			// agent before COMMAND starts; after, Run waits for COMMAND,
			// to which the signal is passed on.
			code, err := a.Run(cmd.Context(), args)
			if err != nil {
				return &exitError{code: code, msg: err.Error()}
			}
			if code != 0 {
				return &exitError{code: code}
			}
			return nil
		},
	}
	cmd.Flags().SetInterspersed(false) // COMMAND's own flags are not the agent's
	fl := cmd.Flags()
	fl.Uint32Var(&port, "port", enclaverun.DefaultPort, "the vsock port of the parent's relay")
	fl.Uint32Var(&parentCID, "parent-cid", enclaverun.ParentCID, "the vsock context ID of the parent instance")
	fl.StringVar(&caFile, "ca-file", "", "PEM of the account CA the issued certificate must chain to")
	return cmd
}

// sharedWriter returns w made safe for the log and a child process to
// write at once: a file already is (os.File serializes its writes); other
// writers, which os/exec feeds from a goroutine of its own, get a lock.
func sharedWriter(w io.Writer) io.Writer {
	if _, ok := w.(*os.File); ok {
		return w
	}
	return &lockedWriter{w: w}
}

// lockedWriter serializes the writes to w.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
