// Package gpu verifies NVIDIA GPU attestation results: the token that
// NVIDIA's Remote Attestation Service (NRAS), or a local verifier signing
// with a key the server trusts, issues after appraising a confidential GPU's
// evidence. A workload sends it as evidence.gpu.token beside its CPU
// evidence; the package checks its signatures against a configured JSON Web
// Key Set, that it was made for this request's binding, that it is current,
// and that NVIDIA's overall verdict is a pass, and returns the facts it
// states about each GPU.
package gpu

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/openccm/openccm/internal/platform"
)

// Rejection reasons of GPU attestation (the attestation_failed reasons of
// API.md).
const (
	// ReasonGPUEvidenceMissing: the image's gpu setting is ignored or
	// required, and the evidence carries no usable gpu.token.
	ReasonGPUEvidenceMissing = "gpu_evidence_missing"
	// ReasonGPUAttestationFailed: the image's gpu setting is required, and
	// the token does not verify, is not for this request, has expired, or
	// reports a failed attestation.
	ReasonGPUAttestationFailed = "gpu_attestation_failed"
)

// Config configures a Verifier.
type Config struct {
	// JWKS is the JSON Web Key Set whose keys may sign tokens: NVIDIA's
	// NRAS key set (https://nras.attestation.nvidia.com/.well-known/jwks.json)
	// and, for a local verifier, the public key it signs with. LoadJWKS
	// reads and checks such a file.
	JWKS []byte
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
	// Leeway is the clock skew tolerated when judging exp, nbf and iat;
	// it must not be negative. A minute or two is usual.
	Leeway time.Duration
}

// Verifier verifies NVIDIA attestation result tokens. It holds no mutable
// state and is safe for concurrent use.
type Verifier struct {
	keys   keySet
	now    func() time.Time
	leeway time.Duration
}

// NewVerifier returns a Verifier that trusts the keys of c.JWKS. It fails
// when the key set holds no usable public key.
func NewVerifier(c Config) (*Verifier, error) {
	if len(c.JWKS) == 0 {
		return nil, errors.New("gpu: no JWKS configured")
	}
	if c.Leeway < 0 {
		return nil, fmt.Errorf("gpu: leeway %v is negative", c.Leeway)
	}
	keys, err := parseJWKS(c.JWKS)
	if err != nil {
		return nil, fmt.Errorf("gpu: %w", err)
	}
	now := c.Now
	if now == nil {
		now = time.Now
	}
	return &Verifier{keys: keys, now: now, leeway: c.Leeway}, nil
}

// Verify checks the token an image whose gpu setting is required brings:
// a compact JWT, an NVIDIA detached EAT
// ([["JWT", overall], {"GPU-0": device JWT, …}]), or the Python
// attestation SDK's envelope around one. Every JWT must be signed with a
// key of the JWKS named by its kid, with ES384, ES256, RS256 or PS256; the
// overall token's eat_nonce must be hex(binding), its
// x-nvidia-overall-att-result true, and every token current at Now. In a
// detached EAT the overall token's submods must list exactly the device
// tokens sent, each by its SHA-256 digest. Failures are Rejected errors
// with reason ReasonGPUAttestationFailed.
func (v *Verifier) Verify(ctx context.Context, token string, binding [32]byte) (*Result, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("gpu: %w", err)
	}
	t, err := parseToken(token)
	if err != nil {
		return nil, fail("gpu.token is not a JWT or an NVIDIA detached EAT: %v", err)
	}
	now := v.now()

	overall, err := v.verifyJWT(t.overall, now)
	if err != nil {
		return nil, fail("overall token: %v", err)
	}
	oc, err := decodeOverall(overall)
	if err != nil {
		return nil, fail("overall token: %v", err)
	}
	if err := checkBinding(oc.Nonce, binding); err != nil {
		return nil, fail("overall token: %v", err)
	}

	devices, err := v.verifyDevices(t, oc, now, binding)
	if err != nil {
		return nil, err
	}
	r := result(t, oc, devices)
	if err := checkVerdict(oc, r); err != nil {
		return nil, err
	}
	return r, nil
}

// verifyDevices verifies the device tokens of a detached EAT and binds them
// to the overall token through its submods digests. A plain JWT has no
// device tokens: its submods only name the devices.
func (v *Verifier) verifyDevices(t *token, oc *overallClaims, now time.Time, binding [32]byte) ([]Device, error) {
	digests, err := parseSubmods(oc.Submods)
	if err != nil {
		return nil, fail("overall token: %v", err)
	}
	if t.format == FormatJWT {
		devices := make([]Device, 0, len(digests))
		for _, d := range digests {
			devices = append(devices, Device{ID: d.name, Kind: deviceKind(d.name)})
		}
		return devices, nil
	}
	if err := matchSubmods(digests, t.devices); err != nil {
		return nil, fail("%v", err)
	}
	devices := make([]Device, 0, len(t.devices))
	for _, d := range t.devices {
		s, err := v.verifyJWT(d.jwt, now)
		if err != nil {
			return nil, fail("%s token: %v", d.name, err)
		}
		dc, err := decodeDevice(s.payload)
		if err != nil {
			return nil, fail("%s token: %v", d.name, err)
		}
		if dc.Issuer != oc.Issuer {
			return nil, fail("%s token: issuer %q is not the overall token's issuer %q", d.name, dc.Issuer, oc.Issuer)
		}
		// NRAS repeats the nonce in each device token of a passing
		// attestation; the submods digest binds the token either way.
		if dc.Nonce != nil {
			if err := checkBinding(dc.Nonce, binding); err != nil {
				return nil, fail("%s token: %v", d.name, err)
			}
		}
		devices = append(devices, dc.device(d.name))
	}
	return devices, nil
}

// Present is Verify's counterpart for images whose gpu setting is ignored;
// it is the package function Present, which needs no key set.
func (v *Verifier) Present(evidence json.RawMessage) error {
	return Present(evidence)
}

// fail returns a Rejected error with reason ReasonGPUAttestationFailed.
func fail(format string, args ...any) error {
	return platform.Reject(ReasonGPUAttestationFailed, "gpu: "+format, args...)
}
