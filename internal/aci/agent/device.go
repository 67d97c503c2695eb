package agent

import "context"

// Device returns signed SEV-SNP attestation reports: the guest device
// (SEVGuest), a fake in tests.
type Device interface {
	// Report returns a 1184-byte attestation report, signed by the VCEK,
	// whose report_data is reportData.
	Report(ctx context.Context, reportData [64]byte) ([]byte, error)
}
