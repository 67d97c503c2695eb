package cli

import (
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
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
roots verifies only on a server started with --trust-roots DIR/trust-roots.yaml, and
its GPU tokens only with --gpu-jwks DIR/gpu-jwks.json.`,
	}
	cmd.AddCommand(newDevRootsCmd(), newDevEvidenceCmd())
	return cmd
}

func newDevRootsCmd() *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:   "roots DIR [--force]",
		Short: "Make fake AWS Nitro, AMD SEV-SNP, Intel SGX and NVIDIA roots in DIR, and a trust-roots file for them",
		Long: `Make fake vendor roots (with their private keys) in DIR: AWS Nitro, AMD SEV-SNP
(which also sign the fake Azure confidential VM's reports; its vTPM keys are saved
too), Intel SGX, and an NVIDIA attestation service key; DIR/trust-roots.yaml naming
the roots, and DIR/gpu-jwks.json, the NVIDIA key's key set, for:
  ccm server --trust-roots DIR/trust-roots.yaml --gpu-jwks DIR/gpu-jwks.json
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
				{platformtest.AzureAKKey, "the fake Azure CVM's vTPM attestation key, which signs its quotes"},
				{platformtest.AzureEKKey, "its vTPM endorsement key"},
				{platformtest.SGXRootFile, "fake Intel SGX root certificate"},
				{platformtest.SGXRootKey, "its private key"},
				{platformtest.SGXPCKCAFile, "SGX PCK Platform CA certificate"},
				{platformtest.SGXPCKCAKey, "its private key"},
				{platformtest.SGXPCKFile, "the fake platform's PCK certificate"},
				{platformtest.SGXPCKKey, "its private key, which signs the quoting enclave's reports"},
				{platformtest.SGXAttestationKey, "the quoting enclave's attestation key, which signs quotes"},
				{platformtest.SGXTCBSigningFile, "SGX TCB Signing certificate"},
				{platformtest.SGXTCBSigningKey, "its private key, which signs the collateral"},
				{platformtest.GPUKeyFile, "fake NVIDIA attestation service key, which signs GPU tokens"},
				{platformtest.GPUJWKSFile, "its key set, for ccm server --gpu-jwks"},
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
			cvm, err := platformtest.NewAzureCVMWith(snpCA)
			if err != nil {
				return err
			}
			sgxCA, err := platformtest.NewSGXCA()
			if err != nil {
				return err
			}
			nras, err := platformtest.NewGPUSigner()
			if err != nil {
				return err
			}
			for _, save := range []func(string) error{nitroCA.Save, snpCA.Save, cvm.Save, sgxCA.Save, nras.Save} {
				if err := save(dir); err != nil {
					return err
				}
			}
			trustRoots, gpuJWKS := filepath.Join(dir, trustRootsFile), filepath.Join(dir, platformtest.GPUJWKSFile)
			serverFlags := "--trust-roots " + trustRoots + " --gpu-jwks " + gpuJWKS
			yaml := "# Fake vendor roots made by `ccm dev roots`: FOR TESTING ONLY.\n" +
				"# ccm server " + serverFlags + "\n" +
				"nitro: [" + platformtest.NitroRootFile + "]\n" +
				"amd: [" + platformtest.SNPRootsFile + "]\n" +
				"intel_sgx: [" + platformtest.SGXRootFile + "]\n"
			if err := workload.WriteFile(trustRoots, []byte(yaml), 0o644, nil); err != nil {
				return err
			}

			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "Wrote fake hardware roots to %s:\n", dir)
			for _, f := range files {
				fmt.Fprintf(w, "  %-24s %s\n", f.name, f.what)
			}
			fmt.Fprintf(w, "\nStart a server that trusts them:\n  ccm server %s\n", serverFlags)
			fmt.Fprintf(w, "Make evidence with them:\n  ccm dev evidence --roots %s --platform %s ...\n", dir, strings.Join(devPlatforms, "|"))
			fmt.Fprintf(cmd.ErrOrStderr(), "\n%s\n", devRootsWarning)
			return nil
		},
	}
	cmd.Flags().BoolVar(&force, "force", false, "replace the roots already in DIR")
	return cmd
}

