package platformtest

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
)

// The files SGXCA.Save writes and LoadSGXCA reads. SGXRootFile is what a
// server's extra Intel SGX roots (intel_sgx in --trust-roots) take.
const (
	SGXRootFile       = "sgx-root.pem"        // the fake Intel SGX root certificate
	SGXRootKey        = "sgx-root.key"        // its private key (PKCS #8), which certifies the PCK CA and the TCB signer
	SGXPCKCAFile      = "sgx-pck-ca.pem"      // the PCK Platform CA certificate
	SGXPCKCAKey       = "sgx-pck-ca.key"      // its private key, which certifies PCK certificates
	SGXPCKFile        = "sgx-pck.pem"         // the platform's PCK certificate
	SGXPCKKey         = "sgx-pck.key"         // its private key, which signs the QE reports
	SGXTCBSigningFile = "sgx-tcb-signing.pem" // the TCB Signing certificate
	SGXTCBSigningKey  = "sgx-tcb-signing.key" // its private key, which signs collateral
	SGXAttestationKey = "sgx-attestation.key" // the quoting enclave's attestation key, which signs quotes
)

// NewSGXCA is NewSGX for code without a test (ccm dev): it makes a fake
// Intel SGX PKI with new keys and a PCK certificate for SGXDefaultPlatform,
// and returns failures as errors.
func NewSGXCA() (ca *SGXCA, err error) {
	defer catch(&err)
	return NewSGX(noTB{}), nil
}

// SignedEvidence is Evidence(Quote(r, binding), Collateral(*c)) with
// failures returned rather than failing a test; c nil leaves the
// collateral out.
func (ca *SGXCA) SignedEvidence(r SGXReport, binding [32]byte, c *SGXCollateral) (ev []byte, err error) {
	defer catch(&err)
	nt := *ca
	nt.t = noTB{}
	var col []byte
	if c != nil {
		col = nt.Collateral(*c)
	}
	return nt.Evidence(nt.Quote(r, binding), col), nil
}

// Save writes ca to dir (created if missing): the root, PCK Platform CA,
// PCK and TCB Signing certificates, their private keys and the attestation
// key (keys mode 0600), under the SGX*File and SGX*Key names.
func (ca *SGXCA) Save(dir string) error {
	files := []file{
		certFile(SGXRootFile, ca.root),
		certFile(SGXPCKCAFile, ca.platformCA),
		certFile(SGXPCKFile, ca.pck),
		certFile(SGXTCBSigningFile, ca.tcbSigner),
	}
	for _, k := range []struct {
		name, what string
		key        *ecdsa.PrivateKey
	}{
		{SGXRootKey, "SGX root", ca.rootKey},
		{SGXPCKCAKey, "SGX PCK Platform CA", ca.caKey},
		{SGXPCKKey, "SGX PCK", ca.pckKey},
		{SGXTCBSigningKey, "SGX TCB Signing", ca.tcbKey},
		{SGXAttestationKey, "SGX attestation", ca.attKey},
	} {
		f, err := keyFile(k.name, k.what, k.key)
		if err != nil {
			return err
		}
		files = append(files, f)
	}
	return saveFiles(dir, files...)
}

// LoadSGXCA reads an SGXCA that Save wrote to dir, checking that each key
// is its certificate's and that the certificates chain to the root. The
// platform is read from the PCK certificate. Like NewSGXCA's, the loaded
// SGXCA's methods that fail a test panic instead; SignedEvidence returns
// errors.
func LoadSGXCA(dir string) (*SGXCA, error) {
	ca := &SGXCA{t: noTB{}}
	for _, c := range []struct {
		file string
		cert **x509.Certificate
		key  string
		priv **ecdsa.PrivateKey
	}{
		{SGXRootFile, &ca.root, SGXRootKey, &ca.rootKey},
		{SGXPCKCAFile, &ca.platformCA, SGXPCKCAKey, &ca.caKey},
		{SGXPCKFile, &ca.pck, SGXPCKKey, &ca.pckKey},
		{SGXTCBSigningFile, &ca.tcbSigner, SGXTCBSigningKey, &ca.tcbKey},
	} {
		cert, err := readCert(filepath.Join(dir, c.file))
		if err != nil {
			return nil, err
		}
		key, err := sgxReadKey(filepath.Join(dir, c.key), cert, c.file)
		if err != nil {
			return nil, err
		}
		*c.cert, *c.priv = cert, key
	}
	for _, link := range []struct {
		child, parent         *x509.Certificate
		childName, parentName string
	}{
		{ca.root, ca.root, SGXRootFile, SGXRootFile},
		{ca.platformCA, ca.root, SGXPCKCAFile, SGXRootFile},
		{ca.pck, ca.platformCA, SGXPCKFile, SGXPCKCAFile},
		{ca.tcbSigner, ca.root, SGXTCBSigningFile, SGXRootFile},
	} {
		if err := link.child.CheckSignatureFrom(link.parent); err != nil {
			return nil, fmt.Errorf("platformtest: %s is not signed by %s: %w", link.childName, link.parentName, err)
		}
	}
	var err error
	if ca.attKey, err = sgxReadKey(filepath.Join(dir, SGXAttestationKey), nil, ""); err != nil {
		return nil, err
	}
	if ca.platform, err = sgxPlatformOf(ca.pck); err != nil {
		return nil, fmt.Errorf("platformtest: %s: %w", SGXPCKFile, err)
	}
	return ca, nil
}

