package agenttest

import (
	"encoding/hex"
	"testing"

	"github.com/openccm/openccm/internal/platform"
	"github.com/openccm/openccm/internal/platform/sevsnp"
	"github.com/openccm/openccm/internal/workload/workloadtest"
)

// The IDs a Server knows.
const (
	AccountID = workloadtest.AccountID
	AppID     = workloadtest.AppID
)

// Server is the fake OpenCCM server of the workload agents' tests. Its
// TLSCertificatePEM is the value of agent.EnvServerCA, its AccountCAPEM
// the value of agent.EnvAccountCA.
type Server = workloadtest.Server

// NewServer starts a Server, closed when the test ends, that verifies aci
// evidence with the real SEV-SNP verifier trusting the shared SNPCA and
// requires HostData.
func NewServer(t testing.TB) *Server {
	t.Helper()
	ca, err := SNPCA()
	if err != nil {
		t.Fatal(err)
	}
	v, err := sevsnp.NewVerifier(sevsnp.Config{Platform: platform.ACI, Roots: ca.RootsPEM()})
	if err != nil {
		t.Fatal(err)
	}
	return workloadtest.NewServer(t, workloadtest.Config{
		Verifier: v,
		Check: func(c *platform.Claims) (string, string) {
			if c.HostData != hex.EncodeToString(HostData[:]) {
				return "no_matching_image", "no image has this policy"
			}
			return "", ""
		},
	})
}
