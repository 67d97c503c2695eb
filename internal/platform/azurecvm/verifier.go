package azurecvm

// Verification of azure_cvm evidence: a vTPM quote of the VM's PCRs, signed
// by the attestation key (AK) that Azure's paravisor puts in the runtime
// claims of its HCL report, whose SEV-SNP report, signed by AMD, carries the
// hash of those claims. The SEV-SNP report itself is verified by package
// sevsnp.

import (
	"bytes"
	"context"
	"crypto/rsa"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/openccm/openccm/internal/errs"
	"github.com/openccm/openccm/internal/platform"
	"github.com/openccm/openccm/internal/platform/sevsnp"
)

// Config configures a Verifier.
type Config struct {
	// AMDRoots are extra trusted AMD roots, PEM, in the form
	// sevsnp.Config.Roots takes; AMD's real roots are always trusted.
	AMDRoots []byte
	// Now is the clock used when a verification's Options.Now is zero;
	// nil means time.Now.
	Now func() time.Time
}

// Verifier verifies azure_cvm evidence. It is safe for concurrent use.
type Verifier struct {
	snp *sevsnp.Verifier
}

// NewVerifier returns a Verifier trusting AMD's roots and cfg.AMDRoots.
func NewVerifier(cfg Config) (*Verifier, error) {
	snp, err := sevsnp.NewVerifier(sevsnp.Config{Platform: platform.SEVSNP, Roots: cfg.AMDRoots, Now: cfg.Now})
	if err != nil {
		return nil, fmt.Errorf("azurecvm: %w", err)
	}
	return &Verifier{snp: snp}, nil
}

var _ platform.Verifier = (*Verifier)(nil)

// Platform returns platform.AzureCVM.
func (v *Verifier) Platform() platform.Platform { return platform.AzureCVM }

// evidence is the azure_cvm evidence object of API.md.
type evidence struct {
	Quote     []byte            `json:"quote"`
	Signature []byte            `json:"signature"`
	PCRs      map[string]string `json:"pcrs"`
	HCLReport []byte            `json:"hcl_report"`
	VCEK      []byte            `json:"vcek"`
	ASK       []byte            `json:"ask"`
	ARK       []byte            `json:"ark"`
	AKPublic  []byte            `json:"ak_public"`
	GPU       json.RawMessage   `json:"gpu"`
}

// report is parsed azure_cvm evidence, not yet verified.
type report struct {
	quote *quote
	sig   *signature
	pcrs  map[int][]byte
	hcl   *hclReport
	// akPublic is the ak_public key, or nil.
	akPublic *rsa.PublicKey
	// vcek is the DER VCEK that signed the HCL report's SEV-SNP report.
	vcek []byte
	gpu  string
}

// parse decodes and parses the evidence object: every structure, strictly.
// It checks no signature.
func parse(b []byte) (*report, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var ev evidence
	if err := dec.Decode(&ev); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("data after the evidence object")
	}
	for _, f := range []struct {
		name string
		b    []byte
	}{{"quote", ev.Quote}, {"signature", ev.Signature}, {"hcl_report", ev.HCLReport}, {"vcek", ev.VCEK}} {
		if len(f.b) == 0 {
			return nil, fmt.Errorf("%s is missing", f.name)
		}
	}
	r := &report{}
	var err error
	if r.quote, err = parseQuote(ev.Quote); err != nil {
		return nil, fmt.Errorf("quote: %w", err)
	}
	if r.sig, err = parseSignature(ev.Signature); err != nil {
		return nil, fmt.Errorf("signature: %w", err)
	}
	if r.pcrs, err = parsePCRs(ev.PCRs); err != nil {
		return nil, fmt.Errorf("pcrs: %w", err)
	}
	if err := matchSelection(r.quote, r.pcrs); err != nil {
		return nil, err
	}
	if r.hcl, err = parseHCLReport(ev.HCLReport); err != nil {
		return nil, fmt.Errorf("hcl_report: %w", err)
	}
	if len(ev.AKPublic) > 0 {
		if r.akPublic, err = parseAKPublic(ev.AKPublic); err != nil {
			return nil, fmt.Errorf("ak_public: %w", err)
		}
	}
	r.vcek = ev.VCEK
	if len(ev.GPU) > 0 && !bytes.Equal(ev.GPU, []byte("null")) {
		var buf bytes.Buffer
		if err := json.Compact(&buf, ev.GPU); err != nil {
			return nil, fmt.Errorf("gpu: %w", err)
		}
		r.gpu = buf.String()
	}
	return r, nil
}

// parsePCRs reads the pcrs object: keys pcr0..pcr23, values SHA-256 hex (a
// 0x prefix and upper case are accepted).
func parsePCRs(m map[string]string) (map[int][]byte, error) {
	out := make(map[int][]byte, len(m))
	for k, v := range m {
		digits, ok := strings.CutPrefix(k, "pcr")
		i, err := strconv.Atoi(digits)
		if !ok || err != nil || i < 0 || i > MaxPCR || strconv.Itoa(i) != digits {
			return nil, fmt.Errorf("key %q is not pcr0 to pcr%d", k, MaxPCR)
		}
		v = strings.TrimPrefix(strings.TrimPrefix(v, "0x"), "0X")
		b, err := hex.DecodeString(v)
		if err != nil || len(b) != 32 {
			return nil, fmt.Errorf("%s is not 64 hex digits (a SHA-256 value)", k)
		}
		out[i] = b
	}
	return out, nil
}

