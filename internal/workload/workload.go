// Package workload holds what the agents that run next to a confidential
// workload share: the pacing of their retries and which attestation
// failures are worth retrying, the atomic writing of the key and
// certificate files the workload reads, and the renewal of its certificate.
// The Nitro enclave agent (internal/enclaveos/runtime) and the ACI sidecar
// (internal/aci/agent) are its users.
package workload

// Exit codes of a command that did not run, as shells report them.
const (
	ExitCannotRun = 126
	ExitNotFound  = 127
)

// Structured log attribute keys.
const (
	logKeyOp      = "operation"
	logKeyAttempt = "attempt"
	logKeyDelay   = "delay"
	logKeyError   = "error"
	logKeyExpires = "expires_at"
	logKeyRenewAt = "renew_at"
)
