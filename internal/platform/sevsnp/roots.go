package sevsnp

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/google/go-sev-guest/verify/trust"
)

// productLines are the product lines whose AMD roots go-sev-guest v0.15.0
// embeds, and the only ones its verifier looks roots up for.
var productLines = []string{"Milan", "Genoa", "Turin"}

// trustedRoots returns AMD's roots built into go-sev-guest, plus the extra
// roots in extraPEM, by product line: the form verify.Options.TrustedRoots
// takes. Once TrustedRoots is set the library uses only it, so the built-in
// roots are listed explicitly.
func trustedRoots(extraPEM []byte) (map[string][]*trust.AMDRootCerts, error) {
	roots := map[string][]*trust.AMDRootCerts{}
	for _, line := range productLines {
		r, err := trust.GetDefaultRootCerts(line)
		if err != nil {
			return nil, fmt.Errorf("sevsnp: built-in AMD roots: %w", err)
		}
		roots[line] = append(roots[line], r)
	}
	extra, err := parseRoots(extraPEM)
	if err != nil {
		return nil, err
	}
	for _, r := range extra {
		roots[r.ProductLine] = append(roots[r.ProductLine], r)
	}
	return roots, nil
}

// parseRoots reads extra AMD roots: PEM certificates, each ARK (self-signed,
// common name ARK-<product line>) with the ASK it signed (SEV-<product
// line>), in any order. Every problem is reported, not just the first.
func parseRoots(b []byte) ([]*trust.AMDRootCerts, error) {
	var arks, asks []*x509.Certificate
	var problems []error
	for len(bytes.TrimSpace(b)) > 0 {
		block, rest := pem.Decode(b)
		if block == nil {
			problems = append(problems, errors.New("trailing data that is not PEM"))
			break
		}
		b = rest
		if block.Type != "CERTIFICATE" {
			problems = append(problems, fmt.Errorf("unexpected PEM block %q", block.Type))
			continue
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			problems = append(problems, err)
			continue
		}
		if bytes.Equal(c.RawSubject, c.RawIssuer) && c.CheckSignatureFrom(c) == nil {
			arks = append(arks, c)
		} else {
			asks = append(asks, c)
		}
	}

	lineOf := func(c *x509.Certificate, prefix string) (string, error) {
		line, ok := strings.CutPrefix(c.Subject.CommonName, prefix)
		if !ok || !slices.Contains(productLines, line) {
			return "", fmt.Errorf("certificate %q: want common name %s<%s>", c.Subject.CommonName, prefix, strings.Join(productLines, "|"))
		}
		if !c.BasicConstraintsValid || !c.IsCA {
			return "", fmt.Errorf("certificate %q is not a CA", c.Subject.CommonName)
		}
		return line, nil
	}
	var out []*trust.AMDRootCerts
	used := make([]bool, len(arks))
	for _, ask := range asks {
		line, err := lineOf(ask, "SEV-")
		if err != nil {
			problems = append(problems, err)
			continue
		}
		i := slices.IndexFunc(arks, func(ark *x509.Certificate) bool { return ask.CheckSignatureFrom(ark) == nil })
		if i < 0 {
			problems = append(problems, fmt.Errorf("ASK %q is not signed by any ARK given", ask.Subject.CommonName))
			continue
		}
		used[i] = true
		arkLine, err := lineOf(arks[i], "ARK-")
		if err != nil {
			problems = append(problems, err)
			continue
		}
		if arkLine != line {
			problems = append(problems, fmt.Errorf("ASK %q is signed by ARK %q of another product line", ask.Subject.CommonName, arks[i].Subject.CommonName))
			continue
		}
		out = append(out, &trust.AMDRootCerts{
			ProductLine:  line,
			ProductCerts: &trust.ProductCerts{Ask: ask, Ark: arks[i]},
		})
	}
	for i, ark := range arks {
		if !used[i] {
			problems = append(problems, fmt.Errorf("ARK %q comes without an ASK it signed", ark.Subject.CommonName))
		}
	}
	if err := errors.Join(problems...); err != nil {
		return nil, fmt.Errorf("sevsnp: extra AMD roots: %w", err)
	}
	return out, nil
}
