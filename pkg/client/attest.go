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
