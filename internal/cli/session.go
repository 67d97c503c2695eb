package cli

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/openccm/openccm/internal/buildinfo"
	"github.com/openccm/openccm/pkg/apiv1"
	"github.com/openccm/openccm/pkg/client"
)

// clientFlags are the persistent flags shared by every client verb.
type clientFlags struct {
	server  string
	account string
	output  string
}

// register adds the shared flags to a top-level client verb.
func (f *clientFlags) register(cmd *cobra.Command) {
	pf := cmd.PersistentFlags()
	pf.StringVar(&f.server, "server", "", "server URL (default: $"+envServer+", then the config file)")
	pf.StringVar(&f.account, "account", "", "account name or ID (default: $"+envAccount+", then the one chosen with 'ccm account use')")
	pf.StringVarP(&f.output, "output", "o", outputTable, "output format: table or json")
	cmd.PersistentPreRunE = func(*cobra.Command, []string) error { return checkOutput(f.output) }
}

// session is what a client verb works with: the config file, and a client
// for the server it names.
type session struct {
	flags *clientFlags
	path  string
	cfg   clientConfig // as in the file, without the environment
	api   *client.Client
	// hasToken is false in a public session without credentials.
	hasToken bool
}

// openConfig loads the config file.
func openConfig(flags *clientFlags) (*session, error) {
	path, err := configPath()
	if err != nil {
		return nil, err
	}
	cfg, err := loadConfig(path)
	if err != nil {
		return nil, err
	}
	return &session{flags: flags, path: path, cfg: cfg}, nil
}

// openSession loads the config and makes a client with the effective server
// and token: flags first, then the environment, then the file.
func openSession(flags *clientFlags) (*session, error) {
	return openSessionWith(flags, true)
}

// openPublicSession is openSession for the public routes (attestation, the
// CA and its CRL): the token, when there is one, is used to look account
// and app names up, but none is needed.
func openPublicSession(flags *clientFlags) (*session, error) {
	return openSessionWith(flags, false)
}

func openSessionWith(flags *clientFlags, needToken bool) (*session, error) {
	s, err := openConfig(flags)
	if err != nil {
		return nil, err
	}
	server := s.server()
	if server == "" {
		return nil, errors.New("no server: run `ccm login --server URL --email EMAIL`, or set " + envServer)
	}
	// The saved token and trust settings belong to the server they were
	// saved for: never send that token to another server.
	token, caFile, fingerprint := os.Getenv(envToken), "", ""
	if server == s.cfg.Server {
		token = firstNonEmpty(token, s.cfg.Token)
		caFile, fingerprint = s.cfg.CAFile, s.cfg.Fingerprint
	}
	if token == "" && needToken {
		return nil, fmt.Errorf("not logged in to %s: run `ccm login`, or set %s", server, envToken)
	}
	s.hasToken = token != ""
	s.api, err = newClient(server, token, caFile, fingerprint)
	if err != nil {
		return nil, err
	}
	return s, nil
}

// openAccount opens a session and resolves the account the verb works in.
func openAccount(cmd *cobra.Command, flags *clientFlags) (*session, string, error) {
	s, err := openSession(flags)
	if err != nil {
		return nil, "", err
	}
	id, err := s.accountID(cmd.Context(), "")
	if err != nil {
		return nil, "", err
	}
	return s, id, nil
}

// openPublicAccount opens a public session and resolves the account the
// verb works in. Without credentials the account must be given by ID.
func openPublicAccount(cmd *cobra.Command, flags *clientFlags) (*session, string, error) {
	s, err := openPublicSession(flags)
	if err != nil {
		return nil, "", err
	}
	ref := firstNonEmpty(flags.account, os.Getenv(envAccount), s.cfg.AccountID)
	if ref != "" && !isUUID(ref) && !s.hasToken {
		return nil, "", fmt.Errorf("account %q: without a login, give the account's ID (names are looked up with `ccm login`)", ref)
	}
	id, err := s.accountID(cmd.Context(), "")
	if err != nil {
		return nil, "", err
	}
	return s, id, nil
}

// server is the effective server URL.
func (s *session) server() string {
	return normalizeServer(firstNonEmpty(s.flags.server, os.Getenv(envServer), s.cfg.Server))
}

func (s *session) save() error { return saveConfig(s.path, s.cfg) }

