package client

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"

	"github.com/openccm/openccm/pkg/apiv1"
)

// bindingLabel prefixes what the binding hashes (internal/attest.BindingLabel).
const bindingLabel = "openccm-attest-v1"

// WorkloadCommonName is the subject common name of the CSRs AttestWorkload
// makes. The server does not use it: the issued certificate's names come
// from the app.
const WorkloadCommonName = "openccm workload"

// Binding returns SHA-256("openccm-attest-v1" || nonce || spki), the value
// a workload's evidence must carry (Nitro user_data, SEV-SNP
// report_data[0:32], …): it ties the evidence to one challenge and to the
// key of the CSR, whose DER SubjectPublicKeyInfo spki is.
//
// It is the server's internal/attest.Binding, written again here because
// pkg/ must not import internal/ packages; a test checks that the two agree.
func Binding(nonce, spki []byte) [32]byte {
	h := sha256.New()
	h.Write([]byte(bindingLabel))
	h.Write(nonce)
	h.Write(spki)
	var b [32]byte
	copy(b[:], h.Sum(nil))
	return b
}

// AttestParams are what AttestWorkload needs.
type AttestParams struct {
	AccountID string
	// AppID, when set, restricts the images the evidence may match to one
	// app's.
	AppID string
	// Platform is the kind of evidence: nitro, sev_snp, aci, sgx or
	// azure_cvm.
	Platform string
	// Key is the workload's key, which the certificate certifies. When nil,
	// a new ECDSA P-256 key is made.
	Key crypto.Signer
	// Evidence asks the hardware for evidence that carries binding, and
	// returns the platform's evidence object (API.md, "Evidence per
	// platform"). Its context also carries the challenge (AttestChallenge).
	Evidence func(ctx context.Context, binding [32]byte) (json.RawMessage, error)
}

// AttestedIdentity is the outcome of a successful attestation: a key and
// the certificate the account's CA issued for it.
type AttestedIdentity struct {
	Key         crypto.Signer
	Certificate *x509.Certificate
	// Chain holds the issuing CA certificates, from the leaf's issuer up.
	Chain    []*x509.Certificate
	Response *apiv1.AttestResponse
}

type challengeKey struct{}

// AttestChallenge returns the challenge being answered, from the context
// that AttestWorkload passes to AttestParams.Evidence: for evidence sources
// that want the nonce itself.
func AttestChallenge(ctx context.Context) (*apiv1.Challenge, bool) {
	ch, ok := ctx.Value(challengeKey{}).(*apiv1.Challenge)
	return ch, ok
}

// AttestWorkload runs the workload side of attestation: it asks for a
// challenge, makes a CSR for p.Key (CN "openccm workload"), computes the
// binding of the nonce and the key, gets evidence carrying it from
// p.Evidence, sends it, and parses the certificate issued. It needs no
// token. A rejection is an *Error with Code apiv1.CodeAttestationFailed and
// the reason in Reason; the nonce is spent either way.
func (c *Client) AttestWorkload(ctx context.Context, p AttestParams) (*AttestedIdentity, error) {
	switch {
	case p.AccountID == "":
		return nil, errors.New("client: attest: no account ID")
	case p.Platform == "":
		return nil, errors.New("client: attest: no platform")
	case p.Evidence == nil:
		return nil, errors.New("client: attest: no Evidence function")
	}
	key := p.Key
	if key == nil {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return nil, fmt.Errorf("client: attest: generating a key: %w", err)
		}
		key = k
	}
	csrDER, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
		Subject: pkix.Name{CommonName: WorkloadCommonName},
	}, key)
	if err != nil {
		return nil, fmt.Errorf("client: attest: making the CSR: %w", err)
	}
	csr, err := x509.ParseCertificateRequest(csrDER)
	if err != nil {
		return nil, fmt.Errorf("client: attest: making the CSR: %w", err)
	}

	ch, err := c.Challenge(ctx, p.AccountID)
	if err != nil {
		return nil, fmt.Errorf("challenge: %w", err)
	}
	nonce, err := base64.StdEncoding.DecodeString(ch.Nonce)
	if err != nil || len(nonce) == 0 {
		return nil, fmt.Errorf("client: attest: the server's nonce %q is not base64", ch.Nonce)
	}
	binding := Binding(nonce, csr.RawSubjectPublicKeyInfo)

	evidence, err := p.Evidence(context.WithValue(ctx, challengeKey{}, ch), binding)
	if err != nil {
		return nil, fmt.Errorf("evidence: %w", err)
	}
	evidence = bytes.TrimSpace(evidence)
	if len(evidence) == 0 || evidence[0] != '{' || !json.Valid(evidence) {
		return nil, errors.New("evidence: not a JSON object")
	}

	res, err := c.Attest(ctx, apiv1.AttestRequest{
		AccountID: p.AccountID, AppID: p.AppID, Platform: p.Platform, Nonce: ch.Nonce,
		CSR:      string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: csrDER})),
		Evidence: evidence,
	})
	if err != nil {
		return nil, fmt.Errorf("attest: %w", err)
	}
	id := &AttestedIdentity{Key: key, Response: res}
	if id.Certificate, err = parseCertificatePEM(res.Certificate); err != nil {
		return nil, fmt.Errorf("client: attest: the issued certificate: %w", err)
	}
	if pub, ok := key.Public().(interface{ Equal(crypto.PublicKey) bool }); !ok || !pub.Equal(id.Certificate.PublicKey) {
		return nil, errors.New("client: attest: the issued certificate is not for the workload's key")
	}
	for i, s := range res.Chain {
		cert, err := parseCertificatePEM(s)
		if err != nil {
			return nil, fmt.Errorf("client: attest: chain certificate %d: %w", i, err)
		}
		id.Chain = append(id.Chain, cert)
	}
	return id, nil
}

// KeyPEM returns the key as a PKCS #8 "PRIVATE KEY" PEM block.
func (id *AttestedIdentity) KeyPEM() ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(id.Key)
	if err != nil {
		return nil, fmt.Errorf("client: encoding the key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// CertificatePEM returns the certificate then the chain, PEM-encoded: the
// form TLS servers take.
func (id *AttestedIdentity) CertificatePEM() []byte {
	var b bytes.Buffer
	for _, c := range append([]*x509.Certificate{id.Certificate}, id.Chain...) {
		_ = pem.Encode(&b, &pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
	}
	return b.Bytes()
}

// TLSCertificate returns the identity for crypto/tls: the certificate, its
// chain and the key.
func (id *AttestedIdentity) TLSCertificate() tls.Certificate {
	tc := tls.Certificate{PrivateKey: id.Key, Leaf: id.Certificate}
	tc.Certificate = append(tc.Certificate, id.Certificate.Raw)
	for _, c := range id.Chain {
		tc.Certificate = append(tc.Certificate, c.Raw)
	}
	return tc
}

// parseCertificatePEM parses one PEM certificate.
func parseCertificatePEM(s string) (*x509.Certificate, error) {
	b, _ := pem.Decode([]byte(s))
	if b == nil || b.Type != "CERTIFICATE" {
		return nil, errors.New("not a PEM CERTIFICATE")
	}
	return x509.ParseCertificate(b.Bytes)
}
