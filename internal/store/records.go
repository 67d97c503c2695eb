package store

import "time"

// Role is a member's role in an account. Higher roles include the lower ones.
type Role string

// The roles, lowest first.
const (
	RoleReader  Role = "reader"
	RoleWriter  Role = "writer"
	RoleManager Role = "manager"
)

// Rank orders roles: reader < writer < manager. Unknown roles rank 0.
func (r Role) Rank() int {
	switch r {
	case RoleReader:
		return 1
	case RoleWriter:
		return 2
	case RoleManager:
		return 3
	}
	return 0
}

// Valid reports whether r is one of the three roles.
func (r Role) Valid() bool { return r.Rank() > 0 }

// AtLeast reports whether r includes min.
func (r Role) AtLeast(min Role) bool { return r.Rank() >= min.Rank() && r.Valid() }

// ApprovalPolicy is an account's rule for approval tasks.
type ApprovalPolicy struct {
	RequiredApprovals int  `json:"required_approvals"`
	AllowSelfApproval bool `json:"allow_self_approval"`
}

// Account is a tenant: everything else belongs to one.
type Account struct {
	ID                     string
	Name                   string
	TrustDomain            string
	ApprovalPolicy         ApprovalPolicy
	AzureCVMPCRPriority    []int
	SGXAcceptedTCBStatuses []string
	CreatedAt              time.Time
	UpdatedAt              time.Time
}

// User is a person who signs in.
type User struct {
	ID    string
	Email string
	// PasswordHash is an argon2id PHC string.
	PasswordHash string
	// IsAdmin marks the system administrator (the first user).
	IsAdmin   bool
	CreatedAt time.Time
}

// Member is a user's membership of an account.
type Member struct {
	AccountID string
	UserID    string
	Email     string // filled in on reads
	Role      Role
	CreatedAt time.Time
}

// UserAccount is an account as seen from one of its members.
type UserAccount struct {
	Account *Account
	Role    Role
}

// Session is a signed-in user's session.
type Session struct {
	ID        string
	UserID    string
	TokenHash []byte
	CreatedAt time.Time
	ExpiresAt time.Time
}

// Token is a long-lived API token limited to one account and role.
type Token struct {
	ID         string
	Name       string
	UserID     string // the creator; the token acts as this user
	AccountID  string
	Role       Role
	TokenHash  []byte
	CreatedAt  time.Time
	ExpiresAt  *time.Time
	LastUsedAt *time.Time
}

// Registry is a saved registry credential.
type Registry struct {
	ID          string
	AccountID   string
	URL         string
	Username    string
	Description string
	// PasswordCiphertext is the password sealed by internal/secret with
	// associated data bound to this row.
	PasswordCiphertext []byte
	CreatedAt          time.Time
	UpdatedAt          time.Time
}

// AppType is the kind of application.
type AppType string

// The application types.
const (
	AppEnclaveOS AppType = "enclave_os"
	AppEDP       AppType = "edp"
	AppACI       AppType = "aci"
	AppSEVSNP    AppType = "sev_snp"
	AppAzureCVM  AppType = "azure_cvm"
)

// AppTypes lists every application type.
var AppTypes = []AppType{AppEnclaveOS, AppEDP, AppACI, AppSEVSNP, AppAzureCVM}

// Valid reports whether t is a known application type.
func (t AppType) Valid() bool {
	for _, v := range AppTypes {
		if t == v {
			return true
		}
	}
	return false
}

// CertificateSettings says whether and how attested instances get a certificate.
type CertificateSettings struct {
	Enabled      bool   `json:"enabled"`
	ValidityDays int    `json:"validity_days"`
	KeyPath      string `json:"key_path,omitempty"`
	CertPath     string `json:"cert_path,omitempty"`
}

// App is an application: the releases of one workload.
type App struct {
	ID                  string
	AccountID           string
	Name                string
	Type                AppType
	Description         string
	Domains             []string
	ApprovedDomains     []string
	PendingDomainTaskID string
	InputImageName      string
	OutputImageName     string
	Certificate         CertificateSettings
	Labels              map[string]string
	CreatedAt           time.Time
	UpdatedAt           time.Time
}
