package platformtest_test

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/openccm/openccm/internal/platform"
	"github.com/openccm/openccm/internal/platform/gpu"
	"github.com/openccm/openccm/internal/platform/platformtest"
)

func TestGPU(t *testing.T) {
	g := platformtest.NewGPU(t)
	binding := [32]byte{1, 2, 3}
	at := time.Now()
	v, err := gpu.NewVerifier(gpu.Config{JWKS: g.JWKS(), Now: func() time.Time { return at }})
	if err != nil {
		t.Fatal(err)
	}

	t.Run("publishes a JWKS shaped like NRAS's that LoadJWKS accepts", func(t *testing.T) {
		var set struct {
			Keys []map[string]any `json:"keys"`
		}
		if err := json.Unmarshal(g.JWKS(), &set); err != nil || len(set.Keys) != 1 {
			t.Fatalf("JWKS %s: %v", g.JWKS(), err)
		}
		k := set.Keys[0]
		if k["kty"] != "EC" || k["crv"] != "P-384" || k["kid"] != g.KeyID() || k["x5c"] == nil || k["x"] == nil || k["y"] == nil {
			t.Errorf("key %v lacks one of kty EC, crv P-384, kid, x5c, x, y", k)
		}
		if !strings.HasPrefix(g.KeyID(), "nv-eat-kid-fake-") {
			t.Errorf("kid %q does not follow NRAS's nv-eat-kid-<env>-… pattern", g.KeyID())
		}
		path := filepath.Join(t.TempDir(), "jwks.json")
		if err := os.WriteFile(path, g.JWKS(), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := gpu.LoadJWKS(path); err != nil {
			t.Error(err)
		}
	})

	t.Run("makes tokens the gpu verifier accepts", func(t *testing.T) {
		for _, opts := range [][]platformtest.GPUOption{
			nil,
			{platformtest.GPUDevices(4)},
			{platformtest.GPUPlainJWT()},
			{platformtest.GPUSDKEnvelope()},
			{platformtest.GPUUpperCaseNonce()},
		} {
			r, err := v.Verify(context.Background(), g.Token(binding, opts...), binding)
			if err != nil {
				t.Fatal(err)
			}
			if r.Issuer != platformtest.GPUIssuer || r.GPUCount == 0 {
				t.Errorf("result %+v", r)
			}
		}
	})

	t.Run("writes NRAS's detached EAT shape and claims", func(t *testing.T) {
		var bundle []json.RawMessage
		if err := json.Unmarshal([]byte(g.Token(binding, platformtest.GPUDevices(2))), &bundle); err != nil || len(bundle) != 2 {
			t.Fatalf("not a two-element array: %v", err)
		}
		var overall []string
		var devices map[string]string
		if err := json.Unmarshal(bundle[0], &overall); err != nil || len(overall) != 2 || overall[0] != "JWT" {
			t.Fatalf(`first element %s is not ["JWT", token]`, bundle[0])
		}
		if err := json.Unmarshal(bundle[1], &devices); err != nil || len(devices) != 2 || devices["GPU-0"] == "" || devices["GPU-1"] == "" {
			t.Fatalf("second element %s is not GPU-0 and GPU-1", bundle[1])
		}
		header, claims := decodeJWT(t, overall[1])
		if header["alg"] != "ES384" || header["kid"] != g.KeyID() {
			t.Errorf("header %v", header)
		}
		for _, name := range []string{"sub", "x-nvidia-ver", "iss", "x-nvidia-overall-att-result", "submods", "eat_nonce", "iat", "nbf", "exp", "jti"} {
			if _, ok := claims[name]; !ok {
				t.Errorf("overall claims lack %s", name)
			}
		}
		if claims["eat_nonce"] != hex.EncodeToString(binding[:]) {
			t.Errorf("eat_nonce = %v", claims["eat_nonce"])
		}
		_, dev := decodeJWT(t, devices["GPU-1"])
		if dev["hwmodel"] != "GH100" || dev["measres"] != "success" || dev["eat_nonce"] != claims["eat_nonce"] {
			t.Errorf("device claims %v", dev)
		}
	})

	t.Run("options make tokens the verifier refuses for the intended reason", func(t *testing.T) {
		for _, tc := range []struct {
			opt  platformtest.GPUOption
			want string
		}{
			{platformtest.GPUResultFalse(), "x-nvidia-overall-att-result) is false"},
			{platformtest.GPUExpired(), "expired at"},
			{platformtest.GPUNotYetValid(), "in the future"},
			{platformtest.GPUWrongNonce(), "eat_nonce is not this request's binding"},
			{platformtest.GPUUnknownKID(), "no key with kid"},
			{platformtest.GPUNoKID(), "has no kid"},
			{platformtest.GPUAlgNone(), `"none" is not allowed`},
			{platformtest.GPUHS256(), `"HS256" is not allowed`},
			{platformtest.GPUBadSignature(), "signature does not verify"},
			{platformtest.GPUBadDigest(), "does not match the digest"},
			{platformtest.GPUMissingDevice(), "no GPU-1 token was sent"},
			{platformtest.GPUExtraDevice(), "is not listed in the overall token's submods"},
			{platformtest.GPUDeviceFails(), "reports a failure despite a passing overall result"},
		} {
			_, err := v.Verify(context.Background(), g.Token(binding, tc.opt), binding)
			if platform.ReasonOf(err) != gpu.ReasonGPUAttestationFailed || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want a gpu_attestation_failed rejection containing %q", err, tc.want)
			}
		}
	})
}

// decodeJWT returns a compact JWT's header and claims, unverified.
func decodeJWT(t *testing.T, jwt string) (header, claims map[string]any) {
	t.Helper()
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		t.Fatalf("%q is not a compact JWT", jwt)
	}
	for i, dst := range []*map[string]any{&header, &claims} {
		b, err := base64.RawURLEncoding.DecodeString(parts[i])
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, dst); err != nil {
			t.Fatal(err)
		}
	}
	return header, claims
}