// Verify verifies azure_cvm evidence: {"quote", "signature", "pcrs",
// "hcl_report", "vcek", "ask"?, "ark"?, "ak_public"?, "gpu"?} (base64
// fields, hex PCR values). The optional gpu object is not verified here; it
// is passed on, as JSON, in the claims' Extra["gpu"].
func (v *Verifier) Verify(ctx context.Context, raw json.RawMessage, opts platform.Options) (*platform.Claims, error) {
	r, err := parse(raw)
	if err != nil {
		if errors.Is(err, errTDX) {
			return nil, reject(platform.ReasonMalformed, nil, "azurecvm: %v", errTDX)
		}
		return nil, reject(platform.ReasonMalformed, nil, "azurecvm: evidence is malformed: %v", err)
	}
	snp, err := v.verifyChain(ctx, r, opts.Now)
	if err != nil {
		return nil, err
	}
	if err := checkBinding(r.quote, opts.Binding); err != nil {
		return nil, err
	}
	return claims(r, snp), nil
}

// verifyChain checks the chain of trust from AMD's root to the PCR values:
// the SEV-SNP report (by package sevsnp, which caches verified VCEKs) at
// VMPL 0, the paravisor's; the runtime claims' hash in it; the AK those
// claims name (and ak_public, when given, is that key); the quote's
// signature by the AK; and the PCR values' digest in the quote. It returns
// the SEV-SNP report's claims.
func (v *Verifier) verifyChain(ctx context.Context, r *report, now time.Time) (*platform.Claims, error) {
	snp, err := v.snp.VerifyReport(ctx, r.hcl.snpReport, r.vcek, platform.Options{Now: now})
	if err != nil {
		var e *errs.Error
		if errors.As(err, &e) {
			return nil, reject(e.Reason, e.Err, "azurecvm: the HCL report's SEV-SNP report: %s", e.Msg)
		}
		return nil, fmt.Errorf("azurecvm: the HCL report's SEV-SNP report: %w", err)
	}
	// The guest runs at a higher VMPL and can get SEV-SNP reports over any
	// data it likes; only the paravisor, at VMPL 0, vouches for the AK.
	if snp.VMPL == nil || *snp.VMPL != 0 {
		return nil, reject(platform.ReasonSignatureInvalid, nil, "azurecvm: the HCL report's SEV-SNP report is from VMPL %d, not the paravisor's VMPL 0", deref(snp.VMPL))
	}
	if err := checkRuntimeData(r.hcl); err != nil {
		return nil, reject(platform.ReasonSignatureInvalid, nil, "azurecvm: HCL report: %v", err)
	}
	ak := r.hcl.ak
	if r.akPublic != nil && !r.akPublic.Equal(ak) {
		return nil, reject(platform.ReasonSignatureInvalid, nil, "azurecvm: ak_public is not the HCL report's %s key", akKeyID)
	}
	if err := r.sig.verify(ak, r.quote.raw); err != nil {
		return nil, reject(platform.ReasonSignatureInvalid, err, "azurecvm: quote signature does not verify with the HCL report's %s key", akKeyID)
	}
	if err := checkPCRDigest(r.quote, r.pcrs); err != nil {
		return nil, reject(platform.ReasonSignatureInvalid, nil, "azurecvm: %v", err)
	}
	return snp, nil
}

// checkBinding checks that the quote's extraData (qualifying data) is the
// binding, when there is a binding to check.
func checkBinding(q *quote, binding *[32]byte) error {
	if binding == nil {
		return nil
	}
	if !bytes.Equal(q.extraData, binding[:]) {
		return platform.Reject(platform.ReasonBindingMismatch, "azurecvm: the quote's extraData is not the request's binding")
	}
	return nil
}

// claims returns the facts verified evidence proves: the PCRs, and the
// SEV-SNP report's facts (measurement, VMPL, chip, TCB, policy, debug).
// Extra adds the runtime claims' VM configuration (JSON) and user data, and
// the quote's extraData (hex).
func claims(r *report, snp *platform.Claims) *platform.Claims {
	c := *snp
	c.Platform = platform.AzureCVM
	c.PCRs = make(map[int]string, len(r.pcrs))
	for i, v := range r.pcrs {
		c.PCRs[i] = hex.EncodeToString(v)
	}
	c.Extra = make(map[string]string, len(snp.Extra)+4)
	for k, v := range snp.Extra {
		c.Extra[k] = v
	}
	c.Extra["quote_extra_data"] = hex.EncodeToString(r.quote.extraData)
	if vc := r.hcl.runtime.VMConfiguration; len(vc) > 0 {
		var buf bytes.Buffer
		if err := json.Compact(&buf, vc); err == nil {
			c.Extra["vm_configuration"] = buf.String()
		}
	}
	if ud := r.hcl.runtime.UserData; ud != "" {
		c.Extra["hcl_user_data"] = ud
	}
	if r.gpu != "" {
		c.Extra["gpu"] = r.gpu
	}
	return &c
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

func deref(p *int) int {
	if p == nil {
		return -1
	}
	return *p
}
