package httpapi

import (
	"encoding/json"
	"fmt"

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

func toImage(i *store.Image) apiv1.Image {
	return apiv1.Image{
		ImageID: i.ID, AppID: i.AppID, Type: string(i.Type), Platform: i.Platform, Version: i.Version,
		Status: string(i.Status), ApprovalStatus: string(i.ApprovalStatus), Measurements: measurementsJSON(i),
		TaskID: i.TaskID, OutputDigest: i.OutputDigest, Error: i.Error,
		ImageSettings: apiv1.ImageSettings(i.Settings),
		CreatedBy:     i.CreatedBy, CreatedAt: i.CreatedAt, UpdatedAt: i.UpdatedAt,
	}
}

// measurementsJSON renders an image's measurements as API.md lists them
// for its type: only the fields of that type, Azure CVM PCRs under "pcrs"
// keyed pcr0..pcr22 (an empty object when the image sets none).
func measurementsJSON(i *store.Image) map[string]any {
	m := i.Measurements
	out := map[string]any{}
	set := func(k, v string) {
		if v != "" {
			out[k] = v
		}
	}
	switch {
	case i.Type == store.AppAzureCVM:
		pcrs := map[string]string{}
		for idx, v := range m.PCRs {
			pcrs[fmt.Sprintf("pcr%d", idx)] = v
		}
		out["pcrs"] = pcrs
	case i.Type == store.AppSEVSNP:
		set("measurement", m.Measurement)
		if m.VMPL != nil {
			out["vmpl"] = *m.VMPL
		}
	case i.Type == store.AppACI:
		set("policy_sha256", m.PolicySHA256)
	case i.Platform == "sgx":
		set("mrenclave", m.MREnclave)
		set("mrsigner", m.MRSigner)
		if m.ISVProdID != nil {
			out["isvprodid"] = *m.ISVProdID
		}
		if m.ISVSVN != nil {
			out["isvsvn"] = *m.ISVSVN
		}
		set("attributes", m.Attributes)
		if m.MiscSelect != nil {
			out["miscselect"] = *m.MiscSelect
		}
	default: // nitro: edp and enclave_os
		set("pcr0", m.PCR0)
		set("pcr1", m.PCR1)
		set("pcr2", m.PCR2)
	}
	return out
}

func toTask(t *store.Task) apiv1.Task {
	out := apiv1.Task{
		TaskID: t.ID, Kind: string(t.Kind), Subject: apiv1.TaskSubject{Type: t.SubjectType, ID: t.SubjectID},
		Status: string(t.Status), RequiredApprovals: t.RequiredApprovals, Approvals: []apiv1.TaskDecision{},
		CreatedBy: t.CreatedBy, CreatedAt: t.CreatedAt, ResolvedAt: t.ResolvedAt,
	}
	if t.Kind == store.TaskDomainApproval {
		added, removed := nonNil(t.DomainsAdded), nonNil(t.DomainsRemoved)
		out.DomainsAdded, out.DomainsRemoved = &added, &removed
	}
	for _, d := range t.Decisions {
		out.Approvals = append(out.Approvals, apiv1.TaskDecision{UserID: d.UserID, Email: d.Email, Decision: string(d.Decision), Comment: d.Comment, At: d.At})
	}
	return out
}

func toAuditEvent(e *store.AuditEvent) apiv1.AuditEvent {
	details := json.RawMessage(e.Details)
	if !json.Valid(details) {
		details = json.RawMessage("{}")
	}
	return apiv1.AuditEvent{
		EventID: e.ID, Seq: e.Seq, At: e.At, Actor: apiv1.AuditActor{Type: e.ActorType, ID: e.ActorID},
		Action: e.Action, Subject: apiv1.AuditSubject{Type: e.SubjectType, ID: e.SubjectID},
		Outcome: e.Outcome, Details: details, PrevHash: e.PrevHash, Hash: e.Hash,
	}
}
