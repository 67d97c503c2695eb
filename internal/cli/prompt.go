package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"
)

// maxSecretBytes bounds a secret read from stdin.
const maxSecretBytes = 64 << 10

// readSecret reads a password from stdin (fromStdin: its first line) or
// from a no-echo prompt on the terminal. Secrets are never taken from argv.
// With confirm, the prompt asks twice.
func readSecret(cmd *cobra.Command, what string, fromStdin, confirm bool) (string, error) {
	in := cmd.InOrStdin()
	if fromStdin {
		b, err := io.ReadAll(io.LimitReader(in, maxSecretBytes+1))
		if err != nil {
			return "", fmt.Errorf("reading the %s from stdin: %w", what, err)
		}
		if len(b) > maxSecretBytes {
			return "", fmt.Errorf("the %s on stdin is too long", what)
		}
		s, _, _ := strings.Cut(string(b), "\n")
		s = strings.TrimSuffix(s, "\r")
		if s == "" {
			return "", fmt.Errorf("no %s on stdin", what)
		}
		return s, nil
	}
	f, ok := in.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return "", fmt.Errorf("cannot prompt for the %s: stdin is not a terminal (use --password-stdin)", what)
	}
	ask := func(prompt string) (string, error) {
		fmt.Fprint(cmd.ErrOrStderr(), prompt)
		b, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(cmd.ErrOrStderr())
		if err != nil {
			return "", fmt.Errorf("reading the %s: %w", what, err)
		}
		return string(b), nil
	}
	s, err := ask(upperFirst(what) + ": ")
	if err != nil {
		return "", err
	}
	if s == "" {
		return "", fmt.Errorf("empty %s", what)
	}
	if confirm {
		again, err := ask("Repeat the " + what + ": ")
		if err != nil {
			return "", err
		}
		if again != s {
			return "", errors.New("the two entries differ")
		}
	}
	return s, nil
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
