package cli

import "github.com/spf13/cobra"

// addClientCommands adds the verbs that talk to a server (login, account, …).
// They share the persistent flags --server, --account and -o/--output.
func addClientCommands(root *cobra.Command) {
	flags := &clientFlags{}
	for _, cmd := range []*cobra.Command{
		newSignupCmd(flags),
		newLoginCmd(flags),
		newLogoutCmd(flags),
		newAccountCmd(flags),
		newMemberCmd(flags),
		newTokenCmd(flags),
		newRegistryCmd(flags),
		newAppCmd(flags),
		newImageCmd(flags),
		newTaskCmd(flags),
		newAuditCmd(flags),
		newExplainCmd(flags),
		newSigstructCmd(flags),
		newNitroCmd(flags),
	} {
		flags.register(cmd)
		withExplain(cmd)
		root.AddCommand(cmd)
	}
}
