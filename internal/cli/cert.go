package cli

import (
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"slices"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/openccm/openccm/internal/workload"
	"github.com/openccm/openccm/pkg/apiv1"
	"github.com/openccm/openccm/pkg/client"
)

func newCACmd(flags *clientFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "ca",
		Short: "Show the account's certificate authority and its revocation list (public: no login needed)",
	}
	cmd.AddCommand(newCAShowCmd(flags), newCACRLCmd(flags))
	return cmd
}

func newCAShowCmd(flags *clientFlags) *cobra.Command {
	var asPEM bool
	cmd := &cobra.Command{
		Use:   "show [--pem]",
		Short: "Show the account's CA certificate, which issues the workloads' certificates",
		Long: `Show the account's CA certificate, which issues the workloads' certificates.
--pem prints it in PEM, for a trust store (ccm ca show --pem > ca.pem).
The CA is public: without a login, give --account by ID.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, accountID, err := openPublicAccount(cmd, flags)
			if err != nil {
				return err
			}
			ca, err := s.api.GetCA(cmd.Context(), accountID)
			if err != nil {
				return err
			}
			c, err := parseCertPEM(ca.Certificate)
			if err != nil {
				return fmt.Errorf("the server's CA certificate: %w", err)
			}
			w := cmd.OutOrStdout()
			if asPEM {
				return pem.Encode(w, &pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
			}
			return writeObject(w, flags.output, ca, []field{
				{"Subject", c.Subject.String()},
				{"Serial", hex.EncodeToString(c.SerialNumber.Bytes())},
				{"Key", keyDescription(c)},
				{"Not before", fmtTime(c.NotBefore)},
				{"Not after", fmtTime(c.NotAfter)},
				{"SHA-256 fingerprint", client.Fingerprint(c.Raw)},
			})
		},
	}
	cmd.Flags().BoolVar(&asPEM, "pem", false, "print the certificate in PEM")
	return cmd
}

// crlSummary is what ccm ca crl prints with -o json.
type crlSummary struct {
	Issuer     string     `json:"issuer"`
	Number     string     `json:"number,omitempty"`
	ThisUpdate time.Time  `json:"this_update"`
	NextUpdate time.Time  `json:"next_update"`
	Entries    []crlEntry `json:"entries"`
}

type crlEntry struct {
	Serial     string    `json:"serial"` // hex, as the certificates' serial
	RevokedAt  time.Time `json:"revoked_at"`
	ReasonCode int       `json:"reason_code,omitempty"`
}

func newCACRLCmd(flags *clientFlags) *cobra.Command {
	var file string
	cmd := &cobra.Command{
		Use:   "crl [-f FILE]",
		Short: "Show the account's certificate revocation list, or save it (DER) with -f",
		Long: `Show the account's certificate revocation list: the revoked certificates that have
not expired, by serial number. The CRL's signature is checked against the account's CA.
-f FILE saves the CRL as the server sends it (DER; - writes it to stdout).
The CRL is public: without a login, give --account by ID.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, accountID, err := openPublicAccount(cmd, flags)
			if err != nil {
				return err
			}
			der, err := s.api.GetCRL(cmd.Context(), accountID)
			if err != nil {
				return err
			}
			crl, err := x509.ParseRevocationList(der)
			if err != nil {
				return fmt.Errorf("the server's CRL does not parse: %w", err)
			}
			ca, err := s.api.GetCA(cmd.Context(), accountID)
			if err != nil {
				return err
			}
			caCert, err := parseCertPEM(ca.Certificate)
			if err != nil {
				return fmt.Errorf("the server's CA certificate: %w", err)
			}
			if err := crl.CheckSignatureFrom(caCert); err != nil {
				return fmt.Errorf("the CRL is not signed by the account's CA: %w", err)
			}
			sum := crlSummary{Issuer: crl.Issuer.String(), ThisUpdate: crl.ThisUpdate, NextUpdate: crl.NextUpdate, Entries: []crlEntry{}}
			if crl.Number != nil {
				sum.Number = crl.Number.String()
			}
			for _, e := range crl.RevokedCertificateEntries {
				sum.Entries = append(sum.Entries, crlEntry{Serial: serialHex(e.SerialNumber), RevokedAt: e.RevocationTime, ReasonCode: e.ReasonCode})
			}
			w := cmd.OutOrStdout()
			switch {
			case file == "-":
				_, err := w.Write(der)
				return err
			case file != "":
				if err := workload.WriteFile(file, der, 0o644, nil); err != nil {
					return err
				}
				if flags.output == outputJSON {
					return writeJSON(w, sum)
				}
				fmt.Fprintf(w, "Wrote the CRL (%d revoked certificates, next update %s) to %s\n", len(sum.Entries), fmtTime(sum.NextUpdate), file)
				return nil
			case flags.output == outputJSON:
				return writeJSON(w, sum)
			}
			if err := writeObject(w, flags.output, sum, []field{
				{"Issuer", sum.Issuer},
				{"Number", sum.Number},
				{"This update", fmtTime(sum.ThisUpdate)},
				{"Next update", fmtTime(sum.NextUpdate)},
			}); err != nil {
				return err
			}
			fmt.Fprintln(w)
			if len(sum.Entries) == 0 {
				fmt.Fprintln(w, "No revoked certificates.")
				return nil
			}
			return writeCRLEntries(w, sum.Entries)
		},
	}
	cmd.Flags().StringVarP(&file, "file", "f", "", "save the CRL (DER) to FILE instead of showing it; - for stdout")
	return cmd
}

