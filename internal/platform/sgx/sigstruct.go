// Package sgx handles Intel SGX evidence. It reads enclave signature
// structures (SIGSTRUCT): it parses the 1808-byte structure an enclave is
// signed with, checks its RSA-3072 signature, and yields the values an image
// is approved by (MRENCLAVE, MRSIGNER, ISVPRODID, ISVSVN, attributes). And it
// verifies DCAP ECDSA quotes (v3) to the Intel SGX root through their PCK
// chain, with Intel's collateral (TCB info, QE identity) when given.
package sgx

import (
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"math/big"
	"slices"
	"time"

	"github.com/openccm/openccm/internal/errs"
)

// SigstructSize is the size of a SIGSTRUCT in bytes.
const SigstructSize = 1808

// Offsets of the SIGSTRUCT fields (Intel SDM Vol. 3D, "Enclave Signature
// Structure"; the SGX SDK's enclave_css_t).
const (
	offHeader         = 0    // 12 fixed bytes
	offType           = 12   // uint32: bit 31 debug signature, bits 30..0 zero
	offVendor         = 16   // uint32: 0 or 0x8086
	offDate           = 20   // uint32 BCD yyyymmdd
	offHeader2        = 24   // 16 fixed bytes
	offSWDefined      = 40   // uint32
	offModulus        = 128  // 384 bytes, little-endian
	offExponent       = 512  // uint32
	offSignature      = 516  // 384 bytes, little-endian
	offMiscSelect     = 900  // uint32
	offMiscMask       = 904  // uint32
	offAttributes     = 928  // 16 bytes
	offAttributesMask = 944  // 16 bytes
	offEnclaveHash    = 960  // 32 bytes: MRENCLAVE
	offISVProdID      = 1024 // uint16
	offISVSVN         = 1026 // uint16
	offQ1             = 1040 // 384 bytes, little-endian
	offQ2             = 1424 // 384 bytes, little-endian

	keySize = 384 // RSA-3072 modulus, signature, Q1 and Q2 in bytes

	// The signature covers two ranges: the header section and the body
	// (MISCSELECT to ISVSVN). The key, signature, Q1 and Q2 are outside it.
	signed1Start, signed1End = 0, 128
	signed2Start, signed2End = 900, 1028
)

// debugType is the TYPE bit that marks a debug (pre-production) signature.
const debugType = 1 << 31

// VendorIntel is the VENDOR value of enclaves signed by Intel; every other
// enclave has 0.
const VendorIntel = 0x8086

var (
	header  = []byte{0x06, 0x00, 0x00, 0x00, 0xe1, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00}
	header2 = []byte{0x01, 0x01, 0x00, 0x00, 0x60, 0x00, 0x00, 0x00, 0x60, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00}
)

// Sigstruct is a parsed SIGSTRUCT. Integers are decoded; byte fields are as
// stored (the RSA numbers little-endian, as the CPU reads them).
//
// Verify checks the signature over the field values as they are when it is
// called, so a changed field fails verification rather than being vouched for.
type Sigstruct struct {
	// Debug reports the TYPE bit of a debug (pre-production) signature. It is
	// not the enclave's DEBUG attribute, which is in Attributes.
	Debug bool
	// Vendor is VendorIntel for Intel's enclaves and 0 for all others.
	Vendor uint32
	// DateRaw is the DATE field as stored: BCD 0xYYYYMMDD.
	DateRaw uint32
	// Date is DateRaw at midnight UTC, or the zero time when DateRaw is not
	// a valid BCD date (signing tools do not check it, and neither does the
	// CPU). It is derived from DateRaw and not itself signed.
	Date time.Time
	// SWDefined is the software-defined field (HWVERSION for launch enclaves).
	SWDefined uint32

	Modulus   []byte // the signer's RSA-3072 modulus, little-endian, 384 bytes
	Exponent  uint32 // the public exponent; always 3
	Signature []byte // the RSA signature, little-endian, 384 bytes

	MiscSelect     uint32
	MiscMask       uint32
	Attributes     [16]byte // FLAGS (uint64 LE) then XFRM (uint64 LE)
	AttributesMask [16]byte
	MREnclave      [32]byte // ENCLAVEHASH: the expected MRENCLAVE
	ISVProdID      uint16
	ISVSVN         uint16

	// Q1 and Q2 are the CPU's helper values for checking the signature,
	// little-endian, 384 bytes each.
	Q1, Q2 []byte

	// raw keeps the bytes that have no field above (reserved space, CET
	// attributes, ISVFAMILYID, ISVEXTPRODID) so that Verify hashes exactly
	// what was signed.
	raw [SigstructSize]byte
}

