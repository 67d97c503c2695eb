package platformtest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/big"
	"strings"
	"time"

	"github.com/google/uuid"
)

// TB is the part of testing.TB that the fakes which fail their test use
// (GPU, AzureCVM): this package must not import testing (see the package
// comment). *testing.T, *testing.B and *testing.F satisfy it.
type TB interface {
	Helper()
	Fatalf(format string, args ...any)
}

// GPUIssuer is the iss of the tokens a GPU issues: NRAS's, so that they look
// like the real thing. Only the key set decides whether they verify.
const GPUIssuer = "https://nras.attestation.nvidia.com"

// gpuTokenLife is how long NRAS's tokens are valid.
const gpuTokenLife = time.Hour

// GPU is a fake NVIDIA Remote Attestation Service: an ES384 key, published
// in a JWKS shaped like NRAS's (EC P-384, kid, x5c), that signs attestation
// result tokens shaped like NRAS's /v3/attest/gpu response (claims version
// 2.0). The JWTs are written by hand, not by the JOSE library the verifier
// uses, so that the verifier's parser is checked against an independent
// writer.
type GPU struct {
	t     TB
	key   *ecdsa.PrivateKey
	kid   string
	jwks  []byte
	other *ecdsa.PrivateKey // signs GPUUnknownKID tokens
}

// NewGPU makes a fake NRAS with a fresh key. t is the test (*testing.T,
// *testing.B or *testing.F) that NewGPU and Token fail if a key cannot be
// made or a token cannot be signed.
func NewGPU(t TB) *GPU {
	t.Helper()
	g, err := NewGPUSigner()
	if err != nil {
		t.Fatalf("%v", err)
	}
	g.t = t
	return g
}

// NewGPUSigner is NewGPU for code without a test (ccm dev): its Token
// panics on failure, and SignToken returns errors.
func NewGPUSigner() (*GPU, error) {
	key, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("platformtest: making the GPU token key: %w", err)
	}
	other, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("platformtest: making the GPU token key: %w", err)
	}
	now := time.Now().UTC()
	kid := fmt.Sprintf("nv-eat-kid-fake-%s%03d-%s", now.Format("20060102150405"), now.Nanosecond()/1e6, uuid.NewString())
	jwks, err := gpuJWKS(key, kid, now)
	if err != nil {
		return nil, fmt.Errorf("platformtest: %w", err)
	}
	return &GPU{t: noTB{}, key: key, kid: kid, jwks: jwks, other: other}, nil
}

// JWKS returns the key set that verifies the GPU's tokens: what a server's
// --gpu-jwks file holds.
func (g *GPU) JWKS() []byte { return g.jwks }

// KeyID returns the kid of the GPU's signing key.
func (g *GPU) KeyID() string { return g.kid }

// PublicKey returns the GPU's signing key's public half.
func (g *GPU) PublicKey() *ecdsa.PublicKey { return &g.key.PublicKey }

