package httpapi

import (
	"github.com/openccm/openccm/internal/store"
	"github.com/openccm/openccm/pkg/apiv1"
)

func toUser(u *store.User, accounts []*store.UserAccount) apiv1.User {
	out := apiv1.User{UserID: u.ID, Email: u.Email, IsAdmin: u.IsAdmin, CreatedAt: u.CreatedAt, Accounts: []apiv1.UserAccount{}}
	for _, ua := range accounts {
		out.Accounts = append(out.Accounts, apiv1.UserAccount{AccountID: ua.Account.ID, Name: ua.Account.Name, Role: string(ua.Role)})
	}
	return out
}

func toToken(t *store.Token, secret string) apiv1.Token {
	return apiv1.Token{TokenID: t.ID, Token: secret, Name: t.Name, AccountID: t.AccountID, Role: string(t.Role),
		CreatedBy: t.UserID, CreatedAt: t.CreatedAt, ExpiresAt: t.ExpiresAt, LastUsedAt: t.LastUsedAt}
}

func toAccount(a *store.Account, role store.Role) apiv1.Account {
	return apiv1.Account{
		AccountID:              a.ID,
		Name:                   a.Name,
		TrustDomain:            a.TrustDomain,
		ApprovalPolicy:         apiv1.ApprovalPolicy(a.ApprovalPolicy),
		AzureCVMPCRPriority:    nonNil(a.AzureCVMPCRPriority),
		SGXAcceptedTCBStatuses: nonNil(a.SGXAcceptedTCBStatuses),
		Role:                   string(role),
		CreatedAt:              a.CreatedAt,
		UpdatedAt:              a.UpdatedAt,
	}
}

func toMember(m *store.Member) apiv1.Member {
	return apiv1.Member{UserID: m.UserID, Email: m.Email, Role: string(m.Role), CreatedAt: m.CreatedAt}
}

// toRegistry never carries the password: the record only has its ciphertext,
// and the wire type has no field for it.
func toRegistry(r *store.Registry) apiv1.Registry {
	return apiv1.Registry{RegistryID: r.ID, URL: r.URL, Username: r.Username, Description: r.Description,
		CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}
}

func toApp(a *store.App) apiv1.App {
	labels := a.Labels
	if labels == nil {
		labels = map[string]string{}
	}
	return apiv1.App{
		AppID: a.ID, Name: a.Name, Type: string(a.Type), Description: a.Description,
		Domains: nonNil(a.Domains), ApprovedDomains: nonNil(a.ApprovedDomains),
		PendingDomainTaskID: a.PendingDomainTaskID,
		InputImageName:      a.InputImageName, OutputImageName: a.OutputImageName,
		Certificate: apiv1.CertificateSettings(a.Certificate),
		Labels:      labels, CreatedAt: a.CreatedAt, UpdatedAt: a.UpdatedAt,
	}
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func list[S any, T any](rows []S, next string, conv func(S) T) apiv1.List[T] {
	out := apiv1.List[T]{Items: make([]T, 0, len(rows)), NextCursor: cursor(next)}
	for _, r := range rows {
		out.Items = append(out.Items, conv(r))
	}
	return out
}
