package cli

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"

	"github.com/spf13/cobra"

	"github.com/openccm/openccm/internal/workload"
	"github.com/openccm/openccm/pkg/apiv1"
	"github.com/openccm/openccm/pkg/client"
)

// Environment of the evidence command of `ccm attest`.
const (
	envBinding = "OPENCCM_BINDING" // the binding the evidence must carry, hex
	envNonce   = "OPENCCM_NONCE"   // the challenge's nonce, base64
)

// maxEvidenceOutput bounds what the evidence command may print.
const maxEvidenceOutput = 8 << 20

func newAttestCmd(flags *clientFlags) *cobra.Command {
	var app, platform, evidenceCmd, keyOut, certOut string
	cmd := &cobra.Command{
		Use:   "attest --platform P --evidence-cmd CMD [--app APP] [--key-out F] [--cert-out F]",
		Short: "Attest this workload and get a certificate (run inside the confidential workload)",
		Long: `Attest this workload and get a certificate, as a workload does: ask the server for
a challenge, make a key and a CSR, have CMD produce evidence that carries the binding
of the challenge and the key, send it, and save the key and the certificate issued.

CMD runs with sh -c, with OPENCCM_BINDING (the 32-byte binding, hex: put it in the
evidence's user_data or report_data[0:32]) and OPENCCM_NONCE (the nonce, base64) in
its environment. It must print the evidence object of the platform on stdout, e.g.
{"document": "<base64>"} for nitro; its stderr is passed through.

No login is needed, only the server (--server, or the one saved by ccm login, with
its TLS settings); without a login, give --account and --app by ID. The key is
written as PKCS #8 PEM with mode 0600, the certificate followed by its chain as PEM.

For tests with fake hardware roots (see ccm dev roots):
  ccm attest --account ID --platform nitro \
    --evidence-cmd 'ccm dev evidence --platform nitro --roots DIR --binding $OPENCCM_BINDING --pcr0 … --pcr1 … --pcr2 …'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if platform == "" {
				return errors.New("--platform is required: nitro, sev_snp, aci, sgx or azure_cvm")
			}
			if evidenceCmd == "" {
				return errors.New("--evidence-cmd is required: the command that prints the evidence")
			}
			if keyOut == certOut {
				return errors.New("--key-out and --cert-out must be different files")
			}
			s, accountID, err := openPublicAccount(cmd, flags)
			if err != nil {
				return err
			}
			appRef := app
			if appRef != "" && !isUUID(appRef) {
				if !s.hasToken {
					return fmt.Errorf("app %q: without a login, give the app's ID (names are looked up with `ccm login`)", appRef)
				}
				if appRef, err = appID(cmd.Context(), s.api, accountID, appRef); err != nil {
					return err
				}
			}
			// A workload's requests carry no user's credentials.
			id, err := s.api.WithToken("").AttestWorkload(cmd.Context(), client.AttestParams{
				AccountID: accountID, AppID: appRef, Platform: platform,
				Evidence: runEvidenceCmd(cmd, evidenceCmd),
			})
			if err != nil {
				return err
			}
			keyPEM, err := id.KeyPEM()
			if err != nil {
				return err
			}
			if err := workload.WriteFile(keyOut, keyPEM, 0o600, nil); err != nil {
				return fmt.Errorf("writing the key: %w", err)
			}
			if err := workload.WriteFile(certOut, id.CertificatePEM(), 0o644, nil); err != nil {
				return fmt.Errorf("writing the certificate: %w", err)
			}
			res := attestResult{AttestResponse: *id.Response, CommonName: id.Certificate.Subject.CommonName,
				DNSNames: nonNilStrings(id.Certificate.DNSNames), KeyFile: keyOut, CertificateFile: certOut, URIs: []string{}}
			for _, u := range id.Certificate.URIs {
				res.URIs = append(res.URIs, u.String())
			}
			return writeObject(cmd.OutOrStdout(), flags.output, res, []field{
				{"Certificate", res.CertificateID},
				{"App", res.AppID},
				{"Image", res.ImageID},
				{"Common name", res.CommonName},
				{"DNS names", fmtList(res.DNSNames)},
				{"URIs", fmtList(res.URIs)},
				{"Expires", fmtTime(res.ExpiresAt)},
				{"Key file", keyOut},
				{"Certificate file", certOut},
			})
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&platform, "platform", "", "the evidence's platform: nitro, sev_snp, aci, sgx or azure_cvm (required)")
	fl.StringVar(&evidenceCmd, "evidence-cmd", "", "shell command that prints the evidence JSON object (required)")
	fl.StringVar(&app, "app", "", "only match the images of this app (ID, or name when logged in)")
	fl.StringVar(&keyOut, "key-out", "key.pem", "where to write the private key (PKCS #8 PEM, mode 0600)")
	fl.StringVar(&certOut, "cert-out", "cert.pem", "where to write the certificate and its chain (PEM)")
	return cmd
}

// attestResult is what ccm attest prints with -o json.
type attestResult struct {
	apiv1.AttestResponse
	CommonName      string   `json:"common_name"`
	DNSNames        []string `json:"dns_names"`
	URIs            []string `json:"uris"`
	KeyFile         string   `json:"key_file"`
	CertificateFile string   `json:"certificate_file"`
}

func nonNilStrings(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// runEvidenceCmd returns an evidence function that runs script with sh -c,
// the binding and the nonce in its environment, and reads the evidence
// object from its stdout.
func runEvidenceCmd(cmd *cobra.Command, script string) func(context.Context, [32]byte) (json.RawMessage, error) {
	return func(ctx context.Context, binding [32]byte) (json.RawMessage, error) {
		nonce := ""
		if ch, ok := client.AttestChallenge(ctx); ok {
			nonce = ch.Nonce
		}
		c := exec.CommandContext(ctx, "sh", "-c", script)
		c.Env = append(os.Environ(), envBinding+"="+hex.EncodeToString(binding[:]), envNonce+"="+nonce)
		out := &limitedBuffer{max: maxEvidenceOutput}
		c.Stdout = out
		c.Stderr = cmd.ErrOrStderr()
		if err := c.Run(); err != nil {
			if out.over {
				return nil, fmt.Errorf("the evidence command printed more than %d bytes", maxEvidenceOutput)
			}
			return nil, fmt.Errorf("the evidence command failed: %w", err)
		}
		ev := bytes.TrimSpace(out.Bytes())
		if len(ev) == 0 {
			return nil, errors.New("the evidence command printed nothing: it must print the evidence JSON object")
		}
		if ev[0] != '{' || !json.Valid(ev) {
			return nil, fmt.Errorf("the evidence command's output is not a JSON object: %q", truncate(string(ev), 80))
		}
		return ev, nil
	}
}

// limitedBuffer is a bytes.Buffer that refuses to grow past max.
type limitedBuffer struct {
	bytes.Buffer
	max  int
	over bool
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	if b.Len()+len(p) > b.max {
		b.over = true
		return 0, errors.New("output too large")
	}
	return b.Buffer.Write(p)
}

func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n]) + "…"
}
