// Package manifest is the enclave.json file of an Enclave OS output image:
// what `ccm enclave run` needs to start the enclave and relay its
// attestation. The build writes it at Path next to the EIF at EIFPath.
package manifest

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
)

// Paths inside the output image.
const (
	Path    = "/opt/ccm/enclave.json"
	EIFPath = "/opt/ccm/enclave.eif"
	// BinaryPath is the ccm binary, the output image's entrypoint
	// (`ccm enclave run`).
	BinaryPath = "/opt/ccm/ccm"
	// AgentPath is where the ccm binary sits inside the enclave's root
	// filesystem; the enclave's command is `AgentPath enclave agent -- argv`.
	AgentPath = "/opt/ccm/ccm"
	// AccountCAPath is the account CA certificate inside the enclave: the
	// agent accepts only certificates that chain to it.
	AccountCAPath = "/opt/ccm/account-ca.pem"
)

// Manifest is enclave.json.
type Manifest struct {
	// Version of this format (1).
	Version int    `json:"version"`
	EIF     string `json:"eif"`
	// MemoryMiB and CPUCount are the image's defaults; MEM_SIZE and
	// CPU_COUNT override them when the container starts.
	MemoryMiB       int    `json:"memory_mib"`
	CPUCount        int    `json:"cpu_count"`
	FilePersistence bool   `json:"file_persistence"`
	AccountID       string `json:"account_id"`
	AppID           string `json:"app_id"`
	ImageID         string `json:"image_id"`
	// ServerURL is where the parent relays the enclave's attestation.
	ServerURL string `json:"server_url"`
	// CACertificate is the PEM of the account CA (it signs the enclave's
	// certificate) and ServerCA the PEM the parent trusts for ServerURL's
	// TLS (empty: the system roots).
	CACertificate string `json:"ca_certificate"`
	ServerCA      string `json:"server_ca,omitempty"`
	// Certificate placement inside the enclave (from the app's settings).
	CertificateEnabled bool   `json:"certificate_enabled"`
	KeyPath            string `json:"key_path,omitempty"`
	CertPath           string `json:"cert_path,omitempty"`
	// Measurements are the EIF's PCRs, hex (pcr0, pcr1, pcr2).
	Measurements map[string]string `json:"measurements"`
}

// Marshal returns the indented JSON of m.
func (m *Manifest) Marshal() ([]byte, error) {
	return json.MarshalIndent(m, "", "  ")
}

// Read reads and checks the manifest at path.
func Read(path string) (*Manifest, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("enclave manifest: %w", err)
	}
	m, err := Parse(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return m, nil
}

// Parse decodes and checks a manifest.
func Parse(b []byte) (*Manifest, error) {
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("enclave manifest: %w", err)
	}
	if m.Version != 1 {
		return nil, fmt.Errorf("enclave manifest: version %d is not supported (want 1)", m.Version)
	}
	if m.EIF == "" || m.AccountID == "" || m.ServerURL == "" {
		return nil, errors.New("enclave manifest: eif, account_id and server_url are required")
	}
	if m.MemoryMiB <= 0 || m.CPUCount <= 0 {
		return nil, errors.New("enclave manifest: memory_mib and cpu_count must be positive")
	}
	return &m, nil
}
