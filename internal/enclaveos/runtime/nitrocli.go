package runtime

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
)

// DefaultNitroCLI is the nitro-cli program, looked up in PATH.
const DefaultNitroCLI = "nitro-cli"

// NitroCLI drives the AWS Nitro Enclaves CLI. Its output is JSON on stdout
// (progress lines go to stderr), in the formats of nitro-cli 1.x.
type NitroCLI struct {
	// Path is the nitro-cli program; empty means DefaultNitroCLI.
	Path string
	// Runner runs it; nil means ExecRunner{}.
	Runner Runner
}

// Enclave is what nitro-cli prints of one enclave: run-enclave prints the
// enclave it started, describe-enclaves a list of them with State and
// Flags too.
type Enclave struct {
	Name      string `json:"EnclaveName,omitempty"`
	ID        string `json:"EnclaveID"`
	ProcessID int    `json:"ProcessID,omitempty"`
	CID       uint64 `json:"EnclaveCID"`
	CPUCount  int    `json:"NumberOfCPUs,omitempty"`
	CPUIDs    []int  `json:"CPUIDs,omitempty"`
	MemoryMiB int    `json:"MemoryMiB,omitempty"`
	// State is RUNNING, or TERMINATING while the enclave shuts down.
	State string `json:"State,omitempty"`
	// Flags is NONE, or DEBUG_MODE.
	Flags string `json:"Flags,omitempty"`
}

// RunOptions are the arguments of nitro-cli run-enclave.
type RunOptions struct {
	EIFPath string
	Resources
	// CID is the enclave's vsock context ID; zero lets nitro-cli choose
	// one.
	CID uint32
	// DebugMode starts the enclave in debug mode: its console can be read
	// and its PCRs are all zeros, so it cannot attest.
	DebugMode bool
}

// RunEnclave starts an enclave and returns what nitro-cli says of it.
func (n *NitroCLI) RunEnclave(ctx context.Context, o RunOptions) (*Enclave, error) {
	args := []string{"run-enclave",
		"--eif-path", o.EIFPath,
		"--memory", strconv.Itoa(o.MemoryMiB),
		"--cpu-count", strconv.Itoa(o.CPUCount),
	}
	if o.CID != 0 {
		args = append(args, "--enclave-cid", strconv.FormatUint(uint64(o.CID), 10))
	}
	if o.DebugMode {
		args = append(args, "--debug-mode")
	}
	out, err := n.run(ctx, args...)
	if err != nil {
		return nil, err
	}
	var e Enclave
	if err := decodeJSON(out, &e); err != nil {
		return nil, fmt.Errorf("nitro-cli run-enclave: reading its output: %w", err)
	}
	if e.ID == "" {
		return nil, errors.New("nitro-cli run-enclave: its output has no EnclaveID")
	}
	return &e, nil
}

// DescribeEnclaves lists the enclaves running on this instance.
func (n *NitroCLI) DescribeEnclaves(ctx context.Context) ([]Enclave, error) {
	out, err := n.run(ctx, "describe-enclaves")
	if err != nil {
		return nil, err
	}
	var list []Enclave
	if err := decodeJSON(out, &list); err != nil {
		return nil, fmt.Errorf("nitro-cli describe-enclaves: reading its output: %w", err)
	}
	return list, nil
}

// TerminateEnclave stops the enclave id.
func (n *NitroCLI) TerminateEnclave(ctx context.Context, id string) error {
	out, err := n.run(ctx, "terminate-enclave", "--enclave-id", id)
	if err != nil {
		return err
	}
	var res struct {
		Terminated *bool `json:"Terminated"`
	}
	if err := decodeJSON(out, &res); err == nil && res.Terminated != nil && !*res.Terminated {
		return fmt.Errorf("nitro-cli terminate-enclave: enclave %s was not terminated", id)
	}
	return nil
}

func (n *NitroCLI) run(ctx context.Context, args ...string) ([]byte, error) {
	path := n.Path
	if path == "" {
		path = DefaultNitroCLI
	}
	var r Runner = ExecRunner{}
	if n.Runner != nil {
		r = n.Runner
	}
	out, err := r.Run(ctx, path, args...)
	if errNotFound(err) {
		return nil, fmt.Errorf("%w: install the AWS Nitro Enclaves CLI in the image, or give its path with --nitro-cli", err)
	}
	if err != nil {
		return nil, err
	}
	return out, nil
}

// decodeJSON decodes the first JSON value of out into v, skipping any text
// before it: nitro-cli prints its JSON alone, but a wrapper script may
// print a line first.
func decodeJSON(out []byte, v any) error {
	i := bytes.IndexAny(out, "{[")
	if i < 0 {
		return errors.New("no JSON in the output")
	}
	return json.NewDecoder(bytes.NewReader(out[i:])).Decode(v)
}
