package cli

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/openccm/openccm/pkg/apiv1"
	"github.com/openccm/openccm/pkg/client"
)

// loginFlags are the flags of signup and login.
type loginFlags struct {
	email         string
	caFile        string
	fingerprint   string
	passwordStdin bool
}

func (f *loginFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.email, "email", "", "your email address (required)")
	cmd.Flags().StringVar(&f.caFile, "ca-file", "", "PEM file of the CA that issued the server's certificate")
	cmd.Flags().StringVar(&f.fingerprint, "fingerprint", "", "SHA-256 fingerprint of the server's (self-signed) certificate, as the server printed it")
	cmd.Flags().BoolVar(&f.passwordStdin, "password-stdin", false, "read the password from stdin instead of a prompt")
	cmd.MarkFlagsMutuallyExclusive("ca-file", "fingerprint")
	_ = cmd.MarkFlagRequired("email")
}

func newSignupCmd(flags *clientFlags) *cobra.Command {
	var lf loginFlags
	cmd := &cobra.Command{
		Use:   "signup --server URL --email EMAIL",
		Short: "Create the first user of a server, then log in",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return login(cmd, flags, &lf, true)
		},
	}
	lf.register(cmd)
	return cmd
}

func newLoginCmd(flags *clientFlags) *cobra.Command {
	var lf loginFlags
	cmd := &cobra.Command{
		Use:   "login --server URL --email EMAIL",
		Short: "Log in to a server and save the session in the config file",
		Long: `Log in to a server and save the session in the config file.

The password is read from a prompt, or from stdin with --password-stdin.
For a server with a self-signed certificate, pass the SHA-256 fingerprint
that the server printed at start with --fingerprint.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return login(cmd, flags, &lf, false)
		},
	}
	lf.register(cmd)
	return cmd
}

// login signs up (when signup is set) and logs in, then saves the session.
func login(cmd *cobra.Command, flags *clientFlags, lf *loginFlags, signup bool) error {
	ctx := cmd.Context()
	s, err := openConfig(flags)
	if err != nil {
		return err
	}
	server := s.server()
	if server == "" {
		return errors.New("--server is required")
	}
	caFile, fingerprint := lf.caFile, lf.fingerprint
	if caFile == "" && fingerprint == "" && server == s.cfg.Server {
		caFile, fingerprint = s.cfg.CAFile, s.cfg.Fingerprint
	}
	if fingerprint != "" {
		if fingerprint, err = client.ParseFingerprint(fingerprint); err != nil {
			return err
		}
	}
	if caFile, err = absPath(caFile); err != nil {
		return err
	}
	api, err := newClient(server, "", caFile, fingerprint)
	if err != nil {
		return err
	}
	// Check the connection, and trust in the server, before asking for a
	// password. Any HTTP answer will do.
	var httpErr *client.Error
	if _, err := api.Version(ctx); err != nil && !errors.As(err, &httpErr) {
		return err
	}
	password, err := readSecret(cmd, "password", lf.passwordStdin, signup)
	if err != nil {
		return err
	}
	creds := apiv1.Credentials{Email: lf.email, Password: password}
	if signup {
		if _, err := api.Signup(ctx, creds); err != nil {
			return fmt.Errorf("signing up: %w", err)
		}
	}
	sess, err := api.Login(ctx, creds)
	if err != nil {
		return fmt.Errorf("logging in: %w", err)
	}

	cfg := clientConfig{Server: server, Token: sess.Token, CAFile: caFile, Fingerprint: fingerprint}
	if server == s.cfg.Server {
		cfg.AccountID = s.cfg.AccountID
	}
	s.cfg = cfg
	if err := s.save(); err != nil {
		return err
	}
	out := cmd.OutOrStdout()
	if signup {
		fmt.Fprintf(out, "Signed up as %s.\n", lf.email)
	}
	fmt.Fprintf(out, "Logged in to %s as %s; the session expires at %s.\n", server, lf.email, fmtTime(sess.ExpiresAt))
	if cfg.AccountID == "" {
		fmt.Fprintln(out, "Next: `ccm account create NAME` or `ccm account use NAME`.")
	}
	return nil
}

func newLogoutCmd(flags *clientFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "logout",
		Short: "End the session and forget its token",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := openConfig(flags)
			if err != nil {
				return err
			}
			if s.cfg.Token == "" || s.cfg.Server == "" {
				fmt.Fprintln(cmd.OutOrStdout(), "Not logged in.")
				return nil
			}
			// End the saved session, whatever --server or $CCM_TOKEN say.
			if err := logout(cmd.Context(), s.cfg); err != nil {
				fmt.Fprintln(cmd.ErrOrStderr(), "warning: the server did not end the session:", explain(err))
			}
			s.cfg.Token = ""
			if err := s.save(); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Logged out of %s.\n", s.cfg.Server)
			return nil
		},
	}
}

func logout(ctx context.Context, cfg clientConfig) error {
	api, err := newClient(cfg.Server, cfg.Token, cfg.CAFile, cfg.Fingerprint)
	if err != nil {
		return err
	}
	err = api.Logout(ctx)
	if client.HasCode(err, apiv1.CodeUnauthenticated) {
		return nil // already over
	}
	return err
}
