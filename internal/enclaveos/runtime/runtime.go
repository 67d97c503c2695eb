// Package runtime runs an Enclave OS output image: `ccm enclave run` on the
// parent EC2 instance starts the enclave with nitro-cli and relays its
// attestation to the OpenCCM server over vsock, and `ccm enclave agent`
// inside the enclave attests, writes the workload's key and certificate,
// renews the certificate, and runs the original image's command.
package runtime

// Defaults shared by the parent and the agent.
const (
	// DefaultPort is the vsock port the parent's relay listens on.
	DefaultPort = 8443
	// ParentCID is the vsock context ID of the parent instance, seen from
	// an enclave.
	ParentCID = 3
	// DefaultKeyPath and DefaultCertPath are where the agent writes the
	// workload's key and certificate when the app does not say.
	DefaultKeyPath  = "/opt/ccm/tls/key.pem"
	DefaultCertPath = "/opt/ccm/tls/cert.pem"
)

// Relay routes: the only paths the enclave can reach through the parent.
const (
	// ConfigPath serves the enclave's EnclaveConfig.
	ConfigPath = "/ccm/config"
	// ChallengePath and AttestPath are forwarded to the server as they are.
	ChallengePath = "/v1/attest/challenge"
	AttestPath    = "/v1/attest"
)

// Structured log attribute keys.
const (
	logKeyEnclaveID = "enclave_id"
	logKeyCID       = "enclave_cid"
	logKeyMemory    = "memory_mib"
	logKeyCPUs      = "cpu_count"
	logKeyPath      = "path"
	logKeyStatus    = "status"
	logKeyPeer      = "peer"
	logKeyError     = "error"
	logKeyAttempt   = "attempt"
	logKeyCertID    = "certificate_id"
	logKeyExpires   = "expires_at"
	logKeyExitCode  = "exit_code"
	logKeySignal    = "signal"
	logKeyServer    = "server_url"
	logKeyAddr      = "addr"
)
