package azurecvm

import (
	"bytes"
	"crypto"
	"crypto/rsa"
	_ "crypto/sha256" // crypto.Hash.New for the runtime claims' hash types
	_ "crypto/sha512"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"strings"
)

// The HCL report is what Azure's paravisor (the HCL, or OpenHCL) writes to
// the vTPM NV index 0x01400001: Microsoft's IGVM_ATTEST request structure
// (openvmm openhcl_attestation_protocol igvm_attest::get), little endian:
//
//	0x000  header: signature "HCLA", version, report size, request type,
//	       status, 3 reserved words                              (32 bytes)
//	0x020  the hardware report: a SEV-SNP report (1184 bytes), or a TDX
//	       report padded to that size
//	0x4C0  request data: data size, version, report type, report data hash
//	       type, variable data size                              (20 bytes)
//	0x4D4  variable data: the runtime claims, a JSON object
//	       {"keys": [JWKs "HCLAkPub", "HCLEkPub"], "vm-configuration": {…},
//	        "user-data": "<hex>"}
//
// The report size counts the bytes up to the end of the runtime claims; the
// NV index is larger, and the paravisor fills the rest with zeros. The
// hardware report's report_data is the hash of the runtime claims' bytes
// exactly as they stand, zero-padded to 64 bytes.
const (
	hclHeaderSize        = 0x20
	hclSNPReportSize     = 0x4A0 // abi.ReportSize
	hclRequestDataOffset = hclHeaderSize + hclSNPReportSize
	hclRequestDataSize   = 20
	hclRuntimeOffset     = hclRequestDataOffset + hclRequestDataSize
	// hclMaxSize bounds the bytes accepted as an HCL report: the NV index
	// holds 2600 bytes on today's VMs.
	hclMaxSize = 16 << 10

	hclSignature         = "HCLA"
	hclRequestTypeAKCert = 2 // AK_CERT_REQUEST: the vTPM's report
	hclRequestVersion    = 1
	hclReportTypeSNP     = 2
	hclReportTypeTDX     = 4

	// snpReportDataOffset is where report_data sits in a SEV-SNP report.
	snpReportDataOffset = 0x50
	snpReportDataSize   = 64

	// akKeyID is the key ID of the vTPM attestation key's JWK.
	akKeyID = "HCLAkPub"
	// minAKBits is the smallest AK accepted; Azure's is RSA-2048.
	minAKBits = 2048
)

// errTDX is the error for an HCL report of a TDX VM.
var errTDX = errors.New("TDX HCL reports are not supported yet")

// hclReport is a parsed HCL report.
type hclReport struct {
	// snpReport is the SEV-SNP report, unverified: exactly 1184 bytes.
	snpReport []byte
	// runtimeData is the runtime claims' bytes, as hashed into the SEV-SNP
	// report's report_data.
	runtimeData []byte
	// hash is the algorithm of that hash.
	hash    crypto.Hash
	runtime runtimeClaims
	// ak is the HCLAkPub key of the runtime claims.
	ak *rsa.PublicKey
}

// runtimeClaims is the JSON object of an HCL report's variable data. Fields
// Azure adds later are ignored: the bytes are bound as a whole by their hash.
type runtimeClaims struct {
	Keys            []jwk           `json:"keys"`
	VMConfiguration json.RawMessage `json:"vm-configuration"`
	UserData        string          `json:"user-data"`
}

// jwk is an RSA JSON Web Key (RFC 7517) as the paravisor writes it.
type jwk struct {
	Kid string `json:"kid"`
	Kty string `json:"kty"`
	N   string `json:"n"`
	E   string `json:"e"`
}

