package store

import (
	"context"
	"time"
)

// ImageStatus is where an image is in its life: entered measurements are
// ready at once; converted images go through a build job.
type ImageStatus string

// The image statuses.
const (
	ImagePending  ImageStatus = "pending"
	ImageBuilding ImageStatus = "building"
	ImageReady    ImageStatus = "ready"
	ImageFailed   ImageStatus = "failed"
)

// ApprovalStatus is an image's approval: nothing attests as an image until
// it is approved.
type ApprovalStatus string

// The approval statuses.
const (
	ApprovalPending  ApprovalStatus = "pending"
	ApprovalApproved ApprovalStatus = "approved"
	ApprovalDenied   ApprovalStatus = "denied"
)

// Measurements are what attestation compares with evidence. Which fields
// are set depends on the image's type and platform; hex is lower case.
type Measurements struct {
	// SGX (edp + sgx).
	MREnclave  string `json:"mrenclave,omitempty"`
	MRSigner   string `json:"mrsigner,omitempty"`
	ISVProdID  *int   `json:"isvprodid,omitempty"`
	ISVSVN     *int   `json:"isvsvn,omitempty"`
	Attributes string `json:"attributes,omitempty"`
	MiscSelect *int64 `json:"miscselect,omitempty"`
	// Nitro (edp + nitro, enclave_os): SHA-384 PCRs.
	PCR0 string `json:"pcr0,omitempty"`
	PCR1 string `json:"pcr1,omitempty"`
	PCR2 string `json:"pcr2,omitempty"`
	// ACI: the SHA-256 of the CCE policy (the SEV-SNP host_data).
	PolicySHA256 string `json:"policy_sha256,omitempty"`
	// SEV-SNP: the launch measurement (SHA-384) and VMPL.
	Measurement string `json:"measurement,omitempty"`
	VMPL        *int   `json:"vmpl,omitempty"`
	// Azure CVM: PCR index (0..22) → SHA-256.
	PCRs map[int]string `json:"pcrs,omitempty"`
}

// ImageSettings are the options given at creation, returned as top-level
// fields of the image. Credentials are not settings: they are sealed apart.
type ImageSettings struct {
	// enclave_os
	InputTag                     string `json:"input_tag,omitempty"`
	OutputTag                    string `json:"output_tag,omitempty"`
	InputRegistryID              string `json:"input_registry_id,omitempty"`
	OutputRegistryID             string `json:"output_registry_id,omitempty"`
	UseInputCredentialsForOutput bool   `json:"use_input_credentials_for_output,omitempty"`
	MemoryMiB                    int    `json:"memory_mib,omitempty"`
	FilePersistence              *bool  `json:"file_persistence,omitempty"`
	// enclave_os and aci
	CPUCount int `json:"cpu_count,omitempty"`
	// aci
	Tag                     string  `json:"tag,omitempty"`
	RegistryID              string  `json:"registry_id,omitempty"`
	WaitForNodeRegistration *bool   `json:"wait_for_node_registration,omitempty"`
	MemoryGB                float64 `json:"memory_gb,omitempty"`
	// sev_snp and azure_cvm
	GPU string `json:"gpu,omitempty"`
	// Whether inline credentials were given (they themselves are sealed).
	HasInlineCredentials bool `json:"has_inline_credentials,omitempty"`
}

// Image is one release of an app, with its measurements.
type Image struct {
	ID             string
	AccountID      string
	AppID          string
	Type           AppType
	Platform       string
	Version        string
	Status         ImageStatus
	ApprovalStatus ApprovalStatus
	Measurements   Measurements
	Settings       ImageSettings
	// MeasurementKey is the account-wide uniqueness key of the measurements
	// ("sgx:<mrenclave>", "nitro:<pcr0><pcr1><pcr2>", …); empty until known.
	MeasurementKey string
	// CredentialsCiphertext holds inline registry credentials, sealed.
	CredentialsCiphertext []byte
	OutputDigest          string
	Error                 string
	TaskID                string
	CreatedBy             string
	CreatedAt             time.Time
	UpdatedAt             time.Time
}

