package cli

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/openccm/openccm/pkg/apiv1"
	"github.com/openccm/openccm/pkg/client"
)

func newRegistryCmd(flags *clientFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "registry",
		Short: "Manage saved container registry credentials",
	}
	cmd.AddCommand(
		newRegistryAddCmd(flags),
		newRegistryListCmd(flags),
		newRegistryShowCmd(flags),
		newRegistryUpdateCmd(flags),
		newRegistryRmCmd(flags),
		newRegistryMatchCmd(flags),
	)
	return cmd
}

func newRegistryAddCmd(flags *clientFlags) *cobra.Command {
	var username, description string
	var passwordStdin bool
	cmd := &cobra.Command{
		Use:   "add URL --username USER",
		Short: "Save credentials of a registry (host[:port])",
		Long: `Save credentials of a registry (host[:port], e.g. registry.example.com:5000).

The password is read from a prompt, or from stdin with --password-stdin; it is
stored encrypted and never shown again.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, accountID, err := openAccount(cmd, flags)
			if err != nil {
				return err
			}
			password, err := readSecret(cmd, "registry password", passwordStdin, false)
			if err != nil {
				return err
			}
			r, err := s.api.CreateRegistry(cmd.Context(), accountID, apiv1.CreateRegistryRequest{
				URL: args[0], Username: username, Password: password, Description: description,
			})
			if err != nil {
				return err
			}
			return writeRegistry(cmd, flags, r)
		},
	}
	cmd.Flags().StringVar(&username, "username", "", "user name at the registry (required)")
	cmd.Flags().StringVar(&description, "description", "", "description")
	cmd.Flags().BoolVar(&passwordStdin, "password-stdin", false, "read the password from stdin instead of a prompt")
	_ = cmd.MarkFlagRequired("username")
	return cmd
}

func newRegistryListCmd(flags *clientFlags) *cobra.Command {
	return &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List the saved registries",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, accountID, err := openAccount(cmd, flags)
			if err != nil {
				return err
			}
			all, err := listRegistries(cmd.Context(), s.api, accountID)
			if err != nil {
				return err
			}
			return writeList(cmd.OutOrStdout(), flags.output, all,
				[]string{"ID", "URL", "USERNAME", "DESCRIPTION", "CREATED"},
				func(r apiv1.Registry) []string {
					return []string{r.RegistryID, r.URL, r.Username, r.Description, fmtTime(r.CreatedAt)}
				})
		},
	}
}

func newRegistryShowCmd(flags *clientFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "show ID|URL",
		Short: "Show a saved registry",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, accountID, err := openAccount(cmd, flags)
			if err != nil {
				return err
			}
			id, err := registryID(cmd.Context(), s.api, accountID, args[0])
			if err != nil {
				return err
			}
			r, err := s.api.GetRegistry(cmd.Context(), accountID, id)
			if err != nil {
				return err
			}
			return writeRegistry(cmd, flags, r)
		},
	}
}

func newRegistryUpdateCmd(flags *clientFlags) *cobra.Command {
	var url, username, description string
	var newPassword, passwordStdin bool
	cmd := &cobra.Command{
		Use:   "update ID|URL",
		Short: "Change a saved registry; only the flags you give are changed",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var req apiv1.UpdateRegistryRequest
			fl := cmd.Flags()
			if fl.Changed("url") {
				req.URL = &url
			}
			if fl.Changed("username") {
				req.Username = &username
			}
			if fl.Changed("description") {
				req.Description = &description
			}
			if req == (apiv1.UpdateRegistryRequest{}) && !newPassword && !passwordStdin {
				return fmt.Errorf("nothing to change: give at least one of --url, --username, --description, --new-password, --password-stdin")
			}
			s, accountID, err := openAccount(cmd, flags)
			if err != nil {
				return err
			}
			id, err := registryID(cmd.Context(), s.api, accountID, args[0])
			if err != nil {
				return err
			}
			if newPassword || passwordStdin {
				p, err := readSecret(cmd, "registry password", passwordStdin, false)
				if err != nil {
					return err
				}
				req.Password = &p
			}
			r, err := s.api.UpdateRegistry(cmd.Context(), accountID, id, req)
			if err != nil {
				return err
			}
			return writeRegistry(cmd, flags, r)
		},
	}
	f := cmd.Flags()
	f.StringVar(&url, "url", "", "registry host[:port]")
	f.StringVar(&username, "username", "", "user name at the registry")
	f.StringVar(&description, "description", "", "description")
	f.BoolVar(&newPassword, "new-password", false, "prompt for a new password")
	f.BoolVar(&passwordStdin, "password-stdin", false, "read a new password from stdin")
	return cmd
}

func newRegistryRmCmd(flags *clientFlags) *cobra.Command {
	return &cobra.Command{
		Use:     "rm ID|URL",
		Aliases: []string{"delete"},
		Short:   "Delete a saved registry",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, accountID, err := openAccount(cmd, flags)
			if err != nil {
				return err
			}
			id, err := registryID(cmd.Context(), s.api, accountID, args[0])
			if err != nil {
				return err
			}
			if err := s.api.DeleteRegistry(cmd.Context(), accountID, id); err != nil {
				return err
			}
			done(cmd, flags, "Deleted registry %s.", args[0])
			return nil
		},
	}
}

func newRegistryMatchCmd(flags *clientFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "match IMAGE",
		Short: "Show the saved registry whose credentials serve an image reference",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, accountID, err := openAccount(cmd, flags)
			if err != nil {
				return err
			}
			r, err := s.api.MatchRegistry(cmd.Context(), accountID, args[0])
			if client.HasCode(err, apiv1.CodeNotFound) {
				return fmt.Errorf("no saved registry matches %s", args[0])
			}
			if err != nil {
				return err
			}
			return writeRegistry(cmd, flags, r)
		},
	}
}

// registryID resolves a registry ID or URL.
func registryID(ctx context.Context, api *client.Client, accountID, ref string) (string, error) {
	if isUUID(ref) {
		return ref, nil
	}
	all, err := listRegistries(ctx, api, accountID)
	if err != nil {
		return "", err
	}
	r, err := findByName(all, ref, "registry", func(r apiv1.Registry) string { return r.URL })
	if err != nil {
		return "", fmt.Errorf("no saved registry with URL %q", ref)
	}
	return r.RegistryID, nil
}

func listRegistries(ctx context.Context, api *client.Client, accountID string) ([]apiv1.Registry, error) {
	return client.ListAll(ctx, func(ctx context.Context, o client.ListOptions) (*apiv1.List[apiv1.Registry], error) {
		return api.ListRegistries(ctx, accountID, o)
	})
}

func writeRegistry(cmd *cobra.Command, flags *clientFlags, r *apiv1.Registry) error {
	return writeObject(cmd.OutOrStdout(), flags.output, r, []field{
		{"ID", r.RegistryID},
		{"URL", r.URL},
		{"Username", r.Username},
		{"Description", r.Description},
		{"Created", fmtTime(r.CreatedAt)},
		{"Updated", fmtTime(r.UpdatedAt)},
	})
}
