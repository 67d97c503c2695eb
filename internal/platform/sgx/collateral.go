package sgx

import (
	"bytes"
	"crypto/sha256"
	"crypto/x509"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/openccm/openccm/internal/platform"
)

// Collateral is the optional "collateral" member of sgx evidence: Intel's
// verdict on the quote's platform and quoting enclave, as Intel's
// Provisioning Certification Service (PCS) publishes it, each document with
// the certificate chain that signs it. The bodies are kept as text because
// Intel signs the exact bytes of their tcbInfo and enclaveIdentity members.
//
// In JSON:
//
//	{"tcb_info": "<body of GET https://api.trustedservices.intel.com/sgx/certification/v4/tcb?fmspc=FMSPC>",
//	 "tcb_info_issuer_chain": "<its TCB-Info-Issuer-Chain header: PEM, TCB Signing certificate then root>",
//	 "qe_identity": "<body of GET https://api.trustedservices.intel.com/sgx/certification/v4/qe/identity>",
//	 "qe_identity_issuer_chain": "<its SGX-Enclave-Identity-Issuer-Chain header, PEM>"}
//
// PCS sends the chains URL-encoded; either form is accepted. The v3
// endpoints (TCB info version 2) are accepted too. All four members are
// required.
type Collateral struct {
	// TCBInfo is the TCB info body, byte for byte:
	// {"tcbInfo": {...}, "signature": "<hex r‖s>"}.
	TCBInfo string `json:"tcb_info"`
	// TCBInfoIssuerChain is the PEM chain that signs TCBInfo.
	TCBInfoIssuerChain string `json:"tcb_info_issuer_chain"`
	// QEIdentity is the QE identity body, byte for byte:
	// {"enclaveIdentity": {...}, "signature": "<hex r‖s>"}.
	QEIdentity string `json:"qe_identity"`
	// QEIdentityIssuerChain is the PEM chain that signs QEIdentity.
	QEIdentityIssuerChain string `json:"qe_identity_issuer_chain"`
}

// The TCB statuses of a quote. The platform statuses are Intel's, as TCB
// info states them and as Intel's quote verification library reports them
// once combined with the QE's (see combineStatus). TCBStatusUnknown is the
// status of a quote sent without collateral.
const (
	TCBUpToDate                          = "UpToDate"
	TCBSWHardeningNeeded                 = "SWHardeningNeeded"
	TCBConfigurationNeeded               = "ConfigurationNeeded"
	TCBConfigurationAndSWHardeningNeeded = "ConfigurationAndSWHardeningNeeded"
	TCBOutOfDate                         = "OutOfDate"
	TCBOutOfDateConfigurationNeeded      = "OutOfDateConfigurationNeeded"
	TCBRevoked                           = "Revoked"
	TCBStatusUnknown                     = "unknown"
)

// tcbStatuses are the statuses a TCB info level may have.
var tcbStatuses = []string{
	TCBUpToDate, TCBSWHardeningNeeded, TCBConfigurationNeeded, TCBConfigurationAndSWHardeningNeeded,
	TCBOutOfDate, TCBOutOfDateConfigurationNeeded, TCBRevoked,
}

// qeStatuses are the statuses a QE identity level may have.
var qeStatuses = []string{TCBUpToDate, TCBOutOfDate, TCBRevoked}

// maxCollateralMember bounds each member of the collateral: Intel's TCB
// info bodies are 5 to 30 KiB.
const maxCollateralMember = 256 << 10

// decodeCollateral reads the collateral object strictly: the four members,
// strings, no others, nothing after the object.
func decodeCollateral(b []byte) (*Collateral, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var c Collateral
	if err := dec.Decode(&c); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("data after the collateral object")
	}
	if err := c.check(); err != nil {
		return nil, err
	}
	return &c, nil
}

// check checks that every member is given and within bounds.
func (c *Collateral) check() error {
	for _, m := range []struct{ name, v string }{
		{"tcb_info", c.TCBInfo}, {"tcb_info_issuer_chain", c.TCBInfoIssuerChain},
		{"qe_identity", c.QEIdentity}, {"qe_identity_issuer_chain", c.QEIdentityIssuerChain},
	} {
		switch {
		case strings.TrimSpace(m.v) == "":
			return fmt.Errorf("%s is missing", m.name)
		case len(m.v) > maxCollateralMember:
			return fmt.Errorf("%s is %d bytes, more than the %d KiB allowed", m.name, len(m.v), maxCollateralMember>>10)
		}
	}
	return nil
}

// tcbInfo is a parsed, verified TCB info.
type tcbInfo struct {
	version    int
	issueDate  time.Time
	nextUpdate time.Time
	fmspc      [6]byte
	pceID      [2]byte
	evalNumber int
	levels     []tcbLevel
}