// ImageFilter narrows ListImages.
type ImageFilter struct {
	AppID          string
	Type           AppType
	Status         ImageStatus
	ApprovalStatus ApprovalStatus
}

// Images stores application images.
type Images interface {
	// CreateImage inserts img; ConflictError "images.version" for a version
	// already used by the app, "images.measurement_key" for measurements
	// already registered in the account.
	CreateImage(ctx context.Context, img *Image) error
	GetImage(ctx context.Context, accountID, imageID string) (*Image, error)
	ListImages(ctx context.Context, accountID string, f ImageFilter, p Page) ([]*Image, error)
	// GetImageByMeasurementKey finds the account's image with that key.
	GetImageByMeasurementKey(ctx context.Context, accountID, key string) (*Image, error)
	// ListImagesByType returns every image of the account of one type (for
	// selection indexes); not paged.
	ListImagesByType(ctx context.Context, accountID string, t AppType) ([]*Image, error)
	// UpdateImage replaces the mutable fields (status, approval status,
	// measurements, measurement key, output digest, error, task ID).
	UpdateImage(ctx context.Context, img *Image) error
	DeleteImage(ctx context.Context, accountID, imageID string) error
	CountAppImages(ctx context.Context, accountID, appID string) (int, error)
	// ImageSetStamp returns a value that changes whenever the account's
	// images of type t may have changed (create, update, delete, including
	// deletes cascaded from apps), so that a cache built from
	// ListImagesByType knows in one cheap read when to rebuild.
	ImageSetStamp(ctx context.Context, accountID string, t AppType) (string, error)
	// PutImageArtifact stores (or replaces) a file a build produced for an
	// image, such as the ACI policy; ErrNotFound if the image is missing.
	PutImageArtifact(ctx context.Context, accountID, imageID, kind string, content []byte, at time.Time) error
	// GetImageArtifact returns a stored file, or ErrNotFound.
	GetImageArtifact(ctx context.Context, accountID, imageID, kind string) ([]byte, error)
}

// Image artifact kinds.
const (
	ArtifactCCEPolicy   = "cce_policy"   // the ACI confidential-computing enforcement policy (Rego)
	ArtifactARMTemplate = "arm_template" // the ACI ARM template (JSON)
)

// TaskKind is what an approval task decides.
type TaskKind string

// The task kinds.
const (
	TaskImageApproval  TaskKind = "image_approval"
	TaskDomainApproval TaskKind = "domain_approval"
)

// TaskStatus is a task's state: pending until resolved, then final.
type TaskStatus string

// The task statuses.
const (
	TaskPending  TaskStatus = "pending"
	TaskApproved TaskStatus = "approved"
	TaskDenied   TaskStatus = "denied"
)

// Decision is approve or deny.
type Decision string

// The decisions.
const (
	DecisionApprove Decision = "approve"
	DecisionDeny    Decision = "deny"
)

// Task is an approval task.
type Task struct {
	ID                string
	AccountID         string
	Kind              TaskKind
	SubjectType       string // "image" or "app"
	SubjectID         string
	Status            TaskStatus
	RequiredApprovals int
	// Domain tasks: the change, and the whole set that approval makes approved.
	DomainsAdded    []string
	DomainsRemoved  []string
	ProposedDomains []string
	CreatedBy       string
	CreatedAt       time.Time
	ResolvedAt      *time.Time
	Decisions       []TaskDecision // filled in on reads, in decision order
}

// TaskDecision is one user's decision on a task.
type TaskDecision struct {
	TaskID   string
	UserID   string
	Email    string // filled in on reads
	Decision Decision
	Comment  string
	At       time.Time
}

// TaskFilter narrows ListTasks.
type TaskFilter struct {
	Status TaskStatus
	Kind   TaskKind
}

