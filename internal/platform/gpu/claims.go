package gpu

import (
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Result is what a verified token states: who issued it, until when it is
// valid, and what NVIDIA's verifier found for each device.
type Result struct {
	// Format is the token's shape: FormatJWT, FormatDetachedEAT or
	// FormatSDKEnvelope.
	Format string `json:"format"`
	// Issuer is the overall token's iss, e.g.
	// https://nras.attestation.nvidia.com.
	Issuer string `json:"issuer"`
	// KeyID is the kid of the key that signed the overall token.
	KeyID string `json:"key_id"`
	// Version is the claims version (x-nvidia-ver), e.g. "2.0" or "3.0".
	Version string `json:"version,omitempty"`
	// Nonce is the token's eat_nonce, lower-case hex: the request's binding.
	Nonce string `json:"nonce"`
	// IssuedAt is the overall token's iat, when it has one.
	IssuedAt *time.Time `json:"issued_at,omitempty"`
	// Expiry is the overall token's exp.
	Expiry time.Time `json:"expires_at"`
	// GPUCount is the number of GPUs the token attests: its device tokens
	// (or, for a plain JWT, the submods) not named SWITCH-n.
	GPUCount int `json:"gpu_count"`
	// Devices are the attested devices, by ID. A plain JWT carries no
	// device claims, so only their IDs are known.
	Devices []Device `json:"devices"`
}

// Device is what a device token states about one GPU (or NVSwitch).
type Device struct {
	// ID is the submodule name: GPU-0, GPU-1, … (SWITCH-0, … for NVSwitches).
	ID string `json:"id"`
	// Kind is "gpu" or "switch".
	Kind string `json:"kind"`
	// UEID is the device's unique ID (decimal), as NVIDIA writes it.
	UEID string `json:"ueid,omitempty"`
	// Model is the hardware model, e.g. GH100.
	Model string `json:"model,omitempty"`
	// DriverVersion and VBIOSVersion are the versions whose reference
	// measurements (RIMs) the verifier used.
	DriverVersion string `json:"driver_version,omitempty"`
	VBIOSVersion  string `json:"vbios_version,omitempty"`
	// Measurements is measres: "success" when the runtime measurements
	// match the RIMs.
	Measurements string `json:"measurements,omitempty"`
	// SecureBoot is secboot; DebugStatus is dbgstat ("disabled" for a
	// production GPU).
	SecureBoot  *bool  `json:"secure_boot,omitempty"`
	DebugStatus string `json:"debug_status,omitempty"`
	// Warning is x-nvidia-attestation-warning, e.g. a certificate on hold.
	Warning string `json:"warning,omitempty"`
	// Error is NRAS's x-nvidia-error-details for this device, when it
	// could not appraise it.
	Error string `json:"error,omitempty"`
	// Passed reports whether this device's token states a pass: no error,
	// and measres "success" when the token has measres. False for a plain
	// JWT's devices, whose claims were not sent.
	Passed bool `json:"passed"`
}

// Device kinds.
const (
	KindGPU    = "gpu"
	KindSwitch = "switch"
)

// overallClaims are the claims of the overall token that decide.
type overallClaims struct {
	Issuer   string                     `json:"iss"`
	Version  string                     `json:"x-nvidia-ver"`
	Result   *bool                      `json:"x-nvidia-overall-att-result"`
	Nonce    *string                    `json:"eat_nonce"`
	Submods  map[string]json.RawMessage `json:"submods"`
	Expiry   json.Number                `json:"exp"`
	IssuedAt *json.Number               `json:"iat"`
	kid      string
}

// decodeOverall reads the overall token's claims.
func decodeOverall(v *verified) (*overallClaims, error) {
	var c overallClaims
	if err := json.Unmarshal(v.payload, &c); err != nil {
		return nil, fmt.Errorf("claims are malformed: %w", err)
	}
	if c.Result == nil {
		return nil, errors.New("it has no x-nvidia-overall-att-result claim: it is not an overall attestation result")
	}
	c.kid = v.kid
	return &c, nil
}

// deviceClaims are a device token's claims. Descriptive claims are read
// leniently (a number where a string was expected is kept as its text): they
// are shown, not decided on.
type deviceClaims struct {
	Issuer string
	Nonce  *string
	m      map[string]json.RawMessage
}

// decodeDevice reads a device token's claims.
func decodeDevice(payload []byte) (*deviceClaims, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(payload, &m); err != nil {
		return nil, fmt.Errorf("claims are malformed: %w", err)
	}
	c := &deviceClaims{m: m}
	if raw, ok := m["iss"]; ok {
		if err := json.Unmarshal(raw, &c.Issuer); err != nil {
			return nil, errors.New("its iss claim is not a string")
		}
	}
	if raw, ok := m["eat_nonce"]; ok && string(raw) != "null" {
		var n string
		if err := json.Unmarshal(raw, &n); err != nil {
			return nil, errors.New("its eat_nonce claim is not a string")
		}
		c.Nonce = &n
	}
	return c, nil
}

// device returns the facts of a device token.
func (c *deviceClaims) device(id string) Device {
	d := Device{
		ID:            id,
		Kind:          deviceKind(id),
		UEID:          c.text("ueid"),
		Model:         c.text("hwmodel"),
		DriverVersion: c.text("x-nvidia-gpu-driver-version"),
		VBIOSVersion:  c.text("x-nvidia-gpu-vbios-version"),
		Measurements:  c.text("measres"),
		DebugStatus:   c.text("dbgstat"),
		Warning:       c.text("x-nvidia-attestation-warning"),
		Error:         c.errorDetails(),
	}
	if d.Kind == KindSwitch {
		d.VBIOSVersion = c.text("x-nvidia-switch-bios-version")
	}
	var b bool
	if raw, ok := c.m["secboot"]; ok && json.Unmarshal(raw, &b) == nil {
		d.SecureBoot = &b
	}
	_, hasMeasres := c.m["measres"]
	d.Passed = d.Error == "" && (!hasMeasres || d.Measurements == "success")
	return d
}

// text returns a claim as text: a string's value, a number's or boolean's
// literal, "" for null, absent or structured values.
func (c *deviceClaims) text(name string) string {
	raw, ok := c.m[name]
	if !ok {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var n json.Number
	if json.Unmarshal(raw, &n) == nil {
		return n.String()
	}
	var b bool
	if json.Unmarshal(raw, &b) == nil {
		return strconv.FormatBool(b)
	}
	return ""
}

// errorDetails summarizes NRAS's x-nvidia-error-details, present when it
// could not appraise the device (e.g. NONCE_NOT_MATCHING).
func (c *deviceClaims) errorDetails() string {
	raw, ok := c.m["x-nvidia-error-details"]
	if !ok || string(raw) == "null" {
		return ""
	}
	var e struct {
		Code        json.Number `json:"code"`
		Message     string      `json:"message"`
		Description string      `json:"description"`
	}
	if json.Unmarshal(raw, &e) != nil {
		return "unreadable error details"
	}
	parts := slices.DeleteFunc([]string{e.Message, strings.TrimSpace(e.Description)}, func(s string) bool { return s == "" })
	s := strings.Join(parts, ": ")
	if e.Code != "" {
		s = strings.TrimSuffix(fmt.Sprintf("NRAS error %s: %s", e.Code, s), ": ")
	}
	if s == "" {
		return "error details without a message"
	}
	return s
}

// deviceKind tells a GPU from an NVSwitch by its submodule name.
func deviceKind(id string) string {
	if strings.HasPrefix(strings.ToUpper(id), "SWITCH") {
		return KindSwitch
	}
	return KindGPU
}

// submodDigest is one entry of the overall token's submods:
// "GPU-0": ["DIGEST", ["SHA-256", "<hex>"]].
type submodDigest struct {
	name   string
	hash   func() hash.Hash
	digest []byte
}

// parseSubmods reads the overall token's submods, in device order. NVIDIA's
// verifiers write only DIGEST entries: NRAS names the hash "SHA-256", the
// local verifiers "SHA256"; the value is hex.
func parseSubmods(submods map[string]json.RawMessage) ([]submodDigest, error) {
	if len(submods) > MaxDevices {
		return nil, fmt.Errorf("submods lists %d devices, more than the %d allowed", len(submods), MaxDevices)
	}
	out := make([]submodDigest, 0, len(submods))
	for name, raw := range submods {
		if err := checkDeviceName(name); err != nil {
			return nil, fmt.Errorf("submods: %w", err)
		}
		var entry []json.RawMessage
		var typ string
		if json.Unmarshal(raw, &entry) != nil || len(entry) != 2 || json.Unmarshal(entry[0], &typ) != nil || typ != "DIGEST" {
			return nil, fmt.Errorf(`submods[%s] is not ["DIGEST", [<hash>, <hex digest>]]`, name)
		}
		var d []string
		if json.Unmarshal(entry[1], &d) != nil || len(d) != 2 {
			return nil, fmt.Errorf(`submods[%s] is not ["DIGEST", [<hash>, <hex digest>]]`, name)
		}
		h, size := digestHash(d[0])
		if h == nil {
			return nil, fmt.Errorf("submods[%s] uses hash %q; SHA-256, SHA-384 and SHA-512 are supported", name, d[0])
		}
		sum, err := hex.DecodeString(d[1])
		if err != nil || len(sum) != size {
			return nil, fmt.Errorf("submods[%s] digest is not %d bytes of hex", name, size)
		}
		out = append(out, submodDigest{name: name, hash: h, digest: sum})
	}
	slices.SortFunc(out, func(a, b submodDigest) int { return compareDeviceNames(a.name, b.name) })
	return out, nil
}

// digestHash returns the hash a submods entry names, and its size.
func digestHash(name string) (func() hash.Hash, int) {
	switch strings.ToUpper(strings.ReplaceAll(name, "-", "")) {
	case "SHA256":
		return sha256.New, sha256.Size
	case "SHA384":
		return sha512.New384, sha512.Size384
	case "SHA512":
		return sha512.New, sha512.Size
	}
	return nil, 0
}

// matchSubmods checks that the device tokens sent are exactly those the
// overall token lists, each hashing (as its compact serialization's ASCII)
// to its listed digest: this binds them to the overall token, as NVIDIA's
// own verifier does.
func matchSubmods(digests []submodDigest, devices []submodJWT) error {
	if len(digests) == 0 {
		return errors.New("overall token: it has no submods, so its device tokens are not bound to it")
	}
	byName := make(map[string]submodJWT, len(devices))
	for _, d := range devices {
		byName[d.name] = d
	}
	for _, sd := range digests {
		d, ok := byName[sd.name]
		if !ok {
			return fmt.Errorf("overall token lists %s in submods, but no %s token was sent", sd.name, sd.name)
		}
		h := sd.hash()
		h.Write([]byte(d.jwt))
		if subtle.ConstantTimeCompare(h.Sum(nil), sd.digest) != 1 {
			return fmt.Errorf("%s token does not match the digest the overall token's submods give for it", sd.name)
		}
		delete(byName, sd.name)
	}
	for _, d := range devices {
		if _, extra := byName[d.name]; extra {
			return fmt.Errorf("%s token is not listed in the overall token's submods", d.name)
		}
	}
	return nil
}

// checkBinding checks that a token's eat_nonce is hex(binding). The hex is
// compared as bytes, so either case is accepted: NRAS echoes the nonce as
// the attester sent it.
func checkBinding(nonce *string, binding [32]byte) error {
	if nonce == nil || *nonce == "" {
		return errors.New("it has no eat_nonce: it is not bound to this request")
	}
	n, err := hex.DecodeString(*nonce)
	if err != nil || len(n) != len(binding) {
		return fmt.Errorf("its eat_nonce is not 64 hex digits; it must be hex(binding) of this request")
	}
	if subtle.ConstantTimeCompare(n, binding[:]) != 1 {
		return errors.New("its eat_nonce is not this request's binding: the GPU was attested for another request")
	}
	return nil
}

// result gathers the facts of a verified token.
func result(t *token, oc *overallClaims, devices []Device) *Result {
	r := &Result{
		Format:  t.format,
		Issuer:  oc.Issuer,
		KeyID:   oc.kid,
		Version: oc.Version,
		Devices: devices,
	}
	if oc.Nonce != nil {
		r.Nonce = strings.ToLower(*oc.Nonce)
	}
	// checkTime has already read both as dates.
	if exp, err := numericDate("exp", oc.Expiry); err == nil {
		r.Expiry = exp.UTC()
	}
	if oc.IssuedAt != nil {
		if iat, err := numericDate("iat", *oc.IssuedAt); err == nil {
			iat = iat.UTC()
			r.IssuedAt = &iat
		}
	}
	for _, d := range devices {
		if d.Kind == KindGPU {
			r.GPUCount++
		}
	}
	return r
}

// checkVerdict requires NVIDIA's overall result to be a pass for at least
// one GPU, and no device token to contradict it.
func checkVerdict(oc *overallClaims, r *Result) error {
	if !*oc.Result {
		msg := "NVIDIA's overall attestation result (x-nvidia-overall-att-result) is false"
		for _, d := range r.Devices {
			if d.Error != "" {
				return fail("%s; %s: %s", msg, d.ID, d.Error)
			}
			if r.Format != FormatJWT && !d.Passed {
				return fail("%s; %s: measurements %q", msg, d.ID, d.Measurements)
			}
		}
		return fail("%s", msg)
	}
	if r.GPUCount == 0 {
		return fail("the token attests no GPU")
	}
	if r.Format == FormatJWT {
		return nil
	}
	for _, d := range r.Devices {
		if !d.Passed {
			reason := d.Error
			if reason == "" {
				reason = fmt.Sprintf("measurements %q", d.Measurements)
			}
			return fail("%s token reports a failure despite a passing overall result: %s", d.ID, reason)
		}
	}
	return nil
}
