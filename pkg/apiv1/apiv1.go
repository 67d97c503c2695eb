// Package apiv1 holds the wire types of the OpenCCM REST API v1: requests,
// responses and the error body. The server, the Go client, the CLI and the
// tests all use these types, so the contract lives in one place.
package apiv1

import (
	"encoding/json"
	"time"
)

// Error codes of the error body.
const (
	CodeInvalidJSON       = "invalid_json"
	CodeValidationFailed  = "validation_failed"
	CodeUnauthenticated   = "unauthenticated"
	CodeForbidden         = "forbidden"
	CodeNotFound          = "not_found"
	CodeConflict          = "conflict"
	CodeTooLarge          = "too_large"
	CodeAttestationFailed = "attestation_failed"
	CodeRateLimited       = "rate_limited"
	CodeInternal          = "internal"
	CodeUnavailable       = "unavailable"
	CodeMethodNotAllowed  = "method_not_allowed"
)

// ErrorBody is the body of every non-2xx response.
type ErrorBody struct {
	Error ErrorDetail `json:"error"`
}

// ErrorDetail describes what went wrong.
type ErrorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Field   string `json:"field,omitempty"`
	Reason  string `json:"reason,omitempty"`
	// RequestID identifies the request in the server's logs.
	RequestID string `json:"request_id,omitempty"`
}

// List is one page of a list.
type List[T any] struct {
	Items      []T    `json:"items"`
	NextCursor string `json:"next_cursor,omitempty"`
}

// Version is the body of GET /v1/version.
type Version struct {
	Version       string `json:"version"`
	Commit        string `json:"commit,omitempty"`
	GoVersion     string `json:"go_version"`
	SchemaVersion int    `json:"schema_version"`
}

// Credentials is the body of POST /v1/signup and POST /v1/sessions.
type Credentials struct {
	Email    string `json:"email"`
	Password string `json:"password"`
}

// Session is the body of a successful POST /v1/sessions.
type Session struct {
	Token     string    `json:"token"`
	ExpiresAt time.Time `json:"expires_at"`
}

// User is a user as returned by signup and GET /v1/me.
type User struct {
	UserID    string        `json:"user_id"`
	Email     string        `json:"email"`
	IsAdmin   bool          `json:"is_admin"`
	CreatedAt time.Time     `json:"created_at"`
	Accounts  []UserAccount `json:"accounts"`
}

// UserAccount is one of a user's accounts.
type UserAccount struct {
	AccountID string `json:"account_id"`
	Name      string `json:"name"`
	Role      string `json:"role"`
}

// CreateTokenRequest is the body of POST /v1/tokens.
type CreateTokenRequest struct {
	Name      string     `json:"name"`
	AccountID string     `json:"account_id"`
	Role      string     `json:"role"`
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
}

// Token is an API token. Token (the secret) is set only in the response to
// its creation.
type Token struct {
	TokenID    string     `json:"token_id"`
	Token      string     `json:"token,omitempty"`
	Name       string     `json:"name"`
	AccountID  string     `json:"account_id"`
	Role       string     `json:"role"`
	CreatedBy  string     `json:"created_by"`
	CreatedAt  time.Time  `json:"created_at"`
	ExpiresAt  *time.Time `json:"expires_at,omitempty"`
	LastUsedAt *time.Time `json:"last_used_at,omitempty"`
}

// ApprovalPolicy is an account's rule for approval tasks.
type ApprovalPolicy struct {
	RequiredApprovals int  `json:"required_approvals"`
	AllowSelfApproval bool `json:"allow_self_approval"`
}