// ParseSigstruct parses a SIGSTRUCT. It checks the length, the fixed HEADER
// and HEADER2 bytes, that TYPE has no bit but the debug bit, that VENDOR is 0
// or Intel, and that the exponent is 3; it does not check the signature (see
// Verify). A debug signature is accepted and reported in Debug. Reserved
// bytes are not checked: those that matter are signed.
func ParseSigstruct(b []byte) (*Sigstruct, error) {
	if len(b) != SigstructSize {
		return nil, invalid("sgx: sigstruct is %d bytes, want %d", len(b), SigstructSize)
	}
	if !bytes.Equal(b[offHeader:offHeader+len(header)], header) {
		return nil, invalid("sgx: sigstruct header is not a SIGSTRUCT header")
	}
	typ := le32(b, offType)
	if typ&^debugType != 0 {
		return nil, invalid("sgx: sigstruct header type 0x%08x has reserved bits set", typ)
	}
	if !bytes.Equal(b[offHeader2:offHeader2+len(header2)], header2) {
		return nil, invalid("sgx: sigstruct second header (HEADER2) is not the fixed SIGSTRUCT value")
	}
	vendor := le32(b, offVendor)
	if vendor != 0 && vendor != VendorIntel {
		return nil, invalid("sgx: sigstruct vendor is 0x%x, want 0 or 0x8086 (Intel)", vendor)
	}
	if e := le32(b, offExponent); e != 3 {
		return nil, invalid("sgx: sigstruct exponent is %d, want 3", e)
	}

	s := &Sigstruct{
		Debug:      typ&debugType != 0,
		Vendor:     vendor,
		DateRaw:    le32(b, offDate),
		SWDefined:  le32(b, offSWDefined),
		Modulus:    slices.Clone(b[offModulus : offModulus+keySize]),
		Exponent:   3,
		Signature:  slices.Clone(b[offSignature : offSignature+keySize]),
		MiscSelect: le32(b, offMiscSelect),
		MiscMask:   le32(b, offMiscMask),
		ISVProdID:  binary.LittleEndian.Uint16(b[offISVProdID:]),
		ISVSVN:     binary.LittleEndian.Uint16(b[offISVSVN:]),
		Q1:         slices.Clone(b[offQ1 : offQ1+keySize]),
		Q2:         slices.Clone(b[offQ2 : offQ2+keySize]),
	}
	s.Date = bcdDate(s.DateRaw)
	copy(s.Attributes[:], b[offAttributes:])
	copy(s.AttributesMask[:], b[offAttributesMask:])
	copy(s.MREnclave[:], b[offEnclaveHash:])
	copy(s.raw[:], b)
	return s, nil
}

// MRSigner returns the MRSIGNER value of enclaves signed with this SIGSTRUCT:
// the SHA-256 of the modulus as stored (little-endian).
func (s *Sigstruct) MRSigner() [32]byte {
	return sha256.Sum256(s.Modulus)
}

// Verify checks the signature the way EINIT does: RSA-3072 with exponent 3,
// PKCS #1 v1.5 with SHA-256 over the header section (bytes 0..127) and the
// body (bytes 900..1027). It also checks that Q1 and Q2 are the values the CPU
// needs (Q1 = ⌊s²/n⌋, Q2 = ⌊(s³ − Q1·s·n)/n⌋): a SIGSTRUCT with wrong ones
// never initialises an enclave, so it is refused here too.
//
// The check uses math/big rather than crypto/rsa: crypto/rsa refuses e = 3
// when the FIPS 140-only mode is on, and SGX fixes e = 3. All inputs are
// public, so the variable-time arithmetic leaks nothing.
func (s *Sigstruct) Verify() error {
	if s.Exponent != 3 {
		return invalid("sgx: sigstruct exponent is %d, want 3", s.Exponent)
	}
	if len(s.Modulus) != keySize || len(s.Signature) != keySize || len(s.Q1) != keySize || len(s.Q2) != keySize {
		return invalid("sgx: sigstruct modulus, signature, Q1 and Q2 must be %d bytes each", keySize)
	}
	n := leInt(s.Modulus)
	if n.BitLen() != 8*keySize {
		return invalid("sgx: sigstruct modulus is %d bits, want %d", n.BitLen(), 8*keySize)
	}
	sig := leInt(s.Signature)
	if sig.Cmp(n) >= 0 {
		return invalid("sgx: sigstruct signature is not smaller than its modulus")
	}
	h := sha256.New()
	b := s.signedBytes()
	h.Write(b[signed1Start:signed1End])
	h.Write(b[signed2Start:signed2End])
	if !verifyPKCS1v15SHA256(n, sig, h.Sum(nil)) {
		return invalid("sgx: sigstruct signature does not verify with its modulus")
	}
	q1, q2 := sgxQ1Q2(n, sig)
	if q1.Cmp(leInt(s.Q1)) != 0 || q2.Cmp(leInt(s.Q2)) != 0 {
		return invalid("sgx: sigstruct Q1/Q2 do not match its signature and modulus")
	}
	return nil
}

