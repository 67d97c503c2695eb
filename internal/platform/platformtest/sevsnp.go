// Package platformtest makes evidence signed by fake vendor roots, for the
// platform verifiers' tests, the end-to-end tests and `ccm dev`. It must not
// import the standard testing package: `ccm dev` links it into the binary.
package platformtest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha512"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/binary"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/google/go-sev-guest/kds"
)

// The files SNPCA.Save writes and LoadSNPCA reads.
const (
	SNPARKFile   = "snp-ark.pem"   // the fake ARK certificate
	SNPASKFile   = "snp-ask.pem"   // the fake ASK certificate
	SNPASKKey    = "snp-ask.key"   // the ASK's private key (PKCS #8), which signs VCEKs
	SNPRootsFile = "snp-roots.pem" // ARK then ASK: what a server's extra AMD roots take
)

// SEV-SNP attestation report layout (AMD SEV-SNP firmware ABI, table
// "ATTESTATION_REPORT Structure"). The writer below lays the bytes out by
// hand rather than through go-sev-guest, so that the verifier's parser is
// checked against an independent writer.
const (
	snpReportSize      = 0x4A0
	snpSignatureOffset = 0x2A0
	snpRSSize          = 72 // R and S are 72-byte little-endian fields
	snpDebugPolicyBit  = 1 << 19
	snpReservedPolicy  = 1 << 17 // must be one
	snpDefaultPolicy   = 1<<16 | snpReservedPolicy
	snpProductLine     = "Milan"
	snpProductName     = "Milan-B1" // family 19h, model 01h, stepping 1
	snpVCEKValidity    = 7 * 365 * 24 * time.Hour
	snpRootValidity    = 25 * 365 * 24 * time.Hour
	snpRSABits         = 4096 // AMD's ARK and ASK are RSA-4096
)

// SNPReport is what an SNPCA writes into a report. Every TCB field of the
// report (current, reported, committed, launch) is set to TCB.
type SNPReport struct {
	Measurement [48]byte
	VMPL        uint32
	HostData    [32]byte
	ReportData  [64]byte
	// Policy is the guest policy; zero means SMT allowed, ABI 0.0. The
	// reserved bit 17 is always set, and Debug sets bit 19.
	Policy uint64
	ChipID [64]byte
	// TCB is a TCB_VERSION in the Milan layout: each byte but the top one
	// (microcode) must be at most 127, as AMD's VCEK extensions require.
	TCB   uint64
	Debug bool

	// VCEKChipID and VCEKTCB, when set, make the signing VCEK claim
	// another chip or TCB than the report: for negative tests.
	VCEKChipID *[64]byte
	VCEKTCB    *uint64
	// VCEKExpired makes the signing VCEK one that expired an hour ago.
	VCEKExpired bool
}

// SNPCA is a fake AMD key hierarchy for one product line (Milan): an ARK, an
// ASK it certifies, and VCEKs made on demand, one per chip ID and TCB, as
// AMD's KDS does. Its certificates have the shape go-sev-guest's verifier
// requires: RSASSA-PSS SHA-384 signatures, AMD's subject names, and VCEKs
// that carry the KDS extensions (product name, SPLs, hardware ID).
// An SNPCA is safe for concurrent use.
type SNPCA struct {
	ark, ask *x509.Certificate
	askKey   *rsa.PrivateKey

	mu    sync.Mutex
	vceks map[snpVCEKID]*snpVCEK
}

type snpVCEKID struct {
	chipID  [64]byte
	tcb     uint64
	expired bool
}

type snpVCEK struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

