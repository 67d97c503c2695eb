package sgx

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"testing"

	"github.com/openccm/openccm/internal/platform/platformtest"
)

func TestParseQuote(t *testing.T) {
	t.Run("reads a real quote's fields", func(t *testing.T) {
		q, err := parseQuote(readSample(t, "quote_pck_cert_chain.bin"))
		if err != nil {
			t.Fatal(err)
		}
		if q.qeSVN != 2 || q.pceSVN != 7 || q.body.isvProdID != 0 || q.body.isvSVN != 0 || q.body.miscSelect != 0 {
			t.Errorf("QE SVN %d, PCE SVN %d, body %+v", q.qeSVN, q.pceSVN, q.body)
		}
		if hex.EncodeToString(q.body.cpuSVN[:]) != "0f0f0205ff8007000000000000000000" ||
			hex.EncodeToString(q.body.mrEnclave[:]) != "04d285fd1b0f11a7e29392d7481f2d94dcdb298ba7619b04e7fc320d81f2970e" {
			t.Errorf("CPUSVN %x, MRENCLAVE %x", q.body.cpuSVN, q.body.mrEnclave)
		}
		if q.qeReport.mrSigner != intelQE.mrSigner || q.qeReport.isvProdID != 1 || q.qeReport.isvSVN != 2 {
			t.Errorf("QE report %+v", q.qeReport)
		}
		if len(q.qeAuthData) != 32 || q.qeAuthData[31] != 31 || q.certType != certTypePCKChain || len(q.certData) != 3526 {
			t.Errorf("QE auth data %x, cert type %d, %d bytes", q.qeAuthData, q.certType, len(q.certData))
		}
		if !bytes.HasPrefix(q.certData, []byte("-----BEGIN CERTIFICATE-----")) {
			t.Error("certification data is not the PEM chain")
		}
	})

	ca := platformtest.NewSGX(t)
	good := ca.Quote(testReport(), testBinding)
	if _, err := parseQuote(good); err != nil {
		t.Fatalf("platformtest's quote: %v", err)
	}
	le := binary.LittleEndian
	certLenAt := len(good) - len(ca.PCKChainPEM()) - 4
	authLenAt := quoteSigDataOffset + qeAuthDataLenOffset
	tests := []struct {
		name string
		edit func(b []byte) []byte
	}{
		{"an empty quote", func(b []byte) []byte { return nil }},
		{"a header alone", func(b []byte) []byte { return b[:quoteHeaderSize] }},
		{"a quote cut before the signature data length", func(b []byte) []byte { return b[:quoteSigLenOffset+2] }},
		{"a quote cut in the QE report", func(b []byte) []byte { return b[:quoteSigDataOffset+200] }},
		{"a quote one byte short", func(b []byte) []byte { return b[:len(b)-1] }},
		{"a quote with a trailing byte", func(b []byte) []byte { return append(b, 0) }},
		{"version 4 (TDX and newer SGX quotes)", func(b []byte) []byte { le.PutUint16(b[hdrVersion:], 4); return b }},
		{"version 2 (EPID)", func(b []byte) []byte { le.PutUint16(b[hdrVersion:], 2); return b }},
		{"attestation key type ECDSA-384", func(b []byte) []byte { le.PutUint16(b[hdrAttKeyType:], 3); return b }},
		{"TEE type TDX", func(b []byte) []byte { le.PutUint32(b[hdrTEEType:], 0x81); return b }},
		{"another QE vendor", func(b []byte) []byte { b[hdrQEVendorID] ^= 1; return b }},
		{"a signature data length one too many", func(b []byte) []byte {
			le.PutUint32(b[quoteSigLenOffset:], le.Uint32(b[quoteSigLenOffset:])+1)
			return b
		}},
		{"a signature data length one too few", func(b []byte) []byte {
			le.PutUint32(b[quoteSigLenOffset:], le.Uint32(b[quoteSigLenOffset:])-1)
			return b
		}},
		{"a signature data length of 2^32-1", func(b []byte) []byte { le.PutUint32(b[quoteSigLenOffset:], 0xffffffff); return b }},
		{"QE authentication data running past the end", func(b []byte) []byte { le.PutUint16(b[authLenAt:], 0xffff); return b }},
		{"a certification data size one too many", func(b []byte) []byte { le.PutUint32(b[certLenAt:], le.Uint32(b[certLenAt:])+1); return b }},
		{"a certification data size one too few", func(b []byte) []byte { le.PutUint32(b[certLenAt:], le.Uint32(b[certLenAt:])-1); return b }},
		{"a certification data size of 2^32-1", func(b []byte) []byte { le.PutUint32(b[certLenAt:], 0xffffffff); return b }},
		{"certification data type 0", func(b []byte) []byte { le.PutUint16(b[certLenAt-2:], 0); return b }},
		{"certification data type 8", func(b []byte) []byte { le.PutUint16(b[certLenAt-2:], 8); return b }},
		{"empty certification data", func(b []byte) []byte {
			b = b[:certLenAt+4]
			le.PutUint32(b[certLenAt:], 0)
			le.PutUint32(b[quoteSigLenOffset:], uint32(len(b)-quoteSigDataOffset))
			return b
		}},
		{"a quote over the size limit", func(b []byte) []byte { return append(b, make([]byte, MaxQuoteSize)...) }},
	}
	for _, tc := range tests {
		t.Run("refuses "+tc.name, func(t *testing.T) {
			if _, err := parseQuote(tc.edit(bytes.Clone(good))); err == nil {
				t.Error("parsed")
			}
		})
	}
	t.Run("reads any certification data type Intel defines", func(t *testing.T) {
		for typ := uint16(certTypePPIDCleartext); typ <= certTypeManifest; typ++ {
			b := bytes.Clone(good)
			le.PutUint16(b[certLenAt-2:], typ)
			q, err := parseQuote(b)
			if err != nil || q.certType != typ || certTypeName(typ) == "unknown" {
				t.Errorf("type %d: %v", typ, err)
			}
		}
	})
}

