package sgx

import (
	"bytes"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/binary"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/openccm/openccm/internal/errs"
	"github.com/openccm/openccm/internal/platform/sgx/sgxtest"
)

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func unhex32(t testing.TB, s string) [32]byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != 32 {
		t.Fatalf("bad test hex %q", s)
	}
	return [32]byte(b)
}

func unhex16(t testing.TB, s string) [16]byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != 16 {
		t.Fatalf("bad test hex %q", s)
	}
	return [16]byte(b)
}

// checkWithCryptoRSA verifies b's signature with crypto/rsa, an implementation
// independent of Verify's.
func checkWithCryptoRSA(t *testing.T, b []byte) {
	t.Helper()
	be := func(x []byte) []byte { c := slices.Clone(x); slices.Reverse(c); return c }
	pub := &rsa.PublicKey{N: new(big.Int).SetBytes(be(b[128:512])), E: 3}
	h := sha256.New()
	h.Write(b[0:128])
	h.Write(b[900:1028])
	if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, h.Sum(nil), be(b[516:900])); err != nil {
		t.Errorf("crypto/rsa does not verify the signature: %v", err)
	}
}

// wantInvalid checks that err is a sigstruct validation error with message msg.
func wantInvalid(t *testing.T, err error, msg string) {
	t.Helper()
	var e *errs.Error
	if !errors.As(err, &e) {
		t.Fatalf("error = %v, want an *errs.Error", err)
	}
	if e.Kind != errs.Invalid || e.Field != "sigstruct" || e.Msg != msg {
		t.Errorf("error = {%v %q %q}, want {invalid \"sigstruct\" %q}", e.Kind, e.Field, e.Msg, msg)
	}
}

func TestParseSigstructReadsRealSamples(t *testing.T) {
	tests := []struct {
		name       string
		file       string
		mrenclave  string
		mrsigner   string
		isvprodid  uint16
		isvsvn     uint16
		date       time.Time
		dateRaw    uint32
		attributes string
		attrMask   string
	}{
		{
			// sgxs-tools' test signs this ENCLAVEHASH with date 20160109 and
			// XFRM 3 / mask !0xe4.
			name:       "reads fortanix's sgxs-sign test SIGSTRUCT",
			file:       "sig1.sigstruct.bin",
			mrenclave:  "c50673624a6cb17c1c6c2a4e6906f47a170c4629b8723781d1017ef376f1a75d",
			mrsigner:   "83d719e77deaca1470f6baf62a4d774303c899db69020f9c70ee1dfc08c7ce9e",
			date:       time.Date(2016, 1, 9, 0, 0, 0, 0, time.UTC),
			dateRaw:    0x20160109,
			attributes: "04000000000000000300000000000000",
			attrMask:   "fdffffffffffffff1bffffffffffffff",
		},
		{
			name:       "reads fortanix's sgx-detect test enclave SIGSTRUCT",
			file:       "test_enclave.sig",
			mrenclave:  "784acfd7d5096a8f0fbd3265760bff21b120f62407a9a9e5ba31aa3c8ed198fc",
			mrsigner:   "fb4bab3d6036ac1d730fa83d7366df1dd2dfeac194ef335d6854d8a6c6475542",
			isvprodid:  0xffff,
			date:       time.Date(2016, 12, 14, 0, 0, 0, 0, time.UTC),
			dateRaw:    0x20161214,
			attributes: "04000000000000000300000000000000",
			attrMask:   "fdffffffffffffff1bffffffffffffff",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := readTestdata(t, tc.file)
			s, err := ParseSigstruct(b)
			if err != nil {
				t.Fatalf("ParseSigstruct: %v", err)
			}
			if err := s.Verify(); err != nil {
				t.Errorf("Verify: %v", err)
			}
			checkWithCryptoRSA(t, b)
			if s.MREnclave != unhex32(t, tc.mrenclave) {
				t.Errorf("MREnclave = %x, want %s", s.MREnclave, tc.mrenclave)
			}
			if got := s.MRSigner(); got != unhex32(t, tc.mrsigner) {
				t.Errorf("MRSigner = %x, want %s", got, tc.mrsigner)
			}
			if s.ISVProdID != tc.isvprodid || s.ISVSVN != tc.isvsvn {
				t.Errorf("ISVProdID, ISVSVN = %d, %d, want %d, %d", s.ISVProdID, s.ISVSVN, tc.isvprodid, tc.isvsvn)
			}
			if !s.Date.Equal(tc.date) || s.DateRaw != tc.dateRaw {
				t.Errorf("Date, DateRaw = %v, %#x, want %v, %#x", s.Date, s.DateRaw, tc.date, tc.dateRaw)
			}
			if s.Vendor != 0 || s.Debug || s.SWDefined != 0 {
				t.Errorf("Vendor, Debug, SWDefined = %#x, %v, %d, want 0, false, 0", s.Vendor, s.Debug, s.SWDefined)
			}
			if s.MiscSelect != 0 || s.MiscMask != 0xffffffff {
				t.Errorf("MiscSelect, MiscMask = %#x, %#x, want 0, 0xffffffff", s.MiscSelect, s.MiscMask)
			}
			if s.Attributes != unhex16(t, tc.attributes) || s.AttributesMask != unhex16(t, tc.attrMask) {
				t.Errorf("Attributes, AttributesMask = %x, %x, want %s, %s", s.Attributes, s.AttributesMask, tc.attributes, tc.attrMask)
			}
			if s.Exponent != 3 || !bytes.Equal(s.Modulus, b[128:512]) || !bytes.Equal(s.Signature, b[516:900]) ||
				!bytes.Equal(s.Q1, b[1040:1424]) || !bytes.Equal(s.Q2, b[1424:1808]) {
				t.Error("Exponent, Modulus, Signature, Q1 or Q2 is not as stored")
			}
		})
	}
}

