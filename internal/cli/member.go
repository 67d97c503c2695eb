package cli

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/openccm/openccm/pkg/apiv1"
	"github.com/openccm/openccm/pkg/client"
)

const rolesHelp = "role: manager, writer or reader"

func newMemberCmd(flags *clientFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "member",
		Short: "Manage the members of the current account",
	}
	cmd.AddCommand(
		newMemberAddCmd(flags),
		newMemberListCmd(flags),
		newMemberSetRoleCmd(flags),
		newMemberRmCmd(flags),
	)
	return cmd
}

func newMemberAddCmd(flags *clientFlags) *cobra.Command {
	var role string
	var newUser, passwordStdin bool
	cmd := &cobra.Command{
		Use:   "add EMAIL --role ROLE",
		Short: "Add a user to the account",
		Long: `Add a user to the account.

With --new-user (prompt) or --password-stdin, the user is created with that
password when no user has this email yet.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, id, err := openAccount(cmd, flags)
			if err != nil {
				return err
			}
			req := apiv1.AddMemberRequest{Email: args[0], Role: role}
			if newUser || passwordStdin {
				if req.Password, err = readSecret(cmd, "password of the new user", passwordStdin, true); err != nil {
					return err
				}
			}
			m, err := s.api.AddMember(cmd.Context(), id, req)
			if err != nil {
				return err
			}
			return writeMember(cmd, flags, m)
		},
	}
	cmd.Flags().StringVar(&role, "role", "", rolesHelp+" (required)")
	cmd.Flags().BoolVar(&newUser, "new-user", false, "prompt for the password of a new user")
	cmd.Flags().BoolVar(&passwordStdin, "password-stdin", false, "read the password of a new user from stdin")
	_ = cmd.MarkFlagRequired("role")
	return cmd
}

func newMemberListCmd(flags *clientFlags) *cobra.Command {
	return &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List the members of the account",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, id, err := openAccount(cmd, flags)
			if err != nil {
				return err
			}
			all, err := listMembers(cmd.Context(), s.api, id)
			if err != nil {
				return err
			}
			return writeList(cmd.OutOrStdout(), flags.output, all,
				[]string{"EMAIL", "USER ID", "ROLE", "ADDED"},
				func(m apiv1.Member) []string {
					return []string{m.Email, m.UserID, m.Role, fmtTime(m.CreatedAt)}
				})
		},
	}
}

func newMemberSetRoleCmd(flags *clientFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "set-role USER_ID|EMAIL ROLE",
		Short: "Change a member's role",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, accountID, userID, err := openMember(cmd, flags, args[0])
			if err != nil {
				return err
			}
			m, err := s.api.SetMemberRole(cmd.Context(), accountID, userID, args[1])
			if err != nil {
				return err
			}
			if m.UserID == "" { // the server answered without a body
				m = &apiv1.Member{UserID: userID, Role: args[1]}
			}
			return writeMember(cmd, flags, m)
		},
	}
}

func newMemberRmCmd(flags *clientFlags) *cobra.Command {
	return &cobra.Command{
		Use:     "rm USER_ID|EMAIL",
		Aliases: []string{"remove"},
		Short:   "Remove a member from the account",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, accountID, userID, err := openMember(cmd, flags, args[0])
			if err != nil {
				return err
			}
			if err := s.api.RemoveMember(cmd.Context(), accountID, userID); err != nil {
				return err
			}
			done(cmd, flags, "Removed %s from the account.", args[0])
			return nil
		},
	}
}

// openMember opens a session and resolves the account and the member named
// by ref (a user ID, or an email looked up in the members).
func openMember(cmd *cobra.Command, flags *clientFlags, ref string) (s *session, accountID, userID string, err error) {
	if s, accountID, err = openAccount(cmd, flags); err != nil {
		return nil, "", "", err
	}
	if !strings.Contains(ref, "@") {
		return s, accountID, ref, nil
	}
	all, err := listMembers(cmd.Context(), s.api, accountID)
	if err != nil {
		return nil, "", "", err
	}
	for _, m := range all {
		if strings.EqualFold(m.Email, ref) {
			return s, accountID, m.UserID, nil
		}
	}
	return nil, "", "", fmt.Errorf("%s is not a member of the account", ref)
}

func listMembers(ctx context.Context, api *client.Client, accountID string) ([]apiv1.Member, error) {
	return client.ListAll(ctx, func(ctx context.Context, o client.ListOptions) (*apiv1.List[apiv1.Member], error) {
		return api.ListMembers(ctx, accountID, o)
	})
}

func writeMember(cmd *cobra.Command, flags *clientFlags, m *apiv1.Member) error {
	return writeObject(cmd.OutOrStdout(), flags.output, m, []field{
		{"User ID", m.UserID},
		{"Email", m.Email},
		{"Role", m.Role},
		{"Added", fmtTime(m.CreatedAt)},
	})
}
