package sgx

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"strconv"
	"strings"
	"time"

	"github.com/openccm/openccm/internal/errs"
	"github.com/openccm/openccm/internal/platform"
)

// maxEvidence bounds the sgx evidence object: a quote in base64 and the
// collateral.
const maxEvidence = 1 << 20

// DCAPConfig configures a DCAPVerifier.
type DCAPConfig struct {
	// Roots are trusted in addition to the Intel SGX Root CA, which is
	// always trusted: they are for private test infrastructure (the fake
	// Intel roots of platformtest, `ccm server --trust-roots`). Each
	// element is one or more PEM certificates, or one DER certificate.
	Roots [][]byte
	// Now is the clock used when a verification's Options.Now is zero; nil
	// means time.Now.
	Now func() time.Time
	// CacheSize bounds each of the caches of verified PCK chains, TCB infos
	// and QE identities; zero means 1024 entries.
	CacheSize int
}

// DCAPVerifier verifies SGX DCAP ECDSA quotes (version 3) with their PCK
// certificate chain, and optionally Intel's collateral for them. It is safe
// for concurrent use.
type DCAPVerifier struct {
	roots    *x509.CertPool
	now      func() time.Time
	pcks     *windowCache[*verifiedPCK]
	tcbInfos *windowCache[*tcbInfo]
	qeIDs    *windowCache[*qeIdentity]
}

var _ platform.Verifier = (*DCAPVerifier)(nil)

// NewDCAPVerifier returns a DCAPVerifier that trusts the Intel SGX Root CA
// and cfg.Roots. It fails if the embedded Intel root is not the one Intel
// publishes, or if an extra root is not a CA certificate.
func NewDCAPVerifier(cfg DCAPConfig) (*DCAPVerifier, error) {
	intel, err := IntelRoot()
	if err != nil {
		return nil, err
	}
	extra, err := parseRoots(cfg.Roots)
	if err != nil {
		return nil, err
	}
	roots := x509.NewCertPool()
	roots.AddCert(intel)
	for _, c := range extra {
		roots.AddCert(c)
	}
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	return &DCAPVerifier{
		roots:    roots,
		now:      now,
		pcks:     newWindowCache[*verifiedPCK](cfg.CacheSize),
		tcbInfos: newWindowCache[*tcbInfo](cfg.CacheSize),
		qeIDs:    newWindowCache[*qeIdentity](cfg.CacheSize),
	}, nil
}

// Platform returns platform.SGX.
func (v *DCAPVerifier) Platform() platform.Platform { return platform.SGX }

// evidence is the sgx evidence object of API.md.
type evidence struct {
	Quote      string      `json:"quote"`
	Collateral *Collateral `json:"collateral"` // decoded in the same pass: the bodies are long strings
}

