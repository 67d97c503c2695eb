package store

import (
	"context"
	"time"
)

// Nonce is an attestation challenge: single use, short-lived. Only its
// SHA-256 is stored.
type Nonce struct {
	Hash      []byte
	AccountID string
	CreatedAt time.Time
	ExpiresAt time.Time
}

// Nonces stores attestation challenges in the database, so that any
// replica can consume a nonce another one issued.
type Nonces interface {
	CreateNonce(ctx context.Context, n *Nonce) error
	// ConsumeNonce deletes the account's unexpired nonce with that hash, in
	// one statement: of any number of concurrent calls, one succeeds and
	// the others get ErrNotFound (as do unknown and expired nonces).
	ConsumeNonce(ctx context.Context, accountID string, hash []byte, now time.Time) error
	DeleteExpiredNonces(ctx context.Context, now time.Time) (int, error)
	// CountNonces counts the account's unexpired nonces.
	CountNonces(ctx context.Context, accountID string, now time.Time) (int, error)
}

// CA is an account's certificate authority.
type CA struct {
	AccountID string
	CertDER   []byte
	// KeyCiphertext is the PKCS#8 private key sealed under the master key.
	KeyCiphertext []byte
	CreatedAt     time.Time
}

// CAs stores account CAs.
type CAs interface {
	// CreateCA inserts ca; ConflictError "cas.account" if the account has one.
	CreateCA(ctx context.Context, ca *CA) error
	GetCA(ctx context.Context, accountID string) (*CA, error)
}

// CertificateStatus is issued or revoked; "expired" is derived at read
// time from NotAfter.
type CertificateStatus string

// The stored certificate statuses.
const (
	CertIssued  CertificateStatus = "issued"
	CertRevoked CertificateStatus = "revoked"
	CertExpired CertificateStatus = "expired" // a filter and a derived status, never stored
)

// Certificate is a leaf certificate the account's CA issued.
type Certificate struct {
	ID               string
	AccountID        string
	AppID            string
	ImageID          string
	Serial           string // hex
	CommonName       string
	DNSNames         []string
	URIs             []string
	NotBefore        time.Time
	NotAfter         time.Time
	Status           CertificateStatus
	RevokedAt        *time.Time
	RevocationReason string
	DER              []byte
	CreatedAt        time.Time
}

// CertificateFilter narrows ListCertificates. Status "expired" means issued
// and past NotAfter at Now; "issued" means issued and not yet expired.
type CertificateFilter struct {
	AppID   string
	ImageID string
	Status  CertificateStatus
	Now     time.Time
}

// Certificates stores issued certificates.
type Certificates interface {
	CreateCertificate(ctx context.Context, c *Certificate) error
	GetCertificate(ctx context.Context, accountID, certID string) (*Certificate, error)
	ListCertificates(ctx context.Context, accountID string, f CertificateFilter, p Page) ([]*Certificate, error)
	// RevokeCertificate revokes an issued certificate; ConflictError
	// "certificates.status" when it is already revoked.
	RevokeCertificate(ctx context.Context, accountID, certID string, at time.Time, reason string) error
	// RevokeImageCertificates revokes the image's issued certificates that
	// have not expired at `at`, and returns how many.
	RevokeImageCertificates(ctx context.Context, accountID, imageID string, at time.Time, reason string) (int, error)
	// ListRevokedUnexpired returns the account's revoked certificates whose
	// NotAfter is after now (the CRL's entries).
	ListRevokedUnexpired(ctx context.Context, accountID string, now time.Time) ([]*Certificate, error)
}
