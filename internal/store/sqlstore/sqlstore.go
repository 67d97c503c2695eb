// Package sqlstore implements store.Store on database/sql, with two dialects:
// SQLite (modernc.org/sqlite, the embedded default) and PostgreSQL (pgx, for
// replicas sharing one database). It owns the schema, as embedded SQL
// migrations per dialect that Open applies.
package sqlstore

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
	_ "modernc.org/sqlite"             // registers the "sqlite" driver

	"github.com/openccm/openccm/internal/store"
)

// Log attribute keys.
const (
	logDialect = "dialect"
	logVersion = "schema_version"
)

// sqliteBusyTimeout is how long a SQLite connection waits for another
// process's write lock before failing with SQLITE_BUSY.
const sqliteBusyTimeout = 10 * time.Second

// DB is a store.Store on a SQL database. It is safe for concurrent use.
type DB struct {
	queries
	// w runs writes and transactions; r runs reads outside transactions.
	// On PostgreSQL they are the same pool. On SQLite w holds a single
	// connection, so that writers in this process queue in Go instead of
	// spinning on SQLITE_BUSY, and r holds several read-only connections,
	// which WAL mode lets read while a write is in progress.
	w, r   *sql.DB
	latest int // the highest embedded migration version
	log    *slog.Logger
}

var _ store.Store = (*DB)(nil)

// Open opens the database named by database: "postgres://…" or
// "postgresql://…" uses PostgreSQL, anything else is a SQLite file path
// (created with mode 0600 if missing). It applies pending migrations and
// refuses (store.ErrSchemaTooNew, wrapped) a schema newer than the binary.
func Open(ctx context.Context, database string, log *slog.Logger) (*DB, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	var (
		db  *DB
		err error
	)
	if strings.HasPrefix(database, "postgres://") || strings.HasPrefix(database, "postgresql://") {
		db, err = openPostgres(ctx, database)
	} else {
		db, err = openSQLite(ctx, database)
	}
	if err != nil {
		return nil, err
	}
	db.log = log
	version, err := migrate(ctx, db.w, db.d, log)
	if err != nil {
		db.Close()
		return nil, err
	}
	db.latest = version
	log.Info("database ready", logDialect, db.d.String(), logVersion, version)
	return db, nil
}

func openPostgres(ctx context.Context, dsn string) (*DB, error) {
	pool, err := sql.Open("pgx", dsn)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: opening postgres: %w", err)
	}
	pool.SetMaxOpenConns(25)
	pool.SetMaxIdleConns(25)
	pool.SetConnMaxIdleTime(5 * time.Minute)
	if err := pool.PingContext(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("sqlstore: connecting to postgres: %w", err)
	}
	return &DB{queries: queries{d: postgres, r: pool, w: pool}, w: pool, r: pool}, nil
}

