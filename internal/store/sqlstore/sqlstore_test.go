package sqlstore_test

import (
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openccm/openccm/internal/store"
	"github.com/openccm/openccm/internal/store/sqlstore"
	"github.com/openccm/openccm/internal/store/sqlstore/sqltest"
	"github.com/openccm/openccm/internal/store/storetest"
)

type backend = sqltest.Backend

func backends(t *testing.T) []backend { return sqltest.Backends(t) }

func open(t *testing.T, database string) *sqlstore.DB {
	t.Helper()
	db, err := sqlstore.Open(t.Context(), database, nil)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// raw opens the database without sqlstore, to poke at it.
func raw(t *testing.T, b backend, database string) *sql.DB { return sqltest.Raw(t, b, database) }

func TestConformance(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			storetest.Run(t, func(t *testing.T) store.Store {
				return open(t, b.NewDatabase(t))
			})
		})
	}
}

func TestOpen(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			t.Run("reports its dialect", func(t *testing.T) {
				if got := open(t, b.NewDatabase(t)).Dialect(); got != b.Name {
					t.Fatalf("Dialect() = %q, want %q", got, b.Name)
				}
			})

			t.Run("reopening keeps the data and applies no migration twice", func(t *testing.T) {
				database := b.NewDatabase(t)
				db := open(t, database)
				v1, err := db.SchemaVersion(t.Context())
				if err != nil {
					t.Fatal(err)
				}
				a := &store.Account{ID: "a1", Name: "acme", CreatedAt: time.Now(), UpdatedAt: time.Now()}
				if err := db.CreateAccount(t.Context(), a); err != nil {
					t.Fatal(err)
				}
				db.Close()
				for range 2 {
					db = open(t, database)
					v2, err := db.SchemaVersion(t.Context())
					if err != nil || v2 != v1 {
						t.Fatalf("SchemaVersion after reopening = %d, %v; want %d", v2, err, v1)
					}
					if _, err := db.GetAccount(t.Context(), "a1"); err != nil {
						t.Fatal(err)
					}
					db.Close()
				}
				var rows, maxVersion int
				err = raw(t, b, database).QueryRowContext(t.Context(),
					"SELECT count(*), max(version) FROM schema_migrations").Scan(&rows, &maxVersion)
				if err != nil {
					t.Fatal(err)
				}
				if rows != v1 || maxVersion != v1 {
					t.Fatalf("schema_migrations has %d rows up to %d, want %d", rows, maxVersion, v1)
				}
			})

			t.Run("refuses a schema newer than the binary", func(t *testing.T) {
				database := b.NewDatabase(t)
				db := open(t, database)
				if _, err := raw(t, b, database).ExecContext(t.Context(),
					"INSERT INTO schema_migrations (version, applied_at) VALUES (9999, "+nowSQL(b)+")"); err != nil {
					t.Fatal(err)
				}
				if err := db.Ping(t.Context()); !errors.Is(err, store.ErrSchemaTooNew) {
					t.Errorf("Ping of the open store = %v, want ErrSchemaTooNew", err)
				}
				db.Close()
				_, err := sqlstore.Open(t.Context(), database, nil)
				if !errors.Is(err, store.ErrSchemaTooNew) {
					t.Fatalf("Open = %v, want ErrSchemaTooNew", err)
				}
				if !strings.Contains(err.Error(), "9999") {
					t.Errorf("the error %q does not name the database's version", err)
				}
			})

			t.Run("concurrent opens of a new database migrate it once", func(t *testing.T) {
				database := b.NewDatabase(t)
				var wg sync.WaitGroup
				errs := make([]error, 4)
				for i := range errs {
					wg.Go(func() {
						db, err := sqlstore.Open(t.Context(), database, nil)
						if err == nil {
							err = db.Ping(t.Context())
							db.Close()
						}
						errs[i] = err
					})
				}
				wg.Wait()
				if err := errors.Join(errs...); err != nil {
					t.Fatal(err)
				}
			})
		})
	}
}

func nowSQL(b backend) string {
	if b.Name == "postgres" {
		return "now()"
	}
	return "'2025-01-01T00:00:00.000000Z'"
}

func TestSQLiteFile(t *testing.T) {
	t.Run("the database file and its WAL are private to the owner", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "data", "ccm.db")
		db := open(t, path)
		if err := db.CreateUser(t.Context(), &store.User{ID: "u1", Email: "a@example.com"}); err != nil {
			t.Fatal(err)
		}
		for _, p := range []string{path, path + "-wal"} {
			fi, err := os.Stat(p)
			if err != nil {
				t.Fatal(err)
			}
			if fi.Mode().Perm() != 0o600 {
				t.Errorf("%s has mode %v, want 0600", filepath.Base(p), fi.Mode().Perm())
			}
		}
	})

	t.Run("a path that is not a plain file path is refused", func(t *testing.T) {
		for _, p := range []string{"", ":memory:", "file:x.db", filepath.Join(t.TempDir(), "x.db?mode=ro")} {
			if db, err := sqlstore.Open(t.Context(), p, nil); err == nil {
				db.Close()
				t.Errorf("Open(%q) succeeded", p)
			}
		}
	})

	t.Run("concurrent writers on one file never fail with SQLITE_BUSY", func(t *testing.T) {
		path := sqltest.NewSQLite(t)
		// Two handles on one file behave like two processes: only SQLite's
		// file locks keep them apart.
		dbs := []*sqlstore.DB{open(t, path), open(t, path)}
		ctx := t.Context()
		acct := &store.Account{ID: "acct", Name: "acme"}
		if err := dbs[0].CreateAccount(ctx, acct); err != nil {
			t.Fatal(err)
		}
		const workers, ops = 8, 25
		var wg sync.WaitGroup
		errs := make(chan error, workers*ops)
		for w := range workers {
			db := dbs[w%len(dbs)]
			wg.Go(func() {
				for i := range ops {
					id := fmt.Sprintf("w%d-%d", w, i)
					var err error
					switch i % 3 {
					case 0:
						err = db.CreateUser(ctx, &store.User{ID: id, Email: id + "@example.com"})
					case 1:
						err = db.WithTx(ctx, func(tx store.Store) error {
							n, err := tx.CountMembersWithRole(ctx, acct.ID, store.RoleReader)
							if err != nil {
								return err
							}
							if err := tx.CreateUser(ctx, &store.User{ID: id, Email: id + "@example.com"}); err != nil {
								return err
							}
							if err := tx.AddMember(ctx, &store.Member{AccountID: acct.ID, UserID: id, Role: store.RoleReader}); err != nil {
								return err
							}
							return tx.RecordLoginFailure(ctx, fmt.Sprint(n), time.Now())
						})
					case 2:
						_, err = db.ListMembers(ctx, acct.ID, store.Page{Limit: 10})
						if err == nil {
							err = db.RecordLoginFailure(ctx, id, time.Now())
						}
					}
					if err != nil {
						errs <- fmt.Errorf("%s: %w", id, err)
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		n, err := dbs[1].CountUsers(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if want := workers * (ops/3 + ops/3 + 1); n != want {
			t.Errorf("%d users, want %d", n, want)
		}
	})
}