func newClient(server, token, caFile, fingerprint string) (*client.Client, error) {
	return client.New(client.Config{
		BaseURL:     server,
		Token:       token,
		CAFile:      caFile,
		Fingerprint: fingerprint,
		UserAgent:   "ccm/" + buildinfo.Version(),
	})
}

// normalizeServer lets users type "ccm.example.com:8443" for https://….
func normalizeServer(s string) string {
	s = strings.TrimSpace(s)
	if s == "" {
		return ""
	}
	if !strings.Contains(s, "://") {
		s = "https://" + s
	}
	return strings.TrimRight(s, "/")
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}

// accountID resolves ref (or, when empty, --account, $CCM_ACCOUNT, then the
// config's account) to an account ID. Names are looked up in the caller's
// accounts.
func (s *session) accountID(ctx context.Context, ref string) (string, error) {
	ref = firstNonEmpty(ref, s.flags.account, os.Getenv(envAccount), s.cfg.AccountID)
	if ref == "" {
		return "", errors.New("no account selected: use --account NAME, or `ccm account use NAME`")
	}
	if isUUID(ref) {
		return ref, nil
	}
	a, err := s.findAccount(ctx, ref)
	if err != nil {
		return "", err
	}
	return a.AccountID, nil
}

// findAccount finds one of the caller's accounts by ID or name.
func (s *session) findAccount(ctx context.Context, ref string) (*apiv1.Account, error) {
	if isUUID(ref) {
		return s.api.GetAccount(ctx, ref)
	}
	all, err := client.ListAll(ctx, s.api.ListAccounts)
	if err != nil {
		return nil, err
	}
	return findByName(all, ref, "account", func(a apiv1.Account) string { return a.Name })
}

// findByName picks the item named name: the exact name first, else the
// only one equal ignoring case.
func findByName[T any](items []T, name, kind string, nameOf func(T) string) (*T, error) {
	var fold []int
	for i, it := range items {
		if nameOf(it) == name {
			return &items[i], nil
		}
		if strings.EqualFold(nameOf(it), name) {
			fold = append(fold, i)
		}
	}
	if len(fold) == 1 {
		return &items[fold[0]], nil
	}
	return nil, fmt.Errorf("no %s named %q", kind, name)
}

// isUUID reports whether s has the form of a UUID.
func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i, r := range s {
		switch i {
		case 8, 13, 18, 23:
			if r != '-' {
				return false
			}
		default:
			if !strings.ContainsRune("0123456789abcdefABCDEF", r) {
				return false
			}
		}
	}
	return true
}

// explain adds what a user needs to act on an error of a client verb.
func explain(err error) error {
	var ce *client.Error
	var fm *client.FingerprintMismatchError
	var ve *tls.CertificateVerificationError
	switch {
	case errors.As(err, &ce) && ce.Code == apiv1.CodeUnauthenticated:
		return fmt.Errorf("%w\nyour session has ended or the token is not valid: run `ccm login`", err)
	case errors.As(err, &fm):
		return fmt.Errorf("the server's certificate is not the one you pinned\n"+
			"  pinned:            %s\n  the server sends:  %s\n"+
			"if the server's certificate was replaced on purpose, compare the new fingerprint with the one "+
			"the server printed at start, then run `ccm login --fingerprint %s`", fm.Want, fm.Got, fm.Got)
	case errors.As(err, &ve) && len(ve.UnverifiedCertificates) > 0:
		fp := client.Fingerprint(ve.UnverifiedCertificates[0].Raw)
		return fmt.Errorf("the server's certificate is not trusted: %v\n"+
			"its SHA-256 fingerprint is\n  %s\n"+
			"compare it with the fingerprint the server printed at start; if they are equal, run "+
			"`ccm login --fingerprint %s ...` again (or use --ca-file with the CA that issued it)", ve.Err, fp, fp)
	}
	return err
}

// withExplain makes every command under cmd pass its errors through explain.
func withExplain(cmd *cobra.Command) {
	if run := cmd.RunE; run != nil {
		cmd.RunE = func(c *cobra.Command, args []string) error {
			if err := run(c, args); err != nil {
				return explain(err)
			}
			return nil
		}
	}
	for _, sub := range cmd.Commands() {
		withExplain(sub)
	}
}

// absPath makes a saved file path independent of the working directory.
func absPath(p string) (string, error) {
	if p == "" {
		return "", nil
	}
	return filepath.Abs(p)
}