// tcbLevel is one TCB level of a TCB info: a platform at or above its
// components and PCESVN has its status.
type tcbLevel struct {
	components [16]uint8
	pceSVN     uint16
	date       string
	status     string
	advisories []string
}

// qeIdentity is what a quoting enclave's report must show: its MISCSELECT
// and ATTRIBUTES under the masks, its MRSIGNER and ISVPRODID, and, from
// collateral, the status of its ISVSVN.
type qeIdentity struct {
	miscSelect, miscSelectMask uint32
	attributes, attributesMask [16]byte
	mrSigner                   [32]byte
	isvProdID                  uint16
	// From collateral only:
	nextUpdate time.Time
	evalNumber int
	levels     []qeLevel
}

// qeLevel is one TCB level of a QE identity: a QE of at least this ISVSVN
// has its status.
type qeLevel struct {
	isvSVN     uint16
	date       string
	status     string
	advisories []string
}

// intelQE is the identity of Intel's SGX quoting enclave (QE3) as every QE
// identity Intel has published states it. Without collateral the QE report
// is still held to it, so that a quote is refused when it comes from an
// enclave other than Intel's QE that the platform's owner let use the
// provisioning key; only the QE's ISVSVN then goes unjudged.
var intelQE = qeIdentity{
	miscSelect:     0,
	miscSelectMask: 0xffffffff,
	attributes:     [16]byte{0x11},
	attributesMask: [16]byte{0xfb, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff},
	mrSigner: [32]byte{
		0x8c, 0x4f, 0x57, 0x75, 0xd7, 0x96, 0x50, 0x3e, 0x96, 0x13, 0x7f, 0x77, 0xc6, 0x8a, 0x82, 0x9a,
		0x00, 0x56, 0xac, 0x8d, 0xed, 0x70, 0x14, 0x0b, 0x08, 0x1b, 0x09, 0x44, 0x90, 0xc5, 0x7b, 0xff,
	},
	isvProdID: 1,
}

// match checks a QE report against the identity, as Intel's quote
// verification library does (MISCSELECT and ATTRIBUTES under their masks,
// then MRSIGNER, then ISVPRODID).
func (id *qeIdentity) match(r *reportBody) error {
	if r.miscSelect&id.miscSelectMask != id.miscSelect {
		return fmt.Errorf("its MISCSELECT %#08x under the mask %#08x is not %#08x", r.miscSelect, id.miscSelectMask, id.miscSelect)
	}
	for i := range r.attributes {
		if r.attributes[i]&id.attributesMask[i] != id.attributes[i] {
			return fmt.Errorf("its ATTRIBUTES %x under the mask %x are not %x", r.attributes, id.attributesMask, id.attributes)
		}
	}
	if r.mrSigner != id.mrSigner {
		return fmt.Errorf("its MRSIGNER is %x, not %x", r.mrSigner, id.mrSigner)
	}
	if r.isvProdID != id.isvProdID {
		return fmt.Errorf("its ISVPRODID is %d, not %d", r.isvProdID, id.isvProdID)
	}
	return nil
}

// collateralResult is what verified collateral says about a quote.
type collateralResult struct {
	status         string // the combined status
	platformStatus string
	qeStatus       string
	tcbDate        string
	advisories     []string
	evalNumber     int
	nextUpdate     time.Time // the earlier of the two documents'
}

