package nitro

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	cose "github.com/veraison/go-cose"

	"github.com/openccm/openccm/internal/platform"
)

// maxClockSkew is how far a document's timestamp may be ahead of the
// verifier's clock.
const maxClockSkew = 5 * time.Minute

// maxEvidence bounds the evidence JSON: MaxDocument in base64, and room for
// the member name and white space.
const maxEvidence = MaxDocument/3*4 + 4 + 1<<10

// Config configures a Verifier.
type Config struct {
	// Roots are trusted in addition to the AWS Nitro Enclaves root, which
	// is always trusted: they are for private test infrastructure.
	Roots []*x509.Certificate
	// Now returns the current time; nil means time.Now. Certificates are
	// judged at the document's own time (or Options.Now), so the clock only
	// refuses documents dated in the future.
	Now func() time.Time
}

// Verifier verifies AWS Nitro Enclaves attestation documents. It is safe
// for concurrent use.
type Verifier struct {
	roots *x509.CertPool
	now   func() time.Time
	cache *issuerCache
}

var _ platform.Verifier = (*Verifier)(nil)

// NewVerifier returns a Verifier that trusts the AWS Nitro Enclaves root and
// c.Roots. It fails if the embedded AWS root is not the one AWS publishes.
func NewVerifier(c Config) (*Verifier, error) {
	aws, err := AWSRoot()
	if err != nil {
		return nil, err
	}
	roots := x509.NewCertPool()
	roots.AddCert(aws)
	var errs []error
	for i, r := range c.Roots {
		switch {
		case r == nil:
			errs = append(errs, fmt.Errorf("nitro: root %d is nil", i))
		case !r.IsCA:
			errs = append(errs, fmt.Errorf("nitro: root %d (%s) is not a CA certificate", i, r.Subject))
		default:
			roots.AddCert(r)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	now := c.Now
	if now == nil {
		now = time.Now
	}
	return &Verifier{roots: roots, now: now, cache: newIssuerCache()}, nil
}

// Platform returns platform.Nitro.
func (v *Verifier) Platform() platform.Platform { return platform.Nitro }

// Verify verifies the evidence {"document": "<base64 COSE_Sign1>"}. The
// document may be in standard or URL-safe base64, padded or not: the
// alphabet and the padding are told apart by their characters, so each
// string has one reading.
func (v *Verifier) Verify(ctx context.Context, evidence json.RawMessage, opts platform.Options) (*platform.Claims, error) {
	doc, err := decodeEvidence(evidence)
	if err != nil {
		return nil, err
	}
	return v.VerifyDocument(ctx, doc, opts)
}

// VerifyDocument verifies a raw attestation document, as /dev/nsm returns
// it: its certificate chain to a trusted root at the document's time (or
// opts.Now), its ES384 signature, and, when opts.Binding is set, that its
// user_data is the binding. It returns the document's claims; a debug-mode
// enclave's document (PCR0 all zeros) verifies, with Claims.Debug set.
func (v *Verifier) VerifyDocument(_ context.Context, b []byte, opts platform.Options) (*platform.Claims, error) {
	doc, err := parseDocument(b)
	if err != nil {
		return nil, err
	}
	at, now := doc.timestamp, opts.Now
	if now.IsZero() {
		now = v.now()
	} else {
		at = opts.Now
	}
	if doc.timestamp.After(now.Add(maxClockSkew)) {
		return nil, platform.Reject(platform.ReasonSignatureInvalid,
			"nitro: attestation document is dated %s, after the verification time %s",
			doc.timestamp.Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	}
	if err := verifyChain(doc, v.roots, at, v.cache); err != nil {
		return nil, err
	}
	if err := checkBinding(doc, opts.Binding); err != nil {
		return nil, err
	}
	return claims(doc), nil
}

// verifyChain checks that doc's certificate chains to one of roots at time
// at, with the cabundle as intermediates only (never as roots: the
// bundle's first entry is AWS's root in a real document, but whatever the
// document says is untrusted), and that the certificate's key made the
// COSE signature. cache, which may be nil, skips rebuilding paths already
// verified. Every failure is ReasonSignatureInvalid.
func verifyChain(doc *document, roots *x509.CertPool, at time.Time, cache *issuerCache) error {
	leaf := doc.leaf
	if cache == nil || !cache.verifyLeaf(leaf, doc.cabundle, at) {
		inter := x509.NewCertPool()
		for _, c := range doc.cabundle {
			inter.AddCert(c)
		}
		chains, err := leaf.Verify(x509.VerifyOptions{
			Roots:         roots,
			Intermediates: inter,
			CurrentTime:   at,
			KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
		})
		if err != nil {
			return platform.Reject(platform.ReasonSignatureInvalid,
				"nitro: certificate chain does not verify to a trusted Nitro root at %s: %v", at.UTC().Format(time.RFC3339), err)
		}
		if cache != nil {
			cache.add(chains[0])
		}
	}

	// AWS's specification asks the document's certificate to be an end
	// entity with the digitalSignature key usage; ES384 needs a P-384 key.
	if leaf.IsCA || leaf.KeyUsage&x509.KeyUsageDigitalSignature == 0 {
		return platform.Reject(platform.ReasonSignatureInvalid,
			"nitro: the document's certificate is not a signing certificate (a CA, or no digitalSignature key usage)")
	}
	pub, ok := leaf.PublicKey.(*ecdsa.PublicKey)
	if !ok || pub.Curve != elliptic.P384() {
		return platform.Reject(platform.ReasonSignatureInvalid, "nitro: the document's certificate does not hold an ECDSA P-384 key")
	}
	if err := verifySignature(doc.msg, pub); err != nil {
		return err
	}
	return nil
}

// verifySignature checks the COSE_Sign1 ES384 signature with key.
func verifySignature(msg *cose.Sign1Message, key *ecdsa.PublicKey) error {
	ver, err := cose.NewVerifier(cose.AlgorithmES384, key)
	if err == nil {
		err = msg.Verify(nil, ver)
	}
	if err != nil {
		return platform.Reject(platform.ReasonSignatureInvalid, "nitro: COSE signature does not verify with the document's certificate")
	}
	return nil
}

// claims returns the facts a verified document proves. Debug is PCR0 being
// all zeros: that is what a debug-mode enclave reports, and its memory can
// be read from the parent instance.
func claims(doc *document) *platform.Claims {
	ts := doc.timestamp
	c := &platform.Claims{
		Platform:  platform.Nitro,
		Debug:     allZero(doc.pcrs[0]),
		PCRs:      make(map[int]string, len(doc.pcrs)),
		ModuleID:  doc.moduleID,
		Timestamp: &ts,
		UserData:  hex.EncodeToString(doc.userData),
	}
	for i, p := range doc.pcrs {
		c.PCRs[i] = hex.EncodeToString(p)
	}
	if doc.nonce != nil || doc.publicKey != nil {
		c.Extra = make(map[string]string)
		if doc.nonce != nil {
			c.Extra["nonce"] = hex.EncodeToString(doc.nonce)
		}
		if doc.publicKey != nil {
			c.Extra["public_key"] = hex.EncodeToString(doc.publicKey)
		}
	}
	return c
}

// checkBinding checks that the document's user_data is binding, when there
// is one.
func checkBinding(doc *document, binding *[32]byte) error {
	switch {
	case binding == nil:
		return nil
	case doc.userData == nil:
		return platform.Reject(platform.ReasonBindingMismatch, "nitro: attestation document has no user_data; it must be the request's binding")
	case !bytes.Equal(doc.userData, binding[:]):
		return platform.Reject(platform.ReasonBindingMismatch, "nitro: user_data is not the request's binding")
	}
	return nil
}

// decodeEvidence reads the evidence object {"document": "<base64>"}
// strictly: one member, spelt exactly so, once, and nothing after the
// object.
func decodeEvidence(raw json.RawMessage) ([]byte, error) {
	if len(raw) > maxEvidence {
		return nil, malformed("nitro: evidence is %d bytes, more than the %d KiB allowed", len(raw), maxEvidence>>10)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, malformed(`nitro: evidence is not a JSON object {"document": "<base64>"}`)
	}
	var doc *string
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, malformed("nitro: evidence is not valid JSON")
		}
		name, _ := tok.(string)
		switch {
		case name != "document":
			return nil, malformed(`nitro: evidence has an unknown member %q; it holds only "document"`, short(name))
		case doc != nil:
			return nil, malformed(`nitro: evidence has "document" twice`)
		}
		doc = new(string)
		if err := dec.Decode(doc); err != nil {
			return nil, malformed(`nitro: evidence member "document" is not a string`)
		}
	}
	if _, err := dec.Token(); err != nil { // the closing '}'
		return nil, malformed("nitro: evidence is not valid JSON")
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, malformed("nitro: evidence has more after its object")
	}
	if doc == nil {
		return nil, malformed(`nitro: evidence has no "document"`)
	}
	b, err := decodeBase64(*doc)
	if err != nil {
		return nil, malformed(`nitro: evidence member "document" is not base64: %v`, err)
	}
	return b, nil
}

// decodeBase64 decodes standard or URL-safe base64, padded or not. The
// URL-safe alphabet is the one with '-' or '_', and padding ends in '=', so
// the encoding is read off the string rather than guessed by trying each.
func decodeBase64(s string) ([]byte, error) {
	enc := base64.StdEncoding
	if strings.ContainsAny(s, "-_") {
		enc = base64.URLEncoding
	}
	if !strings.HasSuffix(s, "=") {
		enc = enc.WithPadding(base64.NoPadding)
	}
	return enc.DecodeString(s)
}
