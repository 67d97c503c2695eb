// Package runtimetest has the fakes that tests of `ccm enclave run` use in
// place of the AWS Nitro Enclaves CLI: a nitro-cli shell script that keeps
// its state in files, records its calls, and prints what nitro-cli prints.
package runtimetest

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// The enclave the fake nitro-cli starts: its ID, and its CID unless
// run-enclave is given --enclave-cid.
const (
	EnclaveID  = "i-0123456789abcdef0-enc0123456789abcdef"
	EnclaveCID = 16
)

// Files of the fake's directory.
const (
	callsFile        = "calls"         // one line per call, arguments separated by tabs
	runningFile      = "running"       // present while the enclave runs
	failRunFile      = "fail-run"      // when present, run-enclave fails with its content on stderr
	failDescribeFile = "fail-describe" // when present, describe-enclaves fails
)

// script is the fake nitro-cli, with @ID@ and @CID@ for EnclaveID and
// EnclaveCID. Its output follows nitro-cli 1.x: progress
// on stderr, pretty-printed JSON on stdout.
const script = `#!/bin/sh
dir=$(dirname "$0")
for a in "$@"; do printf '%s\t' "$a"; done >> "$dir/` + callsFile + `"
echo >> "$dir/` + callsFile + `"
cid=@CID@
prev=
for a in "$@"; do
	if [ "$prev" = "--enclave-cid" ]; then cid=$a; fi
	prev=$a
done
case "$1" in
run-enclave)
	if [ -e "$dir/` + failRunFile + `" ]; then cat "$dir/` + failRunFile + `" >&2; exit 1; fi
	echo "Start allocating memory..." >&2
	echo "Started enclave with enclave-cid: $cid, memory: 512 MiB, cpu-ids: [1, 3]" >&2
	echo "$cid" > "$dir/` + runningFile + `"
	cat <<JSON
{
  "EnclaveName": "enclave",
  "EnclaveID": "@ID@",
  "ProcessID": 4242,
  "EnclaveCID": $cid,
  "NumberOfCPUs": 2,
  "CPUIDs": [
    1,
    3
  ],
  "MemoryMiB": 512
}
JSON
	;;
describe-enclaves)
	if [ -e "$dir/` + failDescribeFile + `" ]; then echo "[ E39 ] Enclave process connection failure." >&2; exit 1; fi
	if [ ! -e "$dir/` + runningFile + `" ]; then echo "[]"; exit 0; fi
	cid=$(cat "$dir/` + runningFile + `")
	cat <<JSON
[
  {
    "EnclaveName": "enclave",
    "EnclaveID": "@ID@",
    "ProcessID": 4242,
    "EnclaveCID": $cid,
    "NumberOfCPUs": 2,
    "CPUIDs": [
      1,
      3
    ],
    "MemoryMiB": 512,
    "State": "RUNNING",
    "Flags": "NONE"
  }
]
JSON
	;;
terminate-enclave)
	rm -f "$dir/` + runningFile + `"
	cat <<JSON
{
  "EnclaveName": "enclave",
  "EnclaveID": "@ID@",
  "Terminated": true
}
JSON
	;;
*)
	echo "error: unknown subcommand $1" >&2
	exit 1
	;;
esac
`

// NitroCLI is a fake nitro-cli in a directory of its own.
type NitroCLI struct {
	// Path is the script, to run in place of nitro-cli.
	Path string
	dir  string
}

// NewNitroCLI writes the fake into dir, which must exist.
func NewNitroCLI(dir string) (*NitroCLI, error) {
	path := filepath.Join(dir, "nitro-cli")
	text := strings.NewReplacer("@ID@", EnclaveID, "@CID@", strconv.Itoa(EnclaveCID)).Replace(script)
	if err := os.WriteFile(path, []byte(text), 0o755); err != nil {
		return nil, fmt.Errorf("runtimetest: %w", err)
	}
	return &NitroCLI{Path: path, dir: dir}, nil
}

// Calls returns the arguments of every call so far, in order.
func (n *NitroCLI) Calls() ([][]string, error) {
	b, err := os.ReadFile(filepath.Join(n.dir, callsFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("runtimetest: %w", err)
	}
	var calls [][]string
	for line := range strings.Lines(string(b)) {
		line = strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\t")
		calls = append(calls, strings.Split(line, "\t"))
	}
	return calls, nil
}

// Running reports whether the fake enclave runs: started and neither
// terminated nor exited.
func (n *NitroCLI) Running() bool {
	_, err := os.Stat(filepath.Join(n.dir, runningFile))
	return err == nil
}

// Exit makes the enclave exit on its own.
func (n *NitroCLI) Exit() error {
	if err := os.Remove(filepath.Join(n.dir, runningFile)); err != nil {
		return fmt.Errorf("runtimetest: %w", err)
	}
	return nil
}

// FailRun makes run-enclave fail, printing msg on stderr.
func (n *NitroCLI) FailRun(msg string) error {
	return n.flag(failRunFile, msg)
}

// FailDescribe makes describe-enclaves fail.
func (n *NitroCLI) FailDescribe() error {
	return n.flag(failDescribeFile, "")
}

func (n *NitroCLI) flag(name, content string) error {
	if err := os.WriteFile(filepath.Join(n.dir, name), []byte(content), 0o644); err != nil {
		return fmt.Errorf("runtimetest: %w", err)
	}
	return nil
}
