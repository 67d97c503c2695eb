package cli

import (
	"crypto/sha512"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/openccm/openccm/internal/attest"
	"github.com/openccm/openccm/internal/platform/platformtest"
	"github.com/openccm/openccm/internal/workload"
)

// trustRootsFile is the trust-roots YAML that ccm dev roots writes.
const trustRootsFile = "trust-roots.yaml"

// devRootsWarning is printed by ccm dev roots, on stderr.
const devRootsWarning = `WARNING: THESE ROOTS ARE FOR TESTING ONLY.
Their private keys are in the directory, so anyone who can read it can forge evidence
that a server trusting them accepts. Never give them to a production server.`

// The fake hardware that ccm dev evidence reports: one SEV-SNP chip (Milan)
// at a fixed TCB (bootloader 4, TEE 0, SNP 24, microcode 219).
var (
	devSNPChipID = sha512.Sum512([]byte("openccm dev chip"))
	// devACIMeasurement is the launch measurement of ACI reports when
	// --measurement is not given: ACI images are matched on host data.
	devACIMeasurement = sha512.Sum384([]byte("openccm dev ACI utility VM"))
)

const devSNPTCB = uint64(0xdb18000000000004)

func newDevCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "dev",
		Short: "Fake hardware roots and evidence, for tests and demos (never for production)",
		Long: `Fake hardware roots and evidence, for tests and demos. Evidence made with these
roots verifies only on a server started with --trust-roots DIR/trust-roots.yaml.`,
	}
	cmd.AddCommand(newDevRootsCmd(), newDevEvidenceCmd())
	return cmd
}

