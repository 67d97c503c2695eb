package sevsnp

import (
	"testing"

	"github.com/google/go-sev-guest/abi"
	"github.com/google/go-sev-guest/kds"

	"github.com/openccm/openccm/internal/platform"
)

// FuzzParseReport feeds parseReport arbitrary bytes: it must never panic,
// and what it accepts must be a whole report whose facts can be read.
func FuzzParseReport(f *testing.F) {
	for _, s := range loadAzureSamples(f) {
		f.Add(s.report)
	}
	raw, _, err := mustCA(f, testCA).SignReport(baseReport())
	if err != nil {
		f.Fatal(err)
	}
	f.Add(raw)
	f.Add(make([]byte, abi.ReportSize))
	f.Add([]byte{2, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := parseReport(b)
		if err != nil {
			return
		}
		if len(r.raw) != abi.ReportSize || len(r.pb.GetReportData()) != 64 || len(r.pb.GetChipId()) != 64 {
			t.Fatalf("accepted a report of %d bytes with fields of the wrong size", len(b))
		}
		c := claims(platform.SEVSNP, r, r.productLine, r.pb.GetChipId())
		if len(c.Measurement) != 96 || len(c.HostData) != 64 {
			t.Fatalf("claims have measurement %q, host data %q", c.Measurement, c.HostData)
		}
		_ = checkBinding(r, &[32]byte{})
		_ = matchVCEK(r, &kds.Extensions{HWID: make([]byte, 64), TCBVersion: kds.TCBVersion(r.pb.GetReportedTcb())})
	})
}
