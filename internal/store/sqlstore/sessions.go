package sqlstore

import (
	"context"
	"strings"
	"time"

	"github.com/openccm/openccm/internal/store"
)

const sessionColumns = `id, user_id, token_hash, created_at, expires_at`

func scanSession(s scanner) (*store.Session, error) {
	var se store.Session
	if err := s.Scan(&se.ID, &se.UserID, &se.TokenHash, timeScan{&se.CreatedAt}, timeScan{&se.ExpiresAt}); err != nil {
		return nil, err
	}
	return &se, nil
}

// CreateSession inserts s; ErrNotFound when the user does not exist.
func (q *queries) CreateSession(ctx context.Context, s *store.Session) error {
	_, err := q.exec(ctx, `INSERT INTO sessions (`+sessionColumns+`) VALUES (?, ?, ?, ?, ?)`,
		s.ID, s.UserID, blob(s.TokenHash), q.d.time(s.CreatedAt), q.d.time(s.ExpiresAt))
	return wrap("creating session", err)
}

// GetSessionByHash returns the session whose token hash is hash, expired
// or not: the caller checks ExpiresAt.
func (q *queries) GetSessionByHash(ctx context.Context, hash []byte) (*store.Session, error) {
	s, err := scanSession(q.queryRow(ctx, `SELECT `+sessionColumns+` FROM sessions WHERE token_hash = ?`, blob(hash)))
	if err != nil {
		return nil, wrap("getting session", err)
	}
	return s, nil
}

// DeleteSession deletes the session with ID sessionID.
func (q *queries) DeleteSession(ctx context.Context, sessionID string) error {
	return q.execOne(ctx, "deleting session", `DELETE FROM sessions WHERE id = ?`, sessionID)
}

// DeleteExpiredSessions removes the sessions that expired before now and
// returns how many.
func (q *queries) DeleteExpiredSessions(ctx context.Context, now time.Time) (int, error) {
	res, err := q.exec(ctx, `DELETE FROM sessions WHERE expires_at < ?`, q.d.time(now))
	if err != nil {
		return 0, wrap("deleting expired sessions", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, wrap("deleting expired sessions", err)
	}
	return int(n), nil
}

const tokenColumns = `id, name, user_id, account_id, role, token_hash, created_at, expires_at, last_used_at`

func scanToken(s scanner) (*store.Token, error) {
	var t store.Token
	err := s.Scan(&t.ID, &t.Name, &t.UserID, &t.AccountID, &t.Role, &t.TokenHash,
		timeScan{&t.CreatedAt}, nullTimeScan{&t.ExpiresAt}, nullTimeScan{&t.LastUsedAt})
	if err != nil {
		return nil, err
	}
	return &t, nil
}

// CreateToken inserts t; ErrNotFound when its user or account does not
// exist.
func (q *queries) CreateToken(ctx context.Context, t *store.Token) error {
	_, err := q.exec(ctx, `INSERT INTO tokens (`+tokenColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		t.ID, t.Name, t.UserID, t.AccountID, string(t.Role), blob(t.TokenHash),
		q.d.time(t.CreatedAt), q.d.nullTime(t.ExpiresAt), q.d.nullTime(t.LastUsedAt))
	return wrap("creating token", err)
}

// GetToken returns the token with ID tokenID.
func (q *queries) GetToken(ctx context.Context, tokenID string) (*store.Token, error) {
	t, err := scanToken(q.queryRow(ctx, `SELECT `+tokenColumns+` FROM tokens WHERE id = ?`, tokenID))
	if err != nil {
		return nil, wrap("getting token", err)
	}
	return t, nil
}

// GetTokenByHash returns the token whose hash is hash, expired or not.
func (q *queries) GetTokenByHash(ctx context.Context, hash []byte) (*store.Token, error) {
	t, err := scanToken(q.queryRow(ctx, `SELECT `+tokenColumns+` FROM tokens WHERE token_hash = ?`, blob(hash)))
	if err != nil {
		return nil, wrap("getting token", err)
	}
	return t, nil
}

// ListTokens lists, in ID order, the tokens created by userID and all the
// tokens of the accounts in managedAccounts.
func (q *queries) ListTokens(ctx context.Context, userID string, managedAccounts []string, p store.Page) ([]*store.Token, error) {
	where := `(user_id = ?`
	args := []any{userID}
	if len(managedAccounts) > 0 {
		where += ` OR account_id IN (?` + strings.Repeat(", ?", len(managedAccounts)-1) + `)`
		for _, a := range managedAccounts {
			args = append(args, a)
		}
	}
	where += `)`
	query, args := paged(`SELECT `+tokenColumns+` FROM tokens WHERE `+where, args, "id", p)
	rows, err := q.query(ctx, query, args...)
	ts, err := collect(rows, err, scanToken)
	if err != nil {
		return nil, wrap("listing tokens", err)
	}
	return ts, nil
}

// DeleteToken deletes the token with ID tokenID.
func (q *queries) DeleteToken(ctx context.Context, tokenID string) error {
	return q.execOne(ctx, "deleting token", `DELETE FROM tokens WHERE id = ?`, tokenID)
}

// TouchToken records that the token was used at t.
func (q *queries) TouchToken(ctx context.Context, tokenID string, t time.Time) error {
	return q.execOne(ctx, "touching token", `UPDATE tokens SET last_used_at = ? WHERE id = ?`, q.d.time(t), tokenID)
}

// RecordLoginFailure records a failed sign-in for key at the time at.
func (q *queries) RecordLoginFailure(ctx context.Context, key string, at time.Time) error {
	_, err := q.exec(ctx, `INSERT INTO login_failures (key, at) VALUES (?, ?)`, key, q.d.time(at))
	return wrap("recording login failure", err)
}

// CountLoginFailures counts key's failures recorded at or after since.
func (q *queries) CountLoginFailures(ctx context.Context, key string, since time.Time) (int, error) {
	var n int
	err := q.queryRow(ctx, `SELECT count(*) FROM login_failures WHERE key = ? AND at >= ?`, key, q.d.time(since)).Scan(&n)
	if err != nil {
		return 0, wrap("counting login failures", err)
	}
	return n, nil
}

// ClearLoginFailures forgets key's failures. Clearing a key without any is
// not an error.
func (q *queries) ClearLoginFailures(ctx context.Context, key string) error {
	_, err := q.exec(ctx, `DELETE FROM login_failures WHERE key = ?`, key)
	return wrap("clearing login failures", err)
}

// PruneLoginFailures removes the failures recorded before before.
func (q *queries) PruneLoginFailures(ctx context.Context, before time.Time) error {
	_, err := q.exec(ctx, `DELETE FROM login_failures WHERE at < ?`, q.d.time(before))
	return wrap("pruning login failures", err)
}
