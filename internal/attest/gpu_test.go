package attest

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/openccm/openccm/internal/platform"
	"github.com/openccm/openccm/internal/platform/gpu"
	"github.com/openccm/openccm/internal/platform/platformtest"
	"github.com/openccm/openccm/internal/store"
)

func TestGPUCheck(t *testing.T) {
	nv := platformtest.NewGPU(t)
	v, err := gpu.NewVerifier(gpu.Config{JWKS: nv.JWKS()})
	if err != nil {
		t.Fatal(err)
	}
	var binding [32]byte
	binding[3] = 9
	withToken := func(token string) json.RawMessage {
		b, _ := json.Marshal(map[string]any{"report": "AAAA", "gpu": map[string]string{"token": token}})
		return b
	}
	cpuOnly := json.RawMessage(`{"report": "AAAA"}`)
	other := binding
	other[0] ^= 1
	for _, tc := range []struct {
		name     string
		setting  string
		verifier GPUVerifier
		evidence json.RawMessage
		reason   string // "" accepted
	}{
		{"gpu none needs nothing", "none", nil, cpuOnly, ""},
		{"gpu ignored needs the evidence", "ignored", nil, cpuOnly, ResultGPUMissing},
		{"gpu ignored does not check the token", "ignored", nil, withToken(nv.Token(other)), ""},
		{"gpu required needs the evidence", "required", v, cpuOnly, ResultGPUMissing},
		{"gpu required needs a server with a key set", "required", nil, withToken(nv.Token(binding)), ResultGPUFailed},
		{"gpu required accepts a token for this binding", "required", v, withToken(nv.Token(binding)), ""},
		{"gpu required refuses a token for another binding", "required", v, withToken(nv.Token(other)), ResultGPUFailed},
		{"gpu required refuses a failed GPU", "required", v, withToken(nv.Token(binding, platformtest.GPUResultFalse())), ResultGPUFailed},
		{"gpu required refuses another signer", "required", v, withToken(platformtest.NewGPU(t).Token(binding)), ResultGPUFailed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := &Service{gpu: tc.verifier}
			img := &store.Image{ID: "img", Settings: store.ImageSettings{GPU: tc.setting}}
			claims := &platform.Claims{}
			err := s.gpuCheck(context.Background(), img, tc.evidence, binding, claims)
			if got := platform.ReasonOf(err); got != tc.reason || (tc.reason == "" && err != nil) {
				t.Fatalf("reason %q (%v), want %q", got, err, tc.reason)
			}
			if tc.reason == "" && tc.setting == "required" {
				if r, ok := claims.GPU.(*gpu.Result); !ok || r.GPUCount == 0 {
					t.Fatalf("claims.GPU = %#v, want the verified result", claims.GPU)
				}
			}
		})
	}
}
