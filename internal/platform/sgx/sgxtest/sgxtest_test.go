package sgxtest

import (
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"slices"
	"testing"
)

func TestSignerMakesSignaturesCryptoRSAVerifies(t *testing.T) {
	s := NewSigner(t)
	if NewSigner(t) != s {
		t.Error("NewSigner made a second key in the same process")
	}
	b := s.Sign(Fields{Debug: true, Date: 0x20240101, ISVProdID: 9})
	if len(b) != Size {
		t.Fatalf("Sign returned %d bytes, want %d", len(b), Size)
	}
	sig := slices.Clone(b[516:900])
	slices.Reverse(sig)
	h := sha256.New()
	h.Write(b[0:128])
	h.Write(b[900:1028])
	if err := rsa.VerifyPKCS1v15(s.PublicKey(), crypto.SHA256, h.Sum(nil), sig); err != nil {
		t.Errorf("crypto/rsa does not verify the signature: %v", err)
	}
	if s.PublicKey().N.BitLen() != 3072 {
		t.Errorf("modulus has %d bits, want 3072", s.PublicKey().N.BitLen())
	}
	if got := sha256.Sum256(b[128:512]); got != s.MRSigner() {
		t.Errorf("MRSigner = %x, want the hash of the stored modulus %x", s.MRSigner(), got)
	}
}
