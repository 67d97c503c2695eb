// Package config decodes the server's configuration file strictly (an
// unknown key is an error) and validates it, reporting every problem at
// once. Command-line flags override the file; see internal/cli.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"gopkg.in/yaml.v3"
)

// Duration is a time.Duration written as "12h" or "90s" in YAML.
type Duration time.Duration

// UnmarshalYAML parses a Go duration string.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	var s string
	if err := n.Decode(&s); err != nil {
		return fmt.Errorf("line %d: want a duration such as 12h", n.Line)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("line %d: %q is not a duration such as 12h", n.Line, s)
	}
	*d = Duration(v)
	return nil
}

// Server is the configuration of `ccm server`.
type Server struct {
	// DataDir holds the SQLite database, the master key and the
	// self-signed TLS certificate unless other paths are given.
	DataDir string `yaml:"data_dir"`
	// Listen is the address to serve on (host:port).
	Listen string `yaml:"listen"`
	// Database is a postgres:// URL; empty means SQLite at DataDir/ccm.db.
	Database string `yaml:"database"`
	// MasterKeyFile overrides DataDir/master.key (replicas share one key).
	MasterKeyFile string `yaml:"master_key_file"`
	TLSCert       string `yaml:"tls_cert"`
	TLSKey        string `yaml:"tls_key"`
	// InsecureHTTP serves plain HTTP: local development only.
	InsecureHTTP bool `yaml:"insecure_http"`
	// AllowSignup lets anyone sign up, not only the first user.
	AllowSignup bool     `yaml:"allow_signup"`
	SessionTTL  Duration `yaml:"session_ttl"`
	// MaxBodyBytes limits request bodies.
	MaxBodyBytes int64 `yaml:"max_body_bytes"`
	// TrustRoots names a YAML file of vendor roots to add (test infrastructure).
	TrustRoots string `yaml:"trust_roots"`
	// NonceTTL is how long an attestation challenge lives.
	NonceTTL  Duration `yaml:"nonce_ttl"`
	LogLevel  string   `yaml:"log_level"`
	LogFormat string   `yaml:"log_format"`

	// PublicURL is the server's address as workloads and enclave parents
	// reach it; empty means https://<listen> (http with InsecureHTTP).
	PublicURL string `yaml:"public_url"`
	// BuildWorkers is how many build jobs this server runs at once; 0 runs
	// none (an API-only replica).
	BuildWorkers int `yaml:"build_workers"`
	// BuildLease is how long a build job stays claimed without renewal: a
	// job whose server died is picked up again after it.
	BuildLease Duration `yaml:"build_lease"`
	// NitroBlobs is the folder with bzImage, cmdline, init and nsm.ko
	// (aws-nitro-enclaves-cli's blobs); without it Enclave OS builds fail.
	NitroBlobs string `yaml:"nitro_blobs"`
	// EnclaveBinary is the static linux/amd64 ccm binary put into enclaves
	// and output images; empty means the running executable.
	EnclaveBinary string `yaml:"enclave_binary"`
	// EnclaveBaseImage is the base of Enclave OS output images (it must
	// provide nitro-cli); empty means an empty base.
	EnclaveBaseImage string `yaml:"enclave_base_image"`
	// GPUJWKS is a JSON Web Key Set file of the keys that sign NVIDIA GPU
	// attestation tokens (NRAS's); without it images with gpu: required
	// do not attest.
	GPUJWKS string `yaml:"gpu_jwks"`
	// AgentImage is the image of the attestation agent sidecar that ACI
	// container groups run; without it ACI builds fail.
	AgentImage string `yaml:"agent_image"`
}

// Defaults returns the configuration used when nothing is set.
func Defaults() Server {
	return Server{
		DataDir:      "ccm-data",
		Listen:       "127.0.0.1:8443",
		SessionTTL:   Duration(12 * time.Hour),
		NonceTTL:     Duration(5 * time.Minute),
		MaxBodyBytes: 8 << 20,
		LogLevel:     "info",
		LogFormat:    "text",
		BuildWorkers: 2,
		BuildLease:   Duration(2 * time.Minute),
	}
}

// Load decodes the YAML file at path over the defaults.
func Load(path string) (Server, error) {
	f, err := os.Open(path)
	if err != nil {
		return Server{}, fmt.Errorf("config: %w", err)
	}
	defer f.Close()
	return Decode(f)
}

// Decode decodes YAML over the defaults, refusing unknown keys.
func Decode(r io.Reader) (Server, error) {
	c := Defaults()
	b, err := io.ReadAll(io.LimitReader(r, 1<<20))
	if err != nil {
		return c, fmt.Errorf("config: %w", err)
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return c, nil
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil {
		return c, fmt.Errorf("config: %w", err)
	}
	return c, nil
}

// Validate reports every problem of the configuration at once.
func (c Server) Validate() error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if c.DataDir == "" {
		add("data_dir: must not be empty")
	}
	if c.Listen == "" {
		add("listen: must not be empty")
	}
	if c.Database != "" && !strings.HasPrefix(c.Database, "postgres://") && !strings.HasPrefix(c.Database, "postgresql://") {
		add("database: must be a postgres:// URL (leave it empty for SQLite in the data dir)")
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		add("tls_cert and tls_key: give both or neither")
	}
	if c.InsecureHTTP && c.TLSCert != "" {
		add("insecure_http: cannot be combined with tls_cert/tls_key")
	}
	if time.Duration(c.SessionTTL) < time.Minute || time.Duration(c.SessionTTL) > 30*24*time.Hour {
		add("session_ttl: must be between 1m and 720h")
	}
	if time.Duration(c.NonceTTL) < 10*time.Second || time.Duration(c.NonceTTL) > time.Hour {
		add("nonce_ttl: must be between 10s and 1h")
	}
	if c.MaxBodyBytes < 1024 || c.MaxBodyBytes > 1<<30 {
		add("max_body_bytes: must be between 1024 and 1073741824")
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		add("log_level: must be debug, info, warn or error")
	}
	switch c.LogFormat {
	case "text", "json":
	default:
		add("log_format: must be text or json")
	}
	if c.PublicURL != "" {
		if u, err := url.Parse(c.PublicURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
			add("public_url: must be an http(s) URL such as https://ccm.example.com")
		}
	}
	for key, ref := range map[string]string{"agent_image": c.AgentImage, "enclave_base_image": c.EnclaveBaseImage} {
		if _, err := name.ParseReference(ref); ref != "" && err != nil {
			add("%s: %q is not an image reference such as registry.example.com/team/image:tag", key, ref)
		}
	}
	if c.BuildWorkers < 0 || c.BuildWorkers > 64 {
		add("build_workers: must be between 0 and 64")
	}
	if time.Duration(c.BuildLease) < 2*time.Second || time.Duration(c.BuildLease) > time.Hour {
		add("build_lease: must be between 2s and 1h")
	}
	if len(errs) > 0 {
		return fmt.Errorf("config: %w", errors.Join(errs...))
	}
	return nil
}

// DatabasePath is the SQLite file used when Database is empty.
func (c Server) DatabasePath() string { return filepath.Join(c.DataDir, "ccm.db") }

// MasterKeyPath is the master key file in use.
func (c Server) MasterKeyPath() string {
	if c.MasterKeyFile != "" {
		return c.MasterKeyFile
	}
	return filepath.Join(c.DataDir, "master.key")
}
