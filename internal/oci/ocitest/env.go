package ocitest

import (
	"os"
	"strings"
	"testing"
)

// External is a registry server outside the test process.
type External struct {
	Host, Username, Password string
}

// ExternalRegistry returns the registry named by CCM_TEST_REGISTRY ("host
// user password", as scripts/ensure-registry.sh prints it: Debian's
// docker-registry with htpasswd authentication). Without it the test is
// skipped, or fails when CCM_REQUIRE_REGISTRY=1 (as in `make test`).
func ExternalRegistry(t testing.TB) External {
	t.Helper()
	f := strings.Fields(os.Getenv("CCM_TEST_REGISTRY"))
	if len(f) != 3 {
		if os.Getenv("CCM_REQUIRE_REGISTRY") == "1" {
			t.Fatal("CCM_REQUIRE_REGISTRY=1 but CCM_TEST_REGISTRY is not \"host user password\" (run scripts/ensure-registry.sh)")
		}
		t.Skip("CCM_TEST_REGISTRY is not set: skipping the test against a docker-registry server")
	}
	return External{Host: f[0], Username: f[1], Password: f[2]}
}
