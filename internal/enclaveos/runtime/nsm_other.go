//go:build !linux

package runtime

import (
	"context"
	"errors"
)

// NSM is the Attester of the enclave's Nitro Security Module, /dev/nsm,
// which only Linux enclaves have.
type NSM struct{}

// AttestationDocument implements Attester: outside Linux it always fails.
func (NSM) AttestationDocument(context.Context, []byte) ([]byte, error) {
	return nil, errors.New("nsm: the Nitro Security Module is only available in a Linux enclave")
}
