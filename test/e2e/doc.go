// Package e2e holds the black-box tests of the ccm binary: they build it,
// start `ccm server` as a subprocess against SQLite and (when
// CCM_TEST_POSTGRES is set) PostgreSQL, and drive it over HTTPS with the Go
// client, raw HTTP requests and the ccm CLI.
//
// Run them with `go test ./test/e2e/`. Environment:
//
//	CCM_TEST_POSTGRES     PostgreSQL URL; each test makes and drops a schema of its own
//	CCM_REQUIRE_POSTGRES  "1": fail instead of skipping when CCM_TEST_POSTGRES is unset
package e2e