// Tasks stores approval tasks and their decisions.
type Tasks interface {
	CreateTask(ctx context.Context, t *Task) error
	GetTask(ctx context.Context, accountID, taskID string) (*Task, error)
	ListTasks(ctx context.Context, accountID string, f TaskFilter, p Page) ([]*Task, error)
	// AddDecision records d; ConflictError "task_decisions.user" when the
	// user already decided this task.
	AddDecision(ctx context.Context, d *TaskDecision) error
	// ResolveTask moves a pending task to status (compare-and-set): it
	// returns ErrConflict when the task is no longer pending.
	ResolveTask(ctx context.Context, accountID, taskID string, status TaskStatus, at time.Time) error
	// DeletePendingTasksFor removes the pending tasks of a subject.
	DeletePendingTasksFor(ctx context.Context, accountID, subjectType, subjectID string) error
}

// JobStatus is a build job's state.
type JobStatus string

// The job statuses.
const (
	JobQueued    JobStatus = "queued"
	JobRunning   JobStatus = "running"
	JobSucceeded JobStatus = "succeeded"
	JobFailed    JobStatus = "failed"
)

// The kinds of build jobs.
const (
	JobEnclaveOSConvert = "enclave_os_convert" // convert a container image for AWS Nitro Enclaves
	JobACIPolicy        = "aci_policy"         // generate an ACI confidential-computing policy
)

// Job is a queued build (Enclave OS conversion, ACI policy generation).
type Job struct {
	ID         string
	AccountID  string
	ImageID    string
	Kind       string // JobEnclaveOSConvert or JobACIPolicy
	Status     JobStatus
	Progress   int // 0..100
	Log        []string
	Attempts   int
	LeaseUntil *time.Time
	// LeaseOwner names the worker holding a running job.
	LeaseOwner string
	// NextAttemptAt is when a queued job may run (later after a transient failure).
	NextAttemptAt time.Time
	// Error says why the job failed.
	Error     string
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Jobs stores build jobs, a queue of leased rows: a worker claims a job
// for a while and must renew its lease; a job whose worker died is claimed
// again once its lease has expired.
type Jobs interface {
	CreateJob(ctx context.Context, j *Job) error
	GetJobForImage(ctx context.Context, accountID, imageID string) (*Job, error)
	// ClaimJob leases the oldest runnable job of one of kinds to worker until
	// leaseUntil: a queued job whose NextAttemptAt has come, or a running
	// job whose lease expired before now. Concurrent claims never get the
	// same job (SKIP LOCKED on PostgreSQL, one writer on SQLite).
	// ErrNotFound when none.
	ClaimJob(ctx context.Context, worker string, kinds []string, now, leaseUntil time.Time) (*Job, error)
	// UpdateJob saves the status, progress, log, error, next attempt and
	// lease of a job worker holds under the claim j.Attempts; ConflictError
	// "jobs.lease" when that claim was lost (the job was claimed again,
	// by another worker or by this one).
	UpdateJob(ctx context.Context, worker string, j *Job) error
}

// AuditEvent is one entry of an account's hash-chained audit log.
type AuditEvent struct {
	ID        string
	AccountID string
	Seq       int64 // 1, 2, … per account
	At        time.Time
	ActorType string // "user", "workload", "system"
	ActorID   string
	Action    string
	// SubjectType and SubjectID name the object acted on.
	SubjectType string
	SubjectID   string
	Outcome     string // "success", "failure", "denied", …
	// Details is a JSON object, stored and hashed byte for byte.
	Details  []byte
	PrevHash string
	Hash     string
}

// Audit stores audit events. There is no update or delete.
type Audit interface {
	// AppendAudit inserts e; ConflictError "audit_events.seq" when the
	// account already has an event with e.Seq.
	AppendAudit(ctx context.Context, e *AuditEvent) error
	// LastAudit returns the account's newest event, or ErrNotFound.
	LastAudit(ctx context.Context, accountID string) (*AuditEvent, error)
	// ListAudit pages events newest first when Descending, else oldest
	// first; Page.After is a sequence number in decimal.
	ListAudit(ctx context.Context, accountID string, f AuditFilter, p Page) ([]*AuditEvent, error)
}

// AuditFilter narrows ListAudit.
type AuditFilter struct {
	Descending bool
	Action     string
	SubjectID  string
	ActorID    string
	Since      *time.Time
}
