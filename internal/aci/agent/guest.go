package agent

import (
	"bytes"
	"context"
	"errors"
	"fmt"
)

// The SEV-SNP attestation report's layout (AMD SEV-SNP firmware ABI,
// "ATTESTATION_REPORT Structure").
const (
	reportSize       = 0x4A0 // 1184 bytes
	reportDataOffset = 0x50
)

// Guest is the Attester of a confidential ACI container: reports from the
// SEV-SNP device, certificates from the host's AMD certificates in the
// UVM's security context (HostAMDCertFile), read anew for each piece of
// evidence.
type Guest struct {
	// Device makes the reports; nil means SEVGuest{}.
	Device Device
	// SecurityContextDir holds HostAMDCertFile (see SecurityContextDir).
	SecurityContextDir string
}

var _ Attester = (*Guest)(nil)

// Evidence gets a report for reportData and the certificates of its VCEK.
func (g *Guest) Evidence(ctx context.Context, reportData [64]byte) (*Evidence, error) {
	if g.SecurityContextDir == "" {
		return nil, errors.New("aci guest: no security context directory")
	}
	hc, err := ReadHostAMDCert(g.SecurityContextDir)
	if err != nil {
		return nil, fmt.Errorf("aci guest: %w", err)
	}
	dev := g.Device
	if dev == nil {
		dev = SEVGuest{}
	}
	report, err := dev.Report(ctx, reportData)
	if err != nil {
		return nil, fmt.Errorf("aci guest: %w", err)
	}
	if len(report) != reportSize {
		return nil, fmt.Errorf("aci guest: the SEV-SNP report has %d bytes, not %d", len(report), reportSize)
	}
	if !bytes.Equal(report[reportDataOffset:reportDataOffset+64], reportData[:]) {
		return nil, errors.New("aci guest: the SEV-SNP report does not carry the report data asked for")
	}
	ev := &Evidence{Report: report, VCEK: hc.VCEK.Raw}
	if hc.ASK != nil {
		ev.ASK = hc.ASK.Raw
	}
	if hc.ARK != nil {
		ev.ARK = hc.ARK.Raw
	}
	return ev, nil
}
