package client

import (
	"context"

	"github.com/openccm/openccm/pkg/apiv1"
)

// Explain asks which image attestation would select for the given
// measurements (or Azure CVM PCRs), and why, without issuing anything.
func (c *Client) Explain(ctx context.Context, accountID string, req apiv1.ExplainRequest) (*apiv1.Explanation, error) {
	var e apiv1.Explanation
	if err := c.post(ctx, path("accounts", accountID, "attest", "explain"), req, &e); err != nil {
		return nil, err
	}
	return &e, nil
}

// Challenge asks for a single-use attestation nonce in an account. The
// route is public: a workload calls it without a token (a client with one
// may call it too; the token is ignored).
func (c *Client) Challenge(ctx context.Context, accountID string) (*apiv1.Challenge, error) {
	var ch apiv1.Challenge
	if err := c.post(ctx, path("attest", "challenge"), apiv1.ChallengeRequest{AccountID: accountID}, &ch); err != nil {
		return nil, err
	}
	return &ch, nil
}

// Attest sends evidence and a CSR and returns the issued certificate. Like
// Challenge it needs no token: the evidence is the workload's credential.
// Rejected evidence is an *Error with Code apiv1.CodeAttestationFailed and
// the reason in Reason. Most workloads call AttestWorkload instead.
func (c *Client) Attest(ctx context.Context, req apiv1.AttestRequest) (*apiv1.AttestResponse, error) {
	var res apiv1.AttestResponse
	if err := c.post(ctx, path("attest"), req, &res); err != nil {
		return nil, err
	}
	return &res, nil
}