// FuzzParseQuote feeds parseQuote arbitrary bytes: it must never panic, and
// what it accepts must be a whole quote whose lengths add up and whose
// facts can be read.
func FuzzParseQuote(f *testing.F) {
	for _, name := range []string{"quote_pck_cert_chain.bin", "quote_raw_tcb.bin", "pcs_quote.bin"} {
		f.Add(readSample(f, name))
	}
	ca := platformtest.NewSGX(f)
	f.Add(ca.Quote(testReport(), testBinding))
	f.Add(make([]byte, quoteSigDataOffset+minSigDataSize))
	f.Add([]byte{3, 0, 2, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		q, err := parseQuote(b)
		if err != nil {
			return
		}
		sigLen := int(binary.LittleEndian.Uint32(b[quoteSigLenOffset:]))
		if quoteSigDataOffset+sigLen != len(b) || len(q.qeReportRaw) != reportBodySize || len(q.certData) == 0 {
			t.Fatalf("accepted a quote of %d bytes whose parts do not add up", len(b))
		}
		if want := quoteSigDataOffset + qeAuthDataLenOffset + 2 + len(q.qeAuthData) + certDataHeaderSize + len(q.certData); want != len(b) {
			t.Fatalf("parts add up to %d bytes, the quote has %d", want, len(b))
		}
		if !bytes.Equal(q.signed(), b[:quoteSignedSize]) {
			t.Fatal("signed bytes are not header ‖ report body")
		}
		_ = checkAttestationKey(q)
		_ = checkBinding(q, &[32]byte{})
		_ = intelQE.match(&q.qeReport)
		if q.certType == certTypePCKChain {
			_, _ = parsePEMChain(q.certData)
		}
		_ = claims(q, &verifiedPCK{ext: &pckExtension{}}, nil)
	})
}
