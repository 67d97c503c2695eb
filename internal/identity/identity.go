// Package identity owns who may call OpenCCM: first-user signup, password
// sign-in with a limit on failed attempts, sessions, and API tokens limited
// to one account and role. Secrets (passwords, session and API tokens) are
// stored only as slow or cryptographic hashes.
package identity

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/mail"
	"strings"
	"time"

	"github.com/openccm/openccm/internal/audit"
	"github.com/openccm/openccm/internal/errs"
	"github.com/openccm/openccm/internal/ids"
	"github.com/openccm/openccm/internal/password"
	"github.com/openccm/openccm/internal/store"
)

// Token prefixes make leaked tokens recognisable by secret scanners.
const (
	sessionPrefix = "ccms_"
	apiPrefix     = "ccmt_"
)

// Password length bounds. The upper bound keeps hashing cost bounded.
const (
	MinPasswordLen = 12
	MaxPasswordLen = 1024
)

// LoginLimit bounds failed sign-ins within Window.
type LoginLimit struct {
	PerUser    int
	PerAddress int
	Window     time.Duration
}

// DefaultLoginLimit allows 10 failures per user and 50 per address in 15 minutes.
var DefaultLoginLimit = LoginLimit{PerUser: 10, PerAddress: 50, Window: 15 * time.Minute}

// Config configures a Service.
type Config struct {
	Store          store.Store
	Log            *slog.Logger
	Now            func() time.Time
	PasswordParams password.Params
	SessionTTL     time.Duration
	// AllowSignup lets anyone sign up, not only the first user.
	AllowSignup bool
	LoginLimit  LoginLimit
	// Audit records sign-ins and token changes in the accounts concerned.
	Audit *audit.Log
}

// Service implements signup, sign-in, sessions and API tokens.
type Service struct {
	st        store.Store
	log       *slog.Logger
	now       func() time.Time
	params    password.Params
	ttl       time.Duration
	signup    bool
	limit     LoginLimit
	dummyHash string
	audit     *audit.Log
}

