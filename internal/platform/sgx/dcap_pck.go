package sgx

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
	"time"
)

// maxChainCerts bounds the certificates of a PEM chain (Intel's have 2 or 3).
const maxChainCerts = 8

// The SGX extension of PCK certificates (Intel SGX PCK Certificate and
// Certificate Revocation List Profile Specification, "SGX Extensions"): a
// SEQUENCE of (OID, value) pairs under 1.2.840.113741.1.13.1.
var (
	oidSGXExtension = asn1.ObjectIdentifier{1, 2, 840, 113741, 1, 13, 1}
	oidSGXTCB       = asn1.ObjectIdentifier{1, 2, 840, 113741, 1, 13, 1, 2} // SEQUENCE: comp01..comp16, pcesvn, cpusvn
	oidSGXPCEID     = asn1.ObjectIdentifier{1, 2, 840, 113741, 1, 13, 1, 3} // OCTET STRING (2)
	oidSGXFMSPC     = asn1.ObjectIdentifier{1, 2, 840, 113741, 1, 13, 1, 4} // OCTET STRING (6)
)

// TCB item numbers under oidSGXTCB: 1 to 16 are the SGX TCB components.
const (
	tcbItemPCESVN = 17 // INTEGER
	tcbItemCPUSVN = 18 // OCTET STRING (16)
)

// pckCNPhrase and tcbSigningCNPhrase are what Intel's quote verification
// library requires in the common names of a PCK certificate and of the
// certificate that signs TCB info and QE identities.
const (
	pckCNPhrase        = "SGX PCK Certificate"
	tcbSigningCNPhrase = "SGX TCB Signing"
)

// pckTCB is the TCB a PCK certificate is issued for.
type pckTCB struct {
	components [16]uint8 // SGX TCB components 1 to 16
	pceSVN     uint16
	cpuSVN     [16]byte // the raw CPUSVN, when the certificate states it
}

// pckExtension is what the SGX extension of a PCK certificate says.
type pckExtension struct {
	fmspc [6]byte
	pceID [2]byte
	tcb   pckTCB
}

// asn1Item is one (OID, value) pair of the SGX extension.
type asn1Item struct {
	ID    asn1.ObjectIdentifier
	Value asn1.RawValue
}

// parseItems reads a DER SEQUENCE of (OID, value) pairs, with nothing
// after it.
func parseItems(der []byte) ([]asn1Item, error) {
	var items []asn1Item
	rest, err := asn1.Unmarshal(der, &items)
	if err != nil {
		return nil, err
	}
	if len(rest) != 0 {
		return nil, errors.New("data after the sequence")
	}
	return items, nil
}

// octets returns v's bytes when it is an OCTET STRING of n bytes.
func octets(v asn1.RawValue, n int) ([]byte, error) {
	if v.Class != asn1.ClassUniversal || v.Tag != asn1.TagOctetString || v.IsCompound || len(v.Bytes) != n {
		return nil, fmt.Errorf("want an OCTET STRING of %d bytes", n)
	}
	return v.Bytes, nil
}

// integer returns v's value when it is an INTEGER in [0, max].
func integer(v asn1.RawValue, max int) (int, error) {
	var n int
	if v.Class != asn1.ClassUniversal || v.Tag != asn1.TagInteger {
		return 0, errors.New("want an INTEGER")
	}
	if _, err := asn1.Unmarshal(v.FullBytes, &n); err != nil {
		return 0, err
	}
	if n < 0 || n > max {
		return 0, fmt.Errorf("%d is out of range 0..%d", n, max)
	}
	return n, nil
}

// parsePCKExtension reads the FMSPC, the PCE ID and the TCB from a PCK
// certificate's SGX extension. Items it does not use (PPID, SGX type,
// platform instance, configuration) are skipped; a used item given twice,
// or missing, is an error.
func parsePCKExtension(c *x509.Certificate) (*pckExtension, error) {
	var raw []byte
	for _, e := range c.Extensions {
		if e.Id.Equal(oidSGXExtension) {
			if raw != nil {
				return nil, errors.New("the SGX extension appears twice")
			}
			raw = e.Value
		}
	}
	if raw == nil {
		return nil, errors.New("no SGX extension (1.2.840.113741.1.13.1)")
	}
	items, err := parseItems(raw)
	if err != nil {
		return nil, fmt.Errorf("SGX extension: %w", err)
	}
	var ext pckExtension
	var haveFMSPC, havePCEID, haveTCB bool
	for _, it := range items {
		var dup bool
		switch {
		case it.ID.Equal(oidSGXFMSPC):
			dup, haveFMSPC = haveFMSPC, true
			b, err := octets(it.Value, len(ext.fmspc))
			if err != nil {
				return nil, fmt.Errorf("SGX extension: FMSPC: %w", err)
			}
			copy(ext.fmspc[:], b)
		case it.ID.Equal(oidSGXPCEID):
			dup, havePCEID = havePCEID, true
			b, err := octets(it.Value, len(ext.pceID))
			if err != nil {
				return nil, fmt.Errorf("SGX extension: PCE-ID: %w", err)
			}
			copy(ext.pceID[:], b)
		case it.ID.Equal(oidSGXTCB):
			dup, haveTCB = haveTCB, true
			if ext.tcb, err = parsePCKTCB(it.Value); err != nil {
				return nil, fmt.Errorf("SGX extension: TCB: %w", err)
			}
		}
		if dup {
			return nil, fmt.Errorf("SGX extension: item %v appears twice", it.ID)
		}
	}
	switch {
	case !haveFMSPC:
		return nil, errors.New("SGX extension has no FMSPC")
	case !havePCEID:
		return nil, errors.New("SGX extension has no PCE-ID")
	case !haveTCB:
		return nil, errors.New("SGX extension has no TCB")
	}
	return &ext, nil
}

