package sqlstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"embed"
	"fmt"
	"io/fs"
	"log/slog"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/openccm/openccm/internal/store"
)

// The migrations, one directory per dialect, named NNNN_what.sql. Both
// directories hold the same versions; a version is applied in one
// transaction and never edited once released.
//
//go:embed migrations
var migrationFiles embed.FS

type migration struct {
	version int
	name    string
	sql     string
}

// migrations returns the dialect's migrations in version order. Versions
// start at 1 and have no gaps.
func migrations(d dialect) ([]migration, error) {
	dir := path.Join("migrations", d.String())
	entries, err := fs.ReadDir(migrationFiles, dir)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: reading migrations: %w", err)
	}
	var ms []migration
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".sql") {
			continue
		}
		num, _, ok := strings.Cut(e.Name(), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("sqlstore: migration %s/%s: name must start with a version number", dir, e.Name())
		}
		b, err := fs.ReadFile(migrationFiles, path.Join(dir, e.Name()))
		if err != nil {
			return nil, fmt.Errorf("sqlstore: reading migrations: %w", err)
		}
		ms = append(ms, migration{version: v, name: e.Name(), sql: string(b)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].version < ms[j].version })
	for i, m := range ms {
		if m.version != i+1 {
			return nil, fmt.Errorf("sqlstore: migration %s/%s: want version %d", dir, m.name, i+1)
		}
	}
	if len(ms) == 0 {
		return nil, fmt.Errorf("sqlstore: no migrations in %s", dir)
	}
	return ms, nil
}

// migrate applies the pending migrations and returns the schema version,
// which is the highest embedded one. It refuses a database whose version
// is higher. On PostgreSQL a session advisory lock keeps replicas that
// start together from migrating at once; on SQLite each migration's
// transaction holds the write lock (BEGIN IMMEDIATE) and re-reads the
// version inside it.
func migrate(ctx context.Context, db *sql.DB, d dialect, log *slog.Logger) (int, error) {
	ms, err := migrations(d)
	if err != nil {
		return 0, err
	}
	latest := ms[len(ms)-1].version

	conn, err := db.Conn(ctx)
	if err != nil {
		return 0, fmt.Errorf("sqlstore: migrating: %w", err)
	}
	defer conn.Close()

	if d == postgres {
		// Keyed by schema, so that databases in different schemas (tests)
		// migrate independently.
		const key = "hashtext('openccm.schema_migrations:' || coalesce(current_schema(), ''))"
		if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_lock("+key+")"); err != nil {
			return 0, fmt.Errorf("sqlstore: taking the migration lock: %w", err)
		}
		defer func() {
			// Unlock even if ctx is done; closing the connection would
			// release it too, but the pool may keep the connection.
			uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			defer cancel()
			if _, err := conn.ExecContext(uctx, "SELECT pg_advisory_unlock("+key+")"); err != nil {
				log.Warn("releasing the migration lock failed", "error", err)
				// Discard the connection, which ends the session and its lock.
				conn.Raw(func(any) error { return driver.ErrBadConn })
			}
		}()
	}

	createTable := `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER PRIMARY KEY,
		applied_at TEXT NOT NULL
	) STRICT`
	if d == postgres {
		createTable = `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER PRIMARY KEY,
		applied_at TIMESTAMPTZ NOT NULL
	)`
	}
	if _, err := conn.ExecContext(ctx, createTable); err != nil {
		return 0, fmt.Errorf("sqlstore: creating schema_migrations: %w", err)
	}

	current, err := schemaVersion(ctx, conn)
	if err != nil {
		return 0, err
	}
	if current > latest {
		return 0, fmt.Errorf("sqlstore: database schema version %d, this binary knows up to %d: %w", current, latest, store.ErrSchemaTooNew)
	}
	for _, m := range ms {
		if m.version <= current {
			continue
		}
		applied, err := apply(ctx, conn, d, m)
		if err != nil {
			return 0, err
		}
		if applied {
			log.Info("applied database migration", logDialect, d.String(), logVersion, m.version)
		}
	}
	return latest, nil
}

// apply runs one migration in a transaction, unless another process has
// applied it first.
func apply(ctx context.Context, conn *sql.Conn, d dialect, m migration) (bool, error) {
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return false, fmt.Errorf("sqlstore: migration %d: %w", m.version, err)
	}
	defer tx.Rollback()
	current, err := schemaVersion(ctx, tx)
	if err != nil {
		return false, err
	}
	if current >= m.version {
		return false, nil
	}
	if _, err := tx.ExecContext(ctx, m.sql); err != nil {
		return false, fmt.Errorf("sqlstore: migration %s: %w", m.name, err)
	}
	_, err = tx.ExecContext(ctx, d.rebind("INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)"),
		m.version, d.time(time.Now()))
	if err != nil {
		return false, fmt.Errorf("sqlstore: migration %s: recording it: %w", m.name, err)
	}
	if err := tx.Commit(); err != nil {
		return false, fmt.Errorf("sqlstore: migration %s: %w", m.name, err)
	}
	return true, nil
}

// schemaVersion returns the highest applied version, 0 for none.
func schemaVersion(ctx context.Context, q querier) (int, error) {
	var v sql.NullInt64
	err := q.QueryRowContext(ctx, "SELECT max(version) FROM schema_migrations").Scan(&v)
	if err != nil {
		return 0, fmt.Errorf("sqlstore: reading the schema version: %w", err)
	}
	return int(v.Int64), nil
}