func writeCRLEntries(w io.Writer, entries []crlEntry) error {
	tw := tabwriter.NewWriter(w, 0, 0, 3, ' ', 0)
	fmt.Fprintln(tw, "SERIAL\tREVOKED AT\tREASON")
	for _, e := range entries {
		reason := ""
		if e.ReasonCode != 0 {
			reason = strconv.Itoa(e.ReasonCode)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", cell(e.Serial), cell(fmtTime(e.RevokedAt)), cell(reason))
	}
	return tw.Flush()
}

// serialHex writes a serial number as the API does: the hex of its bytes.
func serialHex(n *big.Int) string {
	if n == nil {
		return ""
	}
	return hex.EncodeToString(n.Bytes())
}

func parseCertPEM(s string) (*x509.Certificate, error) {
	b, _ := pem.Decode([]byte(s))
	if b == nil || b.Type != "CERTIFICATE" {
		return nil, errors.New("not a PEM CERTIFICATE")
	}
	return x509.ParseCertificate(b.Bytes)
}

// keyDescription reads like "ECDSA P-256" or "RSA 2048".
func keyDescription(c *x509.Certificate) string {
	switch k := c.PublicKey.(type) {
	case *ecdsa.PublicKey:
		return "ECDSA " + k.Curve.Params().Name
	case *rsa.PublicKey:
		return "RSA " + strconv.Itoa(k.N.BitLen())
	}
	return c.PublicKeyAlgorithm.String()
}

var certificateStatuses = []string{"issued", "revoked", "expired"}

func newCertCmd(flags *clientFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "cert",
		Aliases: []string{"certs", "certificate", "certificates"},
		Short:   "List, show and revoke the certificates issued to workloads",
	}
	cmd.AddCommand(newCertListCmd(flags), newCertShowCmd(flags), newCertRevokeCmd(flags))
	return cmd
}

func newCertListCmd(flags *clientFlags) *cobra.Command {
	var opts client.CertificateListOptions
	var app string
	cmd := &cobra.Command{
		Use:     "list [--app APP] [--image ID] [--status S]",
		Aliases: []string{"ls"},
		Short:   "List the certificates the account's CA issued",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if opts.Status != "" && !slices.Contains(certificateStatuses, opts.Status) {
				return fmt.Errorf("--status %q: use issued, revoked or expired", opts.Status)
			}
			s, accountID, err := openAccount(cmd, flags)
			if err != nil {
				return err
			}
			if app != "" {
				if opts.AppID, err = appID(cmd.Context(), s.api, accountID, app); err != nil {
					return err
				}
			}
			all, err := client.ListAll(cmd.Context(), s.api.CertificatePages(accountID, opts))
			if err != nil {
				return err
			}
			return writeList(cmd.OutOrStdout(), flags.output, all,
				[]string{"ID", "COMMON NAME", "APP", "IMAGE", "STATUS", "EXPIRES"},
				func(c apiv1.Certificate) []string {
					return []string{c.CertificateID, c.CommonName, c.AppID, c.ImageID, c.Status, fmtTime(c.ExpiresAt)}
				})
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&app, "app", "", "only the certificates of this app (name or ID)")
	fl.StringVar(&opts.ImageID, "image", "", "only the certificates issued for this image ID")
	fl.StringVar(&opts.Status, "status", "", "only certificates in this state: issued, revoked or expired")
	return cmd
}

func newCertShowCmd(flags *clientFlags) *cobra.Command {
	var asPEM bool
	cmd := &cobra.Command{
		Use:   "show ID [--pem]",
		Short: "Show an issued certificate",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, accountID, err := openAccount(cmd, flags)
			if err != nil {
				return err
			}
			c, err := s.api.GetCertificate(cmd.Context(), accountID, args[0])
			if err != nil {
				return err
			}
			if asPEM {
				_, err := io.WriteString(cmd.OutOrStdout(), c.Certificate)
				return err
			}
			return writeCertificate(cmd, flags, c)
		},
	}
	cmd.Flags().BoolVar(&asPEM, "pem", false, "print the certificate in PEM")
	return cmd
}

func newCertRevokeCmd(flags *clientFlags) *cobra.Command {
	var reason string
	cmd := &cobra.Command{
		Use:   "revoke ID [--reason R]",
		Short: "Revoke a certificate: it is on the account's CRL until it expires",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, accountID, err := openAccount(cmd, flags)
			if err != nil {
				return err
			}
			c, err := s.api.RevokeCertificate(cmd.Context(), accountID, args[0], reason)
			if err != nil {
				return err
			}
			return writeCertificate(cmd, flags, c)
		},
	}
	cmd.Flags().StringVar(&reason, "reason", "", "why the certificate is revoked (recorded, and in the audit log)")
	return cmd
}

func writeCertificate(cmd *cobra.Command, flags *clientFlags, c *apiv1.Certificate) error {
	fields := []field{
		{"ID", c.CertificateID},
		{"Common name", c.CommonName},
		{"DNS names", fmtList(c.DNSNames)},
		{"URIs", fmtList(c.URIs)},
		{"App", c.AppID},
		{"Image", c.ImageID},
		{"Serial", c.Serial},
		{"Status", c.Status},
		{"Not before", fmtTime(c.NotBefore)},
		{"Expires", fmtTime(c.ExpiresAt)},
	}
	if c.RevokedAt != nil {
		fields = append(fields, field{"Revoked", fmtTimePtr(c.RevokedAt)}, field{"Revocation reason", c.RevocationReason})
	}
	fields = append(fields, field{"Created", fmtTime(c.CreatedAt)})
	return writeObject(cmd.OutOrStdout(), flags.output, c, fields)
}
