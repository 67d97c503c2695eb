package gpu_test

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/openccm/openccm/internal/platform/gpu"
	"github.com/openccm/openccm/internal/platform/platformtest"
)

func TestLoadJWKS(t *testing.T) {
	g := platformtest.NewGPU(t)
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	p521, err := ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	rsa1024, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	edPub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	privateJWK, err := jose.JSONWebKey{Key: p384, KeyID: "private"}.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	// A key whose x5c certificate is the fake NRAS key's, not its own.
	var nras struct{ Keys []map[string]any }
	if err := json.Unmarshal(g.JWKS(), &nras); err != nil {
		t.Fatal(err)
	}
	mismatched, err := jose.JSONWebKey{Key: &p384.PublicKey, KeyID: "mismatched"}.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	var mm map[string]any
	if err := json.Unmarshal(mismatched, &mm); err != nil {
		t.Fatal(err)
	}
	mm["x5c"] = nras.Keys[0]["x5c"]

	ok := jose.JSONWebKey{Key: &p384.PublicKey, KeyID: "local"}
	tests := []struct {
		name string
		file []byte
		want string // "" means accepted
	}{
		{"accepts the fake NRAS's key set", g.JWKS(), ""},
		{"accepts a set with one usable key among unusable ones",
			jwks(t, jose.JSONWebKey{Key: edPub, KeyID: "ed"}, ok, jose.JSONWebKey{Key: &p521.PublicKey, KeyID: "p521"}), ""},
		{"refuses a file that is not JSON", []byte("-----BEGIN PUBLIC KEY-----"), "not a JSON Web Key Set"},
		{"refuses a set without keys", []byte(`{"keys":[]}`), `the key set has no "keys"`},
		{"refuses a single JWK that is not a set", mustJSON(t, ok), `the key set has no "keys"`},
		{"refuses a key that is not an object", []byte(`{"keys":["k"]}`), "key 0 is not a JSON object"},
		{"refuses a private key", []byte(`{"keys":[` + string(privateJWK) + `]}`), `key 0 (kid "private") holds private key material ("d")`},
		{"refuses a symmetric key", []byte(`{"keys":[{"kty":"oct","kid":"hmac","k":"c2VjcmV0"}]}`), `holds private key material ("k")`},
		{"refuses a malformed EC key", []byte(`{"keys":[{"kty":"EC","crv":"P-384","kid":"bad","x":"AA","y":"AA"}]}`), `key 0 (kid "bad")`},
		{"refuses a key whose x5c certificate holds another key", []byte(`{"keys":[` + string(mustJSON(t, mm)) + `]}`), "do not match"},
		{"refuses a set whose only key has no kid", jwks(t, jose.JSONWebKey{Key: &p384.PublicKey}), "no kid, so no token can name it"},
		{"refuses a set whose only key is for encryption", jwks(t, jose.JSONWebKey{Key: &p384.PublicKey, KeyID: "enc", Use: "enc"}), `use is "enc"`},
		{"refuses a set whose only key is for a disallowed algorithm", jwks(t, jose.JSONWebKey{Key: &p384.PublicKey, KeyID: "es512", Algorithm: "ES512"}), "alg ES512 is not allowed"},
		{"refuses a set whose only key is on P-521", jwks(t, jose.JSONWebKey{Key: &p521.PublicKey, KeyID: "p521"}), "EC curve other than P-256 or P-384"},
		{"refuses a set whose only key is a short RSA key", jwks(t, jose.JSONWebKey{Key: &rsa1024.PublicKey, KeyID: "rsa1024"}), "RSA key of 1024 bits"},
		{"refuses a set whose only key is Ed25519", jwks(t, jose.JSONWebKey{Key: edPub, KeyID: "ed"}), "is not an EC or RSA public key"},
		{"refuses a set of key types it does not know", []byte(`{"keys":[{"kty":"OKP","crv":"X448","kid":"x","x":"AA"}]}`), "unsupported key type"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "jwks.json")
			if err := os.WriteFile(path, tc.file, 0o644); err != nil {
				t.Fatal(err)
			}
			b, err := gpu.LoadJWKS(path)
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				if string(b) != string(tc.file) {
					t.Error("LoadJWKS did not return the file's bytes")
				}
				if _, err := gpu.NewVerifier(gpu.Config{JWKS: b}); err != nil {
					t.Errorf("NewVerifier refuses what LoadJWKS accepts: %v", err)
				}
				return
			}
			if err == nil || !strings.HasPrefix(err.Error(), "gpu: JWKS "+path+": ") || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want it to name the file and contain %q", err, tc.want)
			}
		})
	}

	t.Run("refuses a missing file", func(t *testing.T) {
		_, err := gpu.LoadJWKS(filepath.Join(t.TempDir(), "absent.json"))
		if !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("err = %v, want a not-exist error", err)
		}
	})
	t.Run("refuses a file larger than 4 MiB", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "big.json")
		if err := os.WriteFile(path, []byte(`{"keys":[`+strings.Repeat(" ", 4<<20)+`]}`), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := gpu.LoadJWKS(path); err == nil || !strings.Contains(err.Error(), "larger than") {
			t.Errorf("err = %v, want a size error", err)
		}
	})
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
