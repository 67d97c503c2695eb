package gpu_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/openccm/openccm/internal/errs"
	"github.com/openccm/openccm/internal/platform"
	"github.com/openccm/openccm/internal/platform/gpu"
	"github.com/openccm/openccm/internal/platform/platformtest"
)

// now is the pinned clock of these tests.
var now = time.Date(2026, 6, 29, 2, 8, 3, 0, time.UTC)

var binding = [32]byte{0x08, 0x0c, 0x40, 0x5c, 0xe6, 0x78, 0x9e, 0x17, 31: 0x4e}

func newVerifier(t testing.TB, jwks []byte) *gpu.Verifier {
	t.Helper()
	v, err := gpu.NewVerifier(gpu.Config{JWKS: jwks, Now: func() time.Time { return now }, Leeway: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// wantReject checks that err is a Rejected error with the given reason whose
// message names the verifier and contains msg.
func wantReject(t *testing.T, err error, reason, msg string) {
	t.Helper()
	if err == nil {
		t.Fatalf("accepted; want a %s rejection", reason)
	}
	if errs.KindOf(err) != errs.Rejected {
		t.Errorf("kind = %v, want rejected (%v)", errs.KindOf(err), err)
	}
	if r := platform.ReasonOf(err); r != reason {
		t.Errorf("reason = %q, want %q (%v)", r, reason, err)
	}
	if !strings.HasPrefix(err.Error(), "gpu: ") || !strings.Contains(err.Error(), msg) {
		t.Errorf("error = %q, want it to start with \"gpu: \" and contain %q", err, msg)
	}
}

func TestVerifyAccepts(t *testing.T) {
	g := platformtest.NewGPU(t)
	v := newVerifier(t, g.JWKS())
	at := platformtest.GPUAt(now)

	tests := []struct {
		name       string
		opts       []platformtest.GPUOption
		format     string
		gpus       int
		withClaims bool
	}{
		{"accepts NRAS's detached EAT for one GPU", nil, gpu.FormatDetachedEAT, 1, true},
		{"accepts a detached EAT for eight GPUs", []platformtest.GPUOption{platformtest.GPUDevices(8)}, gpu.FormatDetachedEAT, 8, true},
		{"lists twelve GPUs in numeric order", []platformtest.GPUOption{platformtest.GPUDevices(12)}, gpu.FormatDetachedEAT, 12, true},
		{"accepts the overall token alone as a plain JWT", []platformtest.GPUOption{platformtest.GPUPlainJWT()}, gpu.FormatJWT, 1, false},
		{"accepts the Python SDK's envelope, reading the NRAS bundle inside", []platformtest.GPUOption{platformtest.GPUSDKEnvelope()}, gpu.FormatSDKEnvelope, 1, true},
		{"accepts an upper-case eat_nonce", []platformtest.GPUOption{platformtest.GPUUpperCaseNonce()}, gpu.FormatDetachedEAT, 1, true},
		{"accepts a token that expired less than the leeway ago", []platformtest.GPUOption{platformtest.GPUAt(now.Add(-time.Hour - 30*time.Second))}, gpu.FormatDetachedEAT, 1, true},
		{"accepts a token issued less than the leeway ahead of the clock", []platformtest.GPUOption{platformtest.GPUAt(now.Add(30 * time.Second))}, gpu.FormatDetachedEAT, 1, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tok := g.Token(binding, append([]platformtest.GPUOption{at}, tc.opts...)...)
			r, err := v.Verify(context.Background(), tok, binding)
			if err != nil {
				t.Fatal(err)
			}
			if r.Format != tc.format || r.GPUCount != tc.gpus || len(r.Devices) != tc.gpus {
				t.Errorf("format %q, %d GPUs, %d devices; want %q, %d", r.Format, r.GPUCount, len(r.Devices), tc.format, tc.gpus)
			}
			if r.Issuer != platformtest.GPUIssuer || r.KeyID != g.KeyID() || r.Version != "2.0" {
				t.Errorf("issuer %q, kid %q, version %q", r.Issuer, r.KeyID, r.Version)
			}
			if r.Nonce != hex.EncodeToString(binding[:]) {
				t.Errorf("nonce = %q, want hex(binding) in lower case", r.Nonce)
			}
			if r.IssuedAt == nil || r.Expiry.Sub(*r.IssuedAt) != time.Hour {
				t.Errorf("issued %v, expires %v; want an hour's validity", r.IssuedAt, r.Expiry)
			}
			for i, d := range r.Devices {
				if want := fmt.Sprintf("GPU-%d", i); d.ID != want || d.Kind != gpu.KindGPU {
					t.Errorf("device %d is %q (%s), want %s", i, d.ID, d.Kind, want)
				}
				if !tc.withClaims {
					if d.Passed || d.Model != "" {
						t.Errorf("a plain JWT's device %s shows claims: %+v", d.ID, d)
					}
					continue
				}
				if !d.Passed || d.Model != "GH100" || d.DriverVersion != "595.71.05" || d.VBIOSVersion != "96.00.D9.00.02" ||
					d.Measurements != "success" || d.SecureBoot == nil || !*d.SecureBoot || d.DebugStatus != "disabled" || d.UEID == "" {
					t.Errorf("device %s: %+v", d.ID, d)
				}
			}
		})
	}
}

func TestVerifyRejects(t *testing.T) {
	g := platformtest.NewGPU(t)
	v := newVerifier(t, g.JWKS())
	at := platformtest.GPUAt(now)
	other := binding
	other[31] ^= 1

	tests := []struct {
		name    string
		token   string
		binding [32]byte
		want    string
	}{
		{"rejects a token whose overall result is false",
			g.Token(binding, at, platformtest.GPUResultFalse()), binding,
			`NVIDIA's overall attestation result (x-nvidia-overall-att-result) is false; GPU-0: measurements "fail"`},
		{"rejects a plain JWT whose overall result is false",
			g.Token(binding, at, platformtest.GPUResultFalse(), platformtest.GPUPlainJWT()), binding,
			"x-nvidia-overall-att-result) is false"},
		{"rejects an expired token",
			g.Token(binding, at, platformtest.GPUExpired()), binding,
			"overall token: it expired at 2026-06-29T01:08:03Z"},
		{"rejects a token issued in the future",
			g.Token(binding, at, platformtest.GPUNotYetValid()), binding,
			"overall token: its nbf 2026-06-29T03:08:03Z is in the future"},
		{"rejects a token made for another request's nonce",
			g.Token(binding, at, platformtest.GPUWrongNonce()), binding,
			"overall token: its eat_nonce is not this request's binding"},
		{"rejects a genuine token replayed for another binding",
			g.Token(binding, at), other,
			"overall token: its eat_nonce is not this request's binding"},
		{"rejects a wrong nonce inside the SDK envelope",
			g.Token(binding, at, platformtest.GPUWrongNonce(), platformtest.GPUSDKEnvelope()), binding,
			"its eat_nonce is not this request's binding"},
		{"rejects a token signed with a key the JWKS does not hold",
			g.Token(binding, at, platformtest.GPUUnknownKID()), binding,
			`overall token: no key with kid "nv-eat-kid-fake-unknown" in the configured JWKS`},
		{"rejects a token whose header has no kid",
			g.Token(binding, at, platformtest.GPUNoKID()), binding,
			"overall token: its header has no kid"},
		{"rejects an unsigned token (alg none)",
			g.Token(binding, at, platformtest.GPUAlgNone()), binding,
			`overall token: signature algorithm "none" is not allowed`},
		{"rejects an HMAC-signed token, as the Python SDK's local verifier makes",
			g.Token(binding, at, platformtest.GPUHS256()), binding,
			`overall token: signature algorithm "HS256" is not allowed`},
		{"rejects a token whose signature does not verify",
			g.Token(binding, at, platformtest.GPUBadSignature()), binding,
			"overall token: ES384 signature does not verify with the JWKS key " + `"` + g.KeyID() + `"`},
		{"rejects a device token that does not match its submods digest",
			g.Token(binding, at, platformtest.GPUDevices(2), platformtest.GPUBadDigest()), binding,
			"GPU-0 token does not match the digest the overall token's submods give for it"},
		{"rejects a detached EAT missing a device token that submods lists",
			g.Token(binding, at, platformtest.GPUMissingDevice()), binding,
			"overall token lists GPU-1 in submods, but no GPU-1 token was sent"},
		{"rejects a device token that submods does not list",
			g.Token(binding, at, platformtest.GPUExtraDevice()), binding,
			"GPU-1 token is not listed in the overall token's submods"},
		{"rejects a device token that reports a failure under a passing overall result",
			g.Token(binding, at, platformtest.GPUDeviceFails()), binding,
			`GPU-0 token reports a failure despite a passing overall result: measurements "fail"`},
		{"rejects a device token presented as the overall token",
			deviceToken(t, g.Token(binding, at)), binding,
			"overall token: it has no x-nvidia-overall-att-result claim"},
		{"rejects a token that is neither a JWT nor a detached EAT",
			"not a token", binding,
			"gpu.token is not a JWT or an NVIDIA detached EAT: a JWT has 3 dot-separated parts, this has 1"},
		{"rejects an empty token",
			" \n", binding,
			"gpu.token is not a JWT or an NVIDIA detached EAT: it is empty"},
		{"rejects a token signed by another fake NRAS",
			platformtest.NewGPU(t).Token(binding, at), binding,
			"no key with kid"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := v.Verify(context.Background(), tc.token, tc.binding)
			if r != nil {
				t.Errorf("returned a result with the error: %+v", r)
			}
			wantReject(t, err, gpu.ReasonGPUAttestationFailed, tc.want)
		})
	}
}

// deviceToken returns GPU-0's JWT from a detached EAT.
func deviceToken(t *testing.T, eat string) string {
	t.Helper()
	var bundle []json.RawMessage
	var devices map[string]string
	if err := json.Unmarshal([]byte(eat), &bundle); err != nil || len(bundle) != 2 {
		t.Fatalf("not a detached EAT: %v", err)
	}
	if err := json.Unmarshal(bundle[1], &devices); err != nil {
		t.Fatal(err)
	}
	return devices["GPU-0"]
}

// localToken signs an overall result as a local verifier with its own key
// could: a plain JWT listing one GPU in submods.
func localToken(t *testing.T, alg jose.SignatureAlgorithm, key any, kid string, claims map[string]any) string {
	t.Helper()
	c := map[string]any{
		"sub":                         "NVIDIA-PLATFORM-ATTESTATION",
		"iss":                         "NVAT-LOCAL-VERIFIER",
		"x-nvidia-ver":                "3.0",
		"x-nvidia-overall-att-result": true,
		"eat_nonce":                   hex.EncodeToString(binding[:]),
		"submods":                     map[string]any{"GPU-0": []any{"DIGEST", []string{"SHA256", strings.Repeat("ab", sha256.Size)}}},
		"iat":                         now.Unix(),
		"exp":                         now.Add(time.Hour).Unix(),
	}
	for k, v := range claims {
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
	}
	payload, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key}, (&jose.SignerOptions{}).WithHeader("kid", kid))
	if err != nil {
		t.Fatal(err)
	}
	jws, err := signer.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	s, err := jws.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// jwks encodes public keys as a key set.
