package cli

import "github.com/spf13/cobra"

// addClientCommands adds the verbs that talk to a server (login, account, …).
func addClientCommands(root *cobra.Command) {}
