package nitro

import (
	"crypto/sha256"
	"crypto/x509"
	_ "embed"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
)

// awsRootPEM is the AWS Nitro Enclaves root certificate (CN=aws.nitro-enclaves,
// ECDSA P-384, valid 2019-10-28 to 2049-10-28), as AWS publishes it in
// https://aws-nitro-enclaves.amazonaws.com/AWS_NitroEnclaves_Root-G1.zip.
//
//go:embed aws_nitro_root.pem
var awsRootPEM []byte

// AWSRootFingerprint is the SHA-256 digest of the AWS Nitro Enclaves root
// certificate's DER, as AWS documents it ("Verifying the root of trust" in
// the Nitro Enclaves user guide). NewVerifier refuses to start if the
// embedded certificate does not have it.
const AWSRootFingerprint = "641a0321a3e244efe456463195d606317ed7cdcc3c1756e09893f3c68f79bb5b"

// AWSRoot returns the AWS Nitro Enclaves root certificate, after checking the
// embedded copy against AWSRootFingerprint.
func AWSRoot() (*x509.Certificate, error) {
	block, rest := pem.Decode(awsRootPEM)
	if block == nil || block.Type != "CERTIFICATE" || len(rest) != 0 {
		return nil, errors.New("nitro: the embedded AWS Nitro root is not one PEM certificate")
	}
	sum := sha256.Sum256(block.Bytes)
	if got := hex.EncodeToString(sum[:]); got != AWSRootFingerprint {
		return nil, fmt.Errorf("nitro: the embedded AWS Nitro root has fingerprint %s, want %s", got, AWSRootFingerprint)
	}
	c, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("nitro: parsing the embedded AWS Nitro root: %w", err)
	}
	return c, nil
}
