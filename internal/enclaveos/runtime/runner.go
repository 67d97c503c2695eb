package runtime

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"time"
)

// Runner runs a program to completion. The parent runs nitro-cli through
// one, so tests can put a fake nitro-cli in its place.
type Runner interface {
	// Run runs name with args and returns what it printed on stdout. A
	// program that cannot start or exits non-zero is an error that quotes
	// the end of its stderr.
	Run(ctx context.Context, name string, args ...string) ([]byte, error)
}

// Limits on what ExecRunner keeps of a program's output.
const (
	maxStdout     = 1 << 20
	maxStderrTail = 2 << 10
	// runnerWaitDelay bounds the wait for a program's output once it has
	// exited, should a process it left behind hold its stdout open.
	runnerWaitDelay = 10 * time.Second
)

// ExecRunner is the Runner of os/exec. A program is killed when ctx ends.
type ExecRunner struct {
	// Stderr, when set, receives the program's stderr as it is written
	// (nitro-cli's progress lines, and its E-coded errors).
	Stderr io.Writer
}

// Run implements Runner.
func (r ExecRunner) Run(ctx context.Context, name string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	stdout := &cappedBuffer{max: maxStdout}
	stderr := &tailBuffer{max: maxStderrTail}
	cmd.WaitDelay = runnerWaitDelay
	cmd.Stdout = stdout
	cmd.Stderr = stderr
	if r.Stderr != nil {
		cmd.Stderr = io.MultiWriter(stderr, r.Stderr)
	}
	err := cmd.Run()
	if err != nil {
		msg := strings.TrimSpace(stderr.String())
		if msg == "" {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		return nil, fmt.Errorf("%s: %w: %s", name, err, msg)
	}
	if stdout.over {
		return nil, fmt.Errorf("%s printed more than %d bytes", name, maxStdout)
	}
	return stdout.Bytes(), nil
}

// cappedBuffer keeps the first max bytes written to it and notes whether
// there were more, without failing the writer.
type cappedBuffer struct {
	bytes.Buffer
	max  int
	over bool
}

func (b *cappedBuffer) Write(p []byte) (int, error) {
	if room := b.max - b.Len(); len(p) > room {
		b.over = true
		b.Buffer.Write(p[:max(room, 0)])
		return len(p), nil
	}
	return b.Buffer.Write(p)
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	buf []byte
	max int
}

func (b *tailBuffer) Write(p []byte) (int, error) {
	b.buf = append(b.buf, p...)
	if len(b.buf) > b.max {
		b.buf = append(b.buf[:0], b.buf[len(b.buf)-b.max:]...)
	}
	return len(p), nil
}

func (b *tailBuffer) String() string { return string(b.buf) }

// errNotFound reports whether err is exec's "executable not found".
func errNotFound(err error) bool {
	return errors.Is(err, exec.ErrNotFound)
}
