// Package sevsnp verifies AMD SEV-SNP attestation reports, for the sev_snp
// and aci platforms: the report's signature by the VCEK, the VCEK's chain to
// AMD's roots (built into go-sev-guest, plus configured test roots), and the
// binding in report_data. It returns the report's facts; it decides nothing
// about acceptance (debug policies included).
package sevsnp

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/google/go-sev-guest/verify/trust"

	"github.com/openccm/openccm/internal/errs"
	"github.com/openccm/openccm/internal/platform"
)

// Config configures a Verifier.
type Config struct {
	// Platform is the platform the Verifier serves: platform.SEVSNP or
	// platform.ACI. The evidence and the checks are the same; the claims
	// name the platform.
	Platform platform.Platform
	// Roots are extra trusted AMD roots, PEM: ARK and ASK certificates,
	// each ARK with the ASK it signed (the form AMD's KDS cert_chain and
	// platformtest.SNPCA.RootsPEM use). They are added to AMD's roots for
	// Milan, Genoa and Turin built into go-sev-guest.
	Roots []byte
	// Now is the clock used when a verification's Options.Now is zero;
	// nil means time.Now.
	Now func() time.Time
	// CacheSize bounds the number of verified VCEKs remembered; zero means
	// 1024.
	CacheSize int
}

// Verifier verifies SEV-SNP evidence for one platform. It is safe for
// concurrent use.
type Verifier struct {
	platform platform.Platform
	roots    map[string][]*trust.AMDRootCerts
	now      func() time.Time
	cache    *vcekCache
}

// NewVerifier returns a Verifier for cfg.Platform trusting AMD's roots and
// cfg.Roots.
func NewVerifier(cfg Config) (*Verifier, error) {
	if cfg.Platform != platform.SEVSNP && cfg.Platform != platform.ACI {
		return nil, fmt.Errorf("sevsnp: platform %q is not %q or %q", cfg.Platform, platform.SEVSNP, platform.ACI)
	}
	roots, err := trustedRoots(cfg.Roots)
	if err != nil {
		return nil, err
	}
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	return &Verifier{platform: cfg.Platform, roots: roots, now: now, cache: newVCEKCache(cfg.CacheSize)}, nil
}

var _ platform.Verifier = (*Verifier)(nil)

// Platform returns the platform the Verifier was made for.
func (v *Verifier) Platform() platform.Platform { return v.platform }

// evidence is the sev_snp and aci evidence object of API.md.
type evidence struct {
	Report []byte          `json:"report"`
	VCEK   []byte          `json:"vcek"`
	ASK    []byte          `json:"ask"`
	ARK    []byte          `json:"ark"`
	GPU    json.RawMessage `json:"gpu"`
}

// decodeEvidence decodes the evidence object strictly: unknown fields,
// bad base64 and trailing data are errors. The certificates are parsed
// later, and only when needed: the VCEK when its chain is not cached, the
// ASK and ARK never, since trust comes from the configured roots alone
// (go-sev-guest ignores them too).
func decodeEvidence(b []byte) (*evidence, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var ev evidence
	if err := dec.Decode(&ev); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("data after the evidence object")
	}
	if len(ev.Report) == 0 {
		return nil, errors.New("report is missing")
	}
	if len(ev.VCEK) == 0 {
		return nil, errors.New("vcek is missing")
	}
	return &ev, nil
}

// Verify verifies SEV-SNP evidence: {"report", "vcek", "ask"?, "ark"?,
// "gpu"?} (base64 DER certificates). The optional gpu object is not
// verified here; it is passed on, as JSON, in the claims' Extra["gpu"].
func (v *Verifier) Verify(ctx context.Context, raw json.RawMessage, opts platform.Options) (*platform.Claims, error) {
	ev, err := decodeEvidence(raw)
	if err != nil {
		return nil, reject(platform.ReasonMalformed, nil, "sevsnp: evidence is malformed: %v", err)
	}
	c, err := v.VerifyReport(ctx, ev.Report, ev.VCEK, opts)
	if err != nil {
		return nil, err
	}
	if len(ev.GPU) > 0 && !bytes.Equal(ev.GPU, []byte("null")) {
		var buf bytes.Buffer
		if err := json.Compact(&buf, ev.GPU); err == nil {
			c.Extra["gpu"] = buf.String()
		}
	}
	return c, nil
}

// VerifyReport verifies a raw 1184-byte report signed by the VCEK (DER),
// which must chain to a trusted AMD root, as Verify does for an evidence
// object; other verifiers that carry an SEV-SNP report inside their own
// evidence (Azure CVM's HCL report) use it.
func (v *Verifier) VerifyReport(ctx context.Context, report, vcekDER []byte, opts platform.Options) (*platform.Claims, error) {
	r, err := parseReport(report)
	if err != nil {
		return nil, reject(platform.ReasonMalformed, nil, "sevsnp: report is malformed: %v", err)
	}
	now := opts.Now
	if now.IsZero() {
		now = v.now()
	}
	vv, err := v.verifyChain(ctx, r, vcekDER, now)
	if err != nil {
		return nil, err
	}
	if err := matchVCEK(r, vv.ext); err != nil {
		return nil, reject(platform.ReasonSignatureInvalid, nil, "sevsnp: %v", err)
	}
	if err := checkBinding(r, opts.Binding); err != nil {
		return nil, err
	}
	return claims(v.platform, r, vv.productLine, vv.ext.HWID), nil
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