// signedBytes returns the structure with the fields' current values written
// over the parsed bytes; only the two signed ranges matter.
func (s *Sigstruct) signedBytes() *[SigstructSize]byte {
	b := s.raw
	copy(b[offHeader:], header)
	typ := uint32(0)
	if s.Debug {
		typ = debugType
	}
	binary.LittleEndian.PutUint32(b[offType:], typ)
	binary.LittleEndian.PutUint32(b[offVendor:], s.Vendor)
	binary.LittleEndian.PutUint32(b[offDate:], s.DateRaw)
	copy(b[offHeader2:], header2)
	binary.LittleEndian.PutUint32(b[offSWDefined:], s.SWDefined)
	binary.LittleEndian.PutUint32(b[offMiscSelect:], s.MiscSelect)
	binary.LittleEndian.PutUint32(b[offMiscMask:], s.MiscMask)
	copy(b[offAttributes:], s.Attributes[:])
	copy(b[offAttributesMask:], s.AttributesMask[:])
	copy(b[offEnclaveHash:], s.MREnclave[:])
	binary.LittleEndian.PutUint16(b[offISVProdID:], s.ISVProdID)
	binary.LittleEndian.PutUint16(b[offISVSVN:], s.ISVSVN)
	return &b
}

// sha256DigestInfo is the DER DigestInfo prefix for SHA-256 (RFC 8017, 9.2).
var sha256DigestInfo = []byte{
	0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01,
	0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20,
}

// verifyPKCS1v15SHA256 reports whether sig is an RSASSA-PKCS1-v1_5 signature
// of digest under (n, e = 3), with 0 ≤ sig < n and n of keySize bytes. It
// builds the one valid encoding and compares it whole, so a loosely parsed
// padding cannot be forged (the e = 3 attacks on lax DigestInfo parsers).
func verifyPKCS1v15SHA256(n, sig *big.Int, digest []byte) bool {
	m := new(big.Int).Exp(sig, big.NewInt(3), n)
	got := m.FillBytes(make([]byte, keySize))

	want := make([]byte, keySize)
	want[1] = 0x01
	t := keySize - len(sha256DigestInfo) - len(digest)
	for i := 2; i < t-1; i++ {
		want[i] = 0xff
	}
	copy(want[t:], sha256DigestInfo)
	copy(want[t+len(sha256DigestInfo):], digest)
	return subtle.ConstantTimeCompare(got, want) == 1
}

// sgxQ1Q2 computes the CPU's helper values for signature s and modulus n.
func sgxQ1Q2(n, s *big.Int) (q1, q2 *big.Int) {
	s2 := new(big.Int).Mul(s, s)
	q1 = new(big.Int).Quo(s2, n)
	// s³ − q1·s·n = s·(s² − q1·n) = s·(s² mod n)
	r := new(big.Int).Sub(s2, new(big.Int).Mul(q1, n))
	r.Mul(r, s)
	q2 = r.Quo(r, n)
	return q1, q2
}

// bcdDate decodes a BCD 0xYYYYMMDD date, or returns the zero time.
func bcdDate(v uint32) time.Time {
	digits := 0
	for i := 28; i >= 0; i -= 4 {
		d := int(v>>i) & 0xf
		if d > 9 {
			return time.Time{}
		}
		digits = digits*10 + d
	}
	y, m, d := digits/10000, time.Month(digits/100%100), digits%100
	t := time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
	if y == 0 || t.Month() != m || t.Day() != d {
		return time.Time{} // month 13, 31 February, year 0
	}
	return t
}

// leInt reads a little-endian unsigned integer.
func leInt(b []byte) *big.Int {
	be := slices.Clone(b)
	slices.Reverse(be)
	return new(big.Int).SetBytes(be)
}

func le32(b []byte, off int) uint32 { return binary.LittleEndian.Uint32(b[off:]) }

func invalid(format string, args ...any) error {
	return errs.Invalidf("sigstruct", format, args...)
}