// The MRSIGNER above is checked against the signing key itself, not against
// the SIGSTRUCT it was read from.
func TestMRSignerIsTheHashOfTheSigningKeysModulus(t *testing.T) {
	block, _ := pem.Decode(readTestdata(t, "sig1.key.pem"))
	if block == nil {
		t.Fatal("sig1.key.pem holds no PEM block")
	}
	key, err := x509.ParsePKCS1PrivateKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	n := key.N.FillBytes(make([]byte, 384))
	slices.Reverse(n)
	if !bytes.Equal(n, readTestdata(t, "sig1.key_n.bin")) {
		t.Fatal("sig1.key_n.bin is not the key's little-endian modulus")
	}
	s, err := ParseSigstruct(readTestdata(t, "sig1.sigstruct.bin"))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := s.MRSigner(), sha256.Sum256(n); got != want {
		t.Errorf("MRSigner = %x, want SHA-256 of the key's modulus %x", got, want)
	}
}

// rust-sgx's crypto test vector: sig1.sig.bin is the key's PKCS #1 v1.5
// signature of the SHA-256 digest sig1.data.bin.
func TestVerifyPKCS1v15MatchesRustSGXVector(t *testing.T) {
	n := leInt(readTestdata(t, "sig1.key_n.bin"))
	sig := leInt(readTestdata(t, "sig1.sig.bin"))
	digest := readTestdata(t, "sig1.data.bin")
	if !verifyPKCS1v15SHA256(n, sig, digest) {
		t.Error("the vector's signature does not verify")
	}
	digest[0] ^= 1
	if verifyPKCS1v15SHA256(n, sig, digest) {
		t.Error("the vector's signature verifies a different digest")
	}
}

