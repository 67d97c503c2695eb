package platformtest

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"slices"
	"strconv"
	"strings"
	"time"
)

// SGX DCAP quote layout (Intel SGX ECDSA Quote Library Reference, "Quote
// Format", version 3). The writer below lays the bytes out by hand rather
// than through package sgx, so that the verifier's parser is checked
// against an independent writer.
const (
	sgxHeaderSize     = 48
	sgxReportBodySize = 384
	sgxCertTypeChain  = 5 // certification data: PEM PCK certificate chain
	sgxAttrInit       = 1 << 0
	sgxAttrDebug      = 1 << 1
	sgxAttrMode64     = 1 << 2
	sgxAttrProvision  = 1 << 4
	sgxRootValidity   = 30 * 365 * 24 * time.Hour
	sgxCAValidity     = 15 * 365 * 24 * time.Hour
	sgxLeafValidity   = 7 * 365 * 24 * time.Hour // as Intel's PCK and TCB Signing certificates
	sgxCollateralLife = 30 * 24 * time.Hour      // as Intel's nextUpdate
)

// SGXDefaultQESVN is the ISVSVN of the quoting enclave in an SGXCA's quotes
// unless SGXReport.QEISVSVN says otherwise.
const SGXDefaultQESVN = 8

// sgxQEVendorID is Intel's QE vendor ID, and sgxQEMRSigner and
// sgxQEProdID the identity of Intel's quoting enclave: an SGXCA's quotes
// claim to come from it, as every real quote does.
var (
	sgxQEVendorID = [16]byte{0x93, 0x9a, 0x72, 0x33, 0xf7, 0x9c, 0x4c, 0xa9, 0x94, 0x0a, 0x0d, 0xb3, 0x95, 0x7f, 0x06, 0x07}
	sgxQEMRSigner = [32]byte{
		0x8c, 0x4f, 0x57, 0x75, 0xd7, 0x96, 0x50, 0x3e, 0x96, 0x13, 0x7f, 0x77, 0xc6, 0x8a, 0x82, 0x9a,
		0x00, 0x56, 0xac, 0x8d, 0xed, 0x70, 0x14, 0x0b, 0x08, 0x1b, 0x09, 0x44, 0x90, 0xc5, 0x7b, 0xff,
	}
)

const sgxQEProdID = 1

// The SGX extension of PCK certificates (Intel SGX PCK Certificate and CRL
// Profile Specification).
var (
	sgxOIDExtension = asn1.ObjectIdentifier{1, 2, 840, 113741, 1, 13, 1}
	sgxOIDPPID      = asn1.ObjectIdentifier{1, 2, 840, 113741, 1, 13, 1, 1}
	sgxOIDTCB       = asn1.ObjectIdentifier{1, 2, 840, 113741, 1, 13, 1, 2}
	sgxOIDPCEID     = asn1.ObjectIdentifier{1, 2, 840, 113741, 1, 13, 1, 3}
	sgxOIDFMSPC     = asn1.ObjectIdentifier{1, 2, 840, 113741, 1, 13, 1, 4}
	sgxOIDType      = asn1.ObjectIdentifier{1, 2, 840, 113741, 1, 13, 1, 5}
)

// sgxTB is the part of testing.TB that NewSGX uses: *testing.T, *testing.B
// and *testing.F satisfy it. platformtest does not import the testing
// package (ccm dev links it into the binary).
type sgxTB = interface {
	Helper()
	Fatalf(format string, args ...any)
}

// SGXPlatform is the platform a PCK certificate is issued for.
type SGXPlatform struct {
	FMSPC  [6]byte
	PCEID  [2]byte
	TCB    [16]uint8 // the 16 SGX TCB components
	PCESVN uint16
}

// SGXDefaultPlatform is the platform of NewSGX's PCK certificate: a real
// FMSPC (00906ED50000, a Xeon E3 v5/v6 part) at its highest TCB level of
// Intel's TCB evaluation 19.
var SGXDefaultPlatform = SGXPlatform{
	FMSPC:  [6]byte{0x00, 0x90, 0x6e, 0xd5, 0x00, 0x00},
	TCB:    [16]uint8{22, 22, 2, 4, 1, 128, 14},
	PCESVN: 13,
}

