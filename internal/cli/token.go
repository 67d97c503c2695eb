package cli

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/openccm/openccm/pkg/apiv1"
	"github.com/openccm/openccm/pkg/client"
)

func newTokenCmd(flags *clientFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "token",
		Short: "Manage API tokens for automation",
	}
	cmd.AddCommand(newTokenCreateCmd(flags), newTokenListCmd(flags), newTokenRevokeCmd(flags))
	return cmd
}

func newTokenCreateCmd(flags *clientFlags) *cobra.Command {
	var name, role, expiresIn, expiresAt string
	cmd := &cobra.Command{
		Use:   "create --name NAME --role ROLE",
		Short: "Create an API token for the current account",
		Long: `Create an API token for the current account, with at most your role.

The token is printed once, on stdout; the server never shows it again.
Use it as ` + envToken + ` (with ` + envServer + ` and ` + envAccount + `) in automation.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			req := apiv1.CreateTokenRequest{Name: name, Role: role}
			switch {
			case expiresIn != "":
				d, err := parseDays(expiresIn)
				if err != nil {
					return fmt.Errorf("--expires-in: %w", err)
				}
				t := time.Now().Add(d).UTC().Truncate(time.Second)
				req.ExpiresAt = &t
			case expiresAt != "":
				t, err := time.Parse(time.RFC3339, expiresAt)
				if err != nil {
					return fmt.Errorf("--expires-at: want an RFC 3339 time such as 2030-01-02T15:04:05Z: %w", err)
				}
				req.ExpiresAt = &t
			}
			s, accountID, err := openAccount(cmd, flags)
			if err != nil {
				return err
			}
			req.AccountID = accountID
			t, err := s.api.CreateToken(cmd.Context(), req)
			if err != nil {
				return err
			}
			if flags.output == outputJSON {
				return writeJSON(cmd.OutOrStdout(), t)
			}
			fmt.Fprintln(cmd.OutOrStdout(), t.Token)
			fmt.Fprintf(cmd.ErrOrStderr(), "Created token %s (%s). Store it now: it will not be shown again.\n", t.Name, t.TokenID)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&name, "name", "", "name of the token (required)")
	f.StringVar(&role, "role", "", rolesHelp+", at most yours (required)")
	f.StringVar(&expiresIn, "expires-in", "", "lifetime, e.g. 720h or 90d")
	f.StringVar(&expiresAt, "expires-at", "", "expiry time, RFC 3339")
	cmd.MarkFlagsMutuallyExclusive("expires-in", "expires-at")
	_ = cmd.MarkFlagRequired("name")
	_ = cmd.MarkFlagRequired("role")
	return cmd
}

func newTokenListCmd(flags *clientFlags) *cobra.Command {
	return &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List your API tokens (never their secrets)",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := openSession(flags)
			if err != nil {
				return err
			}
			all, err := client.ListAll(cmd.Context(), s.api.ListTokens)
			if err != nil {
				return err
			}
			for i := range all {
				all[i].Token = "" // never print a secret, even if a server sent one
			}
			return writeList(cmd.OutOrStdout(), flags.output, all,
				[]string{"ID", "NAME", "ACCOUNT ID", "ROLE", "CREATED", "EXPIRES", "LAST USED"},
				func(t apiv1.Token) []string {
					return []string{t.TokenID, t.Name, t.AccountID, t.Role, fmtTime(t.CreatedAt), fmtTimePtr(t.ExpiresAt), fmtTimePtr(t.LastUsedAt)}
				})
		},
	}
}

func newTokenRevokeCmd(flags *clientFlags) *cobra.Command {
	return &cobra.Command{
		Use:     "revoke TOKEN_ID",
		Aliases: []string{"rm"},
		Short:   "Revoke an API token",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := openSession(flags)
			if err != nil {
				return err
			}
			if err := s.api.DeleteToken(cmd.Context(), args[0]); err != nil {
				return err
			}
			done(cmd, flags, "Revoked token %s.", args[0])
			return nil
		},
	}
}

// parseDays is time.ParseDuration that also takes whole days, "90d".
func parseDays(s string) (time.Duration, error) {
	var d time.Duration
	if n, ok := strings.CutSuffix(s, "d"); ok {
		days, err := strconv.Atoi(n)
		if err != nil || days < 0 || days > 100*365 {
			return 0, fmt.Errorf("invalid number of days %q", s)
		}
		d = time.Duration(days) * 24 * time.Hour
	} else {
		var err error
		if d, err = time.ParseDuration(s); err != nil {
			return 0, err
		}
	}
	if d <= 0 {
		return 0, fmt.Errorf("%s is not a positive duration", s)
	}
	return d, nil
}
