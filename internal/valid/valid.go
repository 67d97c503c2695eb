// Package valid checks the input fields several services share (display
// names, DNS names, labels, paths) and reports the offending field by its
// JSON path, as API errors must.
package valid

import (
	"fmt"
	"path"
	"regexp"
	"sort"
	"strings"
	"unicode"

	"github.com/openccm/openccm/internal/errs"
)

// Name checks a display name: 1..100 characters after trimming, no control
// characters. It returns the trimmed name.
func Name(field, s string) (string, error) {
	n := strings.TrimSpace(s)
	if n == "" {
		return "", errs.Invalidf(field, "is required")
	}
	if len([]rune(n)) > 100 {
		return "", errs.Invalidf(field, "must be at most 100 characters")
	}
	if strings.IndexFunc(n, unicode.IsControl) >= 0 {
		return "", errs.Invalidf(field, "must not contain control characters")
	}
	return n, nil
}

// Text checks free text (descriptions): at most max characters, no NUL.
func Text(field, s string, max int) error {
	if len([]rune(s)) > max {
		return errs.Invalidf(field, "must be at most %d characters", max)
	}
	if strings.ContainsRune(s, 0) {
		return errs.Invalidf(field, "must not contain NUL characters")
	}
	return nil
}

// DNSName checks a DNS name for a certificate: lower-cased, labels of
// a-z 0-9 and '-', a wildcard only as the whole first label of a name with at
// least two more labels (*.example.com). It returns the name lower-cased
// without a trailing dot.
func DNSName(field, s string) (string, error) {
	n := strings.TrimSuffix(strings.ToLower(strings.TrimSpace(s)), ".")
	if n == "" {
		return "", errs.Invalidf(field, "is empty")
	}
	if len(n) > 253 {
		return "", errs.Invalidf(field, "is longer than 253 characters")
	}
	labels := strings.Split(n, ".")
	for i, l := range labels {
		if l == "*" && i == 0 {
			if len(labels) < 3 {
				return "", errs.Invalidf(field, "a wildcard needs at least two labels after it (*.example.com)")
			}
			continue
		}
		if len(l) == 0 || len(l) > 63 {
			return "", errs.Invalidf(field, "%q is not a DNS name: labels are 1 to 63 characters", s)
		}
		if l[0] == '-' || l[len(l)-1] == '-' {
			return "", errs.Invalidf(field, "%q is not a DNS name: a label cannot start or end with '-'", s)
		}
		for _, c := range l {
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
				return "", errs.Invalidf(field, "%q is not a DNS name (allowed: a-z, 0-9, '-', and a leading '*.')", s)
			}
		}
	}
	return n, nil
}

// DNSNames checks a list of DNS names: at most max, no repeats.
func DNSNames(field string, in []string, max int) ([]string, error) {
	if len(in) > max {
		return nil, errs.Invalidf(field, "must have at most %d entries", max)
	}
	out := make([]string, 0, len(in))
	seen := map[string]bool{}
	for i, d := range in {
		f := fmt.Sprintf("%s[%d]", field, i)
		n, err := DNSName(f, d)
		if err != nil {
			return nil, err
		}
		if seen[n] {
			return nil, errs.Invalidf(f, "repeats %s", n)
		}
		seen[n] = true
		out = append(out, n)
	}
	return out, nil
}

var labelKey = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9._/-]{0,62})$`)

// Labels checks key/value labels: at most 64, keys of 1..63 characters
// (A-Z a-z 0-9 . _ / -, starting alphanumeric), values of at most 256
// characters without control characters.
func Labels(field string, m map[string]string) error {
	if len(m) > 64 {
		return errs.Invalidf(field, "must have at most 64 entries")
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if !labelKey.MatchString(k) {
			return errs.Invalidf(field, "key %q must be 1 to 63 characters of A-Z a-z 0-9 . _ / - starting with a letter or digit", k)
		}
		v := m[k]
		if len([]rune(v)) > 256 || strings.IndexFunc(v, unicode.IsControl) >= 0 {
			return errs.Invalidf(field+"."+k, "must be at most 256 characters without control characters")
		}
	}
	return nil
}

// AbsPath checks an optional absolute file path (empty is allowed).
func AbsPath(field, p string) error {
	if p == "" {
		return nil
	}
	if len(p) > 4096 || strings.ContainsRune(p, 0) || strings.IndexFunc(p, unicode.IsControl) >= 0 {
		return errs.Invalidf(field, "is not a usable path")
	}
	if !path.IsAbs(p) {
		return errs.Invalidf(field, "must be an absolute path")
	}
	return nil
}
