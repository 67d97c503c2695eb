// Package sqltest gives tests fresh databases on every backend the run
// has: a SQLite file always, and a PostgreSQL schema of their own when
// CCM_TEST_POSTGRES names a server (CCM_REQUIRE_POSTGRES=1 makes its absence
// a failure, as in CI).
package sqltest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" driver
	_ "modernc.org/sqlite"             // the "sqlite" driver
)

// Backend is a database engine the tests run on.
type Backend struct {
	Name string
	// Driver is the database/sql driver for raw access.
	Driver string
	// NewDatabase returns the name of a new, empty database (a file path or
	// a postgres:// URL), removed when t ends.
	NewDatabase func(t *testing.T) string
}

// Backends lists SQLite and, when configured, PostgreSQL.
func Backends(t *testing.T) []Backend {
	t.Helper()
	bs := []Backend{{Name: "sqlite", Driver: "sqlite", NewDatabase: NewSQLite}}
	if dsn := os.Getenv("CCM_TEST_POSTGRES"); dsn != "" {
		bs = append(bs, Backend{Name: "postgres", Driver: "pgx", NewDatabase: func(t *testing.T) string {
			return NewPostgres(t, dsn)
		}})
	} else if os.Getenv("CCM_REQUIRE_POSTGRES") == "1" {
		t.Error("CCM_REQUIRE_POSTGRES=1 but CCM_TEST_POSTGRES is not set")
	} else {
		t.Log("CCM_TEST_POSTGRES is not set: skipping PostgreSQL")
	}
	return bs
}

// NewSQLite returns a path for a new SQLite database in t's temp dir.
func NewSQLite(t *testing.T) string {
	return filepath.Join(t.TempDir(), "ccm.db")
}

// NewPostgres creates a schema of its own in the database of dsn and
// returns dsn with search_path set to it.
func NewPostgres(t *testing.T, dsn string) string {
	t.Helper()
	admin, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Close() })
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	schema := "ccmtest_" + hex.EncodeToString(b)
	if _, err := admin.ExecContext(t.Context(), "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("creating a test schema: %v", err)
	}
	t.Cleanup(func() {
		if _, err := admin.ExecContext(context.Background(), "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("dropping the test schema: %v", err)
		}
	})
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	// Tests need no durability; waiting for WAL flushes is most of their time.
	q.Set("synchronous_commit", "off")
	u.RawQuery = q.Encode()
	return u.String()
}

// Raw opens a database without sqlstore, to poke at it.
func Raw(t *testing.T, b Backend, database string) *sql.DB {
	t.Helper()
	db, err := sql.Open(b.Driver, database)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}