// sgxReadKey reads the P-256 key of cert (of any P-256 key when cert is
// nil).
func sgxReadKey(path string, cert *x509.Certificate, certFile string) (*ecdsa.PrivateKey, error) {
	var pub any
	if cert != nil {
		pub = cert.PublicKey
	}
	k, err := readKey(path, pub, certFile)
	if err != nil {
		return nil, err
	}
	key, ok := k.(*ecdsa.PrivateKey)
	if !ok || key.Curve != elliptic.P256() {
		return nil, fmt.Errorf("platformtest: %s is not an ECDSA P-256 key", filepath.Base(path))
	}
	return key, nil
}

// sgxPlatformOf reads the platform a PCK certificate is for from its SGX
// extension, which must be one that SGXPCKExtension writes.
func sgxPlatformOf(pck *x509.Certificate) (SGXPlatform, error) {
	var p SGXPlatform
	i := slices.IndexFunc(pck.Extensions, func(e pkix.Extension) bool { return e.Id.Equal(sgxOIDExtension) })
	if i < 0 {
		return p, errors.New("no SGX extension")
	}
	ext := pck.Extensions[i].Value
	type item struct {
		ID    asn1.ObjectIdentifier
		Value asn1.RawValue
	}
	var items []item
	if rest, err := asn1.Unmarshal(ext, &items); err != nil || len(rest) > 0 {
		return p, fmt.Errorf("SGX extension: not a sequence of (OID, value): %v", err)
	}
	octets := func(it item, dst []byte) error {
		var b []byte
		if _, err := asn1.Unmarshal(it.Value.FullBytes, &b); err != nil || len(b) != len(dst) {
			return fmt.Errorf("SGX extension: %v is not %d bytes", it.ID, len(dst))
		}
		copy(dst, b)
		return nil
	}
	for _, it := range items {
		var err error
		switch {
		case it.ID.Equal(sgxOIDPCEID):
			err = octets(it, p.PCEID[:])
		case it.ID.Equal(sgxOIDFMSPC):
			err = octets(it, p.FMSPC[:])
		case it.ID.Equal(sgxOIDTCB):
			var tcb []item
			if _, err := asn1.Unmarshal(it.Value.FullBytes, &tcb); err != nil {
				return p, fmt.Errorf("SGX extension: TCB: %w", err)
			}
			for _, c := range tcb {
				n := c.ID[len(c.ID)-1]
				if n < 1 || n > 17 {
					continue // 18, the CPUSVN, repeats components 1 to 16
				}
				var v int
				if _, err := asn1.Unmarshal(c.Value.FullBytes, &v); err != nil {
					return p, fmt.Errorf("SGX extension: TCB item %d: %w", n, err)
				}
				if n == 17 {
					p.PCESVN = uint16(v)
				} else {
					p.TCB[n-1] = uint8(v)
				}
			}
		}
		if err != nil {
			return p, err
		}
	}
	// What was read must write the same extension back.
	want, err := SGXPCKExtension(p)
	if err != nil {
		return p, err
	}
	if !bytes.Equal(want.Value, ext) {
		return p, errors.New("the SGX extension is not one that platformtest writes")
	}
	return p, nil
}
