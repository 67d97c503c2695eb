package azurecvm

import (
	"bytes"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"
	"slices"

	"github.com/google/go-tpm/tpm2"
)

// MaxPCR is the highest PCR index azure_cvm evidence may give: a vTPM has
// PCRs 0..23 (images set 0..22, NumPCRs).
const MaxPCR = 23

// quote is a parsed TPM2_Quote: a TPMS_ATTEST of type TPM_ST_ATTEST_QUOTE
// whose PCR selection is one SHA-256 bank.
type quote struct {
	raw       []byte
	extraData []byte
	// pcrs are the PCR indices the quote selects, in increasing order: the
	// order in which the TPM digests their values.
	pcrs   []int
	digest []byte
}

// parseQuote parses a TPMS_ATTEST holding a quote. It accepts exactly one
// encoding of each quote: no trailing bytes, nothing the fields do not
// account for.
func parseQuote(b []byte) (*quote, error) {
	a, err := unmarshalExact[tpm2.TPMSAttest](b)
	if err != nil {
		return nil, err
	}
	if a.Magic != tpm2.TPMGeneratedValue {
		return nil, fmt.Errorf("magic is %#x, not TPM_GENERATED_VALUE", uint32(a.Magic))
	}
	if a.Type != tpm2.TPMSTAttestQuote {
		return nil, fmt.Errorf("type is %#x, not TPM_ST_ATTEST_QUOTE", uint16(a.Type))
	}
	info, err := a.Attested.Quote()
	if err != nil {
		return nil, err
	}
	sel := info.PCRSelect.PCRSelections
	if len(sel) != 1 {
		return nil, fmt.Errorf("the quote selects %d PCR banks; want one, SHA-256", len(sel))
	}
	if sel[0].Hash != tpm2.TPMAlgSHA256 {
		return nil, fmt.Errorf("the quote selects PCRs of hash algorithm %#x; want SHA-256", uint16(sel[0].Hash))
	}
	q := &quote{raw: b, extraData: a.ExtraData.Buffer, digest: info.PCRDigest.Buffer}
	for i, m := range sel[0].PCRSelect {
		for ; m != 0; m &= m - 1 {
			pcr := 8*i + bits.TrailingZeros8(m)
			if pcr > MaxPCR {
				return nil, fmt.Errorf("the quote selects PCR %d; a vTPM has PCRs 0 to %d", pcr, MaxPCR)
			}
			q.pcrs = append(q.pcrs, pcr)
		}
	}
	if len(q.pcrs) == 0 {
		return nil, errors.New("the quote selects no PCR")
	}
	return q, nil
}

// signature is a parsed TPMT_SIGNATURE: RSASSA-PKCS1-v1_5 or RSASSA-PSS
// with SHA-256.
type signature struct {
	scheme tpm2.TPMAlgID
	sig    []byte
}

// parseSignature parses a TPMT_SIGNATURE, refusing trailing bytes.
func parseSignature(b []byte) (*signature, error) {
	s, err := unmarshalExact[tpm2.TPMTSignature](b)
	if err != nil {
		return nil, err
	}
	var rs *tpm2.TPMSSignatureRSA
	switch s.SigAlg {
	case tpm2.TPMAlgRSASSA:
		rs, err = s.Signature.RSASSA()
	case tpm2.TPMAlgRSAPSS:
		rs, err = s.Signature.RSAPSS()
	default:
		return nil, fmt.Errorf("signature scheme %#x is not RSASSA or RSAPSS", uint16(s.SigAlg))
	}
	if err != nil {
		return nil, err
	}
	if rs.Hash != tpm2.TPMAlgSHA256 {
		return nil, fmt.Errorf("signature hash algorithm %#x is not SHA-256", uint16(rs.Hash))
	}
	return &signature{scheme: s.SigAlg, sig: rs.Sig.Buffer}, nil
}

// verify checks the signature over msg with pub.
func (s *signature) verify(pub *rsa.PublicKey, msg []byte) error {
	d := sha256.Sum256(msg)
	if s.scheme == tpm2.TPMAlgRSAPSS {
		// TPMs use a salt as long as the digest, or the longest that
		// fits (FIPS 186-4 mode): let the verifier find it.
		return rsa.VerifyPSS(pub, crypto.SHA256, d[:], s.sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthAuto})
	}
	return rsa.VerifyPKCS1v15(pub, crypto.SHA256, d[:], s.sig)
}

// parseAKPublic parses the AK's public area: a TPMT_PUBLIC, or the
// TPM2B_PUBLIC (size-prefixed) that `tpm2_readpublic -o` writes, of an RSA
// key. The two cannot be confused: an RSA TPMT_PUBLIC starts with its type,
// 0x0001, which is never its own length less two.
func parseAKPublic(b []byte) (*rsa.PublicKey, error) {
	if len(b) >= 2 && int(binary.BigEndian.Uint16(b)) == len(b)-2 {
		b = b[2:]
	}
	p, err := unmarshalExact[tpm2.TPMTPublic](b)
	if err != nil {
		return nil, err
	}
	if p.Type != tpm2.TPMAlgRSA {
		return nil, fmt.Errorf("key type %#x is not RSA", uint16(p.Type))
	}
	parms, err := p.Parameters.RSADetail()
	if err != nil {
		return nil, err
	}
	n, err := p.Unique.RSA()
	if err != nil {
		return nil, err
	}
	e := parms.Exponent
	if e == 0 { // the TPM's way of saying 65537
		e = 65537
	}
	var eb [4]byte
	binary.BigEndian.PutUint32(eb[:], e)
	return rsaKey(n.Buffer, eb[:])
}

// matchSelection checks that the quote selects exactly the PCRs given.
func matchSelection(q *quote, pcrs map[int][]byte) error {
	for _, i := range q.pcrs {
		if _, ok := pcrs[i]; !ok {
			return fmt.Errorf("the quote selects PCR%d, which pcrs does not give", i)
		}
	}
	if len(pcrs) != len(q.pcrs) {
		for i := range pcrs {
			if !slices.Contains(q.pcrs, i) {
				return fmt.Errorf("pcrs gives PCR%d, which the quote does not select", i)
			}
		}
	}
	return nil
}

// checkPCRDigest checks that the quote's PCR digest is the SHA-256 of the
// given PCR values, concatenated in the order the quote selects them
// (increasing index). The quote's signature must have been verified and
// its selection matched.
func checkPCRDigest(q *quote, pcrs map[int][]byte) error {
	h := sha256.New()
	for _, i := range q.pcrs {
		h.Write(pcrs[i])
	}
	if !bytes.Equal(h.Sum(nil), q.digest) {
		return errors.New("the quote's PCR digest is not the digest of the PCR values given")
	}
	return nil
}

// unmarshalExact parses a TPM structure that must fill b exactly and be the
// one encoding of its value: the structure, encoded again, must be b. A
// panic in the library on hostile bytes is an error, not a crash.
func unmarshalExact[T tpm2.Marshallable, P interface {
	*T
	tpm2.Unmarshallable
}](b []byte) (v *T, err error) {
	defer func() {
		if r := recover(); r != nil {
			v, err = nil, fmt.Errorf("unparsable TPM structure: %v", r)
		}
	}()
	v, err = tpm2.Unmarshal[T, P](b)
	if err != nil {
		return nil, err
	}
	if again := tpm2.Marshal(*v); !bytes.Equal(again, b) {
		if len(again) < len(b) {
			return nil, fmt.Errorf("%d bytes after the structure", len(b)-len(again))
		}
		return nil, errors.New("bytes that the structure's fields do not account for")
	}
	return v, nil
}
