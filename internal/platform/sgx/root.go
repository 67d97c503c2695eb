package sgx

import (
	"bytes"
	"crypto/sha256"
	"crypto/x509"
	_ "embed"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
)

// intelRootPEM is the Intel SGX Root CA certificate (CN=Intel SGX Root CA,
// ECDSA P-256, valid 2018-05-21 to 2049-12-31), as Intel serves it at
// https://certificates.trustedservices.intel.com/Intel_SGX_Provisioning_Certification_RootCA.pem.
// Every PCK certificate chain and every TCB signing certificate of Intel's
// PCS ends in it.
//
// Intel first issued this root with validity to 2033-05-21 and a path
// length of 0 (fingerprint fc64f807…9404); quotes made with older PCK
// chains still carry that copy. The two certificates have the same subject
// and key, so whatever one signed chains to the other; the current copy is
// the one to pin, since the old one's path length forbids the PCK CA below
// it and it expires in 2033.
//
//go:embed root_intel_sgx.pem
var intelRootPEM []byte

// IntelRootFingerprint is the SHA-256 digest of the DER of the Intel SGX
// Root CA certificate that Intel publishes. NewDCAPVerifier refuses to
// start if the embedded certificate does not have it.
const IntelRootFingerprint = "44a0196b2b99f889b8e149e95b807a350e7424964399e885a7cbb8ccfab674d3"

// IntelRoot returns the Intel SGX Root CA certificate, after checking the
// embedded copy against IntelRootFingerprint.
func IntelRoot() (*x509.Certificate, error) {
	block, rest := pem.Decode(intelRootPEM)
	if block == nil || block.Type != "CERTIFICATE" || len(bytes.TrimSpace(rest)) != 0 {
		return nil, errors.New("sgx: the embedded Intel SGX root is not one PEM certificate")
	}
	sum := sha256.Sum256(block.Bytes)
	if got := hex.EncodeToString(sum[:]); got != IntelRootFingerprint {
		return nil, fmt.Errorf("sgx: the embedded Intel SGX root has fingerprint %s, want %s", got, IntelRootFingerprint)
	}
	c, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("sgx: parsing the embedded Intel SGX root: %w", err)
	}
	return c, nil
}

// parseRoots reads extra trusted roots: each element is one or more PEM
// certificates, or one DER certificate. Every root must be a CA
// certificate. All problems are reported together.
func parseRoots(in [][]byte) ([]*x509.Certificate, error) {
	var out []*x509.Certificate
	var problems []error
	add := func(i int, der []byte) {
		c, err := x509.ParseCertificate(der)
		switch {
		case err != nil:
			problems = append(problems, fmt.Errorf("root %d: %w", i, err))
		case !c.BasicConstraintsValid || !c.IsCA:
			problems = append(problems, fmt.Errorf("root %d (%s) is not a CA certificate", i, c.Subject))
		default:
			out = append(out, c)
		}
	}
	for i, b := range in {
		if !bytes.HasPrefix(bytes.TrimSpace(b), []byte("-----BEGIN")) {
			add(i, b)
			continue
		}
		for len(bytes.TrimSpace(b)) > 0 {
			block, rest := pem.Decode(b)
			if block == nil {
				problems = append(problems, fmt.Errorf("root %d: trailing data that is not PEM", i))
				break
			}
			b = rest
			if block.Type != "CERTIFICATE" {
				problems = append(problems, fmt.Errorf("root %d: unexpected PEM block %q", i, block.Type))
				continue
			}
			add(i, block.Bytes)
		}
	}
	if err := errors.Join(problems...); err != nil {
		return nil, fmt.Errorf("sgx: extra Intel SGX roots: %w", err)
	}
	return out, nil
}