// NewSNPCA makes a new fake ARK and ASK (RSA-4096, like AMD's: this takes a
// second or two).
func NewSNPCA() (*SNPCA, error) {
	var arkKey, askKey *rsa.PrivateKey
	var arkErr, askErr error
	var wg sync.WaitGroup
	wg.Go(func() { arkKey, arkErr = rsa.GenerateKey(rand.Reader, snpRSABits) })
	wg.Go(func() { askKey, askErr = rsa.GenerateKey(rand.Reader, snpRSABits) })
	wg.Wait()
	if err := errors.Join(arkErr, askErr); err != nil {
		return nil, fmt.Errorf("platformtest: generating the SNP ARK and ASK keys: %w", err)
	}
	now := time.Now().Add(-time.Hour).Truncate(time.Second)
	arkTmpl := &x509.Certificate{
		SerialNumber:          snpSerial(),
		Subject:               snpAMDName("ARK-" + snpProductLine),
		NotBefore:             now,
		NotAfter:              now.Add(snpRootValidity),
		SignatureAlgorithm:    x509.SHA384WithRSAPSS,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	ark, err := snpCreate(arkTmpl, arkTmpl, &arkKey.PublicKey, arkKey)
	if err != nil {
		return nil, fmt.Errorf("platformtest: making the SNP ARK: %w", err)
	}
	askTmpl := &x509.Certificate{
		SerialNumber:          snpSerial(),
		Subject:               snpAMDName("SEV-" + snpProductLine),
		NotBefore:             now,
		NotAfter:              now.Add(snpRootValidity),
		SignatureAlgorithm:    x509.SHA384WithRSAPSS,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	ask, err := snpCreate(askTmpl, ark, &askKey.PublicKey, arkKey)
	if err != nil {
		return nil, fmt.Errorf("platformtest: making the SNP ASK: %w", err)
	}
	return &SNPCA{ark: ark, ask: ask, askKey: askKey, vceks: map[snpVCEKID]*snpVCEK{}}, nil
}

// RootsPEM returns the ARK then the ASK, PEM-encoded: the extra AMD roots a
// verifier (or `ccm server --trust-roots`) takes.
func (ca *SNPCA) RootsPEM() []byte {
	out := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.ark.Raw})
	return append(out, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.ask.Raw})...)
}

// ARK returns the fake AMD root certificate.
func (ca *SNPCA) ARK() *x509.Certificate { return ca.ark }

// ASK returns the fake AMD signing key's certificate.
func (ca *SNPCA) ASK() *x509.Certificate { return ca.ask }

// snpEvidence is the sev_snp and aci evidence object of API.md.
type snpEvidence struct {
	Report []byte `json:"report"`
	VCEK   []byte `json:"vcek"`
	ASK    []byte `json:"ask,omitempty"`
	ARK    []byte `json:"ark,omitempty"`
}

// Report builds a version 3 attestation report (Milan) from r, signs it
// with the VCEK of r's chip ID and TCB (made on first use), and returns the
// JSON evidence object {"report", "vcek", "ask", "ark"} (base64).
func (ca *SNPCA) Report(r SNPReport) ([]byte, error) {
	raw, vcek, err := ca.SignReport(r)
	if err != nil {
		return nil, err
	}
	return json.Marshal(snpEvidence{Report: raw, VCEK: vcek.Raw, ASK: ca.ask.Raw, ARK: ca.ark.Raw})
}

// SignReport is Report without the JSON: it returns the 1184-byte report
// and the certificate of the VCEK that signed it.
func (ca *SNPCA) SignReport(r SNPReport) ([]byte, *x509.Certificate, error) {
	id := snpVCEKID{chipID: r.ChipID, tcb: r.TCB, expired: r.VCEKExpired}
	if r.VCEKChipID != nil {
		id.chipID = *r.VCEKChipID
	}
	if r.VCEKTCB != nil {
		id.tcb = *r.VCEKTCB
	}
	vcek, err := ca.vcek(id)
	if err != nil {
		return nil, nil, err
	}
	raw := snpReportBytes(r)
	digest := sha512.Sum384(raw[:snpSignatureOffset])
	rr, ss, err := ecdsa.Sign(rand.Reader, vcek.key, digest[:])
	if err != nil {
		return nil, nil, fmt.Errorf("platformtest: signing the SNP report: %w", err)
	}
	sig := raw[snpSignatureOffset:]
	snpPutLE(sig[:snpRSSize], rr)
	snpPutLE(sig[snpRSSize:2*snpRSSize], ss)
	return raw, vcek.cert, nil
}

