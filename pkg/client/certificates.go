package client

import (
	"context"
	"net/url"

	"github.com/openccm/openccm/pkg/apiv1"
)

// CertificateListOptions selects one page of an account's issued
// certificates, optionally filtered. Empty filters are not sent.
type CertificateListOptions struct {
	ListOptions
	AppID   string
	ImageID string
	Status  string // issued, revoked or expired
}

func (o CertificateListOptions) filter() url.Values {
	q := url.Values{}
	for k, v := range map[string]string{"app_id": o.AppID, "image_id": o.ImageID, "status": o.Status} {
		if v != "" {
			q.Set(k, v)
		}
	}
	return q
}

// GetCA returns the account's CA certificate (PEM). The route is public.
func (c *Client) GetCA(ctx context.Context, accountID string) (*apiv1.CACertificate, error) {
	var ca apiv1.CACertificate
	if err := c.get(ctx, path("accounts", accountID, "ca"), nil, &ca); err != nil {
		return nil, err
	}
	return &ca, nil
}

// GetCRL returns the account's certificate revocation list, DER-encoded, as
// the server sends it (x509.ParseRevocationList reads it). The route is
// public.
func (c *Client) GetCRL(ctx context.Context, accountID string) ([]byte, error) {
	var b []byte
	if err := c.get(ctx, path("accounts", accountID, "ca", "crl"), nil, &b); err != nil {
		return nil, err
	}
	return b, nil
}

// ListCertificates returns one page of the certificates the account's CA
// issued.
func (c *Client) ListCertificates(ctx context.Context, accountID string, opts CertificateListOptions) (*apiv1.List[apiv1.Certificate], error) {
	return list[apiv1.Certificate](ctx, c, path("accounts", accountID, "certificates"), opts.filter(), opts.ListOptions)
}

// CertificatePages adapts ListCertificates with fixed filters to a
// PageFunc, for Items and ListAll.
func (c *Client) CertificatePages(accountID string, opts CertificateListOptions) PageFunc[apiv1.Certificate] {
	return func(ctx context.Context, lo ListOptions) (*apiv1.List[apiv1.Certificate], error) {
		o := opts
		o.ListOptions = lo
		return c.ListCertificates(ctx, accountID, o)
	}
}

// GetCertificate returns one issued certificate.
func (c *Client) GetCertificate(ctx context.Context, accountID, certificateID string) (*apiv1.Certificate, error) {
	var cert apiv1.Certificate
	if err := c.get(ctx, path("accounts", accountID, "certificates", certificateID), nil, &cert); err != nil {
		return nil, err
	}
	return &cert, nil
}

// RevokeCertificate revokes a certificate, with an optional reason, and
// returns it revoked; it is on the account's CRL until it expires.
func (c *Client) RevokeCertificate(ctx context.Context, accountID, certificateID, reason string) (*apiv1.Certificate, error) {
	var cert apiv1.Certificate
	err := c.post(ctx, path("accounts", accountID, "certificates", certificateID, "revoke"), apiv1.RevokeRequest{Reason: reason}, &cert)
	if err != nil {
		return nil, err
	}
	return &cert, nil
}
