// Package platform defines what every attestation platform plugin provides:
// a Verifier that checks a piece of evidence's signature chain to a trusted
// root and that the request's binding is carried in it, and returns the
// facts (Claims) it proves. Verifiers decide nothing about acceptance: that
// is internal/attest's job, from the approved images.
package platform

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/openccm/openccm/internal/errs"
)

// Platform names a kind of evidence, as the API spells it.
type Platform string

// The platforms.
const (
	SGX      Platform = "sgx"
	Nitro    Platform = "nitro"
	SEVSNP   Platform = "sev_snp"
	ACI      Platform = "aci"
	AzureCVM Platform = "azure_cvm"
)

// Rejection reasons a verifier reports (the attestation_failed reasons of
// API.md that concern the evidence itself).
const (
	ReasonMalformed        = "evidence_malformed"
	ReasonSignatureInvalid = "signature_invalid"
	ReasonBindingMismatch  = "binding_mismatch"
)

// Options are the checks a verification makes beyond the signature chain.
type Options struct {
	// Binding, when set, must be carried in the evidence (user_data,
	// report_data[0:32], extraData). Offline inspection leaves it nil.
	Binding *[32]byte
	// Now is when certificate validity is judged; zero means the current
	// time (Nitro documents are judged at their own timestamp unless Now
	// is set).
	Now time.Time
}

// Claims are the facts a verified piece of evidence proves.
type Claims struct {
	Platform Platform `json:"platform"`
	// Debug reports evidence from a debug-mode enclave or a VM whose policy
	// allows debugging: its memory is not confidential.
	Debug bool `json:"debug"`
	// Nitro: PCRs by index (SHA-384 hex), module ID, document time.
	PCRs      map[int]string `json:"pcrs,omitempty"`
	ModuleID  string         `json:"module_id,omitempty"`
	Timestamp *time.Time     `json:"timestamp,omitempty"`
	// SEV-SNP and ACI: launch measurement (SHA-384 hex), VMPL, host data
	// (SHA-256 hex: the ACI policy digest), guest policy, chip and TCB.
	Measurement string            `json:"measurement,omitempty"`
	VMPL        *int              `json:"vmpl,omitempty"`
	HostData    string            `json:"host_data,omitempty"`
	Policy      *uint64           `json:"policy,omitempty"`
	ChipID      string            `json:"chip_id,omitempty"`
	TCB         map[string]uint8  `json:"tcb,omitempty"`
	ReportData  string            `json:"report_data,omitempty"`
	UserData    string            `json:"user_data,omitempty"`
	Extra       map[string]string `json:"extra,omitempty"`
	// SGX (DCAP quotes): the enclave's identity and CPUSVN from the report
	// body, the platform's FMSPC (from the PCK certificate), and the TCB
	// status the collateral gives ("unknown" without collateral).
	MREnclave  string `json:"mrenclave,omitempty"`
	MRSigner   string `json:"mrsigner,omitempty"`
	ISVProdID  *int   `json:"isvprodid,omitempty"`
	ISVSVN     *int   `json:"isvsvn,omitempty"`
	CPUSVN     string `json:"cpusvn,omitempty"`
	Attributes string `json:"attributes,omitempty"`
	FMSPC      string `json:"fmspc,omitempty"`
	TCBStatus  string `json:"tcb_status,omitempty"`
	// GPU: the verified NVIDIA attestation result, for images with gpu:
	// required (set by internal/attest, not by the CPU verifiers).
	GPU any `json:"gpu,omitempty"`
	// Azure CVM: the PCRs are in PCRs (SHA-256 hex, by index); the SEV-SNP
	// facts of the HCL report (Measurement, VMPL, ChipID, TCB, Policy)
	// are in the SEV-SNP fields above.
}

// Verifier verifies one platform's evidence. Evidence is the request's
// "evidence" object (its fields depend on the platform).
type Verifier interface {
	Platform() Platform
	Verify(ctx context.Context, evidence json.RawMessage, opts Options) (*Claims, error)
}

// Reject returns the error a verifier reports for bad evidence: a Rejected
// error (422 attestation_failed) with the reason and a message naming the
// verifier.
func Reject(reason, format string, args ...any) error {
	e := errs.E(errs.Rejected, format, args...)
	e.Reason = reason
	return e
}

// ReasonOf returns the rejection reason of err, or "".
func ReasonOf(err error) string {
	var e *errs.Error
	if errors.As(err, &e) {
		return e.Reason
	}
	return ""
}
