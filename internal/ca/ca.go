// Package ca is each account's certificate authority: an ECDSA P-256 root
// made with the account, whose private key is stored sealed under the
// master key. It issues the leaf certificates attested workloads receive
// (the app's approved domains as DNS SANs, a SPIFFE URI SAN), records them,
// revokes them, and signs the account's CRL.
package ca

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net/url"
	"sync"
	"time"

	"github.com/openccm/openccm/internal/errs"
	"github.com/openccm/openccm/internal/ids"
	"github.com/openccm/openccm/internal/secret"
	"github.com/openccm/openccm/internal/store"
)

// Validity of an account CA, and of a CRL.
const (
	RootValidity = 10 * 365 * 24 * time.Hour
	CRLValidity  = 24 * time.Hour
	// backdate absorbs clock skew between the server and relying parties.
	backdate = 5 * time.Minute
)

// Config configures a Service.
type Config struct {
	Store store.Store
	Box   *secret.Box
	Log   *slog.Logger
	Now   func() time.Time
}

// Service runs the account CAs.
type Service struct {
	st  store.Store
	box *secret.Box
	log *slog.Logger
	now func() time.Time

	mu      sync.Mutex
	signers map[string]*signer // account ID → opened CA key, cached
}

type signer struct {
	cert *x509.Certificate
	key  crypto.Signer
}

// New returns a Service.
func New(c Config) (*Service, error) {
	if c.Store == nil || c.Box == nil {
		return nil, errors.New("ca: store and secret box are required")
	}
	s := &Service{st: c.Store, box: c.Box, log: c.Log, now: c.Now, signers: map[string]*signer{}}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	return s, nil
}

func keyAAD(accountID string) []byte { return []byte("ca-key:" + accountID) }

func serial() (*big.Int, error) {
	// 128 random bits, positive: RFC 5280 allows up to 20 octets.
	return rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
}

// Create makes the account's root CA in the caller's transaction.
func (s *Service) Create(ctx context.Context, tx store.Store, a *store.Account) error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return fmt.Errorf("ca: generating key: %w", err)
	}
	sn, err := serial()
	if err != nil {
		return err
	}
	now := s.now().UTC()
	spki, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		return err
	}
	skid := sha256.Sum256(spki)
	tmpl := &x509.Certificate{
		SerialNumber: sn,
		Subject: pkix.Name{CommonName: a.Name + " CA", Organization: []string{"OpenCCM"},
			OrganizationalUnit: []string{"account " + a.ID}},
		NotBefore:             now.Add(-backdate),
		NotAfter:              now.Add(RootValidity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
		SubjectKeyId:          skid[:20],
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return fmt.Errorf("ca: signing the root: %w", err)
	}
	pk, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return err
	}
	sealed, err := s.box.Seal(pk, keyAAD(a.ID))
	if err != nil {
		return err
	}
	return tx.CreateCA(ctx, &store.CA{AccountID: a.ID, CertDER: der, KeyCiphertext: sealed, CreatedAt: now.Truncate(time.Microsecond)})
}

// Certificate returns the account's CA certificate; an account made before
// CAs existed gets one now.
func (s *Service) Certificate(ctx context.Context, accountID string) (*x509.Certificate, error) {
	sg, err := s.signer(ctx, accountID)
	if err != nil {
		return nil, err
	}
	return sg.cert, nil
}

// PEM encodes a certificate.
func PEM(c *x509.Certificate) string {
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw}))
}

// signer returns the account's opened CA key, from the cache when it can.
func (s *Service) signer(ctx context.Context, accountID string) (*signer, error) {
	s.mu.Lock()
	sg := s.signers[accountID]
	s.mu.Unlock()
	if sg != nil {
		return sg, nil
	}
	rec, err := s.st.GetCA(ctx, accountID)
	if errors.Is(err, store.ErrNotFound) {
		rec, err = s.ensure(ctx, accountID)
	}
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(rec.CertDER)
	if err != nil {
		return nil, fmt.Errorf("ca: stored certificate of %s: %w", accountID, err)
	}
	pk, err := s.box.Open(rec.KeyCiphertext, keyAAD(accountID))
	if err != nil {
		return nil, fmt.Errorf("ca: opening the key of %s: %w", accountID, err)
	}
	k, err := x509.ParsePKCS8PrivateKey(pk)
	if err != nil {
		return nil, fmt.Errorf("ca: stored key of %s: %w", accountID, err)
	}
	key, ok := k.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("ca: stored key of %s is not a signer", accountID)
	}
	sg = &signer{cert: cert, key: key}
	s.mu.Lock()
	s.signers[accountID] = sg
	s.mu.Unlock()
	return sg, nil
}

// ensure creates the CA of an existing account that has none.
func (s *Service) ensure(ctx context.Context, accountID string) (*store.CA, error) {
	err := s.st.WithTx(ctx, func(tx store.Store) error {
		a, err := tx.GetAccount(ctx, accountID)
		if err != nil {
			return err
		}
		return s.Create(ctx, tx, a)
	})
	if err != nil && !errors.Is(err, store.ErrConflict) {
		if errors.Is(err, store.ErrNotFound) {
			return nil, errs.NotFoundf("no such account")
		}
		return nil, err
	}
	return s.st.GetCA(ctx, accountID)
}

