package agent

import "context"

// Attester produces the agent's evidence: Guest on a confidential ACI
// container group, fakes in tests.
type Attester interface {
	// Evidence returns an SEV-SNP report whose report_data is reportData,
	// with the certificates of the key that signed it.
	Evidence(ctx context.Context, reportData [64]byte) (*Evidence, error)
}

// Evidence is the aci evidence object of the API: the 1184-byte SEV-SNP
// attestation report and the DER certificates of the VCEK that signed it
// and of AMD's ASK and ARK above it. It encodes to JSON as the API wants
// it, each field in standard base64.
type Evidence struct {
	Report []byte `json:"report"`
	VCEK   []byte `json:"vcek"`
	// ASK and ARK are optional: the server trusts its own AMD roots.
	ASK []byte `json:"ask,omitempty"`
	ARK []byte `json:"ark,omitempty"`
}