// gpuJWKS writes a one-key set as NRAS publishes its keys: kty, crv, kid,
// x5c (a certificate for the key), x and y.
func gpuJWKS(key *ecdsa.PrivateKey, kid string, now time.Time) ([]byte, error) {
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(now.UnixNano()),
		Subject:               pkix.Name{CommonName: "Fake NVIDIA Attestation Service GPU", Organization: []string{"OpenCCM test"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(2 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("making the GPU key's certificate: %w", err)
	}
	pub, err := key.PublicKey.ECDH()
	if err != nil {
		return nil, fmt.Errorf("encoding the GPU key: %w", err)
	}
	point := pub.Bytes() // 0x04 || X || Y, 48 bytes each
	set := map[string]any{"keys": []map[string]any{{
		"kty": "EC",
		"crv": "P-384",
		"kid": kid,
		"x5c": []string{base64.StdEncoding.EncodeToString(der)},
		"x":   gpuB64(point[1:49]),
		"y":   gpuB64(point[49:]),
	}}}
	b, err := json.Marshal(set)
	if err != nil {
		return nil, fmt.Errorf("encoding the GPU JWKS: %w", err)
	}
	return b, nil
}

// GPUOption changes one thing about a token GPU.Token makes.
type GPUOption func(*gpuToken)

// gpuToken is what one GPU.Token call makes.
type gpuToken struct {
	at          time.Time
	devices     int
	plain       bool
	envelope    bool
	result      bool
	expired     bool
	future      bool
	wrongNonce  bool
	upperNonce  bool
	sign        string // "es384", "unknown-kid", "no-kid", "none", "hs256"
	badSig      bool
	badDigest   bool
	missing     bool
	extra       bool
	deviceFails bool
}

// GPUAt makes the token issued at t (default: now).
func GPUAt(t time.Time) GPUOption { return func(o *gpuToken) { o.at = t } }

// GPUDevices makes the token attest n GPUs (default 1), GPU-0 to GPU-(n-1).
func GPUDevices(n int) GPUOption { return func(o *gpuToken) { o.devices = n } }

// GPUPlainJWT makes the token the overall JWT alone, without device tokens.
func GPUPlainJWT() GPUOption { return func(o *gpuToken) { o.plain = true } }

// GPUSDKEnvelope wraps the detached EAT as the Python nv-attestation-sdk's
// get_token() does: [["JWT", <SDK HS256 JWT>], {"REMOTE_GPU_CLAIMS": <EAT>}].
func GPUSDKEnvelope() GPUOption { return func(o *gpuToken) { o.envelope = true } }

// GPUResultFalse makes NVIDIA's verdict a failure: the overall result false
// and GPU-0's measurements not matching, as NRAS reports a bad GPU.
func GPUResultFalse() GPUOption { return func(o *gpuToken) { o.result = false } }

// GPUExpired makes every token one that expired an hour ago.
func GPUExpired() GPUOption { return func(o *gpuToken) { o.expired = true } }

// GPUNotYetValid makes every token issued (iat, nbf) an hour from now.
func GPUNotYetValid() GPUOption { return func(o *gpuToken) { o.future = true } }

// GPUWrongNonce makes the tokens carry another binding's nonce.
func GPUWrongNonce() GPUOption { return func(o *gpuToken) { o.wrongNonce = true } }

// GPUUpperCaseNonce writes the nonce in upper-case hex.
func GPUUpperCaseNonce() GPUOption { return func(o *gpuToken) { o.upperNonce = true } }

// GPUUnknownKID signs the tokens with a key the JWKS does not hold, under a
// kid it does not list.
func GPUUnknownKID() GPUOption { return func(o *gpuToken) { o.sign = "unknown-kid" } }

// GPUNoKID signs the tokens with the GPU's key but leaves kid out of their
// headers.
func GPUNoKID() GPUOption { return func(o *gpuToken) { o.sign = "no-kid" } }

// GPUAlgNone makes the tokens unsigned: alg "none", empty signature.
func GPUAlgNone() GPUOption { return func(o *gpuToken) { o.sign = "none" } }

// GPUHS256 signs the tokens with HMAC-SHA256 and the key "secret", as the
// Python SDK's local verifier does, under the GPU's kid.
func GPUHS256() GPUOption { return func(o *gpuToken) { o.sign = "hs256" } }

// GPUBadSignature corrupts the overall token's signature.
func GPUBadSignature() GPUOption { return func(o *gpuToken) { o.badSig = true } }

// GPUBadDigest makes the overall token's submods digest for GPU-0 wrong.
func GPUBadDigest() GPUOption { return func(o *gpuToken) { o.badDigest = true } }

// GPUMissingDevice lists one more GPU in submods than there are device
// tokens.
func GPUMissingDevice() GPUOption { return func(o *gpuToken) { o.missing = true } }

// GPUExtraDevice adds a device token that submods does not list.
func GPUExtraDevice() GPUOption { return func(o *gpuToken) { o.extra = true } }

// GPUDeviceFails makes GPU-0's token report failed measurements while the
// overall result still says true.
func GPUDeviceFails() GPUOption { return func(o *gpuToken) { o.deviceFails = true } }

// Token makes an attestation result token for binding: by default NRAS's
// detached EAT for one GPU, [["JWT", overall], {"GPU-0": device}], valid
// for an hour from now, its eat_nonce hex(binding). It fails the GPU's TB
// if signing fails.
func (g *GPU) Token(binding [32]byte, opts ...GPUOption) string {
	g.t.Helper()
	s, err := g.SignToken(binding, opts...)
	if err != nil {
		g.t.Fatalf("%v", err)
	}
	return s
}

// SignToken is Token with failures returned rather than failing a test.
func (g *GPU) SignToken(binding [32]byte, opts ...GPUOption) (string, error) {
	o := gpuToken{at: time.Now(), devices: 1, result: true, sign: "es384"}
	for _, opt := range opts {
		opt(&o)
	}
	s, err := g.token(binding, &o)
	if err != nil {
		return "", fmt.Errorf("platformtest: making a GPU token: %w", err)
	}
	return s, nil
}

func (g *GPU) token(binding [32]byte, o *gpuToken) (string, error) {
	iat := o.at.Unix()
	switch {
	case o.expired:
		iat -= int64((gpuTokenLife + time.Hour) / time.Second)
	case o.future:
		iat += int64(time.Hour / time.Second)
	}
	exp := iat + int64(gpuTokenLife/time.Second)
	nonce := binding
	if o.wrongNonce {
		nonce[0] ^= 0xff
	}
	nonceHex := hex.EncodeToString(nonce[:])
	if o.upperNonce {
		nonceHex = strings.ToUpper(nonceHex)
	}

	names := make([]string, o.devices)
	devices := map[string]string{}
	for i := range names {
		names[i] = fmt.Sprintf("GPU-%d", i)
		measres := "success"
		if i == 0 && (!o.result || o.deviceFails) {
			measres = "fail"
		}
		jwt, err := g.sign(o, gpuDeviceClaims(nonceHex, measres, iat, exp))
		if err != nil {
			return "", err
		}
		devices[names[i]] = jwt
	}
	submods := map[string]any{}
	for _, n := range names {
		sum := sha256.Sum256([]byte(devices[n]))
		if o.badDigest && n == "GPU-0" {
			sum[0] ^= 1
		}
		submods[n] = []any{"DIGEST", []string{"SHA-256", hex.EncodeToString(sum[:])}}
	}
	if o.missing {
		submods[fmt.Sprintf("GPU-%d", o.devices)] = []any{"DIGEST", []string{"SHA-256", strings.Repeat("00", sha256.Size)}}
	}
	if o.extra {
		jwt, err := g.sign(o, gpuDeviceClaims(nonceHex, "success", iat, exp))
		if err != nil {
			return "", err
		}
		devices[fmt.Sprintf("GPU-%d", o.devices)] = jwt
	}
	overall, err := g.sign(o, map[string]any{
		"sub":                         "NVIDIA-PLATFORM-ATTESTATION",
		"x-nvidia-ver":                "2.0",
		"iss":                         GPUIssuer,
		"x-nvidia-overall-att-result": o.result,
		"submods":                     submods,
		"eat_nonce":                   nonceHex,
		"iat":                         iat,
		"nbf":                         iat,
		"exp":                         exp,
		"jti":                         uuid.NewString(),
	})
	if err != nil {
		return "", err
	}
	if o.badSig {
		overall = gpuCorruptSignature(overall)
	}
	if o.plain {
		return overall, nil
	}
	eat := []any{[]string{"JWT", overall}, devices}
	if o.envelope {
		sdk, err := gpuSignHS256(map[string]any{"iss": "NV-Attestation-SDK", "iat": iat, "nbf": iat - 120, "exp": exp, "jti": uuid.NewString()}, "notasecret", "")
		if err != nil {
			return "", err
		}
		eat = []any{[]string{"JWT", sdk}, map[string]any{"REMOTE_GPU_CLAIMS": eat}}
	}
	b, err := json.Marshal(eat)
	if err != nil {
		return "", fmt.Errorf("encoding the detached EAT: %w", err)
	}
	return string(b), nil
}

// gpuDeviceClaims are an H100's claims as NRAS (claims version 2.0) writes
// them for a passing attestation.
func gpuDeviceClaims(nonce, measres string, iat, exp int64) map[string]any {
	var id [20]byte         // NRAS writes a 160-bit UEID in decimal
	_, _ = rand.Read(id[:]) // never fails (crypto/rand)
	ueid := new(big.Int).SetBytes(id[:])
	c := map[string]any{
		"iss":                          GPUIssuer,
		"eat_nonce":                    nonce,
		"iat":                          iat,
		"nbf":                          iat,
		"exp":                          exp,
		"jti":                          uuid.NewString(),
		"ueid":                         ueid.String(),
		"oemid":                        "5703",
		"hwmodel":                      "GH100",
		"secboot":                      true,
		"dbgstat":                      "disabled",
		"measres":                      measres,
		"x-nvidia-gpu-driver-version":  "595.71.05",
		"x-nvidia-gpu-vbios-version":   "96.00.D9.00.02",
		"x-nvidia-attestation-warning": nil,
	}
	for _, check := range []string{
		"arch-check", "attestation-report-parsed", "attestation-report-nonce-match",
		"attestation-report-signature-verified", "attestation-report-cert-chain-validated",
		"driver-rim-fetched", "driver-rim-schema-validated", "driver-rim-cert-validated",
		"driver-rim-signature-verified", "driver-rim-measurements-available",
		"vbios-rim-fetched", "vbios-rim-schema-validated", "vbios-rim-cert-validated",
		"vbios-rim-signature-verified", "vbios-rim-measurements-available", "vbios-index-no-conflict",
	} {
		c["x-nvidia-gpu-"+check] = true
	}
	return c
}

// sign writes a compact JWT of claims the way the token's options ask.
func (g *GPU) sign(o *gpuToken, claims map[string]any) (string, error) {
	switch o.sign {
	case "none":
		input, err := gpuSigningInput(map[string]any{"alg": "none", "kid": g.kid}, claims)
		if err != nil {
			return "", err
		}
		return input + ".", nil
	case "hs256":
		return gpuSignHS256(claims, "secret", g.kid)
	case "unknown-kid":
		return gpuSignES384(g.other, "nv-eat-kid-fake-unknown", claims)
	case "no-kid":
		return gpuSignES384(g.key, "", claims)
	}
	return gpuSignES384(g.key, g.kid, claims)
}

// gpuSignES384 signs claims with key: the JWS signature is R || S, each 48
// bytes big-endian (RFC 7518 section 3.4).
func gpuSignES384(key *ecdsa.PrivateKey, kid string, claims map[string]any) (string, error) {
	header := map[string]any{"alg": "ES384"}
	if kid != "" {
		header["kid"] = kid
	}
	input, err := gpuSigningInput(header, claims)
	if err != nil {
		return "", err
	}
	digest := sha512.Sum384([]byte(input))
	r, s, err := ecdsa.Sign(rand.Reader, key, digest[:])
	if err != nil {
		return "", fmt.Errorf("signing: %w", err)
	}
	sig := make([]byte, 96)
	r.FillBytes(sig[:48])
	s.FillBytes(sig[48:])
	return input + "." + gpuB64(sig), nil
}

// gpuSignHS256 signs claims with HMAC-SHA256 and a shared key.
func gpuSignHS256(claims map[string]any, key, kid string) (string, error) {
	header := map[string]any{"alg": "HS256", "typ": "JWT"}
	if kid != "" {
		header["kid"] = kid
	}
	input, err := gpuSigningInput(header, claims)
	if err != nil {
		return "", err
	}
	mac := hmac.New(sha256.New, []byte(key))
	mac.Write([]byte(input))
	return input + "." + gpuB64(mac.Sum(nil)), nil
}

// gpuSigningInput is BASE64URL(header) "." BASE64URL(claims).
func gpuSigningInput(header, claims map[string]any) (string, error) {
	h, err := json.Marshal(header)
	if err != nil {
		return "", fmt.Errorf("encoding a JWT header: %w", err)
	}
	c, err := json.Marshal(claims)
	if err != nil {
		return "", fmt.Errorf("encoding JWT claims: %w", err)
	}
	return gpuB64(h) + "." + gpuB64(c), nil
}

// gpuCorruptSignature flips one bit of a compact JWT's signature.
func gpuCorruptSignature(jwt string) string {
	i := strings.LastIndexByte(jwt, '.')
	sig, err := base64.RawURLEncoding.DecodeString(jwt[i+1:])
	if err != nil || len(sig) == 0 {
		return jwt + "A"
	}
	sig[len(sig)/2] ^= 1
	return jwt[:i+1] + gpuB64(sig)
}

// gpuB64 is unpadded base64url, as JWS uses.
func gpuB64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }
