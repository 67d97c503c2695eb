package sqlstore

import (
	"context"
	"database/sql"
	"strconv"
	"strings"
	"time"

	"github.com/openccm/openccm/internal/store"
)

// dialect is the SQL flavour of a database.
type dialect int

const (
	sqlite dialect = iota
	postgres
)

func (d dialect) String() string {
	if d == postgres {
		return "postgres"
	}
	return "sqlite"
}

// rebind rewrites the ? placeholders of query into PostgreSQL's $1, $2, ….
// Our queries have no ? inside string literals.
func (d dialect) rebind(query string) string {
	if d != postgres || !strings.Contains(query, "?") {
		return query
	}
	var b strings.Builder
	b.Grow(len(query) + 8)
	n := 0
	for i := 0; i < len(query); i++ {
		if query[i] == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(query[i])
	}
	return b.String()
}

// timeLayout is how SQLite columns hold times: fixed width and always UTC,
// so that text order is time order and comparisons in SQL are correct.
const timeLayout = "2006-01-02T15:04:05.000000Z"

// normTime is t as the database keeps it: UTC, truncated to microseconds.
func normTime(t time.Time) time.Time {
	return t.UTC().Truncate(time.Microsecond)
}

// time returns the argument that stores t.
func (d dialect) time(t time.Time) any {
	t = normTime(t)
	if d == postgres {
		return t
	}
	return t.Format(timeLayout)
}

// nullTime returns the argument that stores t, NULL when t is nil.
func (d dialect) nullTime(t *time.Time) any {
	if t == nil {
		return nil
	}
	return d.time(*t)
}

// querier is what *sql.DB and *sql.Tx have in common.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// queries holds the store's methods; they run on a pool or in a
// transaction depending on r and w.
type queries struct {
	d dialect
	// r runs reads, w runs writes. In a transaction both are the *sql.Tx.
	r, w querier
}

func (q *queries) exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	return q.w.ExecContext(ctx, q.d.rebind(query), args...)
}

func (q *queries) query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	return q.r.QueryContext(ctx, q.d.rebind(query), args...)
}

func (q *queries) queryRow(ctx context.Context, query string, args ...any) *sql.Row {
	return q.r.QueryRowContext(ctx, q.d.rebind(query), args...)
}

// writeRow runs a write that returns a row (UPDATE … RETURNING) on the
// write side.
func (q *queries) writeRow(ctx context.Context, query string, args ...any) *sql.Row {
	return q.w.QueryRowContext(ctx, q.d.rebind(query), args...)
}

// execOne runs a write that must change a row; none changed is ErrNotFound.
func (q *queries) execOne(ctx context.Context, op, query string, args ...any) error {
	res, err := q.exec(ctx, query, args...)
	if err != nil {
		return wrap(op, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return wrap(op, err)
	}
	if n == 0 {
		return wrap(op, sql.ErrNoRows)
	}
	return nil
}

// paged appends the keyset paging clause to a query whose WHERE clause
// already exists: rows after p.After in key order, at most p.Limit of them.
func paged(query string, args []any, key string, p store.Page) (string, []any) {
	if p.After != "" {
		query += " AND " + key + " > ?"
		args = append(args, p.After)
	}
	limit := p.Limit
	if limit <= 0 {
		limit = store.DefaultPageLimit
	}
	query += " ORDER BY " + key + " LIMIT ?"
	args = append(args, limit)
	return query, args
}

// scanner is *sql.Row or *sql.Rows.
type scanner interface {
	Scan(dest ...any) error
}

// collect scans every row of rows with scan.
func collect[T any](rows *sql.Rows, err error, scan func(scanner) (T, error)) ([]T, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []T{}
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}