// parsePCKTCB reads the TCB item: the 16 SGX TCB components and the PCESVN
// (all required) and the CPUSVN (optional).
func parsePCKTCB(v asn1.RawValue) (pckTCB, error) {
	var t pckTCB
	if v.Class != asn1.ClassUniversal || v.Tag != asn1.TagSequence || !v.IsCompound {
		return t, errors.New("want a SEQUENCE")
	}
	items, err := parseItems(v.FullBytes)
	if err != nil {
		return t, err
	}
	var seen [tcbItemCPUSVN + 1]bool
	for _, it := range items {
		n := len(oidSGXTCB)
		if len(it.ID) != n+1 || !it.ID[:n].Equal(oidSGXTCB) {
			continue
		}
		k := it.ID[n]
		if k < 1 || k > tcbItemCPUSVN {
			continue
		}
		if seen[k] {
			return t, fmt.Errorf("item %v appears twice", it.ID)
		}
		seen[k] = true
		switch {
		case k <= 16:
			svn, err := integer(it.Value, 255)
			if err != nil {
				return t, fmt.Errorf("component %d: %w", k, err)
			}
			t.components[k-1] = uint8(svn)
		case k == tcbItemPCESVN:
			svn, err := integer(it.Value, 65535)
			if err != nil {
				return t, fmt.Errorf("PCESVN: %w", err)
			}
			t.pceSVN = uint16(svn)
		case k == tcbItemCPUSVN:
			b, err := octets(it.Value, len(t.cpuSVN))
			if err != nil {
				return t, fmt.Errorf("CPUSVN: %w", err)
			}
			copy(t.cpuSVN[:], b)
		}
	}
	for k := 1; k <= tcbItemPCESVN; k++ {
		if !seen[k] {
			if k == tcbItemPCESVN {
				return t, errors.New("no PCESVN")
			}
			return t, fmt.Errorf("no SGX TCB component %d", k)
		}
	}
	if !seen[tcbItemCPUSVN] {
		copy(t.cpuSVN[:], t.components[:])
	}
	return t, nil
}

// parsePEMChain reads a chain of PEM certificates, leaf first, as the
// certification data and Intel's issuer-chain headers carry it. Only white
// space may come between and after the blocks, and trailing NUL bytes,
// which Intel's quoting library may leave after the chain.
func parsePEMChain(b []byte) ([]*x509.Certificate, error) {
	b = bytes.TrimRight(b, "\x00")
	var certs []*x509.Certificate
	for {
		b = bytes.TrimLeft(b, " \t\r\n")
		if len(b) == 0 {
			break
		}
		if !bytes.HasPrefix(b, []byte("-----BEGIN ")) {
			return nil, errors.New("data that is not a PEM certificate")
		}
		block, rest := pem.Decode(b)
		if block == nil {
			return nil, errors.New("a PEM block that does not decode")
		}
		if block.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("a PEM %q block, not a CERTIFICATE", block.Type)
		}
		if len(certs) == maxChainCerts {
			return nil, fmt.Errorf("more than %d certificates", maxChainCerts)
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("certificate %d: %w", len(certs), err)
		}
		certs = append(certs, c)
		b = rest
	}
	if len(certs) == 0 {
		return nil, errors.New("no certificate")
	}
	return certs, nil
}

// verifyLeaf checks that chain[0] chains to one of roots at now, with the
// rest of chain as intermediates (a self-signed certificate there is
// dropped: trust comes from roots alone), and returns the window of times
// in which the chain that verified is valid.
func verifyLeaf(chain []*x509.Certificate, roots *x509.CertPool, now time.Time) (notBefore, notAfter time.Time, err error) {
	inter := x509.NewCertPool()
	for _, c := range chain[1:] {
		if !bytes.Equal(c.RawSubject, c.RawIssuer) {
			inter.AddCert(c)
		}
	}
	chains, err := chain[0].Verify(x509.VerifyOptions{
		Roots:         roots,
		Intermediates: inter,
		CurrentTime:   now,
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
	})
	if err != nil {
		return time.Time{}, time.Time{}, err
	}
	notBefore, notAfter = chain[0].NotBefore, chain[0].NotAfter
	for _, c := range chains[0] {
		if c.NotBefore.After(notBefore) {
			notBefore = c.NotBefore
		}
		if c.NotAfter.Before(notAfter) {
			notAfter = c.NotAfter
		}
	}
	return notBefore, notAfter, nil
}

// signingKey returns c's key when c is an end-entity certificate whose
// common name contains phrase and whose key is ECDSA P-256.
func signingKey(c *x509.Certificate, phrase string) (*ecdsa.PublicKey, error) {
	if !strings.Contains(c.Subject.CommonName, phrase) {
		return nil, fmt.Errorf("its common name %q does not contain %q", c.Subject.CommonName, phrase)
	}
	if c.IsCA {
		return nil, errors.New("it is a CA certificate")
	}
	pub, ok := c.PublicKey.(*ecdsa.PublicKey)
	if !ok || pub.Curve != elliptic.P256() {
		return nil, errors.New("its key is not ECDSA P-256")
	}
	return pub, nil
}
