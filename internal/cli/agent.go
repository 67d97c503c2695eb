package cli

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/openccm/openccm/internal/aci"
	"github.com/openccm/openccm/internal/aci/agent"
	"github.com/openccm/openccm/internal/workload"
)

// exitWaitTimedOut is the exit status of a `ccm wait` that timed out, as
// timeout(1) has it.
const exitWaitTimedOut = 124

// agentDeps are what `ccm agent aci` reaches outside the process: the
// environment, the SEV-SNP device and its own binary. Tests replace them.
type agentDeps struct {
	getenv func(string) string
	device agent.Device
	// executable is the binary copied for `ccm wait`; empty means the
	// running one.
	executable string
}

func defaultAgentDeps() agentDeps {
	return agentDeps{getenv: os.Getenv, device: agent.SEVGuest{}}
}

// newAgentCmd is `ccm agent`: the attestation agents that run beside a
// workload.
func newAgentCmd() *cobra.Command { return newAgentCmdWith(defaultAgentDeps()) }

func newAgentCmdWith(deps agentDeps) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "agent",
		Short: "Attestation agents that run beside a workload and give it its certificate",
	}
	cmd.AddCommand(newAgentACICmd(deps))
	return cmd
}

func newAgentACICmd(deps agentDeps) *cobra.Command {
	var (
		dir      string
		keyOwner string
	)
	cmd := &cobra.Command{
		Use:   "aci [--dir DIR] [--key-owner UID[:GID]]",
		Short: "Attest an Azure confidential container group and keep its certificate in a shared volume (the agent sidecar)",
		Long: `The attestation sidecar of an app on Azure Confidential Container Instances.

It reads its settings from the environment, which the ARM template sets and the
container group's policy pins:
  ` + agent.EnvServerURL + `    the OpenCCM server's URL
  ` + agent.EnvAccountID + `    the app's account
  ` + agent.EnvAppID + `        the app
  ` + agent.EnvServerCA + `     optional: PEM the server's TLS certificate must chain to
                    (its own certificate when it is self-signed)
  ` + agent.EnvAccountCA + `    optional: PEM of the account CA the issued certificate
                    must chain to
A missing variable stops the agent with an error that names it.

It first copies its own binary to DIR/` + agent.BinaryFile + ` (mode 0755), which the app
container runs as ccm wait. Then it makes an ECDSA P-256 key, asks the server for a
challenge, gets an SEV-SNP report whose report_data is the binding of the challenge
and the key from the guest device (/dev/sev-guest, or /dev/sev on older UVM
kernels), and sends it with the host's VCEK, ASK and ARK (from ` + agent.HostAMDCertFile + `
in the directory that ` + agent.EnvSecurityContextDir + ` names) and a CSR. Transient
failures (the server unreachable, 5xx, 429) are retried with backoff, up to 10
tries; a refusal (4xx, such as 422 attestation_failed) stops the agent with the
server's reason.

It writes the key to DIR/` + agent.KeyFile + ` (PKCS #8 PEM, mode 0600; --key-owner
gives it to the app's user) and the certificate followed by its chain to
DIR/` + agent.CertFile + ` (mode 0644), then creates DIR/` + agent.ReadyFile + `. Every file is
replaced atomically. It then renews the certificate, with the same key, at 2/3
of its lifetime, until SIGTERM or SIGINT (exit status 0).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			owner, err := parseOwner(keyOwner)
			if err != nil {
				return fmt.Errorf("--key-owner: %w", err)
			}
			cfg, err := agent.ConfigFromEnv(deps.getenv)
			if err != nil {
				return err
			}
			sc, err := agent.SecurityContextDir(deps.getenv)
			if err != nil {
				return fmt.Errorf("aci agent: %w", err)
			}
			cfg.Attester = &agent.Guest{Device: deps.device, SecurityContextDir: sc}
			cfg.Dir = dir
			cfg.KeyOwner = owner
			cfg.Executable = deps.executable
			cfg.Log = slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), nil))
			a, err := agent.New(cfg)
			if err != nil {
				return err
			}
			return a.Run(cmd.Context())
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&dir, "dir", aci.RunDir, "the volume shared with the app container")
	fl.StringVar(&keyOwner, "key-owner", "", "numeric UID[:GID] to own the key file: the app's user, when it is not the agent's")
	return cmd
}

// parseOwner parses "UID[:GID]" (GID defaults to UID); "" is no owner.
func parseOwner(s string) (*workload.Owner, error) {
	if s == "" {
		return nil, nil
	}
	uidStr, gidStr, hasGID := strings.Cut(s, ":")
	if !hasGID {
		gidStr = uidStr
	}
	uid, err1 := strconv.ParseUint(uidStr, 10, 31)
	gid, err2 := strconv.ParseUint(gidStr, 10, 31)
	if err1 != nil || err2 != nil {
		return nil, fmt.Errorf("%q is not UID[:GID], numeric", s)
	}
	return &workload.Owner{UID: int(uid), GID: int(gid)}, nil
}

// newWaitCmd is `ccm wait`: the app container's side of the ACI agent.
func newWaitCmd() *cobra.Command {
	var (
		file    string
		timeout time.Duration
	)
	cmd := &cobra.Command{
		Use:   "wait --file FILE [--timeout DURATION] -- COMMAND [ARG...]",
		Short: "Wait until FILE exists, then run COMMAND in ccm's place",
		Long: `Wait until FILE exists, then replace this process with COMMAND (its PID, standard
streams and environment stay the same; signals go straight to it).

The app container of an Azure confidential container group starts as
  ` + strings.Join(aci.WaitCommand([]string{"COMMAND", "[ARG...]"}), " ") + `
so that the app starts only once the agent sidecar holds its certificate.

FILE is looked for every 250 ms, and a line on standard error tells every 30 s
that ccm still waits. --timeout bounds the wait (0, the default, waits forever);
past it, ccm exits with status 124. COMMAND is looked up in PATH unless it holds
a slash; the exit status is 127 when it is not found, 126 when it cannot run.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if timeout < 0 {
				return errors.New("--timeout must not be negative")
			}
			errOut := cmd.ErrOrStderr()
			if _, err := os.Stat(file); err != nil {
				fmt.Fprintf(errOut, "ccm wait: waiting for %s before running %s\n", file, args[0])
			}
			err := agent.WaitForFile(cmd.Context(), file, agent.WaitConfig{
				Timeout: timeout,
				Report: func(waited time.Duration) {
					fmt.Fprintf(errOut, "ccm wait: still waiting for %s (%v)\n", file, waited)
				},
			})
			if errors.Is(err, agent.ErrWaitTimedOut) {
				return &exitError{code: exitWaitTimedOut, msg: "ccm wait: " + err.Error()}
			}
			if err != nil {
				return fmt.Errorf("ccm wait: %w", err)
			}
			code, err := agent.Exec(args, nil)
			return &exitError{code: code, msg: "ccm wait: " + err.Error()}
		},
	}
	cmd.Flags().SetInterspersed(false) // COMMAND's own flags are not ccm's
	fl := cmd.Flags()
	fl.StringVar(&file, "file", "", "the file to wait for")
	fl.DurationVar(&timeout, "timeout", 0, "how long to wait at most (0: forever)")
	_ = cmd.MarkFlagRequired("file")
	return cmd
}
