package gpu

import (
	"bytes"
	"encoding/json"
	"strings"

	"github.com/openccm/openccm/internal/platform"
)

// Evidence returns the token of the request's evidence object's gpu member,
// {"gpu": {"token": "…"}}. ok is false when there is no gpu member, it is
// null, or its token is absent or empty. An evidence that is not a JSON
// object is evidence_malformed; a gpu member that is not an object, or a
// token that is not a string, is gpu_evidence_missing. Other members of the
// gpu object are ignored.
func Evidence(raw json.RawMessage) (token string, ok bool, err error) {
	var ev map[string]json.RawMessage
	if err := json.Unmarshal(raw, &ev); err != nil || ev == nil {
		return "", false, platform.Reject(platform.ReasonMalformed, "gpu: the evidence is not a JSON object")
	}
	g, present := ev["gpu"]
	if !present || bytes.Equal(bytes.TrimSpace(g), []byte("null")) {
		return "", false, nil
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(g, &obj); err != nil || obj == nil {
		return "", false, missing(`evidence.gpu is not an object; send {"token": "<NVIDIA attestation token>"}`)
	}
	t, present := obj["token"]
	if !present || bytes.Equal(bytes.TrimSpace(t), []byte("null")) {
		return "", false, nil
	}
	if err := json.Unmarshal(t, &token); err != nil {
		return "", false, missing("evidence.gpu.token is not a string: send the JWT, or the detached EAT's JSON text, as a string")
	}
	token = strings.TrimSpace(token)
	return token, token != "", nil
}

// Present checks GPU evidence for an image whose gpu setting is ignored: the
// request's evidence object must have a gpu.token that is syntactically a
// JWT, a detached EAT or the Python SDK's envelope. No signature or claim
// is checked. Failures are Rejected errors with reason
// ReasonGPUEvidenceMissing (or evidence_malformed, see Evidence).
func Present(evidence json.RawMessage) error {
	token, ok, err := Evidence(evidence)
	if err != nil {
		return err
	}
	if !ok {
		return missing("the image requires GPU evidence: send evidence.gpu.token, the token of NVIDIA's attestation service or local verifier")
	}
	if _, err := parseToken(token); err != nil {
		return missing("evidence.gpu.token is not a JWT or an NVIDIA detached EAT: %v", err)
	}
	return nil
}

// missing returns a Rejected error with reason ReasonGPUEvidenceMissing.
func missing(format string, args ...any) error {
	return platform.Reject(ReasonGPUEvidenceMissing, "gpu: "+format, args...)
}
