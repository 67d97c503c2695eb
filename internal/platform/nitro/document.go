package nitro

import (
	"bytes"
	"crypto/x509"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/fxamacker/cbor/v2"
	cose "github.com/veraison/go-cose"

	"github.com/openccm/openccm/internal/platform"
)

// Limits of an attestation document. The payload limits are those of AWS's
// specification (aws-nitro-enclaves-nsm-api, docs/attestation_process.md,
// "Syntactical validation"); the others bound the work done on untrusted
// bytes. A real document is about 4.5 KiB.
const (
	// MaxDocument is the largest attestation document accepted, in bytes.
	MaxDocument = 64 << 10

	maxPayload   = 16 << 10 // COSE payload: bstr .size (1..16384)
	maxCert      = 1024     // cert = bytes .size (1..1024)
	maxCABundle  = 8        // AWS sends 4: root, regional, zonal, instance
	maxPCRs      = 32       // pcrs: $size ∈ [1, 32], index ∈ [0, 32)
	maxPublicKey = 1024     // public_key: $length ∈ [1, 1024]
	maxUserData  = 512      // user_data and nonce: $length ∈ [0, 512]
	maxModuleID  = 256      // not bounded by the specification; real IDs are ~40 characters
)

// document is a parsed attestation document. Nothing in it is trusted until
// verifyChain has checked the certificate chain and the COSE signature.
type document struct {
	moduleID  string
	timestamp time.Time
	pcrs      map[int][]byte
	// leaf is the certificate whose key signed the document; cabundle is
	// the issuing CA bundle as sent, root first, leaf's issuer last.
	leaf      *x509.Certificate
	cabundle  []*x509.Certificate
	publicKey []byte // nil when absent
	userData  []byte // nil when absent
	nonce     []byte // nil when absent

	// msg is the COSE_Sign1 message the signature is checked over.
	msg *cose.Sign1Message
}

// payload is the CBOR map inside the COSE_Sign1 envelope. Required members
// are pointers so that absence (and null, which the specification forbids
// for them) can be told from a zero value.
type payload struct {
	ModuleID    *string         `cbor:"module_id"`
	Digest      *string         `cbor:"digest"`
	Timestamp   *uint64         `cbor:"timestamp"`
	PCRs        map[uint64]bstr `cbor:"pcrs"`
	Certificate bstr            `cbor:"certificate"`
	CABundle    *[]bstr         `cbor:"cabundle"`
	// The optional members may be null: real documents carry
	// "public_key": null when the enclave asked for none.
	PublicKey bstr `cbor:"public_key"`
	UserData  bstr `cbor:"user_data"`
	Nonce     bstr `cbor:"nonce"`
}

// bstr is a CBOR byte string, or null. A plain []byte would also take an
// array of small integers, which the specification does not allow.
type bstr []byte

// UnmarshalCBOR implements cbor.Unmarshaler.
func (b *bstr) UnmarshalCBOR(data []byte) error {
	if len(data) == 1 && data[0] == 0xf6 { // null
		*b = nil
		return nil
	}
	if len(data) == 0 || data[0]>>5 != 2 { // major type 2
		return errors.New("cbor: a member that must be a byte string is not one")
	}
	var v []byte
	if err := payloadDecoder.Unmarshal(data, &v); err != nil {
		return err
	}
	if v == nil {
		v = []byte{} // present, if empty
	}
	*b = v
	return nil
}

// payloadDecoder decodes the payload strictly: duplicate keys, indefinite
// lengths, tags and case-insensitive name matches are refused, and nesting
// and sizes are bounded. Unknown members are ignored: they would be signed
// by AWS, and a verifier that refused them would break the day AWS adds
// one.
var payloadDecoder = func() cbor.DecMode {
	dm, err := cbor.DecOptions{
		DupMapKey:         cbor.DupMapKeyEnforcedAPF,
		IndefLength:       cbor.IndefLengthForbidden,
		TagsMd:            cbor.TagsForbidden,
		MaxNestedLevels:   4,
		MaxArrayElements:  16,
		MaxMapPairs:       64,
		FieldNameMatching: cbor.FieldNameMatchingCaseSensitive,
	}.DecMode()
	if err != nil {
		panic(err) // the options are constant
	}
	return dm
}()

// cbor.Tag 18 followed by an array of four: a tagged COSE_Sign1.
var taggedSign1Prefix = []byte{0xd2, 0x84}

