package sgx

import (
	"bytes"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"testing"

	"github.com/openccm/openccm/internal/platform/platformtest"
)

// withExtension returns a certificate holding only the SGX extension b:
// parsePCKExtension reads nothing else.
func withExtension(b []byte) *x509.Certificate {
	return &x509.Certificate{Extensions: []pkix.Extension{{Id: oidSGXExtension, Value: b}}}
}

func TestParsePCKExtension(t *testing.T) {
	t.Run("reads a real PCK certificate", func(t *testing.T) {
		q, err := parseQuote(readSample(t, "pcs_quote.bin"))
		if err != nil {
			t.Fatal(err)
		}
		chain, err := parsePEMChain(q.certData)
		if err != nil {
			t.Fatal(err)
		}
		ext, err := parsePCKExtension(chain[0])
		if err != nil {
			t.Fatal(err)
		}
		if hex.EncodeToString(ext.fmspc[:]) != "00906ea10000" || ext.pceID != [2]byte{} || ext.tcb.pceSVN != 10 ||
			ext.tcb.components != [16]uint8{14, 14, 2, 4, 1, 128, 7} ||
			hex.EncodeToString(ext.tcb.cpuSVN[:]) != "0e0e0204018007000000000000000000" {
			t.Errorf("extension %+v", ext)
		}
	})

	p := platformtest.SGXPlatform{FMSPC: [6]byte{1, 2, 3, 4, 5, 6}, PCEID: [2]byte{0, 9}, TCB: [16]uint8{1, 2, 3, 15: 255}, PCESVN: 65535}
	good, err := platformtest.SGXPCKExtension(p)
	if err != nil {
		t.Fatal(err)
	}
	t.Run("reads what platformtest writes", func(t *testing.T) {
		ext, err := parsePCKExtension(withExtension(good.Value))
		if err != nil {
			t.Fatal(err)
		}
		if ext.fmspc != p.FMSPC || ext.pceID != p.PCEID || ext.tcb.components != p.TCB || ext.tcb.pceSVN != p.PCESVN {
			t.Errorf("extension %+v", ext)
		}
	})

	item := func(oid asn1.ObjectIdentifier, v []byte) []byte {
		b, err := asn1.Marshal(struct {
			ID    asn1.ObjectIdentifier
			Value asn1.RawValue
		}{oid, asn1.RawValue{FullBytes: v}})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	seq := func(items ...[]byte) []byte {
		b, err := asn1.Marshal(asn1.RawValue{Class: asn1.ClassUniversal, Tag: asn1.TagSequence, IsCompound: true, Bytes: bytes.Join(items, nil)})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	der := func(v any) []byte {
		b, err := asn1.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	tcbItem := func(k int, v []byte) []byte { return item(append(oidSGXTCB[:len(oidSGXTCB):len(oidSGXTCB)], k), v) }
	tcb := func(skip int, extra ...[]byte) []byte {
		var items [][]byte
		for k := 1; k <= 17; k++ {
			if k != skip {
				items = append(items, tcbItem(k, der(1)))
			}
		}
		return seq(append(items, extra...)...)
	}
	fmspc := item(oidSGXFMSPC, der([]byte{1, 2, 3, 4, 5, 6}))
	pceID := item(oidSGXPCEID, der([]byte{0, 0}))
	tcbOK := item(oidSGXTCB, tcb(0))
	if _, err := parsePCKExtension(withExtension(seq(fmspc, pceID, tcbOK))); err != nil {
		t.Fatalf("a minimal extension: %v", err)
	}
	for name, ext := range map[string][]byte{
		"no FMSPC":                  seq(pceID, tcbOK),
		"no PCE-ID":                 seq(fmspc, tcbOK),
		"no TCB":                    seq(fmspc, pceID),
		"two FMSPCs":                seq(fmspc, fmspc, pceID, tcbOK),
		"a five-byte FMSPC":         seq(item(oidSGXFMSPC, der([]byte{1, 2, 3, 4, 5})), pceID, tcbOK),
		"an FMSPC that is an INT":   seq(item(oidSGXFMSPC, der(7)), pceID, tcbOK),
		"a TCB that is not a SEQ":   seq(fmspc, pceID, item(oidSGXTCB, der(1))),
		"no TCB component 16":       seq(fmspc, pceID, item(oidSGXTCB, tcb(16))),
		"no PCESVN":                 seq(fmspc, pceID, item(oidSGXTCB, tcb(17))),
		"a component twice":         seq(fmspc, pceID, item(oidSGXTCB, tcb(0, tcbItem(3, der(1))))),
		"a component over 255":      seq(fmspc, pceID, item(oidSGXTCB, tcb(5, tcbItem(5, der(256))))),
		"a negative component":      seq(fmspc, pceID, item(oidSGXTCB, tcb(5, tcbItem(5, der(-1))))),
		"a PCESVN over 65535":       seq(fmspc, pceID, item(oidSGXTCB, tcb(17, tcbItem(17, der(65536))))),
		"a short CPUSVN":            seq(fmspc, pceID, item(oidSGXTCB, tcb(0, tcbItem(18, der([]byte{1}))))),
		"trailing data":             append(seq(fmspc, pceID, tcbOK), 0),
		"not DER":                   {0x30, 0x80},
		"an extension of no fields": seq(),
	} {
		if _, err := parsePCKExtension(withExtension(ext)); err == nil {
			t.Errorf("%s: parsed", name)
		}
	}
	if _, err := parsePCKExtension(&x509.Certificate{}); err == nil {
		t.Error("a certificate without the SGX extension: parsed")
	}
	twice := &x509.Certificate{Extensions: []pkix.Extension{good, good}}
	if _, err := parsePCKExtension(twice); err == nil {
		t.Error("a certificate with the SGX extension twice: parsed")
	}
}

func TestParsePEMChain(t *testing.T) {
	ca := platformtest.NewSGX(t)
	chain := ca.PCKChainPEM()
	for name, b := range map[string][]byte{
		"the chain":                 chain,
		"the chain with NULs":       append(bytes.Clone(chain), 0, 0),
		"the chain with CRLF lines": bytes.ReplaceAll(chain, []byte("\n"), []byte("\r\n")),
	} {
		if certs, err := parsePEMChain(b); err != nil || len(certs) != 3 {
			t.Errorf("%s: %d certificates, %v", name, len(certs), err)
		}
	}
	for name, b := range map[string][]byte{
		"nothing":                   nil,
		"NULs":                      {0, 0},
		"text before the chain":     append([]byte("hello\n"), chain...),
		"text between the blocks":   bytes.Replace(chain, []byte("-----\n-----BEGIN"), []byte("-----\nx\n-----BEGIN"), 1),
		"text after the chain":      append(bytes.Clone(chain), "x"...),
		"a NUL inside the chain":    bytes.Replace(chain, []byte("-----\n-----BEGIN"), []byte("-----\n\x00-----BEGIN"), 1),
		"a PEM key":                 []byte("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"),
		"a certificate not DER":     []byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"),
		"nine certificates":         bytes.Repeat(chain, 3),
		"a block that never closes": []byte("-----BEGIN CERTIFICATE-----\nAAAA\n"),
	} {
		if _, err := parsePEMChain(b); err == nil {
			t.Errorf("%s: parsed", name)
		}
	}
}

// FuzzParsePCKExtension feeds the SGX extension parser arbitrary bytes.
func FuzzParsePCKExtension(f *testing.F) {
	ext, err := platformtest.SGXPCKExtension(platformtest.SGXDefaultPlatform)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(ext.Value)
	f.Add([]byte{0x30, 0x00})
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = parsePCKExtension(withExtension(b))
	})
}
