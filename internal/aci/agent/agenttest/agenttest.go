// Package agenttest has the fakes that tests of the ACI agent use in place
// of a confidential container group and of an OpenCCM server: an SEV-SNP
// device whose reports a fake AMD key hierarchy signs, the security
// context file of its host's certificates, and a server (a
// workloadtest.Server) that verifies the evidence with the real SEV-SNP
// verifier and issues certificates.
package agenttest

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"

	"github.com/openccm/openccm/internal/aci/agent"
	"github.com/openccm/openccm/internal/platform/platformtest"
)

// Values of the reports a Device makes, unless told otherwise.
var (
	// ChipID is the fake chip's ID.
	ChipID = [64]byte{0: 0xc1, 1: 0x1d, 63: 0x01}
	// HostData is the policy digest the reports carry.
	HostData = [32]byte{0: 0x5e, 31: 0xcc}
)

// TCB is the fake host's TCB version (Milan layout: bootloader 4, TEE 0,
// SNP 24, microcode 219).
const TCB = uint64(0xdb18000000000004)

// sharedCA is one fake AMD hierarchy for all the tests of a binary: making
// one takes a second or two.
var sharedCA = sync.OnceValues(platformtest.NewSNPCA)

// SNPCA returns the fake AMD key hierarchy that the Devices of this test
// binary use.
func SNPCA() (*platformtest.SNPCA, error) { return sharedCA() }

// Device is a fake SEV-SNP guest device: its reports are signed by the
// VCEK that an SNPCA certifies for the report's chip ID and TCB.
type Device struct {
	CA *platformtest.SNPCA
	// Template is the reports' content; their ReportData is the one
	// asked for.
	Template platformtest.SNPReport
	// Fail, when set, is returned instead of a report.
	Fail error

	calls atomic.Int64
}

// NewDevice returns a Device of the shared SNPCA making reports for ChipID,
// TCB and HostData.
func NewDevice() (*Device, error) {
	ca, err := SNPCA()
	if err != nil {
		return nil, err
	}
	return &Device{CA: ca, Template: platformtest.SNPReport{ChipID: ChipID, TCB: TCB, HostData: HostData}}, nil
}

var _ agent.Device = (*Device)(nil)

// Report signs a report of the template with reportData.
func (d *Device) Report(_ context.Context, reportData [64]byte) ([]byte, error) {
	d.calls.Add(1)
	if d.Fail != nil {
		return nil, d.Fail
	}
	r := d.Template
	r.ReportData = reportData
	raw, _, err := d.CA.SignReport(r)
	return raw, err
}

// Calls returns the number of reports asked for.
func (d *Device) Calls() int { return int(d.calls.Load()) }

// WriteSecurityContext writes, in a new directory under parent, the
// agent.HostAMDCertFile of the device's host: the VCEK of the template's
// chip and TCB, and the ASK and ARK, in the THIM JSON, base64-encoded. It
// returns the directory.
func (d *Device) WriteSecurityContext(parent string) (string, error) {
	_, vcek, err := d.CA.SignReport(d.Template)
	if err != nil {
		return "", err
	}
	pemOf := func(der []byte) string {
		return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
	}
	js, err := json.Marshal(map[string]string{
		"vcekCert":         pemOf(vcek.Raw),
		"tcbm":             fmt.Sprintf("%016X", d.Template.TCB),
		"certificateChain": pemOf(d.CA.ASK().Raw) + pemOf(d.CA.ARK().Raw),
		"cacheControl":     "86400",
	})
	if err != nil {
		return "", err
	}
	dir, err := os.MkdirTemp(parent, "security-context-")
	if err != nil {
		return "", err
	}
	b := base64.StdEncoding.EncodeToString(js)
	if err := os.WriteFile(filepath.Join(dir, agent.HostAMDCertFile), []byte(b), 0o644); err != nil {
		return "", err
	}
	return dir, nil
}