// Account is an account.
type Account struct {
	AccountID              string         `json:"account_id"`
	Name                   string         `json:"name"`
	TrustDomain            string         `json:"trust_domain"`
	ApprovalPolicy         ApprovalPolicy `json:"approval_policy"`
	AzureCVMPCRPriority    []int          `json:"azure_cvm_pcr_priority"`
	SGXAcceptedTCBStatuses []string       `json:"sgx_accepted_tcb_statuses"`
	// Role is the caller's role in the account.
	Role      string    `json:"role,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// CreateAccountRequest is the body of POST /v1/accounts.
type CreateAccountRequest struct {
	Name                   string               `json:"name"`
	TrustDomain            *string              `json:"trust_domain,omitempty"`
	ApprovalPolicy         *ApprovalPolicyPatch `json:"approval_policy,omitempty"`
	AzureCVMPCRPriority    []int                `json:"azure_cvm_pcr_priority,omitempty"`
	SGXAcceptedTCBStatuses []string             `json:"sgx_accepted_tcb_statuses,omitempty"`
}

// UpdateAccountRequest is the body of PATCH /v1/accounts/{account_id}.
// Absent fields are left as they are.
type UpdateAccountRequest struct {
	Name                   *string              `json:"name,omitempty"`
	TrustDomain            *string              `json:"trust_domain,omitempty"`
	ApprovalPolicy         *ApprovalPolicyPatch `json:"approval_policy,omitempty"`
	AzureCVMPCRPriority    []int                `json:"azure_cvm_pcr_priority,omitempty"`
	SGXAcceptedTCBStatuses []string             `json:"sgx_accepted_tcb_statuses,omitempty"`
}

// ApprovalPolicyPatch changes some fields of an approval policy.
type ApprovalPolicyPatch struct {
	RequiredApprovals *int  `json:"required_approvals,omitempty"`
	AllowSelfApproval *bool `json:"allow_self_approval,omitempty"`
}

// Member is a user's membership of an account.
type Member struct {
	UserID    string    `json:"user_id"`
	Email     string    `json:"email"`
	Role      string    `json:"role"`
	CreatedAt time.Time `json:"created_at"`
}

// AddMemberRequest is the body of POST /v1/accounts/{a}/members.
type AddMemberRequest struct {
	Email    string `json:"email"`
	Role     string `json:"role"`
	Password string `json:"password,omitempty"`
}

// SetRoleRequest is the body of PATCH /v1/accounts/{a}/members/{user_id}.
type SetRoleRequest struct {
	Role string `json:"role"`
}

// Registry is a saved registry credential. It never carries the password.
type Registry struct {
	RegistryID  string    `json:"registry_id"`
	URL         string    `json:"url"`
	Username    string    `json:"username"`
	Description string    `json:"description"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
}

// CreateRegistryRequest is the body of POST /v1/accounts/{a}/registries.
type CreateRegistryRequest struct {
	URL         string `json:"url"`
	Username    string `json:"username"`
	Password    string `json:"password"`
	Description string `json:"description,omitempty"`
}

// UpdateRegistryRequest is the body of PATCH /v1/accounts/{a}/registries/{id}.
type UpdateRegistryRequest struct {
	URL         *string `json:"url,omitempty"`
	Username    *string `json:"username,omitempty"`
	Password    *string `json:"password,omitempty"`
	Description *string `json:"description,omitempty"`
}

// CertificateSettings says whether and how attested instances get a certificate.
type CertificateSettings struct {
	Enabled      bool   `json:"enabled"`
	ValidityDays int    `json:"validity_days"`
	KeyPath      string `json:"key_path,omitempty"`
	CertPath     string `json:"cert_path,omitempty"`
}

// CertificateSettingsPatch changes some certificate settings.
type CertificateSettingsPatch struct {
	Enabled      *bool   `json:"enabled,omitempty"`
	ValidityDays *int    `json:"validity_days,omitempty"`
	KeyPath      *string `json:"key_path,omitempty"`
	CertPath     *string `json:"cert_path,omitempty"`
}

// App is an application.
type App struct {
	AppID               string              `json:"app_id"`
	Name                string              `json:"name"`
	Type                string              `json:"type"`
	Description         string              `json:"description"`
	Domains             []string            `json:"domains"`
	ApprovedDomains     []string            `json:"approved_domains"`
	PendingDomainTaskID string              `json:"pending_domain_task_id,omitempty"`
	InputImageName      string              `json:"input_image_name,omitempty"`
	OutputImageName     string              `json:"output_image_name,omitempty"`
	Certificate         CertificateSettings `json:"certificate"`
	Labels              map[string]string   `json:"labels"`
	CreatedAt           time.Time           `json:"created_at"`
	UpdatedAt           time.Time           `json:"updated_at"`
}