func openSQLite(ctx context.Context, path string) (*DB, error) {
	if path == "" {
		return nil, errors.New("sqlstore: no database path")
	}
	if strings.ContainsAny(path, "?#") || strings.HasPrefix(path, "file:") || path == ":memory:" {
		// The driver would read a query as parameters; and an in-memory
		// database cannot be shared by the read and write pools.
		return nil, errors.New("sqlstore: the SQLite database must be a plain file path")
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("sqlstore: creating the database directory: %w", err)
	}
	// Create the file ourselves so that it is private from the start;
	// SQLite gives its -wal and -shm files the same mode.
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	switch {
	case err == nil:
		f.Close()
	case !errors.Is(err, os.ErrExist):
		return nil, fmt.Errorf("sqlstore: creating the database file: %w", err)
	}

	params := func(extra ...string) string {
		v := url.Values{}
		v.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", sqliteBusyTimeout.Milliseconds()))
		v.Add("_pragma", "foreign_keys(1)")
		for _, p := range extra {
			k, val, _ := strings.Cut(p, "=")
			v.Add(k, val)
		}
		return path + "?" + v.Encode()
	}
	// BEGIN IMMEDIATE takes the write lock at the start of a transaction,
	// so that a transaction that reads and then writes never fails with
	// SQLITE_BUSY half-way (which the busy timeout cannot help with).
	w, err := sql.Open("sqlite", params("_pragma=journal_mode(WAL)", "_txlock=immediate"))
	if err != nil {
		return nil, fmt.Errorf("sqlstore: opening sqlite: %w", err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxIdleTime(0)
	w.SetConnMaxLifetime(0)
	// Connect the writer first: it switches the file to WAL mode, which
	// the readers then find in the file.
	if err := w.PingContext(ctx); err != nil {
		w.Close()
		return nil, fmt.Errorf("sqlstore: opening sqlite: %w", err)
	}
	r, err := sql.Open("sqlite", params("_pragma=query_only(1)"))
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("sqlstore: opening sqlite: %w", err)
	}
	n := max(4, runtime.GOMAXPROCS(0))
	r.SetMaxOpenConns(n)
	r.SetMaxIdleConns(n)
	return &DB{queries: queries{d: sqlite, r: r, w: w}, w: w, r: r}, nil
}

// Dialect returns "sqlite" or "postgres".
func (db *DB) Dialect() string { return db.d.String() }

// Close closes the database.
func (db *DB) Close() error {
	err := db.w.Close()
	if db.r != db.w {
		err = errors.Join(err, db.r.Close())
	}
	return err
}

// Ping checks that the database answers and has the schema this binary
// expects.
func (db *DB) Ping(ctx context.Context) error {
	if err := db.r.PingContext(ctx); err != nil {
		return fmt.Errorf("sqlstore: ping: %w", err)
	}
	return checkVersion(ctx, db, db.latest)
}

// SchemaVersion returns the highest applied migration version.
func (db *DB) SchemaVersion(ctx context.Context) (int, error) {
	return schemaVersion(ctx, db.r)
}

// Lock fails: locks are transaction-scoped.
func (db *DB) Lock(ctx context.Context, name string) error {
	return errors.New("sqlstore: Lock called outside a transaction")
}

// WithTx runs fn in a transaction on the write pool. It commits when fn
// returns nil and rolls back when fn returns an error or panics.
func (db *DB) WithTx(ctx context.Context, fn func(store.Store) error) (err error) {
	sqltx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlstore: beginning a transaction: %w", err)
	}
	t := &tx{queries: queries{d: db.d, r: sqltx, w: sqltx}, db: db}
	done := false
	defer func() {
		if !done {
			// fn panicked; runtime.Goexit (t.FailNow) lands here too.
			sqltx.Rollback()
		}
	}()
	ferr := fn(t)
	done = true
	if ferr != nil {
		if rerr := sqltx.Rollback(); rerr != nil && !errors.Is(rerr, sql.ErrTxDone) {
			db.log.Warn("rolling back a transaction failed", "error", rerr)
		}
		return ferr
	}
	if err := sqltx.Commit(); err != nil {
		return fmt.Errorf("sqlstore: committing a transaction: %w", mapError(err))
	}
	return nil
}

// tx is the store.Store that WithTx hands to its function.
type tx struct {
	queries
	db *DB
}

var _ store.Store = (*tx)(nil)

// WithTx runs fn in the same transaction: nested calls do not nest
// transactions, so an error from the inner fn rolls back only if the
// outer fn returns it too.
func (t *tx) WithTx(ctx context.Context, fn func(store.Store) error) error {
	return fn(t)
}

// Lock takes a transaction-scoped lock. On PostgreSQL it is an advisory
// lock on a hash of name (a collision only serialises more than needed). On
// SQLite every transaction already holds the database's write lock from its
// start (BEGIN IMMEDIATE), so there is nothing more to take.
func (t *tx) Lock(ctx context.Context, name string) error {
	if t.d != postgres {
		return nil
	}
	// A 64-bit key from SHA-256: hashtext's 32 bits would make unrelated
	// locks collide (and wait on each other) far more often.
	sum := sha256.Sum256([]byte(name))
	key := int64(binary.BigEndian.Uint64(sum[:8]))
	if _, err := t.exec(ctx, "SELECT pg_advisory_xact_lock(?)", key); err != nil {
		return fmt.Errorf("sqlstore: taking lock: %w", err)
	}
	return nil
}

func (t *tx) Ping(ctx context.Context) error {
	return checkVersion(ctx, t, t.db.latest)
}

func (t *tx) SchemaVersion(ctx context.Context) (int, error) {
	return schemaVersion(ctx, t.w)
}

// Close fails: the transaction ends when WithTx's function returns.
func (t *tx) Close() error {
	return errors.New("sqlstore: Close called inside a transaction")
}

func checkVersion(ctx context.Context, s store.Store, latest int) error {
	v, err := s.SchemaVersion(ctx)
	if err != nil {
		return err
	}
	if v > latest {
		return fmt.Errorf("sqlstore: database schema version %d, this binary knows up to %d: %w", v, latest, store.ErrSchemaTooNew)
	}
	if v < latest {
		return fmt.Errorf("sqlstore: database schema version %d, want %d", v, latest)
	}
	return nil
}
