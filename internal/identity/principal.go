package identity

import "github.com/openccm/openccm/internal/store"

// Principal is the authenticated caller of a request.
type Principal struct {
	UserID  string
	Email   string
	IsAdmin bool
	// SessionID is set when the caller signed in with a session token.
	SessionID string
	// Token is set when the caller uses an API token: it limits the caller
	// to one account and at most one role.
	Token *store.Token
}

// ViaToken reports whether the caller authenticated with an API token.
func (p *Principal) ViaToken() bool { return p.Token != nil }

// EffectiveRole returns the role the caller has in an account, given the
// member's role there (empty when not a member). An API token acts only in
// its own account, with at most its role and at most the creator's current
// role, so demoting or removing the creator also limits their tokens.
func (p *Principal) EffectiveRole(accountID string, memberRole store.Role) store.Role {
	if !memberRole.Valid() {
		return ""
	}
	if p.Token == nil {
		return memberRole
	}
	if p.Token.AccountID != accountID {
		return ""
	}
	if p.Token.Role.Rank() < memberRole.Rank() {
		return p.Token.Role
	}
	return memberRole
}
