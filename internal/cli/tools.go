package cli

import (
	"encoding/base64"
	"fmt"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/openccm/openccm/pkg/apiv1"
)

// The tools read measurements out of build artefacts, to fill in
// `ccm image create`. The server parses; nothing is stored.

func newSigstructCmd(flags *clientFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "sigstruct",
		Short: "Read SGX SIGSTRUCT files",
	}
	cmd.AddCommand(&cobra.Command{
		Use:   "inspect FILE",
		Short: "Show the measurements of an SGX SIGSTRUCT (sigstruct.bin; - reads stdin)",
		Long: `Show the measurements of an SGX SIGSTRUCT (sigstruct.bin; - reads stdin).

The server checks the header and the RSA-3072 signature, and returns MRENCLAVE,
MRSIGNER (the SHA-256 of the signer's modulus), ISVPRODID, ISVSVN and the other
fields. To create an image from it: ccm image create --app APP --version V --platform sgx --sigstruct FILE`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			b, err := readFileLimited(cmd, args[0], maxSigstructFile)
			if err != nil {
				return err
			}
			s, err := openSession(flags)
			if err != nil {
				return err
			}
			info, err := s.api.ParseSigstruct(cmd.Context(), base64.StdEncoding.EncodeToString(b))
			if err != nil {
				return err
			}
			return writeSigstruct(cmd, flags, info)
		},
	})
	return cmd
}

func writeSigstruct(cmd *cobra.Command, flags *clientFlags, info *apiv1.SigstructInfo) error {
	return writeObject(cmd.OutOrStdout(), flags.output, info, []field{
		{"MRENCLAVE", info.MREnclave},
		{"MRSIGNER", info.MRSigner},
		{"ISVPRODID", strconv.Itoa(info.ISVProdID)},
		{"ISVSVN", strconv.Itoa(info.ISVSVN)},
		{"Attributes", info.Attributes},
		{"MISCSELECT", fmt.Sprintf("%#x", info.MiscSelect)},
		{"Debug", strconv.FormatBool(info.Debug)},
		{"Date", info.Date},
		{"Vendor", fmt.Sprintf("%#x", info.Vendor)},
	})
}

func newNitroCmd(flags *clientFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "nitro",
		Short: "Read AWS Nitro Enclaves build output",
	}
	cmd.AddCommand(&cobra.Command{
		Use:   "measurements FILE",
		Short: "Show the PCRs of nitro-cli's measurement JSON (- reads stdin)",
		Long: `Show the PCRs in the JSON that nitro-cli build-enclave or describe-eif prints
(- reads stdin). To create an image from it:
ccm image create --app APP --version V --platform nitro --measurement-json FILE`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			b, err := readFileLimited(cmd, args[0], maxMeasurementFile)
			if err != nil {
				return err
			}
			s, err := openSession(flags)
			if err != nil {
				return err
			}
			m, err := s.api.ParseNitroMeasurements(cmd.Context(), string(b))
			if err != nil {
				return err
			}
			fields := []field{{"PCR0", m.PCR0}, {"PCR1", m.PCR1}, {"PCR2", m.PCR2}}
			if m.PCR8 != "" {
				fields = append(fields, field{"PCR8", m.PCR8})
			}
			return writeObject(cmd.OutOrStdout(), flags.output, m, fields)
		},
	})
	return cmd
}