func TestParseSigstructReadsSignedFields(t *testing.T) {
	signer := sgxtest.NewSigner(t)
	full := sgxtest.Fields{
		Vendor:         VendorIntel,
		Date:           0x20240229,
		SWDefined:      7,
		MiscSelect:     1,
		MiscMask:       0xfffffffe,
		Attributes:     [16]byte{0x04, 15: 0x01},
		AttributesMask: [16]byte{0xfd, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x1b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff},
		MREnclave:      sha256.Sum256([]byte("enclave")),
		ISVProdID:      7,
		ISVSVN:         65535,
	}
	tests := []struct {
		name   string
		fields sgxtest.Fields
		date   time.Time
		debug  bool
	}{
		{name: "reads a release signature with every field set", fields: full, date: time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC)},
		{name: "reads a signature with all fields zero and no date", fields: sgxtest.Fields{}},
		{name: "reports a debug signature and still verifies it", fields: sgxtest.Fields{Debug: true, Date: 0x20250101}, date: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC), debug: true},
		{name: "keeps a date with a non-decimal digit raw and leaves Date zero", fields: sgxtest.Fields{Date: 0x2024011a}},
		{name: "keeps 31 February raw and leaves Date zero", fields: sgxtest.Fields{Date: 0x20240231}},
		{name: "keeps month 13 raw and leaves Date zero", fields: sgxtest.Fields{Date: 0x20241301}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := signer.Sign(tc.fields)
			checkWithCryptoRSA(t, b)
			s, err := ParseSigstruct(b)
			if err != nil {
				t.Fatalf("ParseSigstruct: %v", err)
			}
			if err := s.Verify(); err != nil {
				t.Errorf("Verify: %v", err)
			}
			f := tc.fields
			got := sgxtest.Fields{
				Debug: s.Debug, Vendor: s.Vendor, Date: s.DateRaw, SWDefined: s.SWDefined,
				MiscSelect: s.MiscSelect, MiscMask: s.MiscMask, Attributes: s.Attributes,
				AttributesMask: s.AttributesMask, MREnclave: s.MREnclave, ISVProdID: s.ISVProdID, ISVSVN: s.ISVSVN,
			}
			if got != f {
				t.Errorf("fields = %+v, want %+v", got, f)
			}
			if s.Debug != tc.debug {
				t.Errorf("Debug = %v, want %v", s.Debug, tc.debug)
			}
			if !s.Date.Equal(tc.date) {
				t.Errorf("Date = %v, want %v", s.Date, tc.date)
			}
			if s.MRSigner() != signer.MRSigner() {
				t.Errorf("MRSigner = %x, want %x", s.MRSigner(), signer.MRSigner())
			}
		})
	}
}

func TestParseSigstructRejectsMalformedStructures(t *testing.T) {
	signer := sgxtest.NewSigner(t)
	good := signer.Sign(sgxtest.Fields{Date: 0x20240101})
	// mutate returns a re-signed copy of good changed by f, so that only the
	// change under test is wrong.
	mutate := func(f func(b []byte)) []byte {
		b := slices.Clone(good)
		f(b)
		return signer.Resign(b)
	}
	tests := []struct {
		name string
		b    []byte
		msg  string
	}{
		{"rejects an empty input", nil, "sgx: sigstruct is 0 bytes, want 1808"},
		{"rejects a short input", good[:1000], "sgx: sigstruct is 1000 bytes, want 1808"},
		{"rejects a long input", append(slices.Clone(good), 0), "sgx: sigstruct is 1809 bytes, want 1808"},
		{"rejects a wrong first header byte", mutate(func(b []byte) { b[0] = 0x07 }), "sgx: sigstruct header is not a SIGSTRUCT header"},
		{"rejects a wrong last fixed header byte", mutate(func(b []byte) { b[10] = 0x02 }), "sgx: sigstruct header is not a SIGSTRUCT header"},
		{"rejects reserved type bits", mutate(func(b []byte) { b[12] = 1 }), "sgx: sigstruct header type 0x00000001 has reserved bits set"},
		{"rejects reserved type bits beside the debug bit", mutate(func(b []byte) { b[15] = 0xc0 }), "sgx: sigstruct header type 0xc0000000 has reserved bits set"},
		{"rejects a wrong HEADER2", mutate(func(b []byte) { b[28] = 0x61 }), "sgx: sigstruct second header (HEADER2) is not the fixed SIGSTRUCT value"},
		{"rejects a vendor other than 0 and Intel", mutate(func(b []byte) { binary.LittleEndian.PutUint32(b[16:], 0x1022) }), "sgx: sigstruct vendor is 0x1022, want 0 or 0x8086 (Intel)"},
		{"rejects exponent 65537", mutate(func(b []byte) { binary.LittleEndian.PutUint32(b[512:], 65537) }), "sgx: sigstruct exponent is 65537, want 3"},
		{"rejects exponent 0", mutate(func(b []byte) { binary.LittleEndian.PutUint32(b[512:], 0) }), "sgx: sigstruct exponent is 0, want 3"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := ParseSigstruct(tc.b)
			if err == nil {
				t.Fatalf("ParseSigstruct accepted it: %+v", s)
			}
			wantInvalid(t, err, tc.msg)
		})
	}
}

