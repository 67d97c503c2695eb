package cli

import "github.com/spf13/cobra"

// addClientCommands adds the verbs that talk to a server (login, account, …),
// which share the persistent flags --server, --account and -o/--output, and
// the offline verbs that go with them (dev, evidence).
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
		newAttestCmd(flags),
		newCACmd(flags),
		newCertCmd(flags),
	} {
		flags.register(cmd)
		withExplain(cmd)
		root.AddCommand(cmd)
	}
	// Offline verbs: they need no server.
	root.AddCommand(newDevCmd(), newEvidenceCmd(), newEIFCmd())
}
