package platformtest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
)

// The files GPU.Save writes and LoadGPU reads. GPUJWKSFile is what a
// server's --gpu-jwks takes.
const (
	GPUJWKSFile = "gpu-jwks.json" // the key set that verifies the tokens
	GPUKeyFile  = "gpu-nras.key"  // the fake NRAS's private key (ES384, PKCS #8), which signs them
)

// Save writes the GPU's signing key (mode 0600) and its key set to dir
// (created if missing).
func (g *GPU) Save(dir string) error {
	key, err := keyFile(GPUKeyFile, "GPU token", g.key)
	if err != nil {
		return err
	}
	return saveFiles(dir, key, file{GPUJWKSFile, g.jwks, 0o644})
}

// LoadGPU reads a GPU that Save wrote to dir: its key, and the kid that
// the key set gives it. The key that signs GPUUnknownKID tokens is new.
// Like NewGPUSigner's, the loaded GPU's Token panics on failure; SignToken
// returns errors.
func LoadGPU(dir string) (*GPU, error) {
	k, err := readKey(filepath.Join(dir, GPUKeyFile), nil, "")
	if err != nil {
		return nil, err
	}
	key, ok := k.(*ecdsa.PrivateKey)
	if !ok || key.Curve != elliptic.P384() {
		return nil, fmt.Errorf("platformtest: %s is not an ECDSA P-384 key", GPUKeyFile)
	}
	jwks, err := os.ReadFile(filepath.Join(dir, GPUJWKSFile))
	if err != nil {
		return nil, fmt.Errorf("platformtest: %w", err)
	}
	var set struct {
		Keys []struct {
			Kid string `json:"kid"`
			X   string `json:"x"`
			Y   string `json:"y"`
		} `json:"keys"`
	}
	if err := json.Unmarshal(jwks, &set); err != nil {
		return nil, fmt.Errorf("platformtest: %s: %w", GPUJWKSFile, err)
	}
	pub, err := key.PublicKey.ECDH()
	if err != nil {
		return nil, fmt.Errorf("platformtest: %s: %w", GPUKeyFile, err)
	}
	point := pub.Bytes() // 0x04 || X || Y
	x, y := gpuB64(point[1:49]), gpuB64(point[49:])
	kid := ""
	for _, k := range set.Keys {
		if k.X == x && k.Y == y && k.Kid != "" {
			kid = k.Kid
			break
		}
	}
	if kid == "" {
		return nil, fmt.Errorf("platformtest: %s does not hold the key of %s", GPUJWKSFile, GPUKeyFile)
	}
	other, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("platformtest: making the GPU token key: %w", err)
	}
	return &GPU{t: noTB{}, key: key, kid: kid, jwks: jwks, other: other}, nil
}