// CreateAppRequest is the body of POST /v1/accounts/{a}/apps.
type CreateAppRequest struct {
	Name            string                    `json:"name"`
	Type            string                    `json:"type"`
	Description     string                    `json:"description,omitempty"`
	Domains         []string                  `json:"domains,omitempty"`
	InputImageName  string                    `json:"input_image_name,omitempty"`
	OutputImageName string                    `json:"output_image_name,omitempty"`
	Certificate     *CertificateSettingsPatch `json:"certificate,omitempty"`
	Labels          map[string]string         `json:"labels,omitempty"`
}

// UpdateAppRequest is the body of PATCH /v1/accounts/{a}/apps/{app_id}.
// Absent fields are left as they are; labels and domains are replaced whole.
type UpdateAppRequest struct {
	Name *string `json:"name,omitempty"`
	// Type cannot change; it is accepted only to say so clearly.
	Type            *string                   `json:"type,omitempty"`
	Description     *string                   `json:"description,omitempty"`
	Domains         *[]string                 `json:"domains,omitempty"`
	InputImageName  *string                   `json:"input_image_name,omitempty"`
	OutputImageName *string                   `json:"output_image_name,omitempty"`
	Certificate     *CertificateSettingsPatch `json:"certificate,omitempty"`
	Labels          *map[string]string        `json:"labels,omitempty"`
}

// RegistryCredentials are inline registry credentials. They are stored
// encrypted and never returned.
type RegistryCredentials struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

// CreateImageRequest is the body of POST /v1/accounts/{a}/apps/{app_id}/images.
// Which fields apply depends on the app's type (see API.md); a field that
// does not apply is rejected.
type CreateImageRequest struct {
	Version  string `json:"version,omitempty"`
	Platform string `json:"platform,omitempty"`
	// edp + sgx: a SIGSTRUCT (base64), or the values by hand.
	Sigstruct string `json:"sigstruct,omitempty"`
	MREnclave string `json:"mrenclave,omitempty"`
	MRSigner  string `json:"mrsigner,omitempty"`
	ISVProdID *int   `json:"isvprodid,omitempty"`
	ISVSVN    *int   `json:"isvsvn,omitempty"`
	// edp + nitro: nitro-cli's measurement JSON, or the PCRs by hand.
	MeasurementJSON string `json:"measurement_json,omitempty"`
	PCR0            string `json:"pcr0,omitempty"`
	PCR1            string `json:"pcr1,omitempty"`
	PCR2            string `json:"pcr2,omitempty"`
	// enclave_os
	InputTag                     string               `json:"input_tag,omitempty"`
	OutputTag                    string               `json:"output_tag,omitempty"`
	InputRegistryID              *string              `json:"input_registry_id,omitempty"`
	OutputRegistryID             *string              `json:"output_registry_id,omitempty"`
	OutputCredentials            *RegistryCredentials `json:"output_credentials,omitempty"`
	UseInputCredentialsForOutput bool                 `json:"use_input_credentials_for_output,omitempty"`
	MemoryMiB                    *int                 `json:"memory_mib,omitempty"`
	FilePersistence              *bool                `json:"file_persistence,omitempty"`
	// enclave_os and aci
	CPUCount *int `json:"cpu_count,omitempty"`
	// aci
	Tag                     string               `json:"tag,omitempty"`
	RegistryID              *string              `json:"registry_id,omitempty"`
	Credentials             *RegistryCredentials `json:"credentials,omitempty"`
	WaitForNodeRegistration *bool                `json:"wait_for_node_registration,omitempty"`
	MemoryGB                *float64             `json:"memory_gb,omitempty"`
	// sev_snp
	Measurement string `json:"measurement,omitempty"`
	VMPL        *int   `json:"vmpl,omitempty"`
	// sev_snp and azure_cvm: none (default), ignored, required.
	GPU string `json:"gpu,omitempty"`
	// azure_cvm: "pcr0".."pcr22" → SHA-256 hex.
	PCRs map[string]string `json:"pcrs,omitempty"`
}

// ImageSettings are the options an image was created with.
type ImageSettings struct {
	InputTag                     string  `json:"input_tag,omitempty"`
	OutputTag                    string  `json:"output_tag,omitempty"`
	InputRegistryID              string  `json:"input_registry_id,omitempty"`
	OutputRegistryID             string  `json:"output_registry_id,omitempty"`
	UseInputCredentialsForOutput bool    `json:"use_input_credentials_for_output,omitempty"`
	MemoryMiB                    int     `json:"memory_mib,omitempty"`
	FilePersistence              *bool   `json:"file_persistence,omitempty"`
	CPUCount                     int     `json:"cpu_count,omitempty"`
	Tag                          string  `json:"tag,omitempty"`
	RegistryID                   string  `json:"registry_id,omitempty"`
	WaitForNodeRegistration      *bool   `json:"wait_for_node_registration,omitempty"`
	MemoryGB                     float64 `json:"memory_gb,omitempty"`
	GPU                          string  `json:"gpu,omitempty"`
	HasInlineCredentials         bool    `json:"has_inline_credentials,omitempty"`
}

