package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/openccm/openccm/internal/buildinfo"
)

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version of this ccm binary",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fmt.Fprintf(cmd.OutOrStdout(), "ccm %s (%s)\n", buildinfo.Version(), buildinfo.Commit())
			return nil
		},
	}
}
