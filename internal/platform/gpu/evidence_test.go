package gpu_test

import (
	"encoding/json"
	"testing"

	"github.com/openccm/openccm/internal/platform"
	"github.com/openccm/openccm/internal/platform/gpu"
	"github.com/openccm/openccm/internal/platform/platformtest"
)

// withGPU returns SEV-SNP-like evidence whose gpu member is the JSON gpu.
func withGPU(gpu string) json.RawMessage {
	ev := `{"report": "AAAA", "vcek": "AAAA"`
	if gpu != "" {
		ev += `, "gpu": ` + gpu
	}
	return json.RawMessage(ev + "}")
}

// tokenMember returns {"token": tok} as JSON.
func tokenMember(t *testing.T, tok string) string {
	t.Helper()
	return string(mustJSON(t, map[string]string{"token": tok}))
}

func TestEvidence(t *testing.T) {
	for _, tc := range []struct {
		name     string
		evidence json.RawMessage
		token    string
		ok       bool
		reason   string
	}{
		{"reads the token", withGPU(`{"token": "a.b.c", "nonce": "ignored"}`), "a.b.c", true, ""},
		{"trims white space around the token", withGPU(`{"token": " a.b.c\n"}`), "a.b.c", true, ""},
		{"reports no gpu member", withGPU(""), "", false, ""},
		{"reports a null gpu member", withGPU(`null`), "", false, ""},
		{"reports a gpu object without token", withGPU(`{}`), "", false, ""},
		{"reports a null token", withGPU(`{"token": null}`), "", false, ""},
		{"reports an empty token", withGPU(`{"token": "  "}`), "", false, ""},
		{"refuses a gpu member that is not an object", withGPU(`"a.b.c"`), "", false, gpu.ReasonGPUEvidenceMissing},
		{"refuses a token that is not a string", withGPU(`{"token": [["JWT", "a.b.c"], {}]}`), "", false, gpu.ReasonGPUEvidenceMissing},
		{"refuses evidence that is not an object", json.RawMessage(`["gpu"]`), "", false, platform.ReasonMalformed},
		{"refuses evidence that is not JSON", json.RawMessage(`{`), "", false, platform.ReasonMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tok, ok, err := gpu.Evidence(tc.evidence)
			if tc.reason != "" {
				if platform.ReasonOf(err) != tc.reason {
					t.Errorf("err = %v, want reason %s", err, tc.reason)
				}
				return
			}
			if err != nil || tok != tc.token || ok != tc.ok {
				t.Errorf("= %q, %v, %v; want %q, %v, nil", tok, ok, err, tc.token, tc.ok)
			}
		})
	}
}

func TestPresent(t *testing.T) {
	g := platformtest.NewGPU(t)
	v := newVerifier(t, g.JWKS())
	for _, tc := range []struct {
		name     string
		evidence json.RawMessage
		want     string // "" means present
	}{
		{"accepts a detached EAT", withGPU(tokenMember(t, g.Token(binding))), ""},
		{"accepts a plain JWT", withGPU(tokenMember(t, g.Token(binding, platformtest.GPUPlainJWT()))), ""},
		{"accepts the Python SDK's envelope", withGPU(tokenMember(t, g.Token(binding, platformtest.GPUSDKEnvelope()))), ""},
		{"accepts a token it does not check: expired, failed, unsigned", withGPU(tokenMember(t,
			g.Token(binding, platformtest.GPUExpired(), platformtest.GPUResultFalse(), platformtest.GPUAlgNone()))), ""},
		{"refuses evidence without gpu", withGPU(""), "the image requires GPU evidence"},
		{"refuses a null gpu", withGPU("null"), "the image requires GPU evidence"},
		{"refuses an empty token", withGPU(`{"token": ""}`), "the image requires GPU evidence"},
		{"refuses a gpu member that is a string", withGPU(`"eyJ"`), "evidence.gpu is not an object"},
		{"refuses a token that is a number", withGPU(`{"token": 7}`), "evidence.gpu.token is not a string"},
		{"refuses a token that is not a JWT", withGPU(`{"token": "hello"}`), "evidence.gpu.token is not a JWT or an NVIDIA detached EAT"},
		{"refuses a JWT whose header is not JSON", withGPU(`{"token": "aGk.e30.AA"}`), "its header is not a JSON object naming an alg"},
		{"refuses a detached EAT of the wrong shape", withGPU(`{"token": "[[\"JWT\"], {}]"}`), `its first element is not ["JWT", "<token>"]`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, present := range []func(json.RawMessage) error{gpu.Present, v.Present} {
				err := present(tc.evidence)
				if tc.want == "" {
					if err != nil {
						t.Fatal(err)
					}
					continue
				}
				wantReject(t, err, gpu.ReasonGPUEvidenceMissing, tc.want)
			}
		})
	}
	t.Run("reports evidence that is not an object as malformed", func(t *testing.T) {
		wantReject(t, gpu.Present(json.RawMessage(`"gpu"`)), platform.ReasonMalformed, "the evidence is not a JSON object")
	})
}
