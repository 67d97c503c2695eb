package gpu

import (
	"cmp"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// The shapes a token may take; Result.Format names the one sent.
const (
	// FormatJWT is a single compact JWT: the overall result token alone.
	FormatJWT = "jwt"
	// FormatDetachedEAT is NVIDIA's detached EAT bundle, what NRAS returns
	// and the C++ SDK's nvattest prints:
	// [["JWT", "<overall JWT>"], {"GPU-0": "<device JWT>", …}].
	FormatDetachedEAT = "detached_eat"
	// FormatSDKEnvelope is what the Python nv-attestation-sdk's
	// Attestation.get_token() returns: [["JWT", "<SDK JWT>"],
	// {"REMOTE_GPU_CLAIMS": <detached EAT>}]. The SDK signs its own outer
	// JWT with HS256 and a fixed key, so only the detached EAT inside is
	// read.
	FormatSDKEnvelope = "sdk_envelope"
)

// Limits on untrusted tokens. NRAS's detached EAT for eight H100s is about
// 17 KB.
const (
	// MaxToken is the largest token accepted, in bytes.
	MaxToken = 256 << 10
	// MaxDevices is the most device tokens a detached EAT may carry.
	MaxDevices = 64
	// maxDeviceName bounds a submodule name ("GPU-0", "SWITCH-3").
	maxDeviceName = 64
)

// The names under which the Python SDK's envelope holds the GPU verifier's
// detached EAT (the verifier's environment, then _GPU_CLAIMS).
var envelopeKeys = []string{"REMOTE_GPU_CLAIMS", "LOCAL_GPU_CLAIMS"}

// token is a parsed, not yet verified, attestation result token.
type token struct {
	format  string
	overall string      // compact JWT
	devices []submodJWT // detached EAT only; in compareDeviceNames order
}

// submodJWT is one device's token in a detached EAT.
type submodJWT struct {
	name string
	jwt  string
}

// parseToken reads a token's shape without checking any signature.
func parseToken(s string) (*token, error) {
	s = strings.TrimSpace(s)
	switch {
	case s == "":
		return nil, errors.New("it is empty")
	case len(s) > MaxToken:
		return nil, fmt.Errorf("it is %d bytes, more than the %d allowed", len(s), MaxToken)
	case s[0] == '[':
		return parseBundle(s)
	}
	if err := checkCompact(s); err != nil {
		return nil, err
	}
	return &token{format: FormatJWT, overall: s}, nil
}

// parseBundle reads a detached EAT, or the Python SDK's envelope around one.
func parseBundle(s string) (*token, error) {
	overall, submods, err := splitBundle([]byte(s))
	if err != nil {
		return nil, fmt.Errorf("detached EAT: %w", err)
	}
	format := FormatDetachedEAT
	if isEnvelope(submods) {
		inner, err := envelopeBundle(submods)
		if err != nil {
			return nil, fmt.Errorf("SDK envelope: %w", err)
		}
		if overall, submods, err = splitBundle(inner); err != nil {
			return nil, fmt.Errorf("SDK envelope: detached EAT: %w", err)
		}
		format = FormatSDKEnvelope
	}
	if err := checkCompact(overall); err != nil {
		return nil, fmt.Errorf("detached EAT: overall token: %w", err)
	}
	if len(submods) > MaxDevices {
		return nil, fmt.Errorf("detached EAT: %d device tokens, more than the %d allowed", len(submods), MaxDevices)
	}
	t := &token{format: format, overall: overall, devices: make([]submodJWT, 0, len(submods))}
	for name, raw := range submods {
		if err := checkDeviceName(name); err != nil {
			return nil, fmt.Errorf("detached EAT: %w", err)
		}
		var jwt string
		if err := json.Unmarshal(raw, &jwt); err != nil {
			return nil, fmt.Errorf("detached EAT: %s is not a JWT string", name)
		}
		if err := checkCompact(jwt); err != nil {
			return nil, fmt.Errorf("detached EAT: %s: %w", name, err)
		}
		t.devices = append(t.devices, submodJWT{name: name, jwt: jwt})
	}
	slices.SortFunc(t.devices, func(a, b submodJWT) int { return compareDeviceNames(a.name, b.name) })
	return t, nil
}

// compareDeviceNames orders submodule names as people count devices
// (GPU-2 before GPU-10, GPU-… before SWITCH-…): by the name without its
// numeric suffix, then by that number, then by the whole name. Comparing
// such tuples lexicographically is a total order.
func compareDeviceNames(a, b string) int {
	ap, an, aok := splitDeviceName(a)
	bp, bn, bok := splitDeviceName(b)
	return cmp.Or(
		strings.Compare(ap, bp),
		compareBool(aok, bok),
		cmp.Compare(an, bn),
		strings.Compare(a, b),
	)
}

// splitDeviceName splits "GPU-12" into "GPU", 12 and true; a name without
// a numeric suffix is its own prefix.
func splitDeviceName(name string) (prefix string, n uint64, ok bool) {
	i := strings.LastIndexByte(name, '-')
	if i < 0 {
		return name, 0, false
	}
	n, err := strconv.ParseUint(name[i+1:], 10, 32)
	if err != nil {
		return name, 0, false
	}
	return name[:i], n, true
}

// compareBool orders false before true.
func compareBool(a, b bool) int {
	switch {
	case a == b:
		return 0
	case !a:
		return -1
	}
	return 1
}

// splitBundle reads [["JWT", "<jwt>"], {…}]: the overall token (not yet
// checked) and the members of the second element.
func splitBundle(b []byte) (string, map[string]json.RawMessage, error) {
	var bundle []json.RawMessage
	if err := json.Unmarshal(b, &bundle); err != nil {
		return "", nil, errors.New("it is not a JSON array")
	}
	if len(bundle) != 2 {
		return "", nil, fmt.Errorf("it has %d elements; want 2: the overall token and the device tokens", len(bundle))
	}
	var selector []json.RawMessage
	if err := json.Unmarshal(bundle[0], &selector); err != nil || len(selector) != 2 {
		return "", nil, errors.New(`its first element is not ["JWT", "<token>"]`)
	}
	var typ, overall string
	if err := json.Unmarshal(selector[0], &typ); err != nil || typ != "JWT" {
		return "", nil, errors.New(`its first element is not ["JWT", "<token>"]`)
	}
	if err := json.Unmarshal(selector[1], &overall); err != nil {
		return "", nil, errors.New(`its first element is not ["JWT", "<token>"]`)
	}
	var submods map[string]json.RawMessage
	if err := json.Unmarshal(bundle[1], &submods); err != nil || submods == nil {
		return "", nil, errors.New("its second element is not an object of device tokens")
	}
	return overall, submods, nil
}

// isEnvelope reports whether the members are the Python SDK's verifier
// results rather than device JWTs: no verifier names a device so.
func isEnvelope(submods map[string]json.RawMessage) bool {
	for _, k := range envelopeKeys {
		if _, ok := submods[k]; ok {
			return true
		}
	}
	return false
}

// envelopeBundle returns the GPU verifier's detached EAT inside the Python
// SDK's envelope. The SDK stores it either as JSON or as a JSON string
// holding it, depending on the verifier.
func envelopeBundle(submods map[string]json.RawMessage) ([]byte, error) {
	var found []byte
	for _, k := range envelopeKeys {
		raw, ok := submods[k]
		if !ok {
			continue
		}
		if found != nil {
			return nil, fmt.Errorf("it holds both %s and %s", envelopeKeys[0], envelopeKeys[1])
		}
		found = raw
		var s string
		if json.Unmarshal(raw, &s) == nil {
			found = []byte(s)
		}
	}
	return found, nil
}

// checkDeviceName refuses submodule names no verifier writes.
func checkDeviceName(name string) error {
	if name == "" || len(name) > maxDeviceName {
		return fmt.Errorf("device token name %q is empty or longer than %d bytes", name, maxDeviceName)
	}
	for _, r := range name {
		if r < 0x21 || r > 0x7e {
			return fmt.Errorf("device token name %q has a character other than printable ASCII", name)
		}
	}
	return nil
}

// checkCompact checks that s is syntactically a JWS compact serialization
// whose header names an algorithm and whose payload is a JSON object.
func checkCompact(s string) error {
	parts := strings.Split(s, ".")
	if len(parts) != 3 {
		return fmt.Errorf("a JWT has 3 dot-separated parts, this has %d", len(parts))
	}
	header, err := base64.RawURLEncoding.DecodeString(parts[0])
	if err != nil {
		return errors.New("its header is not base64url")
	}
	var h struct {
		Alg string `json:"alg"`
	}
	if err := json.Unmarshal(header, &h); err != nil || h.Alg == "" {
		return errors.New("its header is not a JSON object naming an alg")
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return errors.New("its payload is not base64url")
	}
	var claims map[string]json.RawMessage
	if err := json.Unmarshal(payload, &claims); err != nil || claims == nil {
		return errors.New("its payload is not a JSON object")
	}
	if _, err := base64.RawURLEncoding.DecodeString(parts[2]); err != nil {
		return errors.New("its signature is not base64url")
	}
	return nil
}
