// Package sgxtest makes valid SIGSTRUCTs for tests: it signs them with an
// RSA-3072 key of exponent 3, as SGX requires, generated once per process.
// It builds the structure itself rather than through package sgx, so that
// tests of sgx check the parser against an independent writer.
package sgxtest

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"sync"
	"testing"
)

// Size is the size of a SIGSTRUCT in bytes.
const Size = 1808

const keyBytes = 384

// Fields are the values a Signer writes into a SIGSTRUCT. The header, the
// exponent and the key material are filled in by the Signer.
type Fields struct {
	Debug          bool   // set the TYPE bit of a debug (pre-production) signature
	Vendor         uint32 // 0, or 0x8086 for Intel
	Date           uint32 // BCD 0xYYYYMMDD, e.g. 0x20240131
	SWDefined      uint32
	MiscSelect     uint32
	MiscMask       uint32
	Attributes     [16]byte // FLAGS then XFRM, each uint64 little-endian
	AttributesMask [16]byte
	MREnclave      [32]byte
	ISVProdID      uint16
	ISVSVN         uint16
}

// Signer signs SIGSTRUCTs with the process's test key.
type Signer struct {
	n, d *big.Int
}

// generate makes the test key once: Go's crypto/rsa only makes keys with
// e = 65537, and 3072-bit primes take a while to find.
var generate = sync.OnceValues(func() (*Signer, error) { return newKey() })

// NewSigner returns a Signer using the process's test key, generating the key
// on first use.
func NewSigner(t testing.TB) *Signer {
	t.Helper()
	s, err := generate()
	if err != nil {
		t.Fatalf("sgxtest: generating the RSA-3072 e=3 key: %v", err)
	}
	return s
}

func newKey() (*Signer, error) {
	three := big.NewInt(3)
	prime := func() (*big.Int, error) {
		for {
			// rand.Prime sets the top two bits, so the product of two
			// 1536-bit primes has exactly 3072 bits.
			p, err := rand.Prime(rand.Reader, 8*keyBytes/2)
			if err != nil {
				return nil, err
			}
			// e = 3 is invertible mod p−1 only when p ≢ 1 (mod 3).
			if new(big.Int).Mod(p, three).Int64() == 2 {
				return p, nil
			}
		}
	}
	p, err := prime()
	if err != nil {
		return nil, err
	}
	q, err := prime()
	if err != nil {
		return nil, err
	}
	if p.Cmp(q) == 0 {
		return nil, errors.New("drew the same prime twice")
	}
	n := new(big.Int).Mul(p, q)
	if n.BitLen() != 8*keyBytes {
		return nil, fmt.Errorf("modulus has %d bits", n.BitLen())
	}
	one := big.NewInt(1)
	p1, q1 := new(big.Int).Sub(p, one), new(big.Int).Sub(q, one)
	gcd := new(big.Int).GCD(nil, nil, p1, q1)
	lcm := new(big.Int).Quo(new(big.Int).Mul(p1, q1), gcd)
	d := new(big.Int).ModInverse(three, lcm)
	if d == nil {
		return nil, errors.New("3 is not invertible")
	}
	return &Signer{n: n, d: d}, nil
}

// PublicKey returns the signer's public key (E = 3).
func (s *Signer) PublicKey() *rsa.PublicKey {
	return &rsa.PublicKey{N: new(big.Int).Set(s.n), E: 3}
}

// Modulus returns the modulus as a SIGSTRUCT stores it: 384 bytes,
// little-endian.
func (s *Signer) Modulus() []byte { return le(s.n) }

// MRSigner returns the MRSIGNER of enclaves this Signer signs: the SHA-256 of
// the little-endian modulus.
func (s *Signer) MRSigner() [32]byte { return sha256.Sum256(s.Modulus()) }

// Sign returns a complete, validly signed 1808-byte SIGSTRUCT holding f.
func (s *Signer) Sign(f Fields) []byte {
	b := make([]byte, Size)
	copy(b[0:], []byte{0x06, 0x00, 0x00, 0x00, 0xe1, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00})
	if f.Debug {
		binary.LittleEndian.PutUint32(b[12:], 1<<31)
	}
	binary.LittleEndian.PutUint32(b[16:], f.Vendor)
	binary.LittleEndian.PutUint32(b[20:], f.Date)
	copy(b[24:], []byte{0x01, 0x01, 0x00, 0x00, 0x60, 0x00, 0x00, 0x00, 0x60, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00})
	binary.LittleEndian.PutUint32(b[40:], f.SWDefined)
	binary.LittleEndian.PutUint32(b[512:], 3)
	binary.LittleEndian.PutUint32(b[900:], f.MiscSelect)
	binary.LittleEndian.PutUint32(b[904:], f.MiscMask)
	copy(b[928:], f.Attributes[:])
	copy(b[944:], f.AttributesMask[:])
	copy(b[960:], f.MREnclave[:])
	binary.LittleEndian.PutUint16(b[1024:], f.ISVProdID)
	binary.LittleEndian.PutUint16(b[1026:], f.ISVSVN)
	return s.Resign(b)
}

// Resign returns a copy of the 1808-byte b with this Signer's modulus, and a
// fresh signature, Q1 and Q2 over b's signed bytes; nothing else is changed,
// so tests can sign structures that are wrong in other ways. It panics if b
// is not 1808 bytes.
func (s *Signer) Resign(b []byte) []byte {
	if len(b) != Size {
		panic(fmt.Sprintf("sgxtest: Resign needs %d bytes, got %d", Size, len(b)))
	}
	b = slices.Clone(b)
	copy(b[128:512], s.Modulus())

	h := sha256.New()
	h.Write(b[0:128])
	h.Write(b[900:1028])
	em := make([]byte, keyBytes)
	em[1] = 0x01
	prefix := []byte{0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20}
	t := h.Sum(prefix) // DigestInfo ‖ SHA-256
	for i := 2; i < keyBytes-len(t)-1; i++ {
		em[i] = 0xff
	}
	copy(em[keyBytes-len(t):], t)

	sig := new(big.Int).Exp(new(big.Int).SetBytes(em), s.d, s.n)
	sig2 := new(big.Int).Mul(sig, sig)
	q1 := new(big.Int).Quo(sig2, s.n)
	sig3 := new(big.Int).Mul(sig2, sig)
	q2 := sig3.Sub(sig3, new(big.Int).Mul(new(big.Int).Mul(q1, sig), s.n))
	q2.Quo(q2, s.n)

	copy(b[516:900], le(sig))
	copy(b[1040:1424], le(q1))
	copy(b[1424:1808], le(q2))
	return b
}

// le returns v as 384 little-endian bytes.
func le(v *big.Int) []byte {
	b := v.FillBytes(make([]byte, keyBytes))
	slices.Reverse(b)
	return b
}