// devPlatforms are the platforms of ccm dev evidence, and devPlatformList
// the same for messages.
var devPlatforms = []string{"nitro", "sev_snp", "aci", "sgx", "azure_cvm"}

const devPlatformList = "nitro, sev_snp, aci, sgx or azure_cvm"

// devPlatformFlags are the flags of ccm dev evidence that apply to some
// platforms only; the binding's flags and --debug apply to all.
var devPlatformFlags = []struct {
	flag      string
	platforms []string
}{
	{"pcr0", []string{"nitro"}},
	{"pcr1", []string{"nitro"}},
	{"pcr2", []string{"nitro"}},
	{"measurement", []string{"sev_snp", "aci"}},
	{"vmpl", []string{"sev_snp", "aci"}},
	{"host-data", []string{"sev_snp", "aci"}},
	{"mrenclave", []string{"sgx"}},
	{"mrsigner", []string{"sgx"}},
	{"isvprodid", []string{"sgx"}},
	{"isvsvn", []string{"sgx"}},
	{"no-collateral", []string{"sgx"}},
	{"pcr", []string{"azure_cvm"}},
	{"gpu", []string{"sev_snp", "azure_cvm"}}, // the platforms whose images have a gpu setting
}

// devEvidenceFlags are the flags of ccm dev evidence.
type devEvidenceFlags struct {
	platform, roots       string
	binding, nonce, csr   string
	pcr0, pcr1, pcr2      string
	measurement, hostData string
	vmpl                  int
	mrenclave, mrsigner   string
	isvprodid, isvsvn     int
	noCollateral          bool
	pcrs                  []string
	gpu, debug            bool
}