func newDevRootsCmd() *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:   "roots DIR [--force]",
		Short: "Make fake AWS Nitro and AMD SEV-SNP roots in DIR, and a trust-roots file for them",
		Long: `Make fake AWS Nitro and AMD SEV-SNP roots (with their private keys) in DIR, and
DIR/trust-roots.yaml naming them, for:
  ccm server --trust-roots DIR/trust-roots.yaml
  ccm dev evidence --roots DIR ...
An existing set of roots in DIR is kept unless --force: evidence made with the old
roots stops verifying once they are replaced.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			dir := args[0]
			files := []struct{ name, what string }{
				{platformtest.NitroRootFile, "fake AWS Nitro Enclaves root certificate"},
				{platformtest.NitroRootKey, "its private key"},
				{platformtest.NitroIntermediateFile, "Nitro intermediate certificate"},
				{platformtest.NitroIntermediateKey, "its private key, which signs the documents' certificates"},
				{platformtest.SNPARKFile, "fake AMD root key (ARK) certificate"},
				{platformtest.SNPASKFile, "fake AMD signing key (ASK) certificate"},
				{platformtest.SNPASKKey, "its private key, which certifies the VCEKs"},
				{platformtest.SNPRootsFile, "ARK then ASK: the AMD roots a server adds"},
				{trustRootsFile, "the trust-roots file for ccm server --trust-roots"},
			}
			if !force {
				for _, f := range files {
					if _, err := os.Stat(filepath.Join(dir, f.name)); err == nil {
						return fmt.Errorf("%s already exists: %s holds fake roots; use --force to replace them "+
							"(evidence made with them will no longer verify)", filepath.Join(dir, f.name), dir)
					} else if !errors.Is(err, fs.ErrNotExist) {
						return err
					}
				}
			}
			// The keys are inside: a new directory is the owner's only.
			if err := os.MkdirAll(dir, 0o700); err != nil {
				return err
			}
			nitroCA, err := platformtest.NewNitroCA()
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.ErrOrStderr(), "Making the fake AMD keys (RSA-4096, like AMD's: a few seconds)…")
			snpCA, err := platformtest.NewSNPCA()
			if err != nil {
				return err
			}
			if err := nitroCA.Save(dir); err != nil {
				return err
			}
			if err := snpCA.Save(dir); err != nil {
				return err
			}
			yaml := "# Fake vendor roots made by `ccm dev roots`: FOR TESTING ONLY.\n" +
				"# ccm server --trust-roots " + filepath.Join(dir, trustRootsFile) + "\n" +
				"nitro: [" + platformtest.NitroRootFile + "]\n" +
				"amd: [" + platformtest.SNPRootsFile + "]\n"
			if err := workload.WriteFile(filepath.Join(dir, trustRootsFile), []byte(yaml), 0o644, nil); err != nil {
				return err
			}

			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "Wrote fake hardware roots to %s:\n", dir)
			for _, f := range files {
				fmt.Fprintf(w, "  %-24s %s\n", f.name, f.what)
			}
			fmt.Fprintf(w, "\nStart a server that trusts them:\n  ccm server --trust-roots %s\n", filepath.Join(dir, trustRootsFile))
			fmt.Fprintf(w, "Make evidence with them:\n  ccm dev evidence --roots %s --platform nitro|sev_snp|aci ...\n", dir)
			fmt.Fprintf(cmd.ErrOrStderr(), "\n%s\n", devRootsWarning)
			return nil
		},
	}
	cmd.Flags().BoolVar(&force, "force", false, "replace the roots already in DIR")
	return cmd
}

// devEvidenceFlags are the flags of ccm dev evidence.
type devEvidenceFlags struct {
	platform, roots       string
	binding, nonce, csr   string
	pcr0, pcr1, pcr2      string
	measurement, hostData string
	vmpl                  int
	debug                 bool
}

func newDevEvidenceCmd() *cobra.Command {
	var f devEvidenceFlags
	cmd := &cobra.Command{
		Use:   "evidence --platform nitro|sev_snp|aci --roots DIR (--binding HEX | --nonce BASE64 --csr FILE) [measurements]",
		Short: "Print evidence signed by the fake roots of ccm dev roots",
		Long: `Print the evidence object of a platform, signed by the fake roots in DIR (made by
ccm dev roots), carrying a binding: given with --binding (hex), or computed from the
challenge's --nonce and the CSR's key (--csr, PEM or DER).

  nitro:   --pcr0 HEX --pcr1 HEX --pcr2 HEX (96 hex digits each) → {"document"}
  sev_snp: --measurement HEX (96 hex digits) [--vmpl N] [--host-data HEX] → {"report","vcek","ask","ark"}
  aci:     --host-data HEX (64 hex digits: the policy's SHA-256) [--measurement HEX] → as sev_snp
--debug makes evidence of a debug-mode workload (Nitro: all-zero PCRs; SNP: the
guest policy's DEBUG bit), which a server refuses.

As the evidence command of ccm attest:
  ccm attest --platform nitro --evidence-cmd \
    'ccm dev evidence --platform nitro --roots DIR --binding $OPENCCM_BINDING --pcr0 … --pcr1 … --pcr2 …'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ev, err := devEvidence(cmd, &f)
			if err != nil {
				return err
			}
			_, err = fmt.Fprintf(cmd.OutOrStdout(), "%s\n", ev)
			return err
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.platform, "platform", "", "nitro, sev_snp or aci (required)")
	fl.StringVar(&f.roots, "roots", "", "the directory of ccm dev roots (required)")
	fl.StringVar(&f.binding, "binding", "", "the binding to carry, 64 hex digits ($OPENCCM_BINDING in ccm attest)")
	fl.StringVar(&f.nonce, "nonce", "", "with --csr: the challenge's nonce (base64), to compute the binding")
	fl.StringVar(&f.csr, "csr", "", "with --nonce: the CSR file (PEM or DER) whose key the binding names")
	fl.StringVar(&f.pcr0, "pcr0", "", "nitro: PCR0, 96 hex digits")
	fl.StringVar(&f.pcr1, "pcr1", "", "nitro: PCR1, 96 hex digits")
	fl.StringVar(&f.pcr2, "pcr2", "", "nitro: PCR2, 96 hex digits")
	fl.StringVar(&f.measurement, "measurement", "", "sev_snp, aci: the launch measurement, 96 hex digits")
	fl.IntVar(&f.vmpl, "vmpl", 0, "sev_snp, aci: the VMPL, 0..3")
	fl.StringVar(&f.hostData, "host-data", "", "aci (sev_snp optional): HOST_DATA, 64 hex digits")
	fl.BoolVar(&f.debug, "debug", false, "make the evidence of a debug-mode workload")
	cmd.MarkFlagsMutuallyExclusive("binding", "nonce")
	cmd.MarkFlagsMutuallyExclusive("binding", "csr")
	cmd.MarkFlagsRequiredTogether("nonce", "csr")
	return cmd
}

