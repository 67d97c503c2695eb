package sgx

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
)

// The layout of an SGX ECDSA quote, version 3 (Intel SGX ECDSA Quote Library
// Reference, "Quote Format"; the DCAP sgx_quote_3_t). Integers are
// little-endian; ECDSA signatures are r ‖ s and public keys x ‖ y, each
// 32-byte number big-endian.
const (
	quoteHeaderSize     = 48
	reportBodySize      = 384
	quoteSigLenOffset   = quoteHeaderSize + reportBodySize // uint32: size of the signature data
	quoteSigDataOffset  = quoteSigLenOffset + 4
	quoteSignedSize     = quoteHeaderSize + reportBodySize // header ‖ report body: what the attestation key signs
	ecdsaSigSize        = 64
	ecdsaKeySize        = 64
	qeAuthDataLenOffset = 2*ecdsaSigSize + ecdsaKeySize + reportBodySize // in the signature data: after sig, key, QE report and its sig
	certDataHeaderSize  = 2 + 4                                          // type (uint16) and size (uint32)
	minSigDataSize      = qeAuthDataLenOffset + 2 + certDataHeaderSize

	// MaxQuoteSize bounds the quotes the verifier reads. A quote with a PCK
	// certificate chain is about 4.5 KiB; the bound leaves room for
	// longer chains and QE authentication data.
	MaxQuoteSize = 64 << 10
)

// Header fields.
const (
	quoteVersion3      = 3
	attKeyECDSAP256    = 2 // ECDSA-256-with-P-256
	teeTypeSGX         = 0
	hdrVersion         = 0
	hdrAttKeyType      = 2
	hdrTEEType         = 4
	hdrQESVN           = 8
	hdrPCESVN          = 10
	hdrQEVendorID      = 12
	qeVendorIDSize     = 16
	hdrUserData        = 28
	headerUserDataSize = 20
)

// intelQEVendorID is the QE vendor ID of Intel's quoting enclave
// (939A7233-F79C-4CA9-940A-0DB3957F0607), the only QE whose quotes the
// verifier knows how to judge.
var intelQEVendorID = [qeVendorIDSize]byte{0x93, 0x9a, 0x72, 0x33, 0xf7, 0x9c, 0x4c, 0xa9, 0x94, 0x0a, 0x0d, 0xb3, 0x95, 0x7f, 0x06, 0x07}

// Offsets in an enclave report body (sgx_report_body_t). The reserved
// ranges hold the KSS fields (ISVEXTPRODID, CONFIGID, CONFIGSVN,
// ISVFAMILYID) on platforms that have them, so they are not required to be
// zero; they are signed like the rest.
const (
	rbCPUSVN     = 0   // 16 bytes
	rbMiscSelect = 16  // uint32
	rbAttributes = 48  // 16 bytes: FLAGS (uint64) then XFRM (uint64)
	rbMREnclave  = 64  // 32 bytes
	rbMRSigner   = 128 // 32 bytes
	rbISVProdID  = 256 // uint16
	rbISVSVN     = 258 // uint16
	rbReportData = 320 // 64 bytes
)

// attrDebug is the DEBUG bit of the ATTRIBUTES flags: the enclave's memory
// can be read and changed with the debug instructions.
const attrDebug = 1 << 1

// Certification data types (Intel SGX ECDSA Quote Library Reference,
// "Certification Data Type"). Only the PCK certificate chain lets the quote
// be verified without asking Intel's PCS for the PCK certificate.
const (
	certTypePPIDCleartext = 1
	certTypePPIDRSA2048   = 2
	certTypePPIDRSA3072   = 3
	certTypePCKCleartext  = 4
	certTypePCKChain      = 5
	certTypeQEReport      = 6
	certTypeManifest      = 7
)

// reportBody is a parsed enclave report body (the ISV enclave's or the
// QE's).
type reportBody struct {
	cpuSVN     [16]byte
	miscSelect uint32
	attributes [16]byte
	mrEnclave  [32]byte
	mrSigner   [32]byte
	isvProdID  uint16
	isvSVN     uint16
	reportData [64]byte
}

// debug reports the DEBUG attribute.
func (r *reportBody) debug() bool {
	return binary.LittleEndian.Uint64(r.attributes[:8])&attrDebug != 0
}

func parseReportBody(b []byte) reportBody {
	var r reportBody
	copy(r.cpuSVN[:], b[rbCPUSVN:])
	r.miscSelect = binary.LittleEndian.Uint32(b[rbMiscSelect:])
	copy(r.attributes[:], b[rbAttributes:])
	copy(r.mrEnclave[:], b[rbMREnclave:])
	copy(r.mrSigner[:], b[rbMRSigner:])
	r.isvProdID = binary.LittleEndian.Uint16(b[rbISVProdID:])
	r.isvSVN = binary.LittleEndian.Uint16(b[rbISVSVN:])
	copy(r.reportData[:], b[rbReportData:])
	return r
}

