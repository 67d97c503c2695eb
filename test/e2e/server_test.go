package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver, for test schemas
)

const (
	startTimeout = 30 * time.Second
	stopTimeout  = 25 * time.Second
)

// syncBuffer is a bytes.Buffer safe for a writer goroutine and readers. It
// signals every write on changed.
type syncBuffer struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	changed chan struct{}
}

func newSyncBuffer() *syncBuffer { return &syncBuffer{changed: make(chan struct{}, 1)} }

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	n, err := b.buf.Write(p)
	b.mu.Unlock()
	select {
	case b.changed <- struct{}{}:
	default:
	}
	return n, err
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// server is a running `ccm server` subprocess.
type server struct {
	URL         string // https://127.0.0.1:PORT (http:// with --insecure-http)
	Fingerprint string // as printed: AA:BB:…; empty with --insecure-http
	DataDir     string
	Database    string // the --database flag, empty for SQLite

	cmd     *exec.Cmd
	stdout  *syncBuffer
	stderr  *syncBuffer
	done    chan struct{} // closed when the process has exited
	waitErr error         // set before done is closed

	stopOnce sync.Once
}

var (
	listeningRe   = regexp.MustCompile(`(?m)^ccm server listening on (\S+)\r?$`)
	fingerprintRe = regexp.MustCompile(`(?m)^TLS certificate SHA-256 fingerprint: ([0-9A-Fa-f:]+)\r?$`)
)

// startServer starts `ccm server --data-dir dataDir --listen 127.0.0.1:0`
// (plus --database when database is set, and extra), waits until it
// listens, and stops it gracefully when t ends (failing t unless it exits
// 0 in time).
func startServer(t *testing.T, dataDir, database string, extra ...string) *server {
	t.Helper()
	return startServerOwned(t, t, dataDir, database, extra...)
}

// startServerOwned is startServer for a server that outlives the test t
// that starts it: it is stopped when owner, an enclosing test, ends.
func startServerOwned(t, owner *testing.T, dataDir, database string, extra ...string) *server {
	t.Helper()
	args := []string{"server", "--data-dir", dataDir, "--listen", "127.0.0.1:0"}
	if database != "" {
		args = append(args, "--database", database)
	}
	args = append(args, extra...)
	s := &server{
		DataDir:  dataDir,
		Database: database,
		stdout:   newSyncBuffer(),
		stderr:   newSyncBuffer(),
		done:     make(chan struct{}),
	}
	s.cmd = exec.Command(ccmBin, args...)
	s.cmd.Env = cleanEnv("HOME=" + owner.TempDir())
	s.cmd.Stdout = s.stdout
	s.cmd.Stderr = s.stderr
	if err := s.cmd.Start(); err != nil {
		t.Fatalf("starting ccm server: %v", err)
	}
	go func() {
		s.waitErr = s.cmd.Wait()
		close(s.done)
	}()
	owner.Cleanup(func() { s.Stop(owner) })

	deadline := time.NewTimer(startTimeout)
	defer deadline.Stop()
	for {
		out := s.stdout.String()
		if m := listeningRe.FindStringSubmatch(out); m != nil {
			s.URL = m[1]
			if f := fingerprintRe.FindStringSubmatch(out); f != nil {
				s.Fingerprint = f[1]
			}
			return s
		}
		select {
		case <-s.stdout.changed:
		case <-s.done:
			// Let the last output arrive.
			if m := listeningRe.FindStringSubmatch(s.stdout.String()); m != nil {
				continue
			}
			t.Fatalf("ccm server %v exited before listening (%v)\nstdout:\n%s\nstderr:\n%s", args, s.waitErr, s.stdout, s.stderr)
		case <-deadline.C:
			t.Fatalf("ccm server %v did not print its address within %v\nstdout:\n%s\nstderr:\n%s", args, startTimeout, s.stdout, s.stderr)
		}
	}
}