func jwks(t testing.TB, keys ...jose.JSONWebKey) []byte {
	t.Helper()
	b, err := json.Marshal(jose.JSONWebKeySet{Keys: keys})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestVerifyLocalVerifierKeys(t *testing.T) {
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	p256, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	v := newVerifier(t, jwks(t,
		jose.JSONWebKey{Key: &rsaKey.PublicKey, KeyID: "rsa"},
		jose.JSONWebKey{Key: &rsaKey.PublicKey, KeyID: "rsa-pss-only", Algorithm: string(jose.PS256)},
		jose.JSONWebKey{Key: &p256.PublicKey, KeyID: "p256", Use: "sig"},
	))

	for _, tc := range []struct {
		name string
		alg  jose.SignatureAlgorithm
		key  any
		kid  string
	}{
		{"accepts RS256", jose.RS256, rsaKey, "rsa"},
		{"accepts PS256", jose.PS256, rsaKey, "rsa"},
		{"accepts ES256", jose.ES256, p256, "p256"},
		{"accepts PS256 with a key whose alg is PS256", jose.PS256, rsaKey, "rsa-pss-only"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := v.Verify(context.Background(), localToken(t, tc.alg, tc.key, tc.kid, nil), binding)
			if err != nil {
				t.Fatal(err)
			}
			if r.Format != gpu.FormatJWT || r.GPUCount != 1 || r.Issuer != "NVAT-LOCAL-VERIFIER" || r.Version != "3.0" {
				t.Errorf("result %+v", r)
			}
		})
	}

	for _, tc := range []struct {
		name  string
		token string
		want  string
	}{
		{"rejects an algorithm outside the allowed set", localToken(t, jose.RS512, rsaKey, "rsa", nil),
			`signature algorithm "RS512" is not allowed`},
		{"rejects RS256 with a key the JWKS restricts to PS256", localToken(t, jose.RS256, rsaKey, "rsa-pss-only", nil),
			"RS256 signature does not verify"},
		{"rejects a token without exp", localToken(t, jose.ES256, p256, "p256", map[string]any{"exp": nil}),
			"it has no exp claim"},
		{"rejects an exp that is not a date", localToken(t, jose.ES256, p256, "p256", map[string]any{"exp": "soon"}),
			"claims are malformed"},
		{"rejects a token without eat_nonce", localToken(t, jose.ES256, p256, "p256", map[string]any{"eat_nonce": nil}),
			"it has no eat_nonce"},
		{"rejects an eat_nonce that is not 32 bytes of hex", localToken(t, jose.ES256, p256, "p256", map[string]any{"eat_nonce": "080c405c"}),
			"its eat_nonce is not 64 hex digits"},
		{"rejects an overall result that is the string \"true\"", localToken(t, jose.ES256, p256, "p256", map[string]any{"x-nvidia-overall-att-result": "true"}),
			"claims are malformed"},
		{"rejects a token that attests no GPU", localToken(t, jose.ES256, p256, "p256", map[string]any{"submods": nil}),
			"the token attests no GPU"},
		{"rejects a submods entry that is not a digest", localToken(t, jose.ES256, p256, "p256", map[string]any{"submods": map[string]any{"GPU-0": []any{"JWT", "x.y.z"}}}),
			`submods[GPU-0] is not ["DIGEST", [<hash>, <hex digest>]]`},
		{"rejects a submods digest of an unknown hash", localToken(t, jose.ES256, p256, "p256", map[string]any{"submods": map[string]any{"GPU-0": []any{"DIGEST", []string{"MD5", "00"}}}}),
			`submods[GPU-0] uses hash "MD5"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := v.Verify(context.Background(), tc.token, binding)
			wantReject(t, err, gpu.ReasonGPUAttestationFailed, tc.want)
		})
	}
}

func TestVerifyHonoursContext(t *testing.T) {
	g := platformtest.NewGPU(t)
	v := newVerifier(t, g.JWKS())
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := v.Verify(ctx, g.Token(binding, platformtest.GPUAt(now)), binding); err == nil || platform.ReasonOf(err) != "" {
		t.Errorf("err = %v, want the context's error, not a rejection", err)
	}
}

func TestNewVerifier(t *testing.T) {
	g := platformtest.NewGPU(t)
	for _, tc := range []struct {
		name string
		c    gpu.Config
		want string
	}{
		{"refuses a missing JWKS", gpu.Config{}, "gpu: no JWKS configured"},
		{"refuses a negative leeway", gpu.Config{JWKS: g.JWKS(), Leeway: -time.Second}, "gpu: leeway -1s is negative"},
		{"refuses a JWKS without a usable key", gpu.Config{JWKS: []byte(`{"keys":[{"kty":"OKP","crv":"X448","x":"AA"}]}`)}, "no usable public key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := gpu.NewVerifier(tc.c)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want %q", err, tc.want)
			}
		})
	}
	t.Run("uses the real clock when Now is nil", func(t *testing.T) {
		v, err := gpu.NewVerifier(gpu.Config{JWKS: g.JWKS()})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := v.Verify(context.Background(), g.Token(binding), binding); err != nil {
			t.Errorf("a token issued now: %v", err)
		}
	})
}

func BenchmarkVerifyGPU(b *testing.B) {
	g := platformtest.NewGPU(b)
	v := newVerifier(b, g.JWKS())
	tok := g.Token(binding, platformtest.GPUAt(now), platformtest.GPUDevices(8))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(context.Background(), tok, binding); err != nil {
			b.Fatal(err)
		}
	}
}