func TestVerifyRejectsBadSignatures(t *testing.T) {
	signer := sgxtest.NewSigner(t)
	good := signer.Sign(sgxtest.Fields{Date: 0x20240101, ISVProdID: 1, ISVSVN: 2})
	sample := readTestdata(t, "sig1.sigstruct.bin")
	tests := []struct {
		name string
		b    []byte           // defaults to good
		edit func(*Sigstruct) // applied after parsing
		msg  string
	}{
		{
			name: "rejects a signature made with another key",
			edit: func(s *Sigstruct) { s.Signature = slices.Clone(sample[516:900]) },
			msg:  "sgx: sigstruct signature does not verify with its modulus",
		},
		{
			name: "rejects a signature of another structure under the same key",
			edit: func(s *Sigstruct) {
				other := signer.Sign(sgxtest.Fields{Date: 0x20240101, ISVProdID: 1, ISVSVN: 3})
				s.Signature = slices.Clone(other[516:900])
			},
			msg: "sgx: sigstruct signature does not verify with its modulus",
		},
		{
			name: "rejects a field changed after parsing",
			edit: func(s *Sigstruct) { s.ISVSVN = 3 },
			msg:  "sgx: sigstruct signature does not verify with its modulus",
		},
		{
			name: "rejects a debug flag changed after parsing",
			edit: func(s *Sigstruct) { s.Debug = true },
			msg:  "sgx: sigstruct signature does not verify with its modulus",
		},
		{
			name: "rejects a zero signature",
			edit: func(s *Sigstruct) { s.Signature = make([]byte, 384) },
			msg:  "sgx: sigstruct signature does not verify with its modulus",
		},
		{
			name: "rejects a signature equal to the modulus",
			edit: func(s *Sigstruct) { s.Signature = slices.Clone(s.Modulus) },
			msg:  "sgx: sigstruct signature is not smaller than its modulus",
		},
		{
			name: "rejects a signature larger than the modulus",
			edit: func(s *Sigstruct) { s.Signature = bytes.Repeat([]byte{0xff}, 384) },
			msg:  "sgx: sigstruct signature is not smaller than its modulus",
		},
		{
			name: "rejects a modulus shorter than 3072 bits",
			edit: func(s *Sigstruct) { s.Modulus[383], s.Modulus[382] = 0, 0xff },
			msg:  "sgx: sigstruct modulus is 3064 bits, want 3072",
		},
		{
			name: "rejects a zero modulus",
			edit: func(s *Sigstruct) { s.Modulus = make([]byte, 384) },
			msg:  "sgx: sigstruct modulus is 0 bits, want 3072",
		},
		{
			name: "rejects a truncated modulus",
			edit: func(s *Sigstruct) { s.Modulus = s.Modulus[:383] },
			msg:  "sgx: sigstruct modulus, signature, Q1 and Q2 must be 384 bytes each",
		},
		{
			name: "rejects an exponent changed after parsing",
			edit: func(s *Sigstruct) { s.Exponent = 65537 },
			msg:  "sgx: sigstruct exponent is 65537, want 3",
		},
		{
			name: "rejects a wrong Q1",
			edit: func(s *Sigstruct) { s.Q1[0] ^= 1 },
			msg:  "sgx: sigstruct Q1/Q2 do not match its signature and modulus",
		},
		{
			name: "rejects a wrong Q2",
			edit: func(s *Sigstruct) { s.Q2[200] ^= 0x80 },
			msg:  "sgx: sigstruct Q1/Q2 do not match its signature and modulus",
		},
		{
			name: "rejects zero Q1 and Q2",
			edit: func(s *Sigstruct) { s.Q1, s.Q2 = make([]byte, 384), make([]byte, 384) },
			msg:  "sgx: sigstruct Q1/Q2 do not match its signature and modulus",
		},
		{
			name: "rejects a real sample whose ENCLAVEHASH was replaced",
			b:    sample,
			edit: func(s *Sigstruct) { s.MREnclave = sha256.Sum256([]byte("other")) },
			msg:  "sgx: sigstruct signature does not verify with its modulus",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := tc.b
			if b == nil {
				b = good
			}
			s, err := ParseSigstruct(b)
			if err != nil {
				t.Fatal(err)
			}
			tc.edit(s)
			wantInvalid(t, s.Verify(), tc.msg)
		})
	}
}

