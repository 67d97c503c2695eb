package sqlstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"unicode/utf8"

	"github.com/openccm/openccm/internal/store"
)

const auditColumns = `id, account_id, seq, at, actor_type, actor_id, action, subject_type, subject_id,
	outcome, details, prev_hash, hash`

func scanAudit(s scanner) (*store.AuditEvent, error) {
	var (
		e       store.AuditEvent
		details string
	)
	err := s.Scan(&e.ID, &e.AccountID, &e.Seq, timeScan{&e.At}, &e.ActorType, &e.ActorID, &e.Action,
		&e.SubjectType, &e.SubjectID, &e.Outcome, &details, &e.PrevHash, &e.Hash)
	if err != nil {
		return nil, err
	}
	e.Details = []byte(details)
	return &e, nil
}

// errAuditDetails refuses details that a text column cannot keep byte for
// byte: PostgreSQL rejects invalid UTF-8 and NUL in text, so SQLite is made
// to refuse them too. JSON is always valid UTF-8 without NUL.
var errAuditDetails = errors.New("details are not UTF-8 text without NUL bytes")

// AppendAudit inserts e; ConflictError "audit_events.seq" when the account
// already has an event with e.Seq. The account is not checked (there is no
// foreign key): events are kept, and may still be written, after the
// account is deleted. e.Details is stored and read back byte for byte.
func (q *queries) AppendAudit(ctx context.Context, e *store.AuditEvent) error {
	if !utf8.Valid(e.Details) || bytes.IndexByte(e.Details, 0) >= 0 {
		return fmt.Errorf("sqlstore: appending audit event: %w", errAuditDetails)
	}
	_, err := q.exec(ctx, `INSERT INTO audit_events (`+auditColumns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		e.ID, e.AccountID, e.Seq, q.d.time(e.At), e.ActorType, e.ActorID, e.Action,
		e.SubjectType, e.SubjectID, e.Outcome, string(e.Details), e.PrevHash, e.Hash)
	return wrap("appending audit event", err)
}

// LastAudit returns the account's event with the highest sequence number.
func (q *queries) LastAudit(ctx context.Context, accountID string) (*store.AuditEvent, error) {
	e, err := scanAudit(q.queryRow(ctx, `SELECT `+auditColumns+` FROM audit_events
		WHERE account_id = ? ORDER BY seq DESC LIMIT 1`, accountID))
	if err != nil {
		return nil, wrap("getting the last audit event", err)
	}
	return e, nil
}

// ListAudit lists the account's events narrowed by f, in sequence order,
// descending when f.Descending. p.After is the decimal sequence number of
// the previous page's last event: the page starts after it in the list's
// order. f.Since keeps events at or after that time.
func (q *queries) ListAudit(ctx context.Context, accountID string, f store.AuditFilter, p store.Page) ([]*store.AuditEvent, error) {
	const op = "listing audit events"
	query := `SELECT ` + auditColumns + ` FROM audit_events WHERE account_id = ?`
	args := []any{accountID}
	for _, c := range []struct{ column, value string }{
		{"action", f.Action},
		{"subject_id", f.SubjectID},
		{"actor_id", f.ActorID},
	} {
		if c.value != "" {
			query += ` AND ` + c.column + ` = ?`
			args = append(args, c.value)
		}
	}
	if f.Since != nil {
		query += ` AND at >= ?`
		args = append(args, q.d.time(*f.Since))
	}
	cmp, order := ">", "ASC"
	if f.Descending {
		cmp, order = "<", "DESC"
	}
	if p.After != "" {
		after, err := strconv.ParseInt(p.After, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("sqlstore: %s: the page cursor %q is not a sequence number", op, p.After)
		}
		query += ` AND seq ` + cmp + ` ?`
		args = append(args, after)
	}
	limit := p.Limit
	if limit <= 0 {
		limit = store.DefaultPageLimit
	}
	query += ` ORDER BY seq ` + order + ` LIMIT ?`
	args = append(args, limit)
	rows, err := q.query(ctx, query, args...)
	es, err := collect(rows, err, scanAudit)
	if err != nil {
		return nil, wrap(op, err)
	}
	return es, nil
}
