package cli

import "github.com/spf13/cobra"

// newServerCmd is the `ccm server` command (filled in by the server work).
func newServerCmd() *cobra.Command {
	return &cobra.Command{Use: "server", Short: "Run the OpenCCM server"}
}
