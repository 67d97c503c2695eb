package runtime

import (
	"context"
	"errors"
	"fmt"

	"github.com/hf/nsm"
	"github.com/hf/nsm/request"
)

// NSM is the Attester of the enclave's Nitro Security Module, /dev/nsm.
type NSM struct{}

// AttestationDocument implements Attester. The NSM answers at once, so
// ctx is only checked before asking.
func (NSM) AttestationDocument(ctx context.Context, userData []byte) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	sess, err := nsm.OpenDefaultSession()
	if err != nil {
		return nil, fmt.Errorf("nsm: opening /dev/nsm: %w", err)
	}
	defer sess.Close()
	res, err := sess.Send(&request.Attestation{UserData: userData})
	if err != nil {
		return nil, fmt.Errorf("nsm: attestation request: %w", err)
	}
	if res.Error != "" {
		return nil, fmt.Errorf("nsm: attestation request: %s", res.Error)
	}
	if res.Attestation == nil || len(res.Attestation.Document) == 0 {
		return nil, errors.New("nsm: the answer holds no attestation document")
	}
	return res.Attestation.Document, nil
}