// verifyCollateral verifies c and judges the quote's platform and QE by it:
// both documents' signatures by a TCB Signing certificate that chains to a
// trusted root at now, neither past its nextUpdate, the TCB info for the
// PCK certificate's FMSPC and PCE ID, the QE report matching the QE
// identity. It returns the statuses; every failure is a rejection.
func (v *DCAPVerifier) verifyCollateral(c *Collateral, q *quote, pck *verifiedPCK, now time.Time) (*collateralResult, error) {
	ti, err := v.verifiedTCBInfo(c, now)
	if err != nil {
		return nil, err
	}
	qi, err := v.verifiedQEIdentity(c, now)
	if err != nil {
		return nil, err
	}
	fail := func(format string, args ...any) error {
		return platform.Reject(platform.ReasonSignatureInvalid, "sgx: collateral: "+format, args...)
	}
	switch {
	case now.After(ti.nextUpdate):
		return nil, fail("the TCB info's nextUpdate %s has passed at %s: fetch current collateral from Intel PCS",
			ti.nextUpdate.Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	case now.After(qi.nextUpdate):
		return nil, fail("the QE identity's nextUpdate %s has passed at %s: fetch current collateral from Intel PCS",
			qi.nextUpdate.Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	case ti.fmspc != pck.ext.fmspc:
		return nil, fail("the TCB info is for FMSPC %X, the PCK certificate for %X", ti.fmspc[:], pck.ext.fmspc[:])
	case ti.pceID != pck.ext.pceID:
		return nil, fail("the TCB info is for PCE-ID %X, the PCK certificate for %X", ti.pceID[:], pck.ext.pceID[:])
	}
	if err := qi.match(&q.qeReport); err != nil {
		return nil, fail("the quoting enclave is not the one the QE identity describes: %v", err)
	}
	ql, ok := selectQELevel(qi.levels, q.qeReport.isvSVN)
	if !ok {
		return nil, fail("the QE identity has no TCB level at or below the QE's ISVSVN %d: Intel does not support this QE", q.qeReport.isvSVN)
	}
	tl, ok := selectTCBLevel(ti.levels, pck.ext.tcb)
	if !ok {
		return nil, fail("the TCB info has no TCB level at or below the PCK certificate's TCB (components %v, PCESVN %d): Intel does not support this platform's TCB",
			pck.ext.tcb.components, pck.ext.tcb.pceSVN)
	}
	res := &collateralResult{
		status:         combineStatus(tl.status, ql.status),
		platformStatus: tl.status,
		qeStatus:       ql.status,
		tcbDate:        tl.date,
		evalNumber:     min(ti.evalNumber, qi.evalNumber),
		nextUpdate:     ti.nextUpdate,
	}
	if qi.nextUpdate.Before(res.nextUpdate) {
		res.nextUpdate = qi.nextUpdate
	}
	res.advisories = append(slices.Clone(tl.advisories), ql.advisories...)
	slices.Sort(res.advisories)
	res.advisories = slices.Compact(res.advisories)
	return res, nil
}

// selectTCBLevel returns the first level, in the order Intel lists them
// (highest first), whose 16 SGX TCB components are all at most the PCK
// certificate's and whose PCESVN is at most the certificate's: Intel's
// TCB level selection. It reports false when there is none (Intel: "TCB
// not supported").
func selectTCBLevel(levels []tcbLevel, t pckTCB) (tcbLevel, bool) {
	for _, l := range levels {
		if l.pceSVN > t.pceSVN {
			continue
		}
		below := true
		for i, c := range l.components {
			if t.components[i] < c {
				below = false
				break
			}
		}
		if below {
			return l, true
		}
	}
	return tcbLevel{}, false
}

// selectQELevel returns the first level, in the order Intel lists them
// (highest first), whose ISVSVN is at most the QE's.
func selectQELevel(levels []qeLevel, isvSVN uint16) (qeLevel, bool) {
	for _, l := range levels {
		if l.isvSVN <= isvSVN {
			return l, true
		}
	}
	return qeLevel{}, false
}

// combineStatus combines the platform's TCB status with the QE's as
// Intel's quote verification library does (convergeTcbStatusWithQeTcbStatus):
// a revoked QE makes the quote Revoked; an out-of-date QE makes an
// up-to-date or SW-hardening-needed platform OutOfDate and a
// configuration-needed one OutOfDateConfigurationNeeded, and leaves a
// platform already out of date or revoked as it is; an up-to-date QE
// leaves the platform's status.
func combineStatus(platformStatus, qeStatus string) string {
	switch qeStatus {
	case TCBRevoked:
		return TCBRevoked
	case TCBOutOfDate:
		switch platformStatus {
		case TCBUpToDate, TCBSWHardeningNeeded:
			return TCBOutOfDate
		case TCBConfigurationNeeded, TCBConfigurationAndSWHardeningNeeded:
			return TCBOutOfDateConfigurationNeeded
		}
	}
	return platformStatus
}

// verifiedTCBInfo returns c's TCB info, verified and parsed, from the cache
// when the same body and chain verified before and now is in the chain's
// validity.
func (v *DCAPVerifier) verifiedTCBInfo(c *Collateral, now time.Time) (*tcbInfo, error) {
	key := collateralKey("tcb_info", c.TCBInfo, c.TCBInfoIssuerChain)
	if ti, ok := v.tcbInfos.get(key, now); ok {
		return ti, nil
	}
	signed, notBefore, notAfter, err := v.verifySigned("tcb_info", c.TCBInfo, "tcbInfo", c.TCBInfoIssuerChain, now)
	if err != nil {
		return nil, err
	}
	ti, err := parseTCBInfo(signed)
	if err != nil {
		return nil, platform.Reject(platform.ReasonMalformed, "sgx: collateral: tcb_info: %v", err)
	}
	v.tcbInfos.put(key, ti, notBefore, notAfter, now)
	return ti, nil
}

// verifiedQEIdentity is verifiedTCBInfo for the QE identity.
func (v *DCAPVerifier) verifiedQEIdentity(c *Collateral, now time.Time) (*qeIdentity, error) {
	key := collateralKey("qe_identity", c.QEIdentity, c.QEIdentityIssuerChain)
	if qi, ok := v.qeIDs.get(key, now); ok {
		return qi, nil
	}
	signed, notBefore, notAfter, err := v.verifySigned("qe_identity", c.QEIdentity, "enclaveIdentity", c.QEIdentityIssuerChain, now)
	if err != nil {
		return nil, err
	}
	qi, err := parseQEIdentity(signed)
	if err != nil {
		return nil, platform.Reject(platform.ReasonMalformed, "sgx: collateral: qe_identity: %v", err)
	}
	v.qeIDs.put(key, qi, notBefore, notAfter, now)
	return qi, nil
}

// collateralKey names a verification of one collateral document with its
// chain.
func collateralKey(name, body, chain string) [32]byte {
	h := sha256.New()
	for _, s := range []string{name, body, chain} {
		var n [8]byte
		binary.BigEndian.PutUint64(n[:], uint64(len(s)))
		h.Write(n[:])
		h.Write([]byte(s))
	}
	return [32]byte(h.Sum(nil))
}

// verifySigned checks a PCS body {"<member>": {...}, "signature": "<hex>"}:
// its chain's first certificate is a TCB Signing certificate that chains to
// a trusted root at now, and its key signed (ECDSA P-256, SHA-256) the
// member's JSON text. Intel defines the signed bytes as the member's value
// "without whitespaces": the text as PCS sends it, which has none, so any
// white space a copy picked up outside strings is removed before checking.
// It returns the signed text and the chain's validity window.
func (v *DCAPVerifier) verifySigned(name, body, member, chainText string, now time.Time) (signed []byte, notBefore, notAfter time.Time, err error) {
	malformed := func(format string, args ...any) error {
		return platform.Reject(platform.ReasonMalformed, "sgx: collateral: "+name+": "+format, args...)
	}
	invalid := func(format string, args ...any) error {
		return platform.Reject(platform.ReasonSignatureInvalid, "sgx: collateral: "+name+": "+format, args...)
	}
	signed, sig, err := splitSigned(body, member)
	if err != nil {
		return nil, time.Time{}, time.Time{}, malformed("%v", err)
	}
	chain, err := parseIssuerChain(chainText)
	if err != nil {
		return nil, time.Time{}, time.Time{}, malformed("issuer chain: %v", err)
	}
	pub, err := signingKey(chain[0], tcbSigningCNPhrase)
	if err != nil {
		return nil, time.Time{}, time.Time{}, invalid("the issuer chain's first certificate is not a TCB Signing certificate: %v", err)
	}
	notBefore, notAfter, err = verifyLeaf(chain, v.roots, now)
	if err != nil {
		return nil, time.Time{}, time.Time{}, invalid("the TCB Signing certificate does not chain to a trusted Intel SGX root at %s: %v",
			now.UTC().Format(time.RFC3339), err)
	}
	if !verifyP256(pub, signed, &sig) {
		return nil, time.Time{}, time.Time{}, invalid("the signature over %q does not verify with the TCB Signing certificate", member)
	}
	return signed, notBefore, notAfter, nil
}

// splitSigned returns the text of body's member, compacted, and its
// signature.
func splitSigned(body, member string) ([]byte, [ecdsaSigSize]byte, error) {
	var sig [ecdsaSigSize]byte
	var m map[string]json.RawMessage
	dec := json.NewDecoder(strings.NewReader(body))
	if err := dec.Decode(&m); err != nil {
		return nil, sig, fmt.Errorf("not a JSON object: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, sig, errors.New("data after the JSON object")
	}
	raw, ok := m[member]
	if !ok || len(raw) == 0 || raw[0] != '{' {
		return nil, sig, fmt.Errorf("no %q object", member)
	}
	var hexSig string
	if err := json.Unmarshal(m["signature"], &hexSig); err != nil {
		return nil, sig, errors.New(`no "signature" string`)
	}
	b, err := hex.DecodeString(hexSig)
	if err != nil || len(b) != ecdsaSigSize {
		return nil, sig, fmt.Errorf("signature is not %d hex-encoded bytes (r ‖ s)", ecdsaSigSize)
	}
	copy(sig[:], b)
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		return nil, sig, err
	}
	return buf.Bytes(), sig, nil
}

// parseIssuerChain reads an issuer chain as PEM, or URL-encoded PEM as the
// PCS response headers carry it (spaces as %20; the form encoding, with
// spaces as '+', is read too).
func parseIssuerChain(s string) ([]*x509.Certificate, error) {
	s = strings.TrimSpace(s)
	var err error
	switch {
	case strings.HasPrefix(s, "-----BEGIN%20"), strings.HasPrefix(s, "%2D%2D%2D%2D%2DBEGIN"):
		s, err = url.PathUnescape(s)
	case strings.HasPrefix(s, "-----BEGIN+"):
		s, err = url.QueryUnescape(s)
	}
	if err != nil {
		return nil, fmt.Errorf("URL-encoded chain does not decode: %w", err)
	}
	return parsePEMChain([]byte(s))
}
