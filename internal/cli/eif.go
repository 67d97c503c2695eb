package cli

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/openccm/openccm/internal/enclaveos/eif"
)

// newEIFCmd is `ccm eif`: offline tools for AWS Nitro Enclave image files.
func newEIFCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "eif", Short: "Inspect AWS Nitro Enclave image files (EIF)"}
	cmd.AddCommand(&cobra.Command{
		Use:   "describe FILE",
		Short: "Check an EIF and print its measurements as nitro-cli does",
		Long: `Check an EIF (header, section table, CRC) and print its PCR0, PCR1 and PCR2 in
the JSON format of nitro-cli build-enclave / describe-eif, ready to paste into an
EDP Nitro image (ccm image create --platform nitro --measurement-json FILE).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			f, err := os.Open(args[0])
			if err != nil {
				return err
			}
			defer f.Close()
			fi, err := f.Stat()
			if err != nil {
				return err
			}
			d, err := eif.Describe(f, fi.Size())
			if err != nil {
				return fmt.Errorf("%s: %w", args[0], err)
			}
			out := cmd.OutOrStdout()
			fmt.Fprintln(out, string(d.PCRs.MeasurementJSON()))
			fmt.Fprintf(cmd.ErrOrStderr(), "EIF version %d, %d sections, default memory %d MiB, %d CPUs, signed: %v\n",
				d.Version, len(d.Sections), d.DefaultMem>>20, d.DefaultCPUs, d.Signed)
			return nil
		},
	})
	return cmd
}