// decodeEvidence reads {"quote": "<base64>", "collateral": {...}?}
// strictly: no other member, nothing after the object. The quote may be in
// standard or URL-safe base64, padded or not.
func decodeEvidence(raw []byte) (quote []byte, col *Collateral, err error) {
	if len(raw) > maxEvidence {
		return nil, nil, fmt.Errorf("evidence is %d bytes, more than the %d KiB allowed", len(raw), maxEvidence>>10)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	var ev evidence
	if err := dec.Decode(&ev); err != nil {
		return nil, nil, err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, nil, errors.New("data after the evidence object")
	}
	if ev.Quote == "" {
		return nil, nil, errors.New("quote is missing")
	}
	if quote, err = decodeBase64(ev.Quote); err != nil {
		return nil, nil, fmt.Errorf("quote is not base64: %w", err)
	}
	return quote, ev.Collateral, nil
}

// decodeBase64 decodes standard or URL-safe base64, padded or not, telling
// the alphabet and the padding apart by their characters.
func decodeBase64(s string) ([]byte, error) {
	enc := base64.StdEncoding
	if strings.ContainsAny(s, "-_") {
		enc = base64.URLEncoding
	}
	if !strings.HasSuffix(s, "=") {
		enc = enc.WithPadding(base64.NoPadding)
	}
	return enc.DecodeString(s)
}

// Verify verifies sgx evidence: {"quote": "<base64 quote>", "collateral":
// {...}?} (see Collateral).
func (v *DCAPVerifier) Verify(ctx context.Context, raw json.RawMessage, opts platform.Options) (*platform.Claims, error) {
	q, col, err := decodeEvidence(raw)
	if err != nil {
		return nil, platform.Reject(platform.ReasonMalformed, "sgx: evidence is malformed: %v", err)
	}
	return v.VerifyQuote(ctx, q, col, opts)
}

// VerifyQuote verifies a raw ECDSA quote (version 3), with col (nil for
// none) as its collateral:
//
//  1. the PCK certificate chain that is the quote's certification data
//     to a trusted root at opts.Now (or now);
//  2. the QE report's signature by the PCK certificate's key;
//  3. that the QE report data is SHA-256(attestation key ‖ QE
//     authentication data) followed by zeros;
//  4. the quote's signature by the attestation key over header ‖ report
//     body;
//  5. the QE against Intel's QE identity: the collateral's, or without
//     collateral the identity built in (intelQE);
//  6. with collateral, the TCB status of the platform and QE (else
//     "unknown");
//  7. when opts.Binding is set, that report_data is the binding followed
//     by 32 zero bytes.
//
// A debug enclave's quote verifies, with Claims.Debug set.
func (v *DCAPVerifier) VerifyQuote(_ context.Context, b []byte, col *Collateral, opts platform.Options) (*platform.Claims, error) {
	q, err := parseQuote(b)
	if err != nil {
		return nil, platform.Reject(platform.ReasonMalformed, "sgx: quote is malformed: %v", err)
	}
	if col != nil {
		if err := col.check(); err != nil {
			return nil, platform.Reject(platform.ReasonMalformed, "sgx: evidence is malformed: collateral: %v", err)
		}
	}
	now := opts.Now
	if now.IsZero() {
		now = v.now()
	}
	pck, err := v.verifyQuote(q, now)
	if err != nil {
		return nil, err
	}
	var res *collateralResult
	if col == nil {
		if err := intelQE.match(&q.qeReport); err != nil {
			return nil, platform.Reject(platform.ReasonSignatureInvalid, "sgx: the quote was not made by Intel's quoting enclave: %v", err)
		}
	} else if res, err = v.verifyCollateral(col, q, pck, now); err != nil {
		return nil, err
	}
	if err := checkBinding(q, opts.Binding); err != nil {
		return nil, err
	}
	return claims(q, pck, res), nil
}

// verifiedPCK is a PCK certificate whose chain to a trusted root verified.
type verifiedPCK struct {
	key *ecdsa.PublicKey
	ext *pckExtension
}

// verifyQuote makes the cryptographic checks (steps 1 to 4 of VerifyQuote)
// and returns the PCK certificate. It is the only step that uses the roots.
//
// Why a cache hit is never laxer than a miss. A miss parses the
// certification data as a PEM chain, checks that its first certificate is
// an end-entity PCK certificate with a P-256 key, verifies the chain to the
// roots at now and reads the certificate's SGX extension. All of that
// depends only on the certification data's bytes, the roots (fixed for the
// verifier's life) and now. The cache is keyed by the SHA-256 of those
// bytes, and an entry is used only when now lies in the validity window of
// the chain that verified, where that chain verifies again. Steps 2 to 4
// run on every verification.
func (v *DCAPVerifier) verifyQuote(q *quote, now time.Time) (*verifiedPCK, error) {
	if q.certType != certTypePCKChain {
		return nil, platform.Reject(platform.ReasonMalformed,
			"sgx: the quote's certification data is type %d (%s); only type %d, the PCK certificate chain, can be verified: "+
				"configure the quote provider library (e.g. with a PCCS) to put the PCK certificate chain in the quote",
			q.certType, certTypeName(q.certType), certTypePCKChain)
	}
	pck, err := v.verifyPCK(q.certData, now)
	if err != nil {
		return nil, err
	}
	if !verifyP256(pck.key, q.qeReportRaw, &q.qeReportSig) {
		return nil, platform.Reject(platform.ReasonSignatureInvalid, "sgx: QE report signature does not verify with the PCK certificate's key")
	}
	if err := checkAttestationKey(q); err != nil {
		return nil, err
	}
	return pck, nil
}

// checkAttestationKey makes the checks that need no certificate (steps 3
// and 4 of VerifyQuote): the QE report vouches for the attestation key, and
// the attestation key signed the quote.
func checkAttestationKey(q *quote) error {
	h := sha256.New()
	h.Write(q.attKey[:])
	h.Write(q.qeAuthData)
	if !bytes.Equal(q.qeReport.reportData[:32], h.Sum(nil)) || !allZero(q.qeReport.reportData[32:]) {
		return platform.Reject(platform.ReasonSignatureInvalid,
			"sgx: QE report data is not SHA-256(attestation key ‖ QE authentication data) followed by zeros: the QE did not certify this attestation key")
	}
	attKey, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), append([]byte{4}, q.attKey[:]...))
	if err != nil {
		return reject(platform.ReasonSignatureInvalid, err, "sgx: attestation key is not a P-256 public key")
	}
	if !verifyP256(attKey, q.signed(), &q.signature) {
		return platform.Reject(platform.ReasonSignatureInvalid, "sgx: quote signature does not verify with the attestation key")
	}
	return nil
}