// snpReportBytes lays out an unsigned version 3 report.
func snpReportBytes(r SNPReport) []byte {
	b := make([]byte, snpReportSize)
	le := binary.LittleEndian
	policy := r.Policy
	if policy == 0 {
		policy = snpDefaultPolicy
	}
	policy |= snpReservedPolicy
	if r.Debug {
		policy |= snpDebugPolicyBit
	}
	le.PutUint32(b[0x00:], 3) // VERSION
	le.PutUint32(b[0x04:], 0) // GUEST_SVN
	le.PutUint64(b[0x08:], policy)
	le.PutUint32(b[0x30:], r.VMPL)
	le.PutUint32(b[0x34:], 1) // SIGNATURE_ALGO: ECDSA P-384 with SHA-384
	le.PutUint64(b[0x38:], r.TCB)
	le.PutUint32(b[0x48:], 0) // SIGNER_INFO: signed by the VCEK, chip ID not masked
	copy(b[0x50:0x90], r.ReportData[:])
	copy(b[0x90:0xC0], r.Measurement[:])
	copy(b[0xC0:0xE0], r.HostData[:])
	_, _ = rand.Read(b[0x140:0x160]) // REPORT_ID
	for i := 0x160; i < 0x180; i++ { // REPORT_ID_MA: no migration agent
		b[i] = 0xff
	}
	le.PutUint64(b[0x180:], r.TCB) // REPORTED_TCB
	b[0x188], b[0x189], b[0x18A] = 0x19, 0x01, 0x01
	copy(b[0x1A0:0x1E0], r.ChipID[:])
	le.PutUint64(b[0x1E0:], r.TCB)           // COMMITTED_TCB
	b[0x1E8], b[0x1E9], b[0x1EA] = 21, 55, 1 // CURRENT build, minor, major
	b[0x1EC], b[0x1ED], b[0x1EE] = 21, 55, 1 // COMMITTED build, minor, major
	le.PutUint64(b[0x1F0:], r.TCB)           // LAUNCH_TCB
	return b
}

// snpPutLE writes v into dst as a little-endian integer.
func snpPutLE(dst []byte, v *big.Int) {
	be := v.FillBytes(make([]byte, len(dst)))
	for i := range be {
		dst[i] = be[len(be)-1-i]
	}
}

// vcek returns the VCEK for id, certifying a new one on first use.
func (ca *SNPCA) vcek(id snpVCEKID) (*snpVCEK, error) {
	ca.mu.Lock()
	defer ca.mu.Unlock()
	if v, ok := ca.vceks[id]; ok {
		return v, nil
	}
	key, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("platformtest: generating a VCEK key: %w", err)
	}
	exts, err := SNPVCEKExtensions(id.chipID, id.tcb)
	if err != nil {
		return nil, err
	}
	notBefore := time.Now().Add(-time.Hour).Truncate(time.Second)
	if id.expired {
		notBefore = notBefore.Add(-snpVCEKValidity)
	}
	tmpl := &x509.Certificate{
		SerialNumber:       snpSerial(),
		Subject:            snpAMDName("SEV-VCEK"),
		NotBefore:          notBefore,
		NotAfter:           notBefore.Add(snpVCEKValidity),
		SignatureAlgorithm: x509.SHA384WithRSAPSS,
		// AMD's VCEKs carry only the KDS extensions (and the authority key
		// ID): no key usage, no basic constraints. go-sev-guest rejects
		// any other extension.
		ExtraExtensions: exts,
	}
	cert, err := snpCreate(tmpl, ca.ask, &key.PublicKey, ca.askKey)
	if err != nil {
		return nil, fmt.Errorf("platformtest: certifying a VCEK: %w", err)
	}
	v := &snpVCEK{cert: cert, key: key}
	ca.vceks[id] = v
	return v, nil
}

