package cli

import (
	"bytes"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/openccm/openccm/internal/config"
	"github.com/openccm/openccm/internal/platform"
	"github.com/openccm/openccm/internal/verifiers"
)

// maxEvidenceFile bounds the files ccm evidence inspect reads.
const maxEvidenceFile = 8 << 20

func newEvidenceCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "evidence",
		Short: "Verify attestation evidence offline, without a server",
	}
	cmd.AddCommand(newEvidenceInspectCmd())
	return cmd
}

// inspection is what ccm evidence inspect prints with -o json.
type inspection struct {
	Verified bool             `json:"verified"`
	Reason   string           `json:"reason,omitempty"`
	Message  string           `json:"message,omitempty"`
	Claims   *platform.Claims `json:"claims"`
}

// inspectPlatforms lists what ccm evidence inspect verifies.
const inspectPlatforms = "sgx, nitro, sev_snp, aci or azure_cvm"

func newEvidenceInspectCmd() *cobra.Command {
	var platformName, at, trustRoots, vcek, ask, ark, output string
	cmd := &cobra.Command{
		Use:   "inspect --platform P FILE [--at RFC3339] [--trust-roots F] [--vcek F --ask F --ark F]",
		Short: "Verify one piece of evidence's signature chain and show what it claims",
		Long: `Verify one piece of evidence's signature chain to the vendor's root, offline, and show
its claims (measurements, debug mode, …) as JSON. The binding is not checked.

FILE (- reads stdin) is either the evidence object that POST /v1/attest takes (JSON),
or the raw evidence:
  nitro:        the attestation document (COSE_Sign1) as /dev/nsm returns it
  sev_snp, aci: the 1184-byte attestation report, with --vcek FILE (and optionally
                --ask, --ark), DER or PEM
  sgx:          the DCAP ECDSA quote (v3), checked without collateral (TCB status unknown)
  azure_cvm:    only the evidence object (quote, signature, pcrs, hcl_report, vcek, …)

Certificates are judged at --at (RFC 3339), by default now: give the evidence's own
time to check old evidence. The vendors' roots are built in; --trust-roots adds those
of a trust-roots file (e.g. DIR/trust-roots.yaml of ccm dev roots).
The verdict is printed on stderr; the exit status is 0 when the evidence verifies
and 1 when it does not.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			p := platform.Platform(platformName)
			if p == "" {
				return errors.New("--platform is required: " + inspectPlatforms)
			}
			now := time.Now()
			if at != "" {
				t, err := time.Parse(time.RFC3339, at)
				if err != nil {
					return fmt.Errorf("--at: want an RFC 3339 time such as 2030-01-02T15:04:05Z: %w", err)
				}
				now = t
			}
			var roots config.TrustRoots
			if trustRoots != "" {
				var err error
				if roots, err = config.LoadTrustRoots(trustRoots); err != nil {
					return err
				}
			}
			vs, err := verifiers.New(roots, nil)
			if err != nil {
				return err
			}
			v := vs[p]
			if v == nil {
				return fmt.Errorf("--platform %q: evidence inspect verifies %s evidence", platformName, inspectPlatforms)
			}
			b, err := readFileLimited(cmd, args[0], maxEvidenceFile)
			if err != nil {
				return err
			}
			certFiles := map[string]string{"vcek": vcek, "ask": ask, "ark": ark}
			evidence, err := evidenceObject(p, b, certFiles)
			if err != nil {
				return err
			}

			claims, verr := v.Verify(cmd.Context(), evidence, platform.Options{Now: now})
			res := inspection{Verified: verr == nil, Claims: claims}
			if verr != nil {
				res.Reason = platform.ReasonOf(verr)
				if res.Reason == "" {
					res.Reason = "error"
				}
				// The message, with the cause a server would only log.
				res.Message = verr.Error()
			}
			w := cmd.OutOrStdout()
			if output == outputJSON {
				if err := writeJSON(w, res); err != nil {
					return err
				}
			} else if claims != nil {
				if err := writeJSON(w, claims); err != nil {
					return err
				}
			}
			if !res.Verified {
				fmt.Fprintf(cmd.ErrOrStderr(), "NOT verified: %s: %s\n", res.Reason, cell(res.Message))
				return &exitError{code: 1}
			}
			fmt.Fprintln(cmd.ErrOrStderr(), "verified: the evidence's signature chain is valid")
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&platformName, "platform", "", inspectPlatforms+" (required)")
	fl.StringVar(&at, "at", "", "judge certificates at this time, RFC 3339 (default: now)")
	fl.StringVar(&trustRoots, "trust-roots", "", "a trust-roots YAML file whose roots are added to the built-in ones")
	fl.StringVar(&vcek, "vcek", "", "sev_snp, aci, raw report: the VCEK certificate (DER or PEM)")
	fl.StringVar(&ask, "ask", "", "sev_snp, aci, raw report: the ASK certificate (DER or PEM)")
	fl.StringVar(&ark, "ark", "", "sev_snp, aci, raw report: the ARK certificate (DER or PEM)")
	fl.StringVarP(&output, "output", "o", outputTable, "output format: table (the claims) or json (verdict and claims)")
	return cmd
}

// evidenceObject returns the evidence object of b: b itself when it is a
// JSON object, else the object built from the raw evidence (and, for a raw
// SEV-SNP report, the certificate files).
func evidenceObject(p platform.Platform, b []byte, certFiles map[string]string) (json.RawMessage, error) {
	given := []string{}
	for _, k := range []string{"vcek", "ask", "ark"} {
		if certFiles[k] != "" {
			given = append(given, "--"+k)
		}
	}
	if t := bytes.TrimSpace(b); len(t) > 0 && t[0] == '{' && json.Valid(t) {
		if len(given) > 0 {
			return nil, fmt.Errorf("%v apply to a raw report: this file is an evidence object, which holds its certificates", given)
		}
		return t, nil
	}
	switch p {
	case platform.Nitro, platform.SGX:
		if len(given) > 0 {
			return nil, fmt.Errorf("%v apply to sev_snp and aci reports, not to %s evidence", given, p)
		}
		if p == platform.SGX {
			return json.Marshal(map[string][]byte{"quote": b}) // a quote without collateral
		}
		return json.Marshal(map[string][]byte{"document": b})
	case platform.SEVSNP, platform.ACI:
		if certFiles["vcek"] == "" {
			return nil, errors.New("a raw report needs --vcek FILE: the VCEK certificate that AMD's KDS issued for the chip " +
				"(or give the evidence object, which holds it)")
		}
		obj := map[string][]byte{"report": b}
		for _, k := range []string{"vcek", "ask", "ark"} {
			if certFiles[k] == "" {
				continue
			}
			der, err := readCertificateFile(certFiles[k])
			if err != nil {
				return nil, fmt.Errorf("--%s: %w", k, err)
			}
			obj[k] = der
		}
		return json.Marshal(obj) // []byte members are written in base64
	}
	return nil, fmt.Errorf("platform %s: give the evidence object (JSON)", p)
}

// readCertificateFile reads a certificate file, PEM or DER, and returns the DER.
func readCertificateFile(name string) ([]byte, error) {
	b, err := os.ReadFile(name)
	if err != nil {
		return nil, err
	}
	if blk, _ := pem.Decode(b); blk != nil {
		if blk.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("%s: a PEM %q, not a CERTIFICATE", name, blk.Type)
		}
		return blk.Bytes, nil
	}
	return b, nil
}