// ParseCSR reads a PEM certificate request, checks its signature, and
// limits its key to ECDSA P-256/P-384 or RSA of 2048 to 8192 bits.
func ParseCSR(pemText string) (*x509.CertificateRequest, error) {
	if len(pemText) > 64<<10 {
		return nil, errs.Invalidf("csr", "is too large for a certificate request")
	}
	b, _ := pem.Decode([]byte(pemText))
	if b == nil || (b.Type != "CERTIFICATE REQUEST" && b.Type != "NEW CERTIFICATE REQUEST") {
		return nil, errs.Invalidf("csr", "must be a PEM \"CERTIFICATE REQUEST\"")
	}
	csr, err := x509.ParseCertificateRequest(b.Bytes)
	if err != nil {
		return nil, errs.Invalidf("csr", "is not a certificate request: %v", err)
	}
	if err := csr.CheckSignature(); err != nil {
		return nil, errs.Invalidf("csr", "signature does not verify with its own key")
	}
	switch k := csr.PublicKey.(type) {
	case *ecdsa.PublicKey:
		if k.Curve != elliptic.P256() && k.Curve != elliptic.P384() {
			return nil, errs.Invalidf("csr", "ECDSA keys must be P-256 or P-384")
		}
	case *rsa.PublicKey:
		if n := k.N.BitLen(); n < 2048 || n > 8192 {
			return nil, errs.Invalidf("csr", "RSA keys must have 2048 to 8192 bits, this one has %d", n)
		}
	default:
		return nil, errs.Invalidf("csr", "the key must be ECDSA P-256/P-384 or RSA (2048 bits or more)")
	}
	return csr, nil
}

// SPIFFEID is the URI SAN of an app's certificates.
func SPIFFEID(trustDomain, appName string) string {
	return "spiffe://" + trustDomain + "/app/" + url.PathEscape(appName)
}

// Issue signs a leaf for an attested instance of app and records it, in
// the caller's transaction. The subject CN is the first approved domain (or
// the app name), the DNS SANs the approved domains, the URI SAN the app's
// SPIFFE ID; validity comes from the app (capped by the CA's).
func (s *Service) Issue(ctx context.Context, tx store.Store, a *store.Account, app *store.App, imageID string, csr *x509.CertificateRequest) (*store.Certificate, *x509.Certificate, error) {
	sg, err := s.signer(ctx, a.ID)
	if err != nil {
		return nil, nil, err
	}
	sn, err := serial()
	if err != nil {
		return nil, nil, err
	}
	now := s.now().UTC().Truncate(time.Second)
	notAfter := now.Add(time.Duration(app.Certificate.ValidityDays) * 24 * time.Hour)
	if notAfter.After(sg.cert.NotAfter) {
		notAfter = sg.cert.NotAfter
	}
	cn := app.Name
	if len(app.ApprovedDomains) > 0 {
		cn = app.ApprovedDomains[0]
	}
	spiffe, err := url.Parse(SPIFFEID(a.TrustDomain, app.Name))
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: sn,
		Subject:      pkix.Name{CommonName: cn},
		DNSNames:     append([]string(nil), app.ApprovedDomains...),
		URIs:         []*url.URL{spiffe},
		NotBefore:    now.Add(-backdate),
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, sg.cert, csr.PublicKey, sg.key)
	if err != nil {
		return nil, nil, fmt.Errorf("ca: signing a leaf: %w", err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, err
	}
	rec := &store.Certificate{
		ID: ids.New(), AccountID: a.ID, AppID: app.ID, ImageID: imageID, Serial: hex.EncodeToString(sn.Bytes()),
		CommonName: cn, DNSNames: tmpl.DNSNames, URIs: []string{spiffe.String()},
		NotBefore: leaf.NotBefore, NotAfter: leaf.NotAfter, Status: store.CertIssued, DER: der, CreatedAt: now,
	}
	if rec.DNSNames == nil {
		rec.DNSNames = []string{}
	}
	if err := tx.CreateCertificate(ctx, rec); err != nil {
		return nil, nil, err
	}
	return rec, leaf, nil
}

// CRL returns the account's DER CRL of revoked, unexpired certificates,
// signed now and valid for CRLValidity.
func (s *Service) CRL(ctx context.Context, accountID string) ([]byte, error) {
	sg, err := s.signer(ctx, accountID)
	if err != nil {
		return nil, err
	}
	now := s.now().UTC()
	revoked, err := s.st.ListRevokedUnexpired(ctx, accountID, now)
	if err != nil {
		return nil, err
	}
	entries := make([]x509.RevocationListEntry, 0, len(revoked))
	for _, c := range revoked {
		n, ok := new(big.Int).SetString(c.Serial, 16)
		if !ok {
			return nil, fmt.Errorf("ca: certificate %s has a bad serial", c.ID)
		}
		at := now
		if c.RevokedAt != nil {
			at = *c.RevokedAt
		}
		entries = append(entries, x509.RevocationListEntry{SerialNumber: n, RevocationTime: at})
	}
	crl, err := x509.CreateRevocationList(rand.Reader, &x509.RevocationList{
		// Seconds since the epoch: increases with every CRL, on every replica.
		Number:                    big.NewInt(now.Unix()),
		ThisUpdate:                now.Add(-backdate),
		NextUpdate:                now.Add(CRLValidity),
		RevokedCertificateEntries: entries,
	}, sg.cert, sg.key)
	if err != nil {
		return nil, fmt.Errorf("ca: signing the CRL: %w", err)
	}
	return crl, nil
}
