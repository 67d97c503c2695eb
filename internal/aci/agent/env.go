package agent

import (
	"crypto/x509"
	"errors"
	"fmt"
	"strings"
)

// The environment of the agent container. The ARM template sets these
// variables and the CCE policy pins their values, so a container group
// whose agent would talk to another server, or for another account, does
// not get the policy's host_data.
const (
	// EnvServerURL is the OpenCCM server's base URL, such as
	// https://ccm.example.com:8443.
	EnvServerURL = "CCM_SERVER_URL"
	// EnvAccountID is the account the app belongs to.
	EnvAccountID = "CCM_ACCOUNT_ID"
	// EnvAppID is the app the evidence may match: the server considers
	// the images of that app only.
	EnvAppID = "CCM_APP_ID"
	// EnvServerCA, optional, is the PEM of the certificate (or CA) the
	// server's TLS certificate must chain to, for a self-signed server.
	// Unset, the system roots are trusted.
	EnvServerCA = "CCM_SERVER_CA"
	// EnvAccountCA, optional, is the PEM of the account CA: every
	// certificate the server issues must chain to it.
	EnvAccountCA = "CCM_ACCOUNT_CA"
)

// ConfigFromEnv returns a Config whose server, account, app and CA fields
// come from the environment that getenv reads (EnvServerURL and the
// others). All the problems found are reported together, each naming its
// variable. The caller adds the collaborators (Attester, Log, …).
func ConfigFromEnv(getenv func(string) string) (Config, error) {
	var c Config
	var problems []string
	required := func(name string) string {
		v := strings.TrimSpace(getenv(name))
		if v == "" {
			problems = append(problems, name+" is not set")
		}
		return v
	}
	optionalPEM := func(name string) []byte {
		v := strings.TrimSpace(getenv(name))
		if v == "" {
			return nil
		}
		if _, err := certPool([]byte(v)); err != nil {
			problems = append(problems, fmt.Sprintf("%s: %v", name, err))
		}
		return []byte(v)
	}
	c.ServerURL = required(EnvServerURL)
	c.AccountID = required(EnvAccountID)
	c.AppID = required(EnvAppID)
	c.ServerCA = optionalPEM(EnvServerCA)
	c.AccountCA = optionalPEM(EnvAccountCA)
	if len(problems) > 0 {
		return Config{}, fmt.Errorf("aci agent: environment: %s", strings.Join(problems, "; "))
	}
	return c, nil
}

// certPool returns the certificates of a PEM bundle as a pool, or an error
// when it holds none or one does not parse.
func certPool(b []byte) (*x509.CertPool, error) {
	certs, err := parseCertificates(b)
	if err != nil {
		return nil, err
	}
	if len(certs) == 0 {
		return nil, errors.New("holds no PEM certificate")
	}
	pool := x509.NewCertPool()
	for _, c := range certs {
		pool.AddCert(c)
	}
	return pool, nil
}