// New returns a Service.
func New(c Config) (*Service, error) {
	if c.Store == nil {
		return nil, errors.New("identity: no store")
	}
	s := &Service{st: c.Store, log: c.Log, now: c.Now, params: c.PasswordParams,
		ttl: c.SessionTTL, signup: c.AllowSignup, limit: c.LoginLimit, audit: c.Audit}
	if s.audit == nil {
		s.audit = audit.New(c.Now)
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.params == (password.Params{}) {
		s.params = password.Default
	}
	if s.ttl <= 0 {
		s.ttl = 12 * time.Hour
	}
	if s.limit == (LoginLimit{}) {
		s.limit = DefaultLoginLimit
	}
	// Sign-in with an unknown email still pays for one hash, so that the
	// response time does not tell which emails exist.
	h, err := password.Hash("openccm-dummy-password", s.params)
	if err != nil {
		return nil, err
	}
	s.dummyHash = h
	return s, nil
}

func (s *Service) nowUTC() time.Time { return s.now().UTC().Truncate(time.Microsecond) }

// NormalizeEmail checks an email address and returns it lower-cased.
func NormalizeEmail(field, email string) (string, error) {
	e := strings.TrimSpace(email)
	if e == "" {
		return "", errs.Invalidf(field, "is required")
	}
	a, err := mail.ParseAddress(e)
	if err != nil || a.Address != e || len(e) > 254 {
		return "", errs.Invalidf(field, "is not an email address")
	}
	if domain := e[strings.LastIndexByte(e, '@')+1:]; !strings.Contains(domain, ".") && domain != "localhost" {
		return "", errs.Invalidf(field, "is not an email address")
	}
	return strings.ToLower(e), nil
}

// HashNewPassword checks a new password's length and hashes it.
func (s *Service) HashNewPassword(field, pw string) (string, error) {
	if n := len([]rune(pw)); n < MinPasswordLen {
		return "", errs.Invalidf(field, "must be at least %d characters", MinPasswordLen)
	}
	if len(pw) > MaxPasswordLen {
		return "", errs.Invalidf(field, "must be at most %d bytes", MaxPasswordLen)
	}
	return password.Hash(pw, s.params)
}

// NewUser validates and builds a user record (not stored).
func (s *Service) NewUser(email, pw string) (*store.User, error) {
	e, err := NormalizeEmail("email", email)
	if err != nil {
		return nil, err
	}
	h, err := s.HashNewPassword("password", pw)
	if err != nil {
		return nil, err
	}
	return &store.User{ID: ids.New(), Email: e, PasswordHash: h, CreatedAt: s.nowUTC()}, nil
}

// Signup creates a user. Only the first user may sign up, unless the server
// allows signup; the first user becomes the system administrator.
func (s *Service) Signup(ctx context.Context, email, pw string) (*store.User, error) {
	u, err := s.NewUser(email, pw)
	if err != nil {
		return nil, err
	}
	err = s.st.WithTx(ctx, func(tx store.Store) error {
		if err := tx.Lock(ctx, "signup"); err != nil {
			return err
		}
		n, err := tx.CountUsers(ctx)
		if err != nil {
			return err
		}
		if n > 0 && !s.signup {
			return errs.Forbiddenf("signup is closed: ask a manager of an account to add you as a member")
		}
		u.IsAdmin = n == 0
		return tx.CreateUser(ctx, u)
	})
	if errors.Is(err, store.ErrConflict) {
		return nil, errs.Conflictf("a user with this email already exists")
	}
	if err != nil {
		return nil, err
	}
	s.log.Info("user signed up", "user_id", u.ID, "admin", u.IsAdmin)
	return u, nil
}

// Login checks email and password and starts a session. addr is the
// client's address, for the per-address failure limit.
func (s *Service) Login(ctx context.Context, email, pw, addr string) (string, *store.Session, error) {
	e, err := NormalizeEmail("email", email)
	if err != nil {
		return "", nil, err
	}
	if pw == "" {
		return "", nil, errs.Invalidf("password", "is required")
	}
	if len(pw) > MaxPasswordLen {
		return "", nil, errs.E(errs.Unauthenticated, "wrong email or password")
	}
	userKey, addrKey := "user:"+e, "addr:"+addr
	since := s.nowUTC().Add(-s.limit.Window)
	for _, k := range []struct {
		key   string
		limit int
	}{{userKey, s.limit.PerUser}, {addrKey, s.limit.PerAddress}} {
		n, err := s.st.CountLoginFailures(ctx, k.key, since)
		if err != nil {
			return "", nil, err
		}
		if n >= k.limit {
			return "", nil, errs.E(errs.RateLimited, "too many failed sign-ins; try again later")
		}
	}
	u, err := s.st.GetUserByEmail(ctx, e)
	hash := s.dummyHash
	if err == nil {
		hash = u.PasswordHash
	} else if !errors.Is(err, store.ErrNotFound) {
		return "", nil, err
	}
	ok, verr := password.Verify(pw, hash)
	if verr != nil && u != nil {
		s.log.Error("stored password hash is malformed", "user_id", u.ID)
	}
	if u == nil || !ok {
		now := s.nowUTC()
		if err := errors.Join(s.st.RecordLoginFailure(ctx, userKey, now), s.st.RecordLoginFailure(ctx, addrKey, now)); err != nil {
			return "", nil, err
		}
		if u != nil {
			if err := s.auditSignIn(ctx, u.ID, "", audit.Failure, addr); err != nil {
				return "", nil, err
			}
		}
		s.log.Warn("sign-in failed", "address", addr)
		return "", nil, errs.E(errs.Unauthenticated, "wrong email or password")
	}
	if err := s.st.ClearLoginFailures(ctx, userKey); err != nil {
		return "", nil, err
	}
	secret, hashed, err := newSecret(sessionPrefix)
	if err != nil {
		return "", nil, err
	}
	now := s.nowUTC()
	sess := &store.Session{ID: ids.New(), UserID: u.ID, TokenHash: hashed, CreatedAt: now, ExpiresAt: now.Add(s.ttl)}
	if err := s.st.CreateSession(ctx, sess); err != nil {
		return "", nil, err
	}
	if err := s.auditSignIn(ctx, u.ID, sess.ID, audit.Success, addr); err != nil {
		return "", nil, err
	}
	s.log.Info("user signed in", "user_id", u.ID, "session_id", sess.ID)
	return secret, sess, nil
}

// Logout ends the caller's session.
func (s *Service) Logout(ctx context.Context, p *Principal) error {
	if p.SessionID == "" {
		return errs.Forbiddenf("only a session can log out; revoke API tokens with DELETE /v1/tokens/{token_id}")
	}
	if err := s.st.DeleteSession(ctx, p.SessionID); err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	accounts, _, err := s.Accounts(ctx, p, store.Page{Limit: store.MaxPageLimit})
	if err != nil {
		return err
	}
	return s.st.WithTx(ctx, func(tx store.Store) error {
		for _, ua := range accounts {
			if err := s.audit.Append(ctx, tx, audit.Event{AccountID: ua.Account.ID, Action: "session.delete", SubjectType: "user",
				SubjectID: p.UserID, Actor: &audit.Actor{Type: audit.ActorUser, ID: p.UserID}, Details: map[string]any{"session_id": p.SessionID}}); err != nil {
				return err
			}
		}
		return nil
	})
}

// Authenticate resolves a bearer token (session or API token) to the caller.
func (s *Service) Authenticate(ctx context.Context, bearer string) (*Principal, error) {
	unauth := errs.E(errs.Unauthenticated, "missing, invalid or expired credentials")
	if bearer == "" || len(bearer) > 200 {
		return nil, unauth
	}
	hash := hashSecret(bearer)
	now := s.nowUTC()
	var userID string
	p := &Principal{}
	switch {
	case strings.HasPrefix(bearer, sessionPrefix):
		sess, err := s.st.GetSessionByHash(ctx, hash)
		if errors.Is(err, store.ErrNotFound) {
			return nil, unauth
		}
		if err != nil {
			return nil, err
		}
		if subtle.ConstantTimeCompare(sess.TokenHash, hash) != 1 || !now.Before(sess.ExpiresAt) {
			return nil, unauth
		}
		p.SessionID, userID = sess.ID, sess.UserID
	case strings.HasPrefix(bearer, apiPrefix):
		tok, err := s.st.GetTokenByHash(ctx, hash)
		if errors.Is(err, store.ErrNotFound) {
			return nil, unauth
		}
		if err != nil {
			return nil, err
		}
		if subtle.ConstantTimeCompare(tok.TokenHash, hash) != 1 || (tok.ExpiresAt != nil && !now.Before(*tok.ExpiresAt)) {
			return nil, unauth
		}
		// Record use at most once a minute to spare the database.
		if tok.LastUsedAt == nil || now.Sub(*tok.LastUsedAt) > time.Minute {
			if err := s.st.TouchToken(ctx, tok.ID, now); err != nil {
				s.log.Warn("recording token use failed", "token_id", tok.ID, "error", err)
			}
		}
		p.Token, userID = tok, tok.UserID
	default:
		return nil, unauth
	}
	u, err := s.st.GetUser(ctx, userID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, unauth
	}
	if err != nil {
		return nil, err
	}
	p.UserID, p.Email, p.IsAdmin = u.ID, u.Email, u.IsAdmin
	return p, nil
}

// RoleIn returns the caller's effective role in an account, or a NotFound
// error when the caller may not see the account at all.
func (s *Service) RoleIn(ctx context.Context, p *Principal, accountID string) (store.Role, error) {
	notFound := errs.NotFoundf("no such account")
	if !ids.Valid(accountID) {
		return "", notFound
	}
	m, err := s.st.GetMember(ctx, accountID, p.UserID)
	if errors.Is(err, store.ErrNotFound) {
		return "", notFound
	}
	if err != nil {
		return "", err
	}
	r := p.EffectiveRole(accountID, m.Role)
	if r == "" {
		return "", notFound
	}
	return r, nil
}

// CreateToken makes an API token for the caller in one account, with at
// most the caller's role there. It returns the secret, shown once.
func (s *Service) CreateToken(ctx context.Context, p *Principal, name, accountID string, role store.Role, expiresAt *time.Time) (string, *store.Token, error) {
	if p.ViaToken() {
		return "", nil, errs.Forbiddenf("an API token cannot create tokens")
	}
	name = strings.TrimSpace(name)
	if name == "" || len(name) > 100 {
		return "", nil, errs.Invalidf("name", "must be 1 to 100 characters")
	}
	if accountID == "" {
		return "", nil, errs.Invalidf("account_id", "is required")
	}
	if !role.Valid() {
		return "", nil, errs.Invalidf("role", "must be one of reader, writer, manager")
	}
	now := s.nowUTC()
	if expiresAt != nil {
		t := expiresAt.UTC().Truncate(time.Microsecond)
		if !t.After(now) {
			return "", nil, errs.Invalidf("expires_at", "must be in the future")
		}
		expiresAt = &t
	}
	mine, err := s.RoleIn(ctx, p, accountID)
	if errs.Is(errs.NotFound, err) {
		return "", nil, &errs.Error{Kind: errs.NotFound, Field: "account_id", Msg: "no such account"}
	}
	if err != nil {
		return "", nil, err
	}
	if role.Rank() > mine.Rank() {
		return "", nil, &errs.Error{Kind: errs.PermissionDenied, Field: "role",
			Msg: fmt.Sprintf("a token cannot have more than your role (%s)", mine)}
	}
	secret, hashed, err := newSecret(apiPrefix)
	if err != nil {
		return "", nil, err
	}
	t := &store.Token{ID: ids.New(), Name: name, UserID: p.UserID, AccountID: accountID, Role: role,
		TokenHash: hashed, CreatedAt: now, ExpiresAt: expiresAt}
	err = s.st.WithTx(ctx, func(tx store.Store) error {
		if err := tx.CreateToken(ctx, t); err != nil {
			return err
		}
		return s.audit.Append(ctx, tx, audit.Event{AccountID: accountID, Action: "token.create", SubjectType: "token", SubjectID: t.ID,
			Details: map[string]any{"name": name, "role": string(role)}})
	})
	if err != nil {
		return "", nil, err
	}
	s.log.Info("api token created", "token_id", t.ID, "account_id", accountID, "role", string(role))
	return secret, t, nil
}

// ListTokens lists the caller's own tokens and every token of the accounts
// the caller manages.
func (s *Service) ListTokens(ctx context.Context, p *Principal, pg store.Page) ([]*store.Token, string, error) {
	if p.ViaToken() {
		return nil, "", errs.Forbiddenf("an API token cannot list tokens")
	}
	managed, err := s.managedAccounts(ctx, p.UserID)
	if err != nil {
		return nil, "", err
	}
	rows, err := s.st.ListTokens(ctx, p.UserID, managed, pg.Plus1())
	if err != nil {
		return nil, "", err
	}
	rows, next := store.Trim(rows, pg, func(t *store.Token) string { return t.ID })
	return rows, next, nil
}

// RevokeToken deletes a token the caller created, or any token of an
// account the caller manages.
func (s *Service) RevokeToken(ctx context.Context, p *Principal, tokenID string) error {
	notFound := errs.NotFoundf("no such token")
	if !ids.Valid(tokenID) {
		return notFound
	}
	t, err := s.st.GetToken(ctx, tokenID)
	if errors.Is(err, store.ErrNotFound) {
		return notFound
	}
	if err != nil {
		return err
	}
	allowed := t.UserID == p.UserID && (!p.ViaToken() || p.Token.ID == t.ID)
	if !allowed && !p.ViaToken() {
		r, err := s.RoleIn(ctx, p, t.AccountID)
		allowed = err == nil && r == store.RoleManager
	}
	if !allowed {
		return notFound
	}
	err = s.st.WithTx(ctx, func(tx store.Store) error {
		if err := tx.DeleteToken(ctx, tokenID); err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		return s.audit.Append(ctx, tx, audit.Event{AccountID: t.AccountID, Action: "token.revoke", SubjectType: "token", SubjectID: t.ID,
			Details: map[string]any{"name": t.Name}})
	})
	if err != nil {
		return err
	}
	s.log.Info("api token revoked", "token_id", tokenID, "account_id", t.AccountID)
	return nil
}

// Accounts lists the accounts the caller can act in, with the caller's
// effective role (an API token sees only its own account).
func (s *Service) Accounts(ctx context.Context, p *Principal, pg store.Page) ([]*store.UserAccount, string, error) {
	var out []*store.UserAccount
	after := pg.After
	// Filtering by token account may drop rows, so read until the page fills.
	for {
		rows, err := s.st.ListUserAccounts(ctx, p.UserID, store.Page{Limit: pg.Limit + 1, After: after})
		if err != nil {
			return nil, "", err
		}
		for _, ua := range rows {
			if r := p.EffectiveRole(ua.Account.ID, ua.Role); r != "" {
				out = append(out, &store.UserAccount{Account: ua.Account, Role: r})
			}
		}
		if len(rows) <= pg.Limit || len(out) > pg.Limit {
			break
		}
		after = rows[len(rows)-1].Account.ID
	}
	out, next := store.Trim(out, pg, func(ua *store.UserAccount) string { return ua.Account.ID })
	return out, next, nil
}

func (s *Service) managedAccounts(ctx context.Context, userID string) ([]string, error) {
	var out []string
	pg := store.Page{Limit: store.MaxPageLimit}
	for {
		rows, err := s.st.ListUserAccounts(ctx, userID, pg)
		if err != nil {
			return nil, err
		}
		for _, ua := range rows {
			if ua.Role == store.RoleManager {
				out = append(out, ua.Account.ID)
			}
		}
		if len(rows) < pg.Limit {
			return out, nil
		}
		pg.After = rows[len(rows)-1].Account.ID
	}
}

// auditSignIn records a sign-in (or a failed one) in every account of the user.
func (s *Service) auditSignIn(ctx context.Context, userID, sessionID, outcome, addr string) error {
	accounts, _, err := s.Accounts(ctx, &Principal{UserID: userID}, store.Page{Limit: store.MaxPageLimit})
	if err != nil {
		return err
	}
	actor := audit.Actor{Type: audit.ActorUser, ID: userID}
	return s.st.WithTx(ctx, func(tx store.Store) error {
		for _, ua := range accounts {
			if err := s.audit.Append(ctx, tx, audit.Event{AccountID: ua.Account.ID, Action: "session.create", SubjectType: "user",
				SubjectID: userID, Outcome: outcome, Actor: &actor, Details: map[string]any{"session_id": sessionID, "address": addr}}); err != nil {
				return err
			}
		}
		return nil
	})
}

// PruneExpired removes expired sessions and old login failures.
func (s *Service) PruneExpired(ctx context.Context) error {
	now := s.nowUTC()
	if _, err := s.st.DeleteExpiredSessions(ctx, now); err != nil {
		return err
	}
	return s.st.PruneLoginFailures(ctx, now.Add(-s.limit.Window))
}

func newSecret(prefix string) (string, []byte, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", nil, fmt.Errorf("identity: reading random token: %w", err)
	}
	secret := prefix + base64.RawURLEncoding.EncodeToString(b)
	return secret, hashSecret(secret), nil
}

func hashSecret(s string) []byte {
	h := sha256.Sum256([]byte(s))
	return h[:]
}

// Me returns the caller's user record and the accounts the caller can act in.
func (s *Service) Me(ctx context.Context, p *Principal) (*store.User, []*store.UserAccount, error) {
	u, err := s.st.GetUser(ctx, p.UserID)
	if err != nil {
		return nil, nil, err
	}
	accounts, _, err := s.Accounts(ctx, p, store.Page{Limit: store.MaxPageLimit})
	return u, accounts, err
}