// SGXReport is what an SGXCA writes into a quote: the ISV enclave's report
// body and the quoting enclave's SVN.
type SGXReport struct {
	MREnclave, MRSigner [32]byte
	ISVProdID, ISVSVN   uint16
	// CPUSVN zero means the platform's TCB components.
	CPUSVN     [16]byte
	MiscSelect uint32
	// Attributes zero means INIT and MODE64BIT, XFRM 3 (x87 and SSE).
	Attributes [16]byte
	// Debug sets the DEBUG attribute.
	Debug bool
	// ReportData is written by SignQuote; Quote writes the binding instead.
	ReportData [64]byte
	// QEISVSVN zero means SGXDefaultQESVN.
	QEISVSVN uint16
	// QEMRSigner, when set, replaces Intel's QE MRSIGNER in the QE report:
	// for tests of a quote from another quoting enclave.
	QEMRSigner *[32]byte
	// BadQEReportData makes the QE report data (validly signed) something
	// other than the hash of the attestation key and QE authentication
	// data.
	BadQEReportData bool
}

// SGXCA is a fake Intel SGX PKI and platform: a root, a PCK Platform CA, a
// PCK certificate for one platform (with the SGX extension: FMSPC, PCE-ID,
// TCB components, PCESVN), a quoting enclave's attestation key, and a TCB
// Signing certificate that signs collateral. Its certificates have Intel's
// shape (ECDSA P-256 throughout) under test names. It is safe for
// concurrent use once made.
type SGXCA struct {
	t          sgxTB
	root       *x509.Certificate
	rootKey    *ecdsa.PrivateKey
	platformCA *x509.Certificate
	caKey      *ecdsa.PrivateKey
	pck        *x509.Certificate
	pckKey     *ecdsa.PrivateKey
	platform   SGXPlatform
	tcbSigner  *x509.Certificate
	tcbKey     *ecdsa.PrivateKey
	attKey     *ecdsa.PrivateKey
}