// Every byte of a SIGSTRUCT is either fixed, signed, key material or a
// helper value, except the 12 reserved bytes after ISVSVN: flipping any
// other byte must make ParseSigstruct or Verify fail.
func TestEveryByteFlipIsCaught(t *testing.T) {
	signer := sgxtest.NewSigner(t)
	samples := map[string][]byte{
		"sig1.sigstruct.bin": readTestdata(t, "sig1.sigstruct.bin"),
		"test_enclave.sig":   readTestdata(t, "test_enclave.sig"),
		"a test-signed SIGSTRUCT": signer.Sign(sgxtest.Fields{
			Date: 0x20240101, MREnclave: sha256.Sum256([]byte("e")), ISVProdID: 3, ISVSVN: 4,
		}),
	}
	for name, good := range samples {
		t.Run("catches every flip in "+name, func(t *testing.T) {
			for i := range good {
				for _, mask := range []byte{0x01, 0x80} {
					b := slices.Clone(good)
					b[i] ^= mask
					s, err := ParseSigstruct(b)
					if err != nil {
						if errs.KindOf(err) != errs.Invalid {
							t.Errorf("byte %d ^ %#x: parse error %v is not Invalid", i, mask, err)
						}
						continue
					}
					err = s.Verify()
					unsigned := i >= signed2End && i < offQ1
					switch {
					case unsigned && err != nil:
						t.Errorf("byte %d ^ %#x (unsigned reserved): Verify = %v, want nil", i, mask, err)
					case !unsigned && err == nil:
						t.Errorf("byte %d ^ %#x: Verify accepted the changed structure", i, mask)
					case err != nil && errs.KindOf(err) != errs.Invalid:
						t.Errorf("byte %d ^ %#x: Verify error %v is not Invalid", i, mask, err)
					}
				}
			}
		})
	}
}

func TestBCDDate(t *testing.T) {
	tests := []struct {
		name string
		raw  uint32
		want time.Time
	}{
		{"decodes an ordinary date", 0x20160109, time.Date(2016, 1, 9, 0, 0, 0, 0, time.UTC)},
		{"decodes the last day of a year", 0x19991231, time.Date(1999, 12, 31, 0, 0, 0, 0, time.UTC)},
		{"decodes 29 February of a leap year", 0x20240229, time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC)},
		{"refuses 29 February of a common year", 0x20230229, time.Time{}},
		{"refuses day 0", 0x20240100, time.Time{}},
		{"refuses month 0", 0x20240001, time.Time{}},
		{"refuses year 0", 0x00000101, time.Time{}},
		{"refuses a hex digit", 0x2024010f, time.Time{}},
		{"refuses a binary date", 20240101, time.Time{}},
		{"refuses all ones", 0xffffffff, time.Time{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := bcdDate(tc.raw); !got.Equal(tc.want) {
				t.Errorf("bcdDate(%#x) = %v, want %v", tc.raw, got, tc.want)
			}
		})
	}
}

func FuzzParseSigstruct(f *testing.F) {
	for _, name := range []string{"sig1.sigstruct.bin", "test_enclave.sig"} {
		f.Add(readTestdata(f, name))
	}
	f.Add(make([]byte, SigstructSize))
	f.Add([]byte{0x06, 0x00, 0x00, 0x00, 0xe1})
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := ParseSigstruct(b)
		if err != nil {
			if s != nil || errs.KindOf(err) != errs.Invalid {
				t.Fatalf("ParseSigstruct = %v, %v", s, err)
			}
			return
		}
		err = s.Verify()
		if err != nil && errs.KindOf(err) != errs.Invalid {
			t.Fatalf("Verify error %v is not Invalid", err)
		}
		_ = s.MRSigner()
	})
}
