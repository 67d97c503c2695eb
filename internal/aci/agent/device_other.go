//go:build !linux

package agent

import (
	"context"
	"errors"
)

// SEVGuest is the SEV-SNP guest device of the container's UVM, which only
// Linux has.
type SEVGuest struct{}

var _ Device = SEVGuest{}

// Report fails: there is no SEV-SNP guest device outside Linux.
func (SEVGuest) Report(context.Context, [64]byte) ([]byte, error) {
	return nil, errors.New("SEV-SNP guest devices exist on Linux only")
}