// NewSGX makes a fake Intel SGX PKI with new keys, and a PCK certificate
// for SGXDefaultPlatform. t is a *testing.T, *testing.B or *testing.F:
// failures, which do not happen with a working crypto/rand, end the test.
func NewSGX(t interface {
	Helper()
	Fatalf(format string, args ...any)
}) *SGXCA {
	t.Helper()
	ca := &SGXCA{t: t}
	ca.rootKey, ca.caKey, ca.tcbKey, ca.attKey = ca.newKey(), ca.newKey(), ca.newKey(), ca.newKey()
	now := time.Now().Add(-time.Hour).Truncate(time.Second)
	rootTmpl := &x509.Certificate{
		SerialNumber:          sgxSerial(),
		Subject:               sgxName("OpenCCM Test SGX Root CA"),
		NotBefore:             now,
		NotAfter:              now.Add(sgxRootValidity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLen:            1,
	}
	ca.root = ca.create(rootTmpl, rootTmpl, &ca.rootKey.PublicKey, ca.rootKey)
	ca.platformCA = ca.create(&x509.Certificate{
		SerialNumber:          sgxSerial(),
		Subject:               sgxName("OpenCCM Test SGX PCK Platform CA"),
		NotBefore:             now,
		NotAfter:              now.Add(sgxCAValidity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}, ca.root, &ca.caKey.PublicKey, ca.rootKey)
	ca.tcbSigner = ca.create(&x509.Certificate{
		SerialNumber:          sgxSerial(),
		Subject:               sgxName("OpenCCM Test SGX TCB Signing"),
		NotBefore:             now,
		NotAfter:              now.Add(sgxLeafValidity),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment,
		BasicConstraintsValid: true,
	}, ca.root, &ca.tcbKey.PublicKey, ca.rootKey)
	return ca.WithPlatform(SGXDefaultPlatform)
}

// WithPlatform returns an SGXCA with the same PKI and attestation key and
// a new PCK certificate, valid from an hour ago for seven years, for p.
func (ca *SGXCA) WithPlatform(p SGXPlatform) *SGXCA {
	ca.t.Helper()
	now := time.Now().Add(-time.Hour).Truncate(time.Second)
	return ca.WithPCK(p, now, now.Add(sgxLeafValidity))
}

// WithPCK is WithPlatform with the PCK certificate's validity given.
func (ca *SGXCA) WithPCK(p SGXPlatform, notBefore, notAfter time.Time) *SGXCA {
	ca.t.Helper()
	out := *ca
	out.platform = p
	out.pckKey = ca.newKey()
	ext, err := SGXPCKExtension(p)
	if err != nil {
		ca.t.Fatalf("platformtest: %v", err)
	}
	out.pck = ca.create(&x509.Certificate{
		SerialNumber:          sgxSerial(),
		Subject:               sgxName("OpenCCM Test SGX PCK Certificate"),
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment,
		BasicConstraintsValid: true,
		ExtraExtensions:       []pkix.Extension{ext},
	}, ca.platformCA, &out.pckKey.PublicKey, ca.caKey)
	return &out
}

// Root returns the fake root certificate.
func (ca *SGXCA) Root() *x509.Certificate { return ca.root }

// PCK returns the PCK certificate that signs the QE reports.
func (ca *SGXCA) PCK() *x509.Certificate { return ca.pck }

// TCBSigner returns the certificate that signs the collateral.
func (ca *SGXCA) TCBSigner() *x509.Certificate { return ca.tcbSigner }

// Platform returns the platform of the PCK certificate.
func (ca *SGXCA) Platform() SGXPlatform { return ca.platform }

// RootsPEM returns the fake root in PEM: the extra Intel SGX root a
// verifier (DCAPConfig.Roots, `ccm server --trust-roots`) takes.
func (ca *SGXCA) RootsPEM() []byte { return sgxPEM(ca.root) }

// PCKChainPEM returns the certification data of the quotes: the PCK
// certificate, the PCK Platform CA and the root, in PEM.
func (ca *SGXCA) PCKChainPEM() []byte {
	return append(append(sgxPEM(ca.pck), sgxPEM(ca.platformCA)...), sgxPEM(ca.root)...)
}

// Quote returns a signed ECDSA quote (version 3) of an enclave with r's
// report body and report_data = binding ‖ 32 zero bytes.
func (ca *SGXCA) Quote(r SGXReport, binding [32]byte) []byte {
	ca.t.Helper()
	r.ReportData = [64]byte{}
	copy(r.ReportData[:], binding[:])
	return ca.SignQuote(r)
}

// SignQuote returns a signed ECDSA quote (version 3) of an enclave with r's
// report body, report data included: the QE report (Intel's QE identity, r's
// QE ISVSVN) signed by the PCK key, vouching for the attestation key, which
// signs the header and report body; the certification data is the PCK
// certificate chain (type 5).
func (ca *SGXCA) SignQuote(r SGXReport) []byte {
	ca.t.Helper()
	le := binary.LittleEndian
	qeSVN := r.QEISVSVN
	if qeSVN == 0 {
		qeSVN = SGXDefaultQESVN
	}
	cpuSVN := r.CPUSVN
	if cpuSVN == ([16]byte{}) {
		cpuSVN = ca.platform.TCB
	}

	var q bytes.Buffer
	header := make([]byte, sgxHeaderSize)
	le.PutUint16(header[0:], 3) // version
	le.PutUint16(header[2:], 2) // ECDSA-256-with-P-256
	le.PutUint32(header[4:], 0) // SGX
	le.PutUint16(header[8:], qeSVN)
	le.PutUint16(header[10:], ca.platform.PCESVN)
	copy(header[12:], sgxQEVendorID[:])
	copy(header[28:], "platformtest-qe-user") // user data: 20 bytes
	q.Write(header)

	attrs := r.Attributes
	if attrs == ([16]byte{}) {
		le.PutUint64(attrs[0:], sgxAttrInit|sgxAttrMode64)
		le.PutUint64(attrs[8:], 3)
	}
	if r.Debug {
		le.PutUint64(attrs[0:], le.Uint64(attrs[0:])|sgxAttrDebug)
	}
	q.Write(sgxReportBody(cpuSVN, r.MiscSelect, attrs, r.MREnclave, r.MRSigner, r.ISVProdID, r.ISVSVN, r.ReportData))
	signed := slices.Clone(q.Bytes())

	attPub := ca.attPublic()
	authData := make([]byte, 32)
	for i := range authData {
		authData[i] = byte(i)
	}
	var qeData [64]byte
	h := sha256.New()
	h.Write(attPub)
	h.Write(authData)
	copy(qeData[:], h.Sum(nil))
	if r.BadQEReportData {
		qeData[0] ^= 0xff
	}
	var qeAttrs [16]byte
	le.PutUint64(qeAttrs[0:], sgxAttrInit|sgxAttrMode64|sgxAttrProvision)
	le.PutUint64(qeAttrs[8:], 7)
	qeSigner := sgxQEMRSigner
	if r.QEMRSigner != nil {
		qeSigner = *r.QEMRSigner
	}
	var qeMREnclave [32]byte
	copy(qeMREnclave[:], "platformtest quoting enclave")
	qeReport := sgxReportBody(cpuSVN, 0, qeAttrs, qeMREnclave, qeSigner, sgxQEProdID, qeSVN, qeData)

	chain := ca.PCKChainPEM()
	var sd bytes.Buffer
	sd.Write(ca.sign(ca.attKey, signed))
	sd.Write(attPub)
	sd.Write(qeReport)
	sd.Write(ca.sign(ca.pckKey, qeReport))
	sd.Write(le.AppendUint16(nil, uint16(len(authData))))
	sd.Write(authData)
	sd.Write(le.AppendUint16(nil, sgxCertTypeChain))
	sd.Write(le.AppendUint32(nil, uint32(len(chain))))
	sd.Write(chain)

	q.Write(le.AppendUint32(nil, uint32(sd.Len())))
	q.Write(sd.Bytes())
	return q.Bytes()
}

// sgxReportBody lays out a 384-byte enclave report body.
func sgxReportBody(cpuSVN [16]byte, misc uint32, attrs [16]byte, mrEnclave, mrSigner [32]byte, prodID, svn uint16, reportData [64]byte) []byte {
	b := make([]byte, sgxReportBodySize)
	le := binary.LittleEndian
	copy(b[0:], cpuSVN[:])
	le.PutUint32(b[16:], misc)
	copy(b[48:], attrs[:])
	copy(b[64:], mrEnclave[:])
	copy(b[128:], mrSigner[:])
	le.PutUint16(b[256:], prodID)
	le.PutUint16(b[258:], svn)
	copy(b[320:], reportData[:])
	return b
}

// attPublic returns the attestation public key as a quote holds it: x ‖ y.
func (ca *SGXCA) attPublic() []byte {
	b, err := ca.attKey.PublicKey.Bytes()
	if err != nil {
		ca.t.Fatalf("platformtest: encoding the attestation key: %v", err)
	}
	return b[1:] // drop the 0x04 of the uncompressed form
}

// sign returns the ECDSA P-256 signature of SHA-256(msg) as a quote holds
// it: r ‖ s, 32 bytes each.
func (ca *SGXCA) sign(key *ecdsa.PrivateKey, msg []byte) []byte {
	digest := sha256.Sum256(msg)
	r, s, err := ecdsa.Sign(rand.Reader, key, digest[:])
	if err != nil {
		ca.t.Fatalf("platformtest: signing: %v", err)
	}
	out := make([]byte, 64)
	r.FillBytes(out[:32])
	s.FillBytes(out[32:])
	return out
}

// SGXTCBLevel is one TCB level of the TCB info an SGXCA signs.
type SGXTCBLevel struct {
	TCB        [16]uint8
	PCESVN     uint16
	Status     string
	Advisories []string
}

// SGXQELevel is one TCB level of the QE identity an SGXCA signs.
type SGXQELevel struct {
	ISVSVN     uint16
	Status     string
	Advisories []string
}

// SGXCollateral is what an SGXCA writes into collateral. Zero fields take
// defaults.
type SGXCollateral struct {
	// TCBLevels nil means one UpToDate level at the PCK certificate's TCB.
	TCBLevels []SGXTCBLevel
	// QELevels nil means one UpToDate level at SGXDefaultQESVN.
	QELevels []SGXQELevel
	// FMSPC nil means the PCK certificate's.
	FMSPC *[6]byte
	// IssueDate zero means an hour ago; NextUpdate zero means 30 days
	// after IssueDate. Both documents get the same dates.
	IssueDate, NextUpdate time.Time
	// TCBInfoVersion 0 means 3 (what PCS's v4 API returns); 2 writes the
	// layout of the v3 API.
	TCBInfoVersion int
	// QEMRSigner nil means Intel's QE MRSIGNER.
	QEMRSigner *[32]byte
}

// Collateral returns the collateral object of sgx evidence
// ({"tcb_info", "tcb_info_issuer_chain", "qe_identity",
// "qe_identity_issuer_chain"}), with a TCB info and a QE identity in the
// form Intel's PCS returns them, signed by the CA's TCB Signing key over
// their tcbInfo and enclaveIdentity members.
func (ca *SGXCA) Collateral(c SGXCollateral) []byte {
	ca.t.Helper()
	if c.IssueDate.IsZero() {
		c.IssueDate = time.Now().Add(-time.Hour)
	}
	c.IssueDate = c.IssueDate.UTC().Truncate(time.Second)
	if c.NextUpdate.IsZero() {
		c.NextUpdate = c.IssueDate.Add(sgxCollateralLife)
	}
	c.NextUpdate = c.NextUpdate.UTC().Truncate(time.Second)
	tcbInfo, err := ca.tcbInfoMember(c)
	if err != nil {
		ca.t.Fatalf("platformtest: %v", err)
	}
	qeID, err := ca.qeIdentityMember(c)
	if err != nil {
		ca.t.Fatalf("platformtest: %v", err)
	}
	chain := string(append(sgxPEM(ca.tcbSigner), sgxPEM(ca.root)...))
	out, err := json.Marshal(map[string]string{
		"tcb_info":                 ca.signedBody("tcbInfo", tcbInfo),
		"tcb_info_issuer_chain":    chain,
		"qe_identity":              ca.signedBody("enclaveIdentity", qeID),
		"qe_identity_issuer_chain": chain,
	})
	if err != nil {
		ca.t.Fatalf("platformtest: %v", err)
	}
	return out
}

// signedBody returns a PCS body {"<member>": member, "signature": "<hex r‖s>"}
// signed over member's bytes.
func (ca *SGXCA) signedBody(name string, member []byte) string {
	return fmt.Sprintf(`{"%s":%s,"signature":"%s"}`, name, member, hex.EncodeToString(ca.sign(ca.tcbKey, member)))
}

// The TCB info and QE identity layouts of Intel's PCS API. Field order is
// Intel's; encoding/json writes them compactly, as PCS does.
type (
	sgxTCBInfoJSON struct {
		ID                      string    `json:"id,omitempty"`
		Version                 int       `json:"version"`
		IssueDate               time.Time `json:"issueDate"`
		NextUpdate              time.Time `json:"nextUpdate"`
		FMSPC                   string    `json:"fmspc"`
		PCEID                   string    `json:"pceId"`
		TCBType                 int       `json:"tcbType"`
		TCBEvaluationDataNumber int       `json:"tcbEvaluationDataNumber"`
		TCBLevels               []any     `json:"tcbLevels"`
	}
	sgxTCBLevelJSON struct {
		TCB         any      `json:"tcb"`
		TCBDate     string   `json:"tcbDate"`
		TCBStatus   string   `json:"tcbStatus"`
		AdvisoryIDs []string `json:"advisoryIDs,omitempty"`
	}
	sgxTCBV3JSON struct {
		Components []sgxComponentJSON `json:"sgxtcbcomponents"`
		PCESVN     uint16             `json:"pcesvn"`
	}
	sgxComponentJSON struct {
		SVN uint8 `json:"svn"`
	}
	sgxQEIdentityJSON struct {
		ID                      string    `json:"id"`
		Version                 int       `json:"version"`
		IssueDate               time.Time `json:"issueDate"`
		NextUpdate              time.Time `json:"nextUpdate"`
		TCBEvaluationDataNumber int       `json:"tcbEvaluationDataNumber"`
		MiscSelect              string    `json:"miscselect"`
		MiscSelectMask          string    `json:"miscselectMask"`
		Attributes              string    `json:"attributes"`
		AttributesMask          string    `json:"attributesMask"`
		MRSigner                string    `json:"mrsigner"`
		ISVProdID               int       `json:"isvprodid"`
		TCBLevels               []any     `json:"tcbLevels"`
	}
	sgxQELevelJSON struct {
		TCB struct {
			ISVSVN uint16 `json:"isvsvn"`
		} `json:"tcb"`
		TCBDate     string   `json:"tcbDate"`
		TCBStatus   string   `json:"tcbStatus"`
		AdvisoryIDs []string `json:"advisoryIDs,omitempty"`
	}
)

// sgxEvaluationNumber is the tcbEvaluationDataNumber of an SGXCA's
// collateral.
const sgxEvaluationNumber = 19

func (ca *SGXCA) tcbInfoMember(c SGXCollateral) ([]byte, error) {
	levels := c.TCBLevels
	if levels == nil {
		levels = []SGXTCBLevel{{TCB: ca.platform.TCB, PCESVN: ca.platform.PCESVN, Status: "UpToDate"}}
	}
	fmspc := ca.platform.FMSPC
	if c.FMSPC != nil {
		fmspc = *c.FMSPC
	}
	ti := sgxTCBInfoJSON{
		Version:                 c.TCBInfoVersion,
		IssueDate:               c.IssueDate,
		NextUpdate:              c.NextUpdate,
		FMSPC:                   strings.ToUpper(hex.EncodeToString(fmspc[:])),
		PCEID:                   strings.ToUpper(hex.EncodeToString(ca.platform.PCEID[:])),
		TCBEvaluationDataNumber: sgxEvaluationNumber,
	}
	if ti.Version == 0 {
		ti.Version = 3
	}
	if ti.Version == 3 {
		ti.ID = "SGX"
	}
	for _, l := range levels {
		var tcb any
		switch ti.Version {
		case 2:
			// Version 2 names each component, in Intel's order.
			var b strings.Builder
			b.WriteByte('{')
			for i, svn := range l.TCB {
				fmt.Fprintf(&b, `"sgxtcbcomp%02dsvn":%d,`, i+1, svn)
			}
			b.WriteString(`"pcesvn":` + strconv.Itoa(int(l.PCESVN)) + "}")
			tcb = json.RawMessage(b.String())
		case 3:
			v := sgxTCBV3JSON{PCESVN: l.PCESVN}
			for _, svn := range l.TCB {
				v.Components = append(v.Components, sgxComponentJSON{SVN: svn})
			}
			tcb = v
		default:
			return nil, fmt.Errorf("TCB info version %d: want 2 or 3", ti.Version)
		}
		ti.TCBLevels = append(ti.TCBLevels, sgxTCBLevelJSON{
			TCB: tcb, TCBDate: c.IssueDate.Format(time.RFC3339), TCBStatus: l.Status, AdvisoryIDs: l.Advisories,
		})
	}
	return json.Marshal(ti)
}

func (ca *SGXCA) qeIdentityMember(c SGXCollateral) ([]byte, error) {
	levels := c.QELevels
	if levels == nil {
		levels = []SGXQELevel{{ISVSVN: SGXDefaultQESVN, Status: "UpToDate"}}
	}
	signer := sgxQEMRSigner
	if c.QEMRSigner != nil {
		signer = *c.QEMRSigner
	}
	qi := sgxQEIdentityJSON{
		ID:                      "QE",
		Version:                 2,
		IssueDate:               c.IssueDate,
		NextUpdate:              c.NextUpdate,
		TCBEvaluationDataNumber: sgxEvaluationNumber,
		MiscSelect:              "00000000",
		MiscSelectMask:          "FFFFFFFF",
		Attributes:              "11000000000000000000000000000000",
		AttributesMask:          "FBFFFFFFFFFFFFFF0000000000000000",
		MRSigner:                strings.ToUpper(hex.EncodeToString(signer[:])),
		ISVProdID:               sgxQEProdID,
	}
	for _, l := range levels {
		j := sgxQELevelJSON{TCBDate: c.IssueDate.Format(time.RFC3339), TCBStatus: l.Status, AdvisoryIDs: l.Advisories}
		j.TCB.ISVSVN = l.ISVSVN
		qi.TCBLevels = append(qi.TCBLevels, j)
	}
	return json.Marshal(qi)
}

// Evidence returns the sgx evidence object {"quote": "<base64>",
// "collateral": {...}}; collateral nil leaves it out.
func (ca *SGXCA) Evidence(quote, collateral []byte) []byte {
	ca.t.Helper()
	ev := map[string]any{"quote": base64.StdEncoding.EncodeToString(quote)}
	if collateral != nil {
		ev["collateral"] = json.RawMessage(collateral)
	}
	out, err := json.Marshal(ev)
	if err != nil {
		ca.t.Fatalf("platformtest: the collateral is not JSON: %v", err)
	}
	return out
}

// SGXPCKExtension returns the SGX extension (1.2.840.113741.1.13.1) of a
// PCK certificate for p: PPID, TCB (16 components, PCESVN, CPUSVN), PCE-ID,
// FMSPC and SGX type, as Intel's PCK certificates carry it.
func SGXPCKExtension(p SGXPlatform) (pkix.Extension, error) {
	item := func(oid asn1.ObjectIdentifier, value any) ([]byte, error) {
		v, err := asn1.Marshal(value)
		if err != nil {
			return nil, err
		}
		return asn1.Marshal(struct {
			ID    asn1.ObjectIdentifier
			Value asn1.RawValue
		}{oid, asn1.RawValue{FullBytes: v}})
	}
	seq := func(items ...[]byte) asn1.RawValue {
		return asn1.RawValue{Class: asn1.ClassUniversal, Tag: asn1.TagSequence, IsCompound: true, Bytes: bytes.Join(items, nil)}
	}
	var tcb [][]byte
	for i, svn := range p.TCB {
		b, err := item(append(slices.Clone(sgxOIDTCB), i+1), int(svn))
		if err != nil {
			return pkix.Extension{}, err
		}
		tcb = append(tcb, b)
	}
	pce, err := item(append(slices.Clone(sgxOIDTCB), 17), int(p.PCESVN))
	if err != nil {
		return pkix.Extension{}, err
	}
	cpuSVN, err := item(append(slices.Clone(sgxOIDTCB), 18), p.TCB[:])
	if err != nil {
		return pkix.Extension{}, err
	}
	tcb = append(tcb, pce, cpuSVN)
	var items [][]byte
	for _, it := range []struct {
		oid   asn1.ObjectIdentifier
		value any
	}{
		{sgxOIDPPID, bytes.Repeat([]byte{0x5a}, 16)},
		{sgxOIDTCB, seq(tcb...)},
		{sgxOIDPCEID, p.PCEID[:]},
		{sgxOIDFMSPC, p.FMSPC[:]},
		{sgxOIDType, asn1.Enumerated(0)},
	} {
		b, err := item(it.oid, it.value)
		if err != nil {
			return pkix.Extension{}, fmt.Errorf("SGX extension: %w", err)
		}
		items = append(items, b)
	}
	v, err := asn1.Marshal(seq(items...))
	if err != nil {
		return pkix.Extension{}, fmt.Errorf("SGX extension: %w", err)
	}
	return pkix.Extension{Id: sgxOIDExtension, Value: v}, nil
}

func (ca *SGXCA) newKey() *ecdsa.PrivateKey {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		ca.t.Fatalf("platformtest: generating an ECDSA P-256 key: %v", err)
	}
	return key
}

func (ca *SGXCA) create(tmpl, parent *x509.Certificate, pub *ecdsa.PublicKey, signer *ecdsa.PrivateKey) *x509.Certificate {
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, signer)
	if err == nil {
		var c *x509.Certificate
		if c, err = x509.ParseCertificate(der); err == nil {
			return c
		}
	}
	ca.t.Fatalf("platformtest: making %q: %v", tmpl.Subject.CommonName, err)
	return nil
}

// sgxName is an Intel-like name that says it is not Intel's.
func sgxName(cn string) pkix.Name {
	return pkix.Name{
		CommonName:   cn,
		Organization: []string{"OpenCCM test (not Intel)"},
		Locality:     []string{"Santa Clara"},
		Province:     []string{"CA"},
		Country:      []string{"US"},
	}
}

func sgxSerial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 159))
	if err != nil {
		panic(err) // crypto/rand does not fail
	}
	return n.Add(n, big.NewInt(1))
}

func sgxPEM(c *x509.Certificate) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
}