// Stop sends SIGTERM and checks that the server exits 0 within
// stopTimeout. Later calls do nothing.
func (s *server) Stop(t *testing.T) {
	t.Helper()
	s.stopOnce.Do(func() {
		select {
		case <-s.done:
			t.Errorf("ccm server had exited before it was stopped (%v)\nstderr:\n%s", s.waitErr, s.stderr)
			return
		default:
		}
		if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Errorf("sending SIGTERM to ccm server: %v", err)
		}
		select {
		case <-s.done:
			if s.waitErr != nil {
				t.Errorf("ccm server did not exit cleanly after SIGTERM: %v\nstderr:\n%s", s.waitErr, s.stderr)
			}
		case <-time.After(stopTimeout):
			_ = s.cmd.Process.Kill()
			<-s.done
			t.Errorf("ccm server did not exit within %v of SIGTERM\nstderr:\n%s", stopTimeout, s.stderr)
		}
	})
}

// Kill stops the server with SIGKILL, as a crash would: nothing of it runs
// after this. Stop does nothing afterwards.
func (s *server) Kill(t *testing.T) {
	t.Helper()
	s.stopOnce.Do(func() {
		if err := s.cmd.Process.Kill(); err != nil {
			t.Errorf("killing ccm server: %v", err)
		}
		<-s.done
	})
}

// WaitStderr waits up to 5s for the server's log to contain substr (stderr
// arrives through its own pipe, after or before stdout) and returns the log.
func (s *server) WaitStderr(substr string) (string, bool) {
	deadline := time.Now().Add(5 * time.Second)
	for {
		log := s.stderr.String()
		if strings.Contains(log, substr) {
			return log, true
		}
		if time.Now().After(deadline) {
			return log, false
		}
		select {
		case <-s.stderr.changed:
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Stdout and Stderr are what the server printed so far.
func (s *server) Stdout() string { return s.stdout.String() }
func (s *server) Stderr() string { return s.stderr.String() }

// backend is a database the server can run on.
type backend struct {
	name string
	// database returns the --database flag for a new, empty database
	// (empty: SQLite in the data dir), removed when t ends.
	database func(t *testing.T) string
}

// backends lists SQLite, and PostgreSQL when CCM_TEST_POSTGRES is set.
func backends(t *testing.T) []backend {
	t.Helper()
	bs := []backend{{name: "SQLite", database: func(*testing.T) string { return "" }}}
	switch dsn := os.Getenv("CCM_TEST_POSTGRES"); {
	case dsn != "":
		bs = append(bs, backend{name: "PostgreSQL", database: func(t *testing.T) string { return newPostgresSchema(t, dsn) }})
	case os.Getenv("CCM_REQUIRE_POSTGRES") == "1":
		t.Error("CCM_REQUIRE_POSTGRES=1 but CCM_TEST_POSTGRES is not set")
	default:
		t.Log("CCM_TEST_POSTGRES is not set: skipping the PostgreSQL variant")
	}
	return bs
}

// newPostgresSchema creates a schema of its own in the database of dsn,
// drops it when t ends, and returns dsn with search_path set to it.
func newPostgresSchema(t *testing.T, dsn string) string {
	t.Helper()
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatalf("CCM_TEST_POSTGRES: %v", err)
	}
	admin, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Close() })
	b := make([]byte, 6)
	rand.Read(b)
	schema := "e2e_" + hex.EncodeToString(b)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if _, err := admin.ExecContext(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("creating the test schema: %v", err)
	}
	// Registered after the admin's Close, so it runs first; and before the
	// server starts, so it runs after the server has stopped.
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		if _, err := admin.ExecContext(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("dropping the test schema %s: %v", schema, err)
		}
	})
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// randomHex returns n random bytes in hex, for unique secrets.
func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// excerpt returns the text around the first occurrence of needle in s.
func excerpt(s, needle string) string {
	i := bytes.Index([]byte(s), []byte(needle))
	if i < 0 {
		return ""
	}
	lo, hi := max(0, i-120), min(len(s), i+len(needle)+120)
	return fmt.Sprintf("…%s…", s[lo:hi])
}