// parseHCLReport parses an HCL report. It checks the structure only: that
// the SEV-SNP report is genuine and carries the runtime claims' hash is
// checked later.
func parseHCLReport(b []byte) (*hclReport, error) {
	if len(b) < hclRuntimeOffset {
		return nil, fmt.Errorf("%d bytes, fewer than the %d of the header, hardware report and request data", len(b), hclRuntimeOffset)
	}
	if len(b) > hclMaxSize {
		return nil, fmt.Errorf("%d bytes, more than %d", len(b), hclMaxSize)
	}
	le := binary.LittleEndian
	if string(b[0:4]) != hclSignature {
		return nil, fmt.Errorf("signature is %q, not %q", b[0:4], hclSignature)
	}
	// Version 1 and 2 headers have the same layout (OpenHCL writes 2).
	if v := le.Uint32(b[4:]); v != 1 && v != 2 {
		return nil, fmt.Errorf("header version %d is not supported", v)
	}
	reportSize := le.Uint32(b[8:])
	if t := le.Uint32(b[12:]); t != hclRequestTypeAKCert {
		return nil, fmt.Errorf("request type %d is not the vTPM report's (%d)", t, hclRequestTypeAKCert)
	}

	rd := b[hclRequestDataOffset:]
	dataSize := le.Uint32(rd[0:])
	version := le.Uint32(rd[4:])
	reportType := le.Uint32(rd[8:])
	hashType := le.Uint32(rd[12:])
	varSize := le.Uint32(rd[16:])
	switch reportType {
	case hclReportTypeSNP:
	case hclReportTypeTDX:
		return nil, errTDX
	default:
		return nil, fmt.Errorf("hardware report type %d is not SEV-SNP (%d)", reportType, hclReportTypeSNP)
	}
	if version != hclRequestVersion {
		return nil, fmt.Errorf("request data version %d is not supported", version)
	}
	var hash crypto.Hash
	switch hashType {
	case 1:
		hash = crypto.SHA256
	case 2:
		hash = crypto.SHA384
	case 3:
		hash = crypto.SHA512
	default:
		return nil, fmt.Errorf("report data hash type %d is not SHA-256, SHA-384 or SHA-512", hashType)
	}
	// Sizes are compared as 64-bit numbers: no sum of two 32-bit fields
	// overflows.
	if uint64(dataSize) != hclRequestDataSize+uint64(varSize) {
		return nil, fmt.Errorf("request data size %d is not %d plus the runtime claims' %d", dataSize, hclRequestDataSize, varSize)
	}
	end := uint64(hclRuntimeOffset) + uint64(varSize)
	if uint64(reportSize) != end {
		return nil, fmt.Errorf("report size %d is not where the runtime claims end (%d)", reportSize, end)
	}
	if end > uint64(len(b)) {
		return nil, fmt.Errorf("runtime claims end at %d, past the report's %d bytes", end, len(b))
	}
	if !allZero(b[end:]) {
		return nil, fmt.Errorf("bytes after the report's end (%d) are not zero", end)
	}

	h := &hclReport{
		snpReport:   b[hclHeaderSize:hclRequestDataOffset],
		runtimeData: b[hclRuntimeOffset:end],
		hash:        hash,
	}
	if err := json.Unmarshal(h.runtimeData, &h.runtime); err != nil {
		return nil, fmt.Errorf("runtime claims: %w", err)
	}
	ak, err := h.runtime.akPub()
	if err != nil {
		return nil, fmt.Errorf("runtime claims: %w", err)
	}
	h.ak = ak
	return h, nil
}

// akPub returns the HCLAkPub key: there must be exactly one.
func (r *runtimeClaims) akPub() (*rsa.PublicKey, error) {
	var found *jwk
	for i := range r.Keys {
		if r.Keys[i].Kid != akKeyID {
			continue
		}
		if found != nil {
			return nil, fmt.Errorf("two %s keys", akKeyID)
		}
		found = &r.Keys[i]
	}
	if found == nil {
		return nil, fmt.Errorf("no %s key", akKeyID)
	}
	pub, err := found.rsaPublicKey()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", akKeyID, err)
	}
	return pub, nil
}

// rsaPublicKey decodes an RSA JWK's modulus and exponent (base64url, with
// or without padding).
func (k *jwk) rsaPublicKey() (*rsa.PublicKey, error) {
	if k.Kty != "RSA" {
		return nil, fmt.Errorf("key type %q is not RSA", k.Kty)
	}
	decode := func(s string) ([]byte, error) {
		return base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "="))
	}
	n, err := decode(k.N)
	if err != nil {
		return nil, fmt.Errorf("modulus: %w", err)
	}
	e, err := decode(k.E)
	if err != nil {
		return nil, fmt.Errorf("exponent: %w", err)
	}
	return rsaKey(n, e)
}

// rsaKey makes an RSA public key from a big-endian modulus and exponent,
// refusing keys smaller than an AK's and exponents crypto/rsa does not take.
func rsaKey(n, e []byte) (*rsa.PublicKey, error) {
	e = bytes.TrimLeft(e, "\x00")
	if len(e) == 0 || len(e) > 4 {
		return nil, fmt.Errorf("exponent of %d bytes", len(e))
	}
	var exp uint64
	for _, x := range e {
		exp = exp<<8 | uint64(x)
	}
	if exp < 3 || exp > 1<<31-1 || exp%2 == 0 {
		return nil, fmt.Errorf("exponent %d is not an odd number from 3 to 2^31-1", exp)
	}
	mod := new(big.Int).SetBytes(n)
	if bits := mod.BitLen(); bits < minAKBits || bits > 16384 {
		return nil, fmt.Errorf("modulus of %d bits; want %d to 16384", bits, minAKBits)
	}
	if mod.Bit(0) == 0 {
		return nil, errors.New("modulus is even")
	}
	return &rsa.PublicKey{N: mod, E: int(exp)}, nil
}

// checkRuntimeData checks that the SEV-SNP report's report_data is the hash
// of the runtime claims followed by zeros, as the paravisor makes it: the
// report vouches for the claims, and so for the AK. The SEV-SNP report must
// have been verified.
func checkRuntimeData(h *hclReport) error {
	hh := h.hash.New()
	hh.Write(h.runtimeData)
	sum := hh.Sum(nil)
	rd := h.snpReport[snpReportDataOffset : snpReportDataOffset+snpReportDataSize]
	if !bytes.Equal(rd[:len(sum)], sum) || !allZero(rd[len(sum):]) {
		return fmt.Errorf("the SEV-SNP report's report_data is not the %v of the runtime claims", h.hash)
	}
	return nil
}

func allZero(b []byte) bool {
	for _, x := range b {
		if x != 0 {
			return false
		}
	}
	return true
}
