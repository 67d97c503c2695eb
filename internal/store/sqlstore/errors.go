package sqlstore

import (
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
	sqlite3 "modernc.org/sqlite"
	sqlite3lib "modernc.org/sqlite/lib"

	"github.com/openccm/openccm/internal/store"
)

// uniqueRule names one uniqueness rule of the schema in the three ways it
// is seen: the stable name callers get in store.ConflictError, the
// PostgreSQL constraint name, and the column list SQLite reports.
type uniqueRule struct {
	name, pg, sqlite string
}

var uniqueRules = []uniqueRule{
	{"accounts.name", "accounts_name_key", "accounts.name"},
	{"accounts.id", "accounts_pkey", "accounts.id"},
	{"users.email", "users_email_key", "users.email_key"},
	{"users.id", "users_pkey", "users.id"},
	{"members.user", "members_pkey", "members.account_id, members.user_id"},
	{"sessions.id", "sessions_pkey", "sessions.id"},
	{"sessions.token_hash", "sessions_token_hash_key", "sessions.token_hash"},
	{"tokens.id", "tokens_pkey", "tokens.id"},
	{"tokens.token_hash", "tokens_token_hash_key", "tokens.token_hash"},
	{"registries.id", "registries_pkey", "registries.id"},
	{"registries.url", "registries_account_url_key", "registries.account_id, registries.url"},
	{"apps.id", "apps_pkey", "apps.id"},
	{"apps.name", "apps_account_name_key", "apps.account_id, apps.name"},
	// (account_id, id) is unique because id is; the rule exists as the
	// parent key of a foreign key, and a duplicate ID may be reported on it.
	{"apps.id", "apps_account_id_key", "apps.account_id, apps.id"},
	{"images.id", "images_pkey", "images.id"},
	{"images.id", "images_account_id_key", "images.account_id, images.id"},
	{"images.version", "images_app_version_key", "images.app_id, images.version"},
	{"images.measurement_key", "images_account_measurement_key_key", "images.account_id, images.measurement_key"},
	{"jobs.id", "jobs_pkey", "jobs.id"},
	{"tasks.id", "tasks_pkey", "tasks.id"},
	{"task_decisions.user", "task_decisions_task_user_key", "task_decisions.task_id, task_decisions.user_id"},
	{"audit_events.id", "audit_events_pkey", "audit_events.id"},
	{"audit_events.seq", "audit_events_account_seq_key", "audit_events.account_id, audit_events.seq"},
	{"nonces.hash", "nonces_pkey", "nonces.hash"},
	{"cas.account", "cas_pkey", "cas.account_id"},
	{"certificates.id", "certificates_pkey", "certificates.id"},
	{"certificates.serial", "certificates_account_serial_key", "certificates.account_id, certificates.serial"},
}

// mapError turns the drivers' constraint errors into the store's:
// a uniqueness violation becomes a *store.ConflictError, and a foreign key
// violation (the referenced account or user does not exist, or was just
// deleted) becomes store.ErrNotFound. Other errors are returned as they are.
func mapError(err error) error {
	if errors.Is(err, sql.ErrNoRows) {
		return store.ErrNotFound
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code {
		case "23505": // unique_violation
			for _, r := range uniqueRules {
				if r.pg == pgErr.ConstraintName {
					return &store.ConflictError{Constraint: r.name}
				}
			}
			return &store.ConflictError{Constraint: pgErr.ConstraintName}
		case "23503": // foreign_key_violation
			return fmt.Errorf("referenced row: %w", store.ErrNotFound)
		}
		return err
	}
	var liteErr *sqlite3.Error
	if errors.As(err, &liteErr) {
		switch liteErr.Code() {
		case sqlite3lib.SQLITE_CONSTRAINT_UNIQUE, sqlite3lib.SQLITE_CONSTRAINT_PRIMARYKEY:
			// The message ends "UNIQUE constraint failed: t.a, t.b".
			msg := liteErr.Error()
			const marker = "constraint failed: "
			if i := strings.LastIndex(msg, marker); i >= 0 {
				msg = msg[i+len(marker):]
			}
			if i := strings.LastIndex(msg, " ("); i >= 0 {
				msg = msg[:i] // the driver appends " (code)"
			}
			for _, r := range uniqueRules {
				if r.sqlite == msg {
					return &store.ConflictError{Constraint: r.name}
				}
			}
			return &store.ConflictError{Constraint: msg}
		case sqlite3lib.SQLITE_CONSTRAINT_FOREIGNKEY:
			return fmt.Errorf("referenced row: %w", store.ErrNotFound)
		}
	}
	return err
}

// wrap gives err the operation's context after mapping it.
func wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("sqlstore: %s: %w", op, mapError(err))
}