func newDevEvidenceCmd() *cobra.Command {
	var f devEvidenceFlags
	cmd := &cobra.Command{
		Use:   "evidence --platform " + strings.Join(devPlatforms, "|") + " --roots DIR (--binding HEX | --nonce BASE64 --csr FILE) [measurements]",
		Short: "Print evidence signed by the fake roots of ccm dev roots",
		Long: `Print the evidence object of a platform, signed by the fake roots in DIR (made by
ccm dev roots), carrying a binding: given with --binding (hex), or computed from the
challenge's --nonce and the CSR's key (--csr, PEM or DER).

  nitro:     --pcr0 HEX --pcr1 HEX --pcr2 HEX (96 hex digits each) → {"document"}
  sev_snp:   --measurement HEX (96 hex digits) [--vmpl N] [--host-data HEX] [--gpu]
             → {"report","vcek","ask","ark"}
  aci:       --host-data HEX (64 hex digits: the policy's SHA-256) [--measurement HEX] → as sev_snp
  sgx:       --mrenclave HEX --mrsigner HEX (64 hex digits each) [--isvprodid N] [--isvsvn N]
             (default 0) [--no-collateral] → {"quote","collateral"}; the collateral says the
             platform is UpToDate, and without it the TCB status is unknown
  azure_cvm: --pcr N=HEX ... (repeatable; N 0 to 23, SHA-256: 64 hex digits) [--gpu]
             → {"quote","signature","pcrs","hcl_report","vcek","ask","ark","ak_public"}
--gpu adds {"gpu": {"token"}}: an NVIDIA attestation token (a detached EAT for one GPU)
for the same binding, signed by the fake NVIDIA key, which a server started with
--gpu-jwks DIR/gpu-jwks.json verifies.
--debug makes evidence of a debug-mode workload (Nitro: all-zero PCRs; SNP, ACI, Azure
CVM: the guest policy's DEBUG bit; SGX: the DEBUG attribute), which a server refuses.

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
	fl.StringVar(&f.platform, "platform", "", devPlatformList+" (required)")
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
	fl.StringVar(&f.mrenclave, "mrenclave", "", "sgx: MRENCLAVE, 64 hex digits")
	fl.StringVar(&f.mrsigner, "mrsigner", "", "sgx: MRSIGNER, 64 hex digits")
	fl.IntVar(&f.isvprodid, "isvprodid", 0, "sgx: ISVPRODID, 0..65535")
	fl.IntVar(&f.isvsvn, "isvsvn", 0, "sgx: ISVSVN, 0..65535")
	fl.BoolVar(&f.noCollateral, "no-collateral", false, "sgx: leave the collateral out (the TCB status is then unknown)")
	fl.StringArrayVar(&f.pcrs, "pcr", nil, "azure_cvm: PCR N=HEX (N 0..23, SHA-256: 64 hex digits; repeatable)")
	fl.BoolVar(&f.gpu, "gpu", false, "sev_snp, azure_cvm: add an NVIDIA GPU attestation token for the binding")
	fl.BoolVar(&f.debug, "debug", false, "make the evidence of a debug-mode workload")
	cmd.MarkFlagsMutuallyExclusive("binding", "nonce")
	cmd.MarkFlagsMutuallyExclusive("binding", "csr")
	cmd.MarkFlagsRequiredTogether("nonce", "csr")
	return cmd
}

func devEvidence(cmd *cobra.Command, f *devEvidenceFlags) ([]byte, error) {
	switch {
	case f.platform == "":
		return nil, errors.New("--platform is required: " + devPlatformList)
	case !slices.Contains(devPlatforms, f.platform):
		return nil, fmt.Errorf("--platform %q: ccm dev makes %s evidence", f.platform, devPlatformList)
	}
	for _, pf := range devPlatformFlags {
		if cmd.Flags().Changed(pf.flag) && !slices.Contains(pf.platforms, f.platform) {
			return nil, fmt.Errorf("--%s does not apply to %s evidence", pf.flag, f.platform)
		}
	}
	if f.roots == "" {
		return nil, errors.New("--roots is required: the directory of ccm dev roots")
	}
	binding, err := devBinding(f)
	if err != nil {
		return nil, err
	}
	var ev []byte
	switch f.platform {
	case "nitro":
		ev, err = devNitroEvidence(f, binding)
	case "sgx":
		ev, err = devSGXEvidence(f, binding)
	case "azure_cvm":
		ev, err = devAzureCVMEvidence(f, binding)
	default:
		ev, err = devSNPEvidence(f, binding)
	}
	if err != nil || !f.gpu {
		return ev, err
	}
	return devAddGPU(f.roots, ev, binding)
}

func devNitroEvidence(f *devEvidenceFlags, binding [32]byte) ([]byte, error) {
	pcrs := make(map[int][]byte, 16)
	for i := range 16 {
		pcrs[i] = make([]byte, sha512.Size384)
	}
	given := []string{f.pcr0, f.pcr1, f.pcr2}
	for i, v := range given {
		var err error
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
		return nil, devLoadError("the fake Nitro root", f.roots, err)
	}
	return ca.Evidence(platformtest.NitroDoc{PCRs: pcrs, UserData: binding[:]})
}

func devSNPEvidence(f *devEvidenceFlags, binding [32]byte) ([]byte, error) {
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
		return nil, devLoadError("the fake AMD roots", f.roots, err)
	}
	return ca.Report(r)
}

func devSGXEvidence(f *devEvidenceFlags, binding [32]byte) ([]byte, error) {
	r := platformtest.SGXReport{Debug: f.debug}
	for _, m := range []struct {
		name, value string
		dst         *[32]byte
	}{{"mrenclave", f.mrenclave, &r.MREnclave}, {"mrsigner", f.mrsigner, &r.MRSigner}} {
		if m.value == "" {
			return nil, fmt.Errorf("--%s is required for sgx evidence (64 hex digits)", m.name)
		}
		b, err := hexFlag(m.name, m.value, len(m.dst))
		if err != nil {
			return nil, err
		}
		copy(m.dst[:], b)
	}
	for _, n := range []struct {
		name  string
		value int
		dst   *uint16
	}{{"isvprodid", f.isvprodid, &r.ISVProdID}, {"isvsvn", f.isvsvn, &r.ISVSVN}} {
		if n.value < 0 || n.value > math.MaxUint16 {
			return nil, fmt.Errorf("--%s %d: want 0 to 65535", n.name, n.value)
		}
		*n.dst = uint16(n.value)
	}
	ca, err := platformtest.LoadSGXCA(f.roots)
	if err != nil {
		return nil, devLoadError("the fake Intel SGX PKI", f.roots, err)
	}
	var collateral *platformtest.SGXCollateral
	if !f.noCollateral {
		collateral = &platformtest.SGXCollateral{} // one UpToDate level, for the PCK's TCB
	}
	return ca.SignedEvidence(r, binding, collateral)
}

func devAzureCVMEvidence(f *devEvidenceFlags, binding [32]byte) ([]byte, error) {
	if len(f.pcrs) == 0 {
		return nil, errors.New("--pcr N=HEX is required for azure_cvm evidence (repeatable; SHA-256 values, 64 hex digits)")
	}
	pcrs := make(map[int]string, len(f.pcrs))
	for _, v := range f.pcrs {
		k, value, ok := strings.Cut(v, "=")
		k = strings.TrimPrefix(strings.ToLower(strings.TrimSpace(k)), "pcr")
		n, err := strconv.Atoi(k)
		if !ok || err != nil || n < 0 || n > 23 || k != strconv.Itoa(n) {
			return nil, fmt.Errorf("--pcr %q: want N=HEX with N from 0 to 23", v)
		}
		if _, dup := pcrs[n]; dup {
			return nil, fmt.Errorf("--pcr: PCR %d given twice", n)
		}
		b, err := hexFlag("pcr "+k, value, sha256.Size)
		if err != nil {
			return nil, err
		}
		pcrs[n] = hex.EncodeToString(b)
	}
	ca, err := platformtest.LoadSNPCA(f.roots)
	if err != nil {
		return nil, devLoadError("the fake AMD roots", f.roots, err)
	}
	cvm, err := platformtest.LoadAzureCVMWith(ca, f.roots)
	if err != nil {
		return nil, devLoadError("the fake Azure CVM's vTPM keys", f.roots, err)
	}
	return cvm.Build(platformtest.AzureCVMQuote{PCRs: pcrs, ExtraData: binding[:], Debug: f.debug, AKPublic: true})
}

// devAddGPU adds {"gpu": {"token"}} to the evidence object ev: an NVIDIA
// attestation token for binding, signed by the fake NVIDIA key in dir.
func devAddGPU(dir string, ev []byte, binding [32]byte) ([]byte, error) {
	g, err := platformtest.LoadGPU(dir)
	if err != nil {
		return nil, devLoadError("the fake NVIDIA key", dir, err)
	}
	token, err := g.SignToken(binding)
	if err != nil {
		return nil, err
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(ev, &obj); err != nil {
		return nil, fmt.Errorf("adding the GPU token: %w", err)
	}
	if obj["gpu"], err = json.Marshal(map[string]string{"token": token}); err != nil {
		return nil, err
	}
	return json.Marshal(obj)
}

// devLoadError is the error of loading the fake roots of one platform
// (what) from dir. A directory that an older ccm dev roots made has the
// Nitro root but lacks the files of the platforms added since.
func devLoadError(what, dir string, err error) error {
	hint := "ccm dev roots " + dir + "?"
	if _, serr := os.Stat(filepath.Join(dir, platformtest.NitroRootFile)); serr == nil && errors.Is(err, fs.ErrNotExist) {
		hint = "made by an older ccm dev roots? ccm dev roots " + dir + " --force makes a full set"
	}
	return fmt.Errorf("loading %s (%s): %w", what, hint, err)
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
