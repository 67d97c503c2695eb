package runtime

import "context"

// Attester produces AWS Nitro attestation documents: the Nitro Security
// Module inside an enclave (NSM), a fake Nitro CA in tests.
type Attester interface {
	// AttestationDocument returns a signed attestation document (a
	// COSE_Sign1, as /dev/nsm returns it) whose user_data is userData.
	AttestationDocument(ctx context.Context, userData []byte) ([]byte, error)
}
