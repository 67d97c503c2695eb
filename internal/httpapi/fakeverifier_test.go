package httpapi

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"

	"github.com/openccm/openccm/internal/platform"
)

// fakeSNP is a Verifier whose "evidence" states its claims in clear:
// {"measurement","vmpl","host_data","report_data","debug","forged"}. It lets
// the API's attestation flow be tested without hardware or signatures; the
// real verifiers are tested in their packages and end to end.
type fakeSNP struct{ p platform.Platform }

type fakeEvidence struct {
	Measurement string          `json:"measurement"`
	VMPL        int             `json:"vmpl"`
	HostData    string          `json:"host_data"`
	ReportData  string          `json:"report_data"`
	Debug       bool            `json:"debug"`
	Forged      bool            `json:"forged"`
	GPU         json.RawMessage `json:"gpu,omitempty"`
}

func (f fakeSNP) Platform() platform.Platform { return f.p }

func (f fakeSNP) Verify(_ context.Context, ev json.RawMessage, o platform.Options) (*platform.Claims, error) {
	var e fakeEvidence
	if err := json.Unmarshal(ev, &e); err != nil {
		return nil, platform.Reject(platform.ReasonMalformed, "fake: %v", err)
	}
	if e.Forged {
		return nil, platform.Reject(platform.ReasonSignatureInvalid, "fake: the report signature does not verify")
	}
	rd, _ := hex.DecodeString(e.ReportData)
	if o.Binding != nil && !bytes.Equal(rd, o.Binding[:]) {
		return nil, platform.Reject(platform.ReasonBindingMismatch, "fake: report_data is not the binding")
	}
	vmpl := e.VMPL
	return &platform.Claims{Platform: f.p, Measurement: e.Measurement, VMPL: &vmpl, HostData: e.HostData, Debug: e.Debug, ReportData: e.ReportData}, nil
}
