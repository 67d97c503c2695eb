// Package verifiers builds the platform verifiers the server and the
// offline `ccm evidence inspect` use, from the vendors' built-in roots plus
// any added with --trust-roots. It is the one place that lists the
// platforms: adding one is a line here.
package verifiers

import (
	"bytes"
	"fmt"
	"time"

	"github.com/openccm/openccm/internal/config"
	"github.com/openccm/openccm/internal/platform"
	"github.com/openccm/openccm/internal/platform/azurecvm"
	"github.com/openccm/openccm/internal/platform/nitro"
	"github.com/openccm/openccm/internal/platform/sevsnp"
	"github.com/openccm/openccm/internal/platform/sgx"
)

// New returns a verifier per supported platform.
func New(roots config.TrustRoots, now func() time.Time) (map[platform.Platform]platform.Verifier, error) {
	n, err := nitro.NewVerifier(nitro.Config{Roots: roots.Nitro, Now: now})
	if err != nil {
		return nil, fmt.Errorf("nitro verifier: %w", err)
	}
	amd := bytes.Join(roots.AMD, []byte("\n"))
	out := map[platform.Platform]platform.Verifier{platform.Nitro: n}
	for _, p := range []platform.Platform{platform.SEVSNP, platform.ACI} {
		v, err := sevsnp.NewVerifier(sevsnp.Config{Platform: p, Roots: amd, Now: now})
		if err != nil {
			return nil, fmt.Errorf("%s verifier: %w", p, err)
		}
		out[p] = v
	}
	var intel [][]byte
	for _, c := range roots.IntelSGX {
		intel = append(intel, c.Raw)
	}
	sv, err := sgx.NewDCAPVerifier(sgx.DCAPConfig{Roots: intel, Now: now})
	if err != nil {
		return nil, fmt.Errorf("sgx verifier: %w", err)
	}
	out[platform.SGX] = sv
	cvm, err := azurecvm.NewVerifier(azurecvm.Config{AMDRoots: amd, Now: now})
	if err != nil {
		return nil, fmt.Errorf("azure_cvm verifier: %w", err)
	}
	out[platform.AzureCVM] = cvm
	return out, nil
}
