// Package api embeds the OpenAPI document of the REST API, served by the
// server at /api/openapi.yaml and checked against the route table in tests.
package api

import _ "embed"

// Spec is api/openapi.yaml.
//
//go:embed openapi.yaml
var Spec []byte