// Image is one release of an app. The settings it was created with are
// top-level fields.
type Image struct {
	ImageID        string         `json:"image_id"`
	AppID          string         `json:"app_id"`
	Type           string         `json:"type"`
	Platform       string         `json:"platform"`
	Version        string         `json:"version"`
	Status         string         `json:"status"`
	ApprovalStatus string         `json:"approval_status"`
	Measurements   map[string]any `json:"measurements"`
	TaskID         string         `json:"task_id,omitempty"`
	OutputDigest   string         `json:"output_digest,omitempty"`
	Error          string         `json:"error,omitempty"`
	ImageSettings
	CreatedBy string    `json:"created_by"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Build is the state of an image's build job.
type Build struct {
	JobID    string   `json:"job_id"`
	ImageID  string   `json:"image_id"`
	Kind     string   `json:"kind"`
	Status   string   `json:"status"`
	Progress int      `json:"progress"`
	Log      []string `json:"log"`
	Attempts int      `json:"attempts"`
	// Error is why the last attempt failed (a queued job retries at
	// NextAttemptAt; a failed one is over).
	Error         string     `json:"error,omitempty"`
	NextAttemptAt *time.Time `json:"next_attempt_at,omitempty"`
	CreatedAt     time.Time  `json:"created_at"`
	UpdatedAt     time.Time  `json:"updated_at"`
}

// SigstructInfo is the body of POST /v1/tools/sigstruct's answer.
type SigstructInfo struct {
	MREnclave  string `json:"mrenclave"`
	MRSigner   string `json:"mrsigner"`
	ISVProdID  int    `json:"isvprodid"`
	ISVSVN     int    `json:"isvsvn"`
	Attributes string `json:"attributes"`
	MiscSelect int64  `json:"miscselect"`
	Date       string `json:"date"`
	Vendor     int64  `json:"vendor"`
	Debug      bool   `json:"debug"`
}

// SigstructRequest is the body of POST /v1/tools/sigstruct.
type SigstructRequest struct {
	Sigstruct string `json:"sigstruct"`
}

// NitroMeasurementsRequest is the body of POST /v1/tools/nitro-measurements.
type NitroMeasurementsRequest struct {
	MeasurementJSON string `json:"measurement_json"`
}

// NitroMeasurements is the answer of POST /v1/tools/nitro-measurements.
type NitroMeasurements struct {
	PCR0 string `json:"pcr0"`
	PCR1 string `json:"pcr1"`
	PCR2 string `json:"pcr2"`
	PCR8 string `json:"pcr8,omitempty"`
}

// TaskSubject names what a task decides on.
type TaskSubject struct {
	Type string `json:"type"`
	ID   string `json:"id"`
}

// TaskDecision is one user's decision on a task.
type TaskDecision struct {
	UserID   string    `json:"user_id"`
	Email    string    `json:"email"`
	Decision string    `json:"decision"`
	Comment  string    `json:"comment"`
	At       time.Time `json:"at"`
}

// Task is an approval task.
type Task struct {
	TaskID            string         `json:"task_id"`
	Kind              string         `json:"kind"`
	Subject           TaskSubject    `json:"subject"`
	Status            string         `json:"status"`
	RequiredApprovals int            `json:"required_approvals"`
	Approvals         []TaskDecision `json:"approvals"`
	// DomainsAdded and DomainsRemoved are set on domain approval tasks only.
	DomainsAdded   *[]string  `json:"domains_added,omitempty"`
	DomainsRemoved *[]string  `json:"domains_removed,omitempty"`
	CreatedBy      string     `json:"created_by"`
	CreatedAt      time.Time  `json:"created_at"`
	ResolvedAt     *time.Time `json:"resolved_at,omitempty"`
}

// ApproveRequest is the body of POST …/tasks/{task_id}/approve.
type ApproveRequest struct {
	Comment string `json:"comment,omitempty"`
}

// DenyRequest is the body of POST …/tasks/{task_id}/deny.
type DenyRequest struct {
	Reason string `json:"reason"`
}

// AuditActor is who did something.
type AuditActor struct {
	Type string `json:"type"`
	ID   string `json:"id"`
}

// AuditSubject is what was acted on.
type AuditSubject struct {
	Type string `json:"type"`
	ID   string `json:"id"`
}

// AuditEvent is one event of an account's audit log.
type AuditEvent struct {
	EventID  string          `json:"event_id"`
	Seq      int64           `json:"seq"`
	At       time.Time       `json:"at"`
	Actor    AuditActor      `json:"actor"`
	Action   string          `json:"action"`
	Subject  AuditSubject    `json:"subject"`
	Outcome  string          `json:"outcome"`
	Details  json.RawMessage `json:"details"`
	PrevHash string          `json:"prev_hash"`
	Hash     string          `json:"hash"`
}

// AuditVerification is the answer of GET /v1/accounts/{a}/audit/verify.
type AuditVerification struct {
	OK              bool   `json:"ok"`
	Events          int    `json:"events"`
	FirstBadEventID string `json:"first_bad_event_id,omitempty"`
	FirstBadSeq     int64  `json:"first_bad_seq,omitempty"`
	Reason          string `json:"reason,omitempty"`
}

// ExplainRequest is the body of POST /v1/accounts/{a}/attest/explain.
type ExplainRequest struct {
	Platform     string            `json:"platform"`
	AppID        string            `json:"app_id,omitempty"`
	PCRs         map[string]string `json:"pcrs,omitempty"`
	Measurements map[string]any    `json:"measurements,omitempty"`
}

// Explanation is the answer of POST /v1/accounts/{a}/attest/explain.
type Explanation struct {
	SelectedImageID *string  `json:"selected_image_id"`
	Result          string   `json:"result"`
	Steps           []string `json:"steps"`
}

// ChallengeRequest is the body of POST /v1/attest/challenge.
type ChallengeRequest struct {
	AccountID string `json:"account_id"`
}

// Challenge is a single-use attestation nonce.
type Challenge struct {
	Nonce     string    `json:"nonce"` // base64 of 32 bytes
	ExpiresAt time.Time `json:"expires_at"`
}

// AttestRequest is the body of POST /v1/attest.
type AttestRequest struct {
	AccountID string          `json:"account_id"`
	AppID     string          `json:"app_id,omitempty"`
	Platform  string          `json:"platform"`
	Nonce     string          `json:"nonce"`
	CSR       string          `json:"csr"`
	Evidence  json.RawMessage `json:"evidence"`
}

// AttestResponse is a successful attestation's answer.
type AttestResponse struct {
	Certificate   string    `json:"certificate"` // PEM leaf
	Chain         []string  `json:"chain"`       // PEM issuing CA
	CertificateID string    `json:"certificate_id"`
	AppID         string    `json:"app_id"`
	ImageID       string    `json:"image_id"`
	ExpiresAt     time.Time `json:"expires_at"`
}

// CACertificate is the body of GET /v1/accounts/{a}/ca.
type CACertificate struct {
	Certificate string `json:"certificate"`
}

// Certificate is a certificate the account's CA issued.
type Certificate struct {
	CertificateID    string     `json:"certificate_id"`
	AppID            string     `json:"app_id"`
	ImageID          string     `json:"image_id"`
	Serial           string     `json:"serial"`
	CommonName       string     `json:"common_name"`
	DNSNames         []string   `json:"dns_names"`
	URIs             []string   `json:"uris"`
	NotBefore        time.Time  `json:"not_before"`
	ExpiresAt        time.Time  `json:"expires_at"`
	Status           string     `json:"status"` // issued, revoked, expired
	RevokedAt        *time.Time `json:"revoked_at,omitempty"`
	RevocationReason string     `json:"revocation_reason,omitempty"`
	Certificate      string     `json:"certificate"` // PEM
	CreatedAt        time.Time  `json:"created_at"`
}

// RevokeRequest is the body of POST …/certificates/{certificate_id}/revoke.
type RevokeRequest struct {
	Reason string `json:"reason,omitempty"`
}
