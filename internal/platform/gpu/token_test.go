package gpu

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/openccm/openccm/internal/platform/platformtest"
)

// A syntactically valid JWT: {"alg":"ES384","kid":"k"}.{"eat_nonce":"00"}.sig
const testJWT = "eyJhbGciOiJFUzM4NCIsImtpZCI6ImsifQ.eyJlYXRfbm9uY2UiOiIwMCJ9.c2ln"

func TestParseToken(t *testing.T) {
	bundle := func(overall string, devices map[string]any) string {
		b, err := json.Marshal([]any{[]string{"JWT", overall}, devices})
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	eat := bundle(testJWT, map[string]any{"GPU-1": testJWT, "GPU-0": testJWT})
	envelope := func(key string, inner any) string {
		b, err := json.Marshal([]any{[]string{"JWT", testJWT}, map[string]any{key: inner}})
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	tooMany := map[string]any{}
	for i := range MaxDevices + 1 {
		tooMany[fmt.Sprintf("GPU-%d", i)] = testJWT
	}

	for _, tc := range []struct {
		name    string
		in      string
		format  string
		devices []string
		wantErr string
	}{
		{"reads a compact JWT", testJWT, FormatJWT, nil, ""},
		{"reads a JWT with an empty signature", strings.TrimSuffix(testJWT, "c2ln"), FormatJWT, nil, ""},
		{"reads a detached EAT, devices sorted by name", eat, FormatDetachedEAT, []string{"GPU-0", "GPU-1"}, ""},
		{"reads a detached EAT with no device tokens", bundle(testJWT, map[string]any{}), FormatDetachedEAT, nil, ""},
		{"reads the SDK envelope holding the bundle as JSON", envelope("REMOTE_GPU_CLAIMS", json.RawMessage(eat)), FormatSDKEnvelope, []string{"GPU-0", "GPU-1"}, ""},
		{"reads the SDK envelope holding the bundle as a string", envelope("LOCAL_GPU_CLAIMS", eat), FormatSDKEnvelope, []string{"GPU-0", "GPU-1"}, ""},
		{"refuses an empty token", "", "", nil, "it is empty"},
		{"refuses a token over the size limit", strings.Repeat("a", MaxToken+1), "", nil, "more than the 262144 allowed"},
		{"refuses two parts", "a.b", "", nil, "this has 2"},
		{"refuses a header that is not base64url", "a+b.e30.", "", nil, "its header is not base64url"},
		{"refuses a header without alg", "e30.e30.", "", nil, "its header is not a JSON object naming an alg"},
		{"refuses a payload that is not an object", "eyJhbGciOiJub25lIn0.W10.", "", nil, "its payload is not a JSON object"},
		{"refuses a signature that is not base64url", "eyJhbGciOiJub25lIn0.e30.a=b", "", nil, "its signature is not base64url"},
		{"refuses an array that is not JSON", "[[", "", nil, "detached EAT: it is not a JSON array"},
		{"refuses an array of three", `[["JWT","` + testJWT + `"],{},{}]`, "", nil, "it has 3 elements"},
		{"refuses a selector other than JWT", `[["CBOR","` + testJWT + `"],{}]`, "", nil, `its first element is not ["JWT", "<token>"]`},
		{"refuses device tokens that are not an object", `[["JWT","` + testJWT + `"],[]]`, "", nil, "its second element is not an object"},
		{"refuses a device token that is not a string", bundle(testJWT, map[string]any{"GPU-0": 1}), "", nil, "GPU-0 is not a JWT string"},
		{"refuses a device token that is not a JWT", bundle(testJWT, map[string]any{"GPU-0": "x"}), "", nil, "detached EAT: GPU-0: a JWT has 3"},
		{"refuses an overall token that is not a JWT", bundle("x", map[string]any{}), "", nil, "detached EAT: overall token: a JWT has 3"},
		{"refuses a device name with spaces", bundle(testJWT, map[string]any{"GPU 0": testJWT}), "", nil, "other than printable ASCII"},
		{"refuses more device tokens than allowed", bundle(testJWT, tooMany), "", nil, "65 device tokens, more than the 64 allowed"},
		{"refuses an envelope holding both verifiers' bundles",
			`[["JWT","` + testJWT + `"],{"REMOTE_GPU_CLAIMS":` + eat + `,"LOCAL_GPU_CLAIMS":` + eat + `}]`, "", nil, "SDK envelope: it holds both"},
		{"refuses an envelope whose bundle is malformed", envelope("REMOTE_GPU_CLAIMS", 5), "", nil, "SDK envelope: detached EAT: it is not a JSON array"},
		{"refuses an envelope inside an envelope",
			envelope("REMOTE_GPU_CLAIMS", json.RawMessage(envelope("REMOTE_GPU_CLAIMS", json.RawMessage(eat)))), "", nil, "REMOTE_GPU_CLAIMS is not a JWT string"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tok, err := parseToken(tc.in)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, d := range tok.devices {
				names = append(names, d.name)
			}
			if tok.format != tc.format || tok.overall != testJWT && tc.format != FormatJWT || !slices.Equal(names, tc.devices) {
				t.Errorf("format %q, devices %v; want %q, %v", tok.format, names, tc.format, tc.devices)
			}
		})
	}
}

func TestCompareDeviceNames(t *testing.T) {
	names := []string{"SWITCH-0", "GPU-10", "GPU-2", "GPU-1x", "GPU", "GPU-01", "GPU-1"}
	slices.SortFunc(names, compareDeviceNames)
	want := []string{"GPU", "GPU-01", "GPU-1", "GPU-2", "GPU-10", "GPU-1x", "SWITCH-0"}
	if !slices.Equal(names, want) {
		t.Errorf("sorted %v, want %v", names, want)
	}
}

func TestMatchSubmods(t *testing.T) {
	if err := matchSubmods(nil, []submodJWT{{"GPU-0", testJWT}}); err == nil || !strings.Contains(err.Error(), "it has no submods") {
		t.Errorf("err = %v, want a refusal of device tokens not bound to the overall token", err)
	}
}

// FuzzParseToken feeds parseToken arbitrary tokens: it must never panic, and
// what it accepts must be well formed: a compact JWT overall token, at most
// MaxDevices named device JWTs in order, none for a plain JWT.
func FuzzParseToken(f *testing.F) {
	g := platformtest.NewGPU(f)
	var b [32]byte
	at := platformtest.GPUAt(time.Date(2026, 6, 29, 2, 8, 3, 0, time.UTC))
	for _, opts := range [][]platformtest.GPUOption{
		nil,
		{platformtest.GPUDevices(3)},
		{platformtest.GPUPlainJWT()},
		{platformtest.GPUSDKEnvelope()},
		{platformtest.GPUAlgNone()},
		{platformtest.GPUExtraDevice(), platformtest.GPUResultFalse()},
	} {
		f.Add(g.Token(b, append(opts, at)...))
	}
	f.Add(testJWT)
	f.Add(`[["JWT","a.b.c"],{"GPU-0":"a.b.c"}]`)
	f.Add(`[["JWT","x"],{"REMOTE_GPU_CLAIMS":"[[\"JWT\",\"y\"],{}]"}]`)
	f.Add("[]")
	f.Fuzz(func(t *testing.T, s string) {
		tok, err := parseToken(s)
		if err != nil {
			return
		}
		if err := checkCompact(tok.overall); err != nil {
			t.Fatalf("accepted an overall token that is not a JWT: %v", err)
		}
		switch tok.format {
		case FormatJWT:
			if len(tok.devices) != 0 {
				t.Fatalf("a plain JWT has %d device tokens", len(tok.devices))
			}
		case FormatDetachedEAT, FormatSDKEnvelope:
		default:
			t.Fatalf("unknown format %q", tok.format)
		}
		if len(tok.devices) > MaxDevices {
			t.Fatalf("accepted %d device tokens", len(tok.devices))
		}
		for i, d := range tok.devices {
			if checkDeviceName(d.name) != nil || checkCompact(d.jwt) != nil {
				t.Fatalf("accepted device %q with token %q", d.name, d.jwt)
			}
			if i > 0 && compareDeviceNames(tok.devices[i-1].name, d.name) >= 0 {
				t.Fatalf("devices out of order or repeated: %q then %q", tok.devices[i-1].name, d.name)
			}
		}
		again, err := parseToken(s)
		if err != nil || again.format != tok.format || again.overall != tok.overall || !slices.Equal(again.devices, tok.devices) {
			t.Fatal("parsing the same token twice gave different results")
		}
	})
}
