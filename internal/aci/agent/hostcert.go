package agent

import (
	"bytes"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Where a confidential ACI container finds its host's AMD certificates.
const (
	// EnvSecurityContextDir names the UVM's security context directory,
	// which the guest agent mounts into every container of a confidential
	// container group once the policy is enforced.
	EnvSecurityContextDir = "UVM_SECURITY_CONTEXT_DIR"
	// HostAMDCertFile is the security context's file of the host's AMD
	// certificates: the base64 of the JSON answer of Azure's Trusted
	// Hardware Identity Management (THIM) service for the host,
	// {"vcekCert": PEM, "tcbm": hex, "certificateChain": PEM ASK and ARK,
	// "cacheControl": seconds}.
	HostAMDCertFile = "host-amd-cert-base64"
	// securityContextGlob is where hcsshim puts the directory: used when
	// the variable is unset.
	securityContextGlob = "/security-context-*"
)

// maxHostAMDCert bounds HostAMDCertFile (it holds three certificates).
const maxHostAMDCert = 1 << 20

// HostAMDCert holds the certificates of HostAMDCertFile.
type HostAMDCert struct {
	// VCEK is the certificate of the key that signs the host's reports,
	// for the TCB in TCBM.
	VCEK *x509.Certificate
	// ASK and ARK are AMD's signing key and root, nil when the file lacks
	// them.
	ASK, ARK *x509.Certificate
	// TCBM is the TCB version the VCEK certifies, in hex, as THIM gives it.
	TCBM string
}

// thimCerts is the JSON of HostAMDCertFile, once base64-decoded. Other
// fields are ignored: the file is Azure's, and may grow.
type thimCerts struct {
	VCEKCert         string `json:"vcekCert"`
	TCBM             string `json:"tcbm"`
	CertificateChain string `json:"certificateChain"`
}

// SecurityContextDir returns the UVM's security context directory: the
// value of EnvSecurityContextDir that getenv reads or, when it is unset,
// the one /security-context-* directory.
func SecurityContextDir(getenv func(string) string) (string, error) {
	if d := getenv(EnvSecurityContextDir); d != "" {
		return d, nil
	}
	dirs, err := filepath.Glob(securityContextGlob)
	if err != nil {
		return "", fmt.Errorf("looking for %s: %w", securityContextGlob, err)
	}
	if len(dirs) != 1 {
		return "", fmt.Errorf("%s is not set and %d directories match %s: not a confidential container group?",
			EnvSecurityContextDir, len(dirs), securityContextGlob)
	}
	return dirs[0], nil
}

// ReadHostAMDCert reads and parses HostAMDCertFile in the security context
// directory dir.
func ReadHostAMDCert(dir string) (*HostAMDCert, error) {
	path := filepath.Join(dir, HostAMDCertFile)
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading the host's AMD certificates: %w", err)
	}
	hc, err := ParseHostAMDCert(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return hc, nil
}

// ParseHostAMDCert parses the content of HostAMDCertFile. The certificate
// chain may hold the ASK and the ARK in either order: the ARK is the one
// that is self-issued.
func ParseHostAMDCert(b []byte) (*HostAMDCert, error) {
	if len(b) > maxHostAMDCert {
		return nil, fmt.Errorf("host AMD certificates: larger than %d bytes", maxHostAMDCert)
	}
	// The file is one line of base64; tolerate line breaks all the same.
	js, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(string(b)), ""))
	if err != nil {
		return nil, fmt.Errorf("host AMD certificates: not base64: %w", err)
	}
	var tc thimCerts
	if err := json.Unmarshal(js, &tc); err != nil {
		return nil, fmt.Errorf("host AMD certificates: not the THIM JSON: %w", err)
	}
	vceks, err := parseCertificates([]byte(tc.VCEKCert))
	if err != nil {
		return nil, fmt.Errorf("host AMD certificates: vcekCert: %w", err)
	}
	if len(vceks) != 1 {
		return nil, fmt.Errorf("host AMD certificates: vcekCert holds %d certificates, not 1", len(vceks))
	}
	hc := &HostAMDCert{VCEK: vceks[0], TCBM: tc.TCBM}
	chain, err := parseCertificates([]byte(tc.CertificateChain))
	if err != nil {
		return nil, fmt.Errorf("host AMD certificates: certificateChain: %w", err)
	}
	for _, c := range chain {
		slot, name := &hc.ASK, "ASK"
		if bytes.Equal(c.RawSubject, c.RawIssuer) {
			slot, name = &hc.ARK, "ARK"
		}
		if *slot != nil {
			return nil, fmt.Errorf("host AMD certificates: certificateChain holds two %s certificates", name)
		}
		*slot = c
	}
	return hc, nil
}

// parseCertificates parses the CERTIFICATE blocks of a PEM bundle, and
// fails on anything else in it but white space.
func parseCertificates(b []byte) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	for {
		var block *pem.Block
		block, b = pem.Decode(b)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("PEM block %d is a %s, not a CERTIFICATE", len(certs)+1, block.Type)
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("certificate %d: %w", len(certs)+1, err)
		}
		certs = append(certs, c)
	}
	if len(bytes.TrimSpace(b)) > 0 {
		return nil, errors.New("data that is not PEM")
	}
	return certs, nil
}