func devEvidence(cmd *cobra.Command, f *devEvidenceFlags) ([]byte, error) {
	changed := cmd.Flags().Changed
	refuse := func(platform string, names ...string) error {
		for _, n := range names {
			if changed(n) {
				return fmt.Errorf("--%s does not apply to %s evidence", n, platform)
			}
		}
		return nil
	}
	switch f.platform {
	case "nitro":
		if err := refuse("nitro", "measurement", "vmpl", "host-data"); err != nil {
			return nil, err
		}
	case "sev_snp", "aci":
		if err := refuse(f.platform, "pcr0", "pcr1", "pcr2"); err != nil {
			return nil, err
		}
	case "":
		return nil, errors.New("--platform is required: nitro, sev_snp or aci")
	default:
		return nil, fmt.Errorf("--platform %q: ccm dev makes nitro, sev_snp or aci evidence", f.platform)
	}
	if f.roots == "" {
		return nil, errors.New("--roots is required: the directory of ccm dev roots")
	}
	binding, err := devBinding(f)
	if err != nil {
		return nil, err
	}

	if f.platform == "nitro" {
		pcrs := make(map[int][]byte, 16)
		for i := range 16 {
			pcrs[i] = make([]byte, sha512.Size384)
		}
		given := []string{f.pcr0, f.pcr1, f.pcr2}
		for i, v := range given {
			switch {
			case f.debug && v != "":
				return nil, fmt.Errorf("--pcr%d: a debug-mode enclave's PCRs are all zeros; drop --debug or the PCRs", i)
			case f.debug:
			case v == "":
				return nil, fmt.Errorf("--pcr%d is required for nitro evidence (96 hex digits)", i)
			default:
				if pcrs[i], err = hexFlag(fmt.Sprintf("pcr%d", i), v, sha512.Size384); err != nil {
					return nil, err
				}
			}
		}
		ca, err := platformtest.LoadNitroCA(f.roots)
		if err != nil {
			return nil, fmt.Errorf("loading the fake Nitro root (ccm dev roots %s?): %w", f.roots, err)
		}
		return ca.Evidence(platformtest.NitroDoc{PCRs: pcrs, UserData: binding[:]})
	}

	r := platformtest.SNPReport{ChipID: devSNPChipID, TCB: devSNPTCB, Debug: f.debug}
	if f.vmpl < 0 || f.vmpl > 3 {
		return nil, fmt.Errorf("--vmpl %d: want 0 to 3", f.vmpl)
	}
	r.VMPL = uint32(f.vmpl)
	copy(r.ReportData[:32], binding[:])
	switch {
	case f.measurement != "":
		m, err := hexFlag("measurement", f.measurement, len(r.Measurement))
		if err != nil {
			return nil, err
		}
		copy(r.Measurement[:], m)
	case f.platform == "sev_snp":
		return nil, errors.New("--measurement is required for sev_snp evidence (96 hex digits)")
	default:
		r.Measurement = devACIMeasurement
	}
	switch {
	case f.hostData != "":
		h, err := hexFlag("host-data", f.hostData, len(r.HostData))
		if err != nil {
			return nil, err
		}
		copy(r.HostData[:], h)
	case f.platform == "aci":
		return nil, errors.New("--host-data is required for aci evidence (64 hex digits: the SHA-256 of the CCE policy)")
	}
	ca, err := platformtest.LoadSNPCA(f.roots)
	if err != nil {
		return nil, fmt.Errorf("loading the fake AMD roots (ccm dev roots %s?): %w", f.roots, err)
	}
	return ca.Report(r)
}

// devBinding is --binding, or the binding of --nonce and the key of --csr.
func devBinding(f *devEvidenceFlags) ([32]byte, error) {
	var b [32]byte
	switch {
	case f.binding != "":
		v, err := hexFlag("binding", f.binding, len(b))
		if err != nil {
			return b, err
		}
		copy(b[:], v)
		return b, nil
	case f.nonce != "" && f.csr != "":
		nonce, err := base64.StdEncoding.DecodeString(strings.TrimSpace(f.nonce))
		if err != nil || len(nonce) == 0 {
			return b, fmt.Errorf("--nonce %q is not base64", f.nonce)
		}
		raw, err := os.ReadFile(f.csr)
		if err != nil {
			return b, err
		}
		if blk, _ := pem.Decode(raw); blk != nil {
			raw = blk.Bytes
		}
		csr, err := x509.ParseCertificateRequest(raw)
		if err != nil {
			return b, fmt.Errorf("--csr %s: not a certificate request: %w", f.csr, err)
		}
		return attest.Binding(nonce, csr.RawSubjectPublicKeyInfo), nil
	}
	return b, errors.New("give the binding: --binding HEX, or --nonce BASE64 with --csr FILE")
}

// hexFlag decodes a hex flag of exactly n bytes.
func hexFlag(name, v string, n int) ([]byte, error) {
	b, err := hex.DecodeString(strings.TrimPrefix(strings.TrimSpace(v), "0x"))
	if err != nil || len(b) != n {
		return nil, fmt.Errorf("--%s: want %d hex digits (%d bytes), got %q", name, 2*n, n, truncate(v, 20))
	}
	return b, nil
}
