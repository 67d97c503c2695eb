// Package store defines the persistence interfaces of OpenCCM, one small
// interface per area, the records they hold, and the sentinel errors every
// implementation returns. Every account-scoped method takes the account ID so
// that a caller cannot forget tenant isolation.
package store

import (
	"context"
	"errors"
	"time"
)

// Sentinel errors. Implementations wrap them; callers test with errors.Is.
var (
	// ErrNotFound means no row matched (in this account).
	ErrNotFound = errors.New("not found")
	// ErrConflict means a uniqueness constraint was violated. Wrapped errors
	// name the constraint through ConflictError.
	ErrConflict = errors.New("conflict")
	// ErrSchemaTooNew means the database was migrated by a newer binary.
	ErrSchemaTooNew = errors.New("database schema is newer than this binary")
)

// ConflictError says which uniqueness rule a write violated.
type ConflictError struct {
	// Constraint is a stable name such as "accounts.name" or "apps.name".
	Constraint string
}

func (e *ConflictError) Error() string { return "conflict on " + e.Constraint }

// Is makes errors.Is(err, ErrConflict) true for a *ConflictError.
func (e *ConflictError) Is(target error) bool { return target == ErrConflict }

// Page asks for one page of a list. Lists are ordered by their key — the
// object's ID (UUIDv7, so creation time); for members the user ID, for a
// user's accounts the account ID — and After is the last key of the
// previous page.
type Page struct {
	Limit int
	After string
}

// Store is every area together, plus transactions.
//
// Conventions every implementation follows: Get/Update/Delete of a missing
// row (or of another account's row) return an error wrapping ErrNotFound;
// Create of a row whose account or user does not exist returns ErrNotFound
// too; uniqueness violations return a *ConflictError.
type Store interface {
	Accounts
	Users
	Members
	Sessions
	Tokens
	LoginFailures
	Registries
	Apps
	Images
	Tasks
	Jobs
	Audit
	Nonces
	CAs
	Certificates
	// WithTx runs fn in one transaction: fn's writes all commit or none do.
	// fn must use the Store it is given, not the outer one.
	WithTx(ctx context.Context, fn func(Store) error) error
	// Lock takes a transaction-scoped lock named name, serialising the
	// transactions that take it (used for "count then write" rules such as
	// first-user signup and the last manager of an account). Outside a
	// transaction it is an error.
	Lock(ctx context.Context, name string) error
	// Ping checks the database is reachable and migrated.
	Ping(ctx context.Context) error
	// SchemaVersion returns the applied migration version.
	SchemaVersion(ctx context.Context) (int, error)
	Close() error
}

// Accounts stores accounts.
type Accounts interface {
	// CreateAccount inserts a; ConflictError "accounts.name" on a duplicate name.
	CreateAccount(ctx context.Context, a *Account) error
	GetAccount(ctx context.Context, accountID string) (*Account, error)
	// UpdateAccount replaces the mutable fields of the account with a.ID.
	UpdateAccount(ctx context.Context, a *Account) error
	// DeleteAccount deletes the account and everything in it.
	DeleteAccount(ctx context.Context, accountID string) error
}

// Users stores users (people who sign in).
type Users interface {
	// CreateUser inserts u; ConflictError "users.email" on a duplicate email.
	CreateUser(ctx context.Context, u *User) error
	GetUser(ctx context.Context, userID string) (*User, error)
	// GetUserByEmail looks the email up case-insensitively.
	GetUserByEmail(ctx context.Context, email string) (*User, error)
	CountUsers(ctx context.Context) (int, error)
}

// Members stores who belongs to which account, with which role.
type Members interface {
	// AddMember inserts m; ConflictError "members.user" if already a member.
	AddMember(ctx context.Context, m *Member) error
	// GetMember returns the membership with the user's email filled in.
	GetMember(ctx context.Context, accountID, userID string) (*Member, error)
	ListMembers(ctx context.Context, accountID string, p Page) ([]*Member, error)
	SetMemberRole(ctx context.Context, accountID, userID string, role Role) error
	RemoveMember(ctx context.Context, accountID, userID string) error
	CountMembersWithRole(ctx context.Context, accountID string, role Role) (int, error)
	// ListUserAccounts lists the accounts userID belongs to, with the role.
	ListUserAccounts(ctx context.Context, userID string, p Page) ([]*UserAccount, error)
}

// Sessions stores sign-in sessions. Only a hash of the token is kept.
type Sessions interface {
	CreateSession(ctx context.Context, s *Session) error
	// GetSessionByHash returns the session even when it expired: the caller checks.
	GetSessionByHash(ctx context.Context, hash []byte) (*Session, error)
	DeleteSession(ctx context.Context, sessionID string) error
	// DeleteExpiredSessions removes sessions that expired before now.
	DeleteExpiredSessions(ctx context.Context, now time.Time) (int, error)
}

// Tokens stores API tokens. Only a hash of the token is kept.
type Tokens interface {
	CreateToken(ctx context.Context, t *Token) error
	GetToken(ctx context.Context, tokenID string) (*Token, error)
	// GetTokenByHash returns the token even when it expired: the caller checks.
	GetTokenByHash(ctx context.Context, hash []byte) (*Token, error)
	// ListTokens lists the tokens created by userID, and all tokens of the
	// accounts in managedAccounts.
	ListTokens(ctx context.Context, userID string, managedAccounts []string, p Page) ([]*Token, error)
	DeleteToken(ctx context.Context, tokenID string) error
	// TouchToken records that the token was used at t.
	TouchToken(ctx context.Context, tokenID string, t time.Time) error
}

// LoginFailures counts failed sign-ins per key (a user or an address) so
// that every replica enforces the same limit.
type LoginFailures interface {
	RecordLoginFailure(ctx context.Context, key string, at time.Time) error
	CountLoginFailures(ctx context.Context, key string, since time.Time) (int, error)
	ClearLoginFailures(ctx context.Context, key string) error
	// PruneLoginFailures removes failures recorded before t.
	PruneLoginFailures(ctx context.Context, before time.Time) error
}

// Registries stores saved registry credentials. The password is stored only
// as ciphertext; this package never sees it in clear.
type Registries interface {
	// CreateRegistry inserts r; ConflictError "registries.url" when the
	// account already has a registry with that URL.
	CreateRegistry(ctx context.Context, r *Registry) error
	GetRegistry(ctx context.Context, accountID, registryID string) (*Registry, error)
	ListRegistries(ctx context.Context, accountID string, p Page) ([]*Registry, error)
	// GetRegistryByURL returns the account's registry whose URL is url.
	GetRegistryByURL(ctx context.Context, accountID, url string) (*Registry, error)
	UpdateRegistry(ctx context.Context, r *Registry) error
	DeleteRegistry(ctx context.Context, accountID, registryID string) error
}

// AppFilter narrows ListApps.
type AppFilter struct {
	Type AppType // empty: all types
}

// Apps stores applications.
type Apps interface {
	// CreateApp inserts a; ConflictError "apps.name" on a duplicate name in the account.
	CreateApp(ctx context.Context, a *App) error
	GetApp(ctx context.Context, accountID, appID string) (*App, error)
	ListApps(ctx context.Context, accountID string, f AppFilter, p Page) ([]*App, error)
	UpdateApp(ctx context.Context, a *App) error
	DeleteApp(ctx context.Context, accountID, appID string) error
}
