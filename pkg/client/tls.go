package client

import (
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
)

// FingerprintMismatchError is returned by a connection to a server whose
// certificate is not the pinned one.
type FingerprintMismatchError struct {
	Want, Got string // hex SHA-256, lower case
}

func (e *FingerprintMismatchError) Error() string {
	return fmt.Sprintf("server certificate fingerprint %s does not match the pinned fingerprint %s", e.Got, e.Want)
}

// Fingerprint returns the hex SHA-256 of a DER certificate, lower case, the
// form Config.Fingerprint takes.
func Fingerprint(der []byte) string {
	sum := sha256.Sum256(der)
	return hex.EncodeToString(sum[:])
}

// ParseFingerprint checks a hex SHA-256 fingerprint, with or without colons
// or spaces, in any case, and returns it in the canonical form.
func ParseFingerprint(s string) (string, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	t = strings.TrimPrefix(t, "sha256:")
	t = strings.NewReplacer(":", "", " ", "").Replace(t)
	b, err := hex.DecodeString(t)
	if err != nil || len(b) != sha256.Size {
		return "", fmt.Errorf("fingerprint %q is not a hex SHA-256 (64 hex digits)", s)
	}
	return t, nil
}

// tlsConfig builds the client's TLS settings.
func tlsConfig(caFile, fingerprint string) (*tls.Config, error) {
	conf := &tls.Config{MinVersion: tls.VersionTLS12}
	if caFile != "" && fingerprint != "" {
		return nil, errors.New("client: a CA file and a fingerprint are exclusive: give one")
	}
	if fingerprint != "" {
		want, err := ParseFingerprint(fingerprint)
		if err != nil {
			return nil, fmt.Errorf("client: %w", err)
		}
		// The pin replaces chain and name verification: the server is
		// trusted because its leaf is exactly the certificate the operator
		// compared out of band.
		conf.InsecureSkipVerify = true
		conf.VerifyConnection = func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return errors.New("server sent no certificate")
			}
			got := Fingerprint(cs.PeerCertificates[0].Raw)
			if subtle.ConstantTimeCompare([]byte(got), []byte(want)) != 1 {
				return &FingerprintMismatchError{Want: want, Got: got}
			}
			return nil
		}
		return conf, nil
	}
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("client: reading CA file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("client: CA file %s holds no PEM certificate", caFile)
		}
		conf.RootCAs = pool
	}
	return conf, nil
}
