package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// Environment variables of the client verbs.
const (
	envConfig  = "CCM_CONFIG"  // path of the config file
	envServer  = "CCM_SERVER"  // overrides the config's server
	envToken   = "CCM_TOKEN"   // overrides the config's token (API tokens for automation)
	envAccount = "CCM_ACCOUNT" // overrides the config's account (name or ID)
)

// clientConfig is the client's config file. It holds a bearer token, so it
// is written readable by its owner only.
type clientConfig struct {
	Server      string `json:"server,omitempty"`
	Token       string `json:"token,omitempty"`
	CAFile      string `json:"ca_file,omitempty"`
	Fingerprint string `json:"fingerprint,omitempty"`
	AccountID   string `json:"account_id,omitempty"`
}

// configPath is $CCM_CONFIG, or ccm/config.json in the user's config directory.
func configPath() (string, error) {
	if p := os.Getenv(envConfig); p != "" {
		return p, nil
	}
	dir, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("finding the config directory (set %s): %w", envConfig, err)
	}
	return filepath.Join(dir, "ccm", "config.json"), nil
}

// loadConfig reads the config file; a missing file is an empty config.
func loadConfig(path string) (clientConfig, error) {
	var cfg clientConfig
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return cfg, nil
	}
	if err != nil {
		return cfg, fmt.Errorf("reading config: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&cfg); err != nil {
		return cfg, fmt.Errorf("config %s: %w", path, err)
	}
	return cfg, nil
}

// saveConfig replaces the config file atomically, mode 0600 in a 0700 directory.
func saveConfig(path string, cfg clientConfig) error {
	b, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return err
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("creating config directory: %w", err)
	}
	f, err := os.CreateTemp(dir, ".config-*.json")
	if err != nil {
		return fmt.Errorf("writing config: %w", err)
	}
	defer os.Remove(f.Name()) // after a successful rename, there is nothing to remove
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return fmt.Errorf("writing config: %w", err)
	}
	if _, err := f.Write(append(b, '\n')); err != nil {
		f.Close()
		return fmt.Errorf("writing config: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("writing config: %w", err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("writing config: %w", err)
	}
	return nil
}