// verifyPCK returns the PCK certificate of a PCK certificate chain (the
// certification data of type 5) after checking that it chains to a trusted
// root at now, from the cache when the same chain verified before.
func (v *DCAPVerifier) verifyPCK(certData []byte, now time.Time) (*verifiedPCK, error) {
	key := sha256.Sum256(certData)
	if p, ok := v.pcks.get(key, now); ok {
		return p, nil
	}
	chain, err := parsePEMChain(certData)
	if err != nil {
		return nil, platform.Reject(platform.ReasonMalformed, "sgx: quote is malformed: PCK certificate chain: %v", err)
	}
	pub, err := signingKey(chain[0], pckCNPhrase)
	if err != nil {
		return nil, platform.Reject(platform.ReasonSignatureInvalid, "sgx: the first certificate of the quote's chain is not a PCK certificate: %v", err)
	}
	notBefore, notAfter, err := verifyLeaf(chain, v.roots, now)
	if err != nil {
		return nil, platform.Reject(platform.ReasonSignatureInvalid, "sgx: PCK certificate chain does not verify to a trusted Intel SGX root at %s: %v",
			now.UTC().Format(time.RFC3339), err)
	}
	ext, err := parsePCKExtension(chain[0])
	if err != nil {
		return nil, platform.Reject(platform.ReasonMalformed, "sgx: PCK certificate: %v", err)
	}
	p := &verifiedPCK{key: pub, ext: ext}
	v.pcks.put(key, p, notBefore, notAfter, now)
	return p, nil
}

// verifyP256 checks an ECDSA P-256 signature r ‖ s over SHA-256(msg).
func verifyP256(pub *ecdsa.PublicKey, msg []byte, sig *[ecdsaSigSize]byte) bool {
	digest := sha256.Sum256(msg)
	r := new(big.Int).SetBytes(sig[:32])
	s := new(big.Int).SetBytes(sig[32:])
	return ecdsa.Verify(pub, digest[:], r, s)
}

// checkBinding checks that report_data is the binding followed by 32 zero
// bytes, when there is a binding to check.
func checkBinding(q *quote, binding *[32]byte) error {
	if binding == nil {
		return nil
	}
	rd := q.body.reportData
	if !bytes.Equal(rd[:32], binding[:]) {
		return platform.Reject(platform.ReasonBindingMismatch, "sgx: report_data[0:32] is not the request's binding")
	}
	if !allZero(rd[32:]) {
		return platform.Reject(platform.ReasonBindingMismatch, "sgx: report_data[32:64] is not zero")
	}
	return nil
}

// claims returns the facts a verified quote proves. res is nil when the
// quote came without collateral.
func claims(q *quote, pck *verifiedPCK, res *collateralResult) *platform.Claims {
	b := &q.body
	prodID, svn := int(b.isvProdID), int(b.isvSVN)
	c := &platform.Claims{
		Platform:   platform.SGX,
		Debug:      b.debug(),
		MREnclave:  hex.EncodeToString(b.mrEnclave[:]),
		MRSigner:   hex.EncodeToString(b.mrSigner[:]),
		ISVProdID:  &prodID,
		ISVSVN:     &svn,
		CPUSVN:     hex.EncodeToString(b.cpuSVN[:]),
		Attributes: hex.EncodeToString(b.attributes[:]),
		FMSPC:      hex.EncodeToString(pck.ext.fmspc[:]),
		ReportData: hex.EncodeToString(b.reportData[:]),
		TCBStatus:  TCBStatusUnknown,
		Extra: map[string]string{
			"miscselect":    strconv.FormatUint(uint64(b.miscSelect), 10),
			"pce_id":        hex.EncodeToString(pck.ext.pceID[:]),
			"pck_cpusvn":    hex.EncodeToString(pck.ext.tcb.cpuSVN[:]),
			"pck_pcesvn":    strconv.Itoa(int(pck.ext.tcb.pceSVN)),
			"qe_svn":        strconv.Itoa(int(q.qeSVN)),
			"pce_svn":       strconv.Itoa(int(q.pceSVN)),
			"qe_isvsvn":     strconv.Itoa(int(q.qeReport.isvSVN)),
			"quote_version": "3",
		},
	}
	if res != nil {
		c.TCBStatus = res.status
		c.Extra["platform_tcb_status"] = res.platformStatus
		c.Extra["qe_tcb_status"] = res.qeStatus
		c.Extra["tcb_date"] = res.tcbDate
		c.Extra["tcb_evaluation_data_number"] = strconv.Itoa(res.evalNumber)
		c.Extra["collateral_next_update"] = res.nextUpdate.UTC().Format(time.RFC3339)
		if len(res.advisories) > 0 {
			c.Extra["advisory_ids"] = strings.Join(res.advisories, ",")
		}
	}
	return c
}

// reject is platform.Reject keeping cause as the error's (logged, never
// returned) cause.
func reject(reason string, cause error, format string, args ...any) error {
	err := platform.Reject(reason, format, args...)
	var e *errs.Error
	if cause != nil && errors.As(err, &e) {
		e.Err = cause
	}
	return err
}

func allZero(b []byte) bool {
	for _, x := range b {
		if x != 0 {
			return false
		}
	}
	return true
}