// parseDocument decodes an attestation document: a COSE_Sign1 (untagged, as
// the Nitro hypervisor sends it, or tagged) whose payload is the CBOR map of
// AWS's specification. It checks the document's syntax only; every error is
// a ReasonMalformed rejection.
func parseDocument(b []byte) (*document, error) {
	if len(b) == 0 {
		return nil, malformed("nitro: attestation document is empty")
	}
	if len(b) > MaxDocument {
		return nil, malformed("nitro: attestation document is %d bytes, more than the %d KiB allowed", len(b), MaxDocument>>10)
	}
	var msg cose.Sign1Message
	if bytes.HasPrefix(b, taggedSign1Prefix) {
		if err := msg.UnmarshalCBOR(b); err != nil {
			return nil, malformed("nitro: attestation document is not a COSE_Sign1 message: %v", err)
		}
	} else {
		if err := (*cose.UntaggedSign1Message)(&msg).UnmarshalCBOR(b); err != nil {
			return nil, malformed("nitro: attestation document is not a COSE_Sign1 message: %v", err)
		}
	}
	alg, err := msg.Headers.Protected.Algorithm()
	if err != nil {
		return nil, malformed("nitro: attestation document's protected header has no usable algorithm: %v", err)
	}
	if alg != cose.AlgorithmES384 {
		return nil, malformed("nitro: attestation document is signed with %v, want ES384", alg)
	}
	if len(msg.Payload) == 0 {
		return nil, malformed("nitro: attestation document has no payload")
	}
	if len(msg.Payload) > maxPayload {
		return nil, malformed("nitro: attestation document payload is %d bytes, more than the %d KiB allowed", len(msg.Payload), maxPayload>>10)
	}

	var p payload
	if err := payloadDecoder.Unmarshal(msg.Payload, &p); err != nil {
		return nil, malformed("nitro: attestation document payload is not the expected CBOR map: %v", err)
	}
	doc := &document{msg: &msg}

	switch {
	case p.ModuleID == nil:
		return nil, missing("module_id")
	case *p.ModuleID == "":
		return nil, malformed("nitro: attestation document module_id is empty")
	case len(*p.ModuleID) > maxModuleID:
		return nil, malformed("nitro: attestation document module_id is %d bytes, more than %d", len(*p.ModuleID), maxModuleID)
	}
	doc.moduleID = *p.ModuleID

	switch {
	case p.Digest == nil:
		return nil, missing("digest")
	case *p.Digest != "SHA384":
		return nil, malformed("nitro: attestation document digest is %q, want SHA384", short(*p.Digest))
	}

	switch {
	case p.Timestamp == nil:
		return nil, missing("timestamp")
	case *p.Timestamp == 0 || *p.Timestamp > math.MaxInt64:
		return nil, malformed("nitro: attestation document timestamp %d is out of range", *p.Timestamp)
	}
	doc.timestamp = time.UnixMilli(int64(*p.Timestamp)).UTC()

	if p.PCRs == nil {
		return nil, missing("pcrs")
	}
	if len(p.PCRs) == 0 || len(p.PCRs) > maxPCRs {
		return nil, malformed("nitro: attestation document has %d PCRs, want 1 to %d", len(p.PCRs), maxPCRs)
	}
	doc.pcrs = make(map[int][]byte, len(p.PCRs))
	for i, v := range p.PCRs {
		if i >= maxPCRs {
			return nil, malformed("nitro: attestation document has PCR index %d, want 0 to %d", i, maxPCRs-1)
		}
		if n := len(v); n != 32 && n != 48 && n != 64 {
			return nil, malformed("nitro: attestation document PCR%d is %d bytes, want 32, 48 or 64", i, n)
		}
		doc.pcrs[int(i)] = []byte(v)
	}
	// PCR0 measures the whole enclave image, and Debug is read from it: a
	// document without it could not say whether it comes from a debug
	// enclave.
	if _, ok := doc.pcrs[0]; !ok {
		return nil, malformed("nitro: attestation document has no PCR0")
	}

	if p.Certificate == nil {
		return nil, missing("certificate")
	}
	if doc.leaf, err = parseCert(p.Certificate, "certificate"); err != nil {
		return nil, err
	}
	if p.CABundle == nil {
		return nil, missing("cabundle")
	}
	if n := len(*p.CABundle); n == 0 || n > maxCABundle {
		return nil, malformed("nitro: attestation document cabundle has %d certificates, want 1 to %d", n, maxCABundle)
	}
	doc.cabundle = make([]*x509.Certificate, len(*p.CABundle))
	for i, der := range *p.CABundle {
		if doc.cabundle[i], err = parseCert(der, fmt.Sprintf("cabundle[%d]", i)); err != nil {
			return nil, err
		}
	}

	if p.PublicKey != nil && (len(p.PublicKey) == 0 || len(p.PublicKey) > maxPublicKey) {
		return nil, malformed("nitro: attestation document public_key is %d bytes, want 1 to %d", len(p.PublicKey), maxPublicKey)
	}
	if len(p.UserData) > maxUserData {
		return nil, malformed("nitro: attestation document user_data is %d bytes, more than %d", len(p.UserData), maxUserData)
	}
	if len(p.Nonce) > maxUserData {
		return nil, malformed("nitro: attestation document nonce is %d bytes, more than %d", len(p.Nonce), maxUserData)
	}
	doc.publicKey, doc.userData, doc.nonce = []byte(p.PublicKey), []byte(p.UserData), []byte(p.Nonce)
	return doc, nil
}

// parseCert parses one DER certificate of the document.
func parseCert(der bstr, what string) (*x509.Certificate, error) {
	if len(der) == 0 || len(der) > maxCert {
		return nil, malformed("nitro: attestation document %s is %d bytes, want 1 to %d", what, len(der), maxCert)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, malformed("nitro: attestation document %s is not a DER certificate: %v", what, err)
	}
	return c, nil
}

func missing(field string) error {
	return malformed("nitro: attestation document has no %s", field)
}

func malformed(format string, args ...any) error {
	return platform.Reject(platform.ReasonMalformed, format, args...)
}