// SNPVCEKExtensions returns AMD's KDS extensions (OIDs 1.3.6.1.4.1.3704.1.*)
// for a VCEK of the given chip and TCB (Milan layout: bootloader, TEE,
// SPL 4 to 7, SNP, microcode from the low byte up).
func SNPVCEKExtensions(chipID [64]byte, tcb uint64) ([]pkix.Extension, error) {
	u8 := func(v byte) []byte {
		b, _ := asn1.Marshal(int(v))
		return b
	}
	for i, name := range []string{"bootloader", "TEE", "SPL4", "SPL5", "SPL6", "SPL7", "SNP"} {
		if byte(tcb>>(8*i)) > 127 {
			return nil, fmt.Errorf("platformtest: TCB %#x: the %s SPL is over 127", tcb, name)
		}
	}
	product, err := asn1.MarshalWithParams(snpProductName, "ia5")
	if err != nil {
		return nil, err
	}
	part := func(i int) []byte { return u8(byte(tcb >> (8 * i))) }
	return []pkix.Extension{
		{Id: kds.OidStructVersion, Value: u8(1)},
		{Id: kds.OidProductName1, Value: product},
		{Id: kds.OidBlSpl, Value: part(0)},
		{Id: kds.OidTeeSpl, Value: part(1)},
		{Id: kds.OidSpl4, Value: part(2)},
		{Id: kds.OidSpl5, Value: part(3)},
		{Id: kds.OidSpl6, Value: part(4)},
		{Id: kds.OidSpl7, Value: part(5)},
		{Id: kds.OidSnpSpl, Value: part(6)},
		{Id: kds.OidUcodeSpl, Value: part(7)},
		// AMD writes the hardware ID as the bare 64 bytes, untagged.
		{Id: kds.OidHwid, Value: chipID[:]},
	}, nil
}

func snpAMDName(cn string) pkix.Name {
	return pkix.Name{
		OrganizationalUnit: []string{"Engineering"},
		Country:            []string{"US"},
		Locality:           []string{"Santa Clara"},
		Province:           []string{"CA"},
		Organization:       []string{"Advanced Micro Devices"},
		CommonName:         cn,
	}
}

func snpSerial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 63))
	if err != nil {
		panic(err) // crypto/rand does not fail
	}
	return n.Add(n, big.NewInt(1))
}

func snpCreate(tmpl, parent *x509.Certificate, pub any, signer *rsa.PrivateKey) (*x509.Certificate, error) {
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, signer)
	if err != nil {
		return nil, err
	}
	return x509.ParseCertificate(der)
}

// Save writes ca to dir (created if missing): the ARK, the ASK, the ASK's
// key (mode 0600) and the roots bundle, under the SNP*File names.
func (ca *SNPCA) Save(dir string) error {
	askKey, err := keyFile(SNPASKKey, "ASK", ca.askKey)
	if err != nil {
		return err
	}
	return saveFiles(dir, certFile(SNPARKFile, ca.ark), certFile(SNPASKFile, ca.ask), askKey, file{SNPRootsFile, ca.RootsPEM(), 0o644})
}

// LoadSNPCA reads an SNPCA that Save wrote to dir. VCEKs are made
// anew: they are not saved.
func LoadSNPCA(dir string) (*SNPCA, error) {
	ark, err := readCert(filepath.Join(dir, SNPARKFile))
	if err != nil {
		return nil, err
	}
	ask, err := readCert(filepath.Join(dir, SNPASKFile))
	if err != nil {
		return nil, err
	}
	b, err := os.ReadFile(filepath.Join(dir, SNPASKKey))
	if err != nil {
		return nil, fmt.Errorf("platformtest: %w", err)
	}
	block, _ := pem.Decode(b)
	if block == nil || block.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("platformtest: %s: no PRIVATE KEY block", SNPASKKey)
	}
	key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("platformtest: %s: %w", SNPASKKey, err)
	}
	askKey, ok := key.(*rsa.PrivateKey)
	if !ok || !askKey.PublicKey.Equal(ask.PublicKey) {
		return nil, fmt.Errorf("platformtest: %s is not the key of %s", SNPASKKey, SNPASKFile)
	}
	if err := ask.CheckSignatureFrom(ark); err != nil {
		return nil, fmt.Errorf("platformtest: %s is not signed by %s: %w", SNPASKFile, SNPARKFile, err)
	}
	return &SNPCA{ark: ark, ask: ask, askKey: askKey, vceks: map[snpVCEKID]*snpVCEK{}}, nil
}
