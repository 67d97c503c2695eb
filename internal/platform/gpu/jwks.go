package gpu

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	jose "github.com/go-jose/go-jose/v4"
)

// maxJWKS bounds a key set file. NRAS's set of 32 keys, each with its
// two-certificate x5c chain, is about 80 KB.
const maxJWKS = 4 << 20

// minRSABits is the smallest RSA modulus accepted for RS256 and PS256.
const minRSABits = 2048

// allowedAlgs are the JWS algorithms a token may be signed with. NRAS signs
// with ES384; the others are for local verifiers with keys of their own.
// "none" and the HMAC algorithms are never accepted: HMAC keys are shared
// secrets (the Python SDK's local verifier signs with the literal key
// "secret"), so they prove nothing to a relying party.
var allowedAlgs = []jose.SignatureAlgorithm{jose.ES384, jose.ES256, jose.RS256, jose.PS256}

// keySet maps a key ID to the usable public keys of that ID.
type keySet map[string][]jose.JSONWebKey

// LoadJWKS reads a JSON Web Key Set file, such as a saved copy of
// https://nras.attestation.nvidia.com/.well-known/jwks.json, and returns its
// bytes for Config.JWKS. It fails when the file is not a JWKS, holds private
// key material or a malformed key, or has no usable public key: an EC P-256
// or P-384 or an RSA (2048 to 4096 bits) key with a kid, meant for
// signatures.
func LoadJWKS(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("gpu: reading JWKS: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxJWKS+1))
	if err != nil {
		return nil, fmt.Errorf("gpu: reading JWKS %s: %w", path, err)
	}
	if len(b) > maxJWKS {
		return nil, fmt.Errorf("gpu: JWKS %s is larger than %d bytes", path, maxJWKS)
	}
	if _, err := parseJWKS(b); err != nil {
		return nil, fmt.Errorf("gpu: JWKS %s: %w", path, err)
	}
	return b, nil
}

// privateMembers are the JWK members that carry secret key material
// (RFC 7518 section 6).
var privateMembers = []string{"d", "p", "q", "dp", "dq", "qi", "k"}

// parseJWKS reads a key set, keeping the keys a token may be verified with.
// Keys of a kind that cannot verify an allowed algorithm are skipped, as
// RFC 7517 section 5 asks; a malformed key or one with private material is
// an error, since it means the file is not what the operator thinks it is.
func parseJWKS(b []byte) (keySet, error) {
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(b, &set); err != nil {
		return nil, fmt.Errorf("not a JSON Web Key Set: %w", err)
	}
	if len(set.Keys) == 0 {
		return nil, errors.New(`the key set has no "keys"`)
	}
	keys := keySet{}
	var skipped []string
	for i, raw := range set.Keys {
		var members map[string]json.RawMessage
		if err := json.Unmarshal(raw, &members); err != nil {
			return nil, fmt.Errorf("key %d is not a JSON object", i)
		}
		var kid string
		_ = json.Unmarshal(members["kid"], &kid)
		name := fmt.Sprintf("key %d (kid %q)", i, kid)
		for _, m := range privateMembers {
			if _, ok := members[m]; ok {
				return nil, fmt.Errorf("%s holds private key material (%q); the key set must hold public keys only", name, m)
			}
		}
		var k jose.JSONWebKey
		if err := k.UnmarshalJSON(raw); err != nil {
			if errors.Is(err, jose.ErrUnsupportedKeyType) {
				skipped = append(skipped, name+": unsupported key type")
				continue
			}
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		if why := unusable(&k); why != "" {
			skipped = append(skipped, name+": "+why)
			continue
		}
		keys[k.KeyID] = append(keys[k.KeyID], k)
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("no usable public key (%s)", strings.Join(skipped, "; "))
	}
	return keys, nil
}

// unusable says why a parsed key cannot verify tokens, or "" if it can.
func unusable(k *jose.JSONWebKey) string {
	switch {
	case k.KeyID == "":
		return "no kid, so no token can name it"
	case k.Use != "" && k.Use != "sig":
		return fmt.Sprintf("use is %q, not \"sig\"", k.Use)
	case k.Algorithm != "" && !slices.Contains(allowedAlgs, jose.SignatureAlgorithm(k.Algorithm)):
		return fmt.Sprintf("alg %s is not allowed", k.Algorithm)
	}
	switch pub := k.Key.(type) {
	case *ecdsa.PublicKey:
		if pub.Curve != elliptic.P256() && pub.Curve != elliptic.P384() {
			return "EC curve other than P-256 or P-384"
		}
	case *rsa.PublicKey:
		if pub.N.BitLen() < minRSABits {
			return fmt.Sprintf("RSA key of %d bits, fewer than %d", pub.N.BitLen(), minRSABits)
		}
	default:
		return fmt.Sprintf("%T is not an EC or RSA public key", k.Key)
	}
	return ""
}