// quote is a parsed ECDSA quote v3. The byte slices point into raw.
type quote struct {
	raw []byte

	qeSVN, pceSVN uint16
	userData      []byte // the header's user data: the QE's platform identifier

	body reportBody

	signature   [ecdsaSigSize]byte // by the attestation key over raw[:quoteSignedSize]
	attKey      [ecdsaKeySize]byte // the attestation public key, x ‖ y
	qeReportRaw []byte             // the QE's report body, signed by the PCK key
	qeReport    reportBody
	qeReportSig [ecdsaSigSize]byte
	qeAuthData  []byte
	certType    uint16
	certData    []byte
}

// signed returns the bytes the attestation key signs: header ‖ report body.
func (q *quote) signed() []byte { return q.raw[:quoteSignedSize] }

// parseQuote parses an SGX ECDSA quote, version 3, as Intel's quote library
// writes it. It checks the header (version 3, ECDSA-256-with-P-256, SGX,
// Intel's QE) and that every length adds up to exactly the quote's size: a
// quote with bytes left over, or too few, is refused. It checks no
// signature.
func parseQuote(b []byte) (*quote, error) {
	if len(b) > MaxQuoteSize {
		return nil, fmt.Errorf("quote is %d bytes, more than the %d allowed", len(b), MaxQuoteSize)
	}
	if len(b) < quoteSigDataOffset {
		return nil, fmt.Errorf("quote is %d bytes, shorter than a header and report body (%d)", len(b), quoteSigDataOffset)
	}
	le := binary.LittleEndian
	if v := le.Uint16(b[hdrVersion:]); v != quoteVersion3 {
		return nil, fmt.Errorf("quote version is %d; only version 3 (SGX DCAP) is supported", v)
	}
	if t := le.Uint16(b[hdrAttKeyType:]); t != attKeyECDSAP256 {
		return nil, fmt.Errorf("attestation key type is %d; only %d (ECDSA-256-with-P-256) is supported", t, attKeyECDSAP256)
	}
	if t := le.Uint32(b[hdrTEEType:]); t != teeTypeSGX {
		return nil, fmt.Errorf("TEE type is %#x, not SGX (0)", t)
	}
	if !bytes.Equal(b[hdrQEVendorID:hdrQEVendorID+qeVendorIDSize], intelQEVendorID[:]) {
		return nil, fmt.Errorf("QE vendor ID is %x, not Intel's quoting enclave", b[hdrQEVendorID:hdrQEVendorID+qeVendorIDSize])
	}
	q := &quote{
		raw:      b,
		qeSVN:    le.Uint16(b[hdrQESVN:]),
		pceSVN:   le.Uint16(b[hdrPCESVN:]),
		userData: b[hdrUserData : hdrUserData+headerUserDataSize],
		body:     parseReportBody(b[quoteHeaderSize:quoteSigLenOffset]),
	}

	sigLen := le.Uint32(b[quoteSigLenOffset:])
	sd := b[quoteSigDataOffset:]
	if uint64(sigLen) != uint64(len(sd)) {
		return nil, fmt.Errorf("signature data length is %d but %d bytes follow it", sigLen, len(sd))
	}
	if len(sd) < minSigDataSize {
		return nil, fmt.Errorf("signature data is %d bytes, shorter than the %d of its fixed fields", len(sd), minSigDataSize)
	}
	off := 0
	off += copy(q.signature[:], sd[off:])
	off += copy(q.attKey[:], sd[off:])
	q.qeReportRaw = sd[off : off+reportBodySize]
	q.qeReport = parseReportBody(q.qeReportRaw)
	off += reportBodySize
	off += copy(q.qeReportSig[:], sd[off:])

	authLen := int(le.Uint16(sd[off:]))
	off += 2
	if len(sd)-off < authLen+certDataHeaderSize {
		return nil, fmt.Errorf("QE authentication data of %d bytes does not fit in the signature data", authLen)
	}
	q.qeAuthData = sd[off : off+authLen]
	off += authLen

	q.certType = le.Uint16(sd[off:])
	certLen := le.Uint32(sd[off+2:])
	off += certDataHeaderSize
	switch rest := len(sd) - off; {
	case uint64(certLen) > uint64(rest):
		return nil, fmt.Errorf("certification data is %d bytes but only %d follow", certLen, rest)
	case uint64(certLen) < uint64(rest):
		return nil, fmt.Errorf("%d bytes follow the certification data", rest-int(certLen))
	}
	q.certData = sd[off:]
	if q.certType < certTypePPIDCleartext || q.certType > certTypeManifest {
		return nil, fmt.Errorf("certification data type is %d, not one Intel defines (1 to 7)", q.certType)
	}
	if len(q.certData) == 0 {
		return nil, errors.New("certification data is empty")
	}
	return q, nil
}

// certTypeName names a certification data type for error messages.
func certTypeName(t uint16) string {
	switch t {
	case certTypePPIDCleartext:
		return "PPID in clear text"
	case certTypePPIDRSA2048:
		return "PPID encrypted with RSA-2048"
	case certTypePPIDRSA3072:
		return "PPID encrypted with RSA-3072"
	case certTypePCKCleartext:
		return "PCK leaf certificate alone"
	case certTypePCKChain:
		return "PCK certificate chain"
	case certTypeQEReport:
		return "QE report certification data"
	case certTypeManifest:
		return "platform manifest"
	}
	return "unknown"
}
