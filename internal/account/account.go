// Package account owns accounts (tenants) and their members: creating an
// account makes its creator a manager, settings are validated here, and an
// account always keeps at least one manager.
package account

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/openccm/openccm/internal/audit"
	"github.com/openccm/openccm/internal/ca"
	"github.com/openccm/openccm/internal/errs"
	"github.com/openccm/openccm/internal/identity"
	"github.com/openccm/openccm/internal/ids"
	"github.com/openccm/openccm/internal/store"
	"github.com/openccm/openccm/internal/valid"
)

// PCRCount is the number of PCRs an Azure CVM priority order ranks (0..22).
const PCRCount = 23

// TCBStatuses are the SGX TCB statuses an account may accept. "unknown" is
// the status of a quote sent without collateral. Revoked is never acceptable.
var TCBStatuses = []string{
	"UpToDate", "SWHardeningNeeded", "ConfigurationNeeded", "ConfigurationAndSWHardeningNeeded",
	"OutOfDate", "OutOfDateConfigurationNeeded", "unknown",
}

// Patch holds the account settings a request sets; nil fields are left alone.
type Patch struct {
	Name              *string
	TrustDomain       *string
	RequiredApprovals *int
	AllowSelfApproval *bool
	PCRPriority       []int
	TCBStatuses       []string
}

// Config configures a Service.
type Config struct {
	Store    store.Store
	Identity *identity.Service
	CA       *ca.Service
	Audit    *audit.Log
	Log      *slog.Logger
	Now      func() time.Time
}

// Service manages accounts and members.
type Service struct {
	st    store.Store
	id    *identity.Service
	ca    *ca.Service
	audit *audit.Log
	log   *slog.Logger
	now   func() time.Time
}

// New returns a Service.
func New(c Config) (*Service, error) {
	if c.Store == nil || c.Identity == nil || c.CA == nil {
		return nil, errors.New("account: store, identity and CA are required")
	}
	s := &Service{st: c.Store, id: c.Identity, ca: c.CA, audit: c.Audit, log: c.Log, now: c.Now}
	if s.audit == nil {
		s.audit = audit.New(c.Now)
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	return s, nil
}

func (s *Service) nowUTC() time.Time { return s.now().UTC().Truncate(time.Microsecond) }

// DefaultTrustDomain derives a SPIFFE trust domain from an account name:
// lower-cased, every character outside a-z 0-9 . - _ replaced by '-'.
func DefaultTrustDomain(name string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(name) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '.' || r == '-' || r == '_' {
			b.WriteRune(r)
		} else {
			b.WriteByte('-')
		}
	}
	return b.String()
}

// DefaultPCRPriority returns [0, 1, …, 22].
func DefaultPCRPriority() []int {
	p := make([]int, PCRCount)
	for i := range p {
		p[i] = i
	}
	return p
}

// Create makes an account with the caller as its manager.
func (s *Service) Create(ctx context.Context, p *identity.Principal, name string, patch Patch) (*store.Account, error) {
	if p.ViaToken() {
		return nil, errs.Forbiddenf("an API token cannot create accounts")
	}
	now := s.nowUTC()
	a := &store.Account{
		ID:                     ids.New(),
		ApprovalPolicy:         store.ApprovalPolicy{RequiredApprovals: 1, AllowSelfApproval: true},
		AzureCVMPCRPriority:    DefaultPCRPriority(),
		SGXAcceptedTCBStatuses: []string{"UpToDate"},
		CreatedAt:              now,
		UpdatedAt:              now,
	}
	patch.Name = &name
	if err := apply(a, patch); err != nil {
		return nil, err
	}
	if patch.TrustDomain == nil {
		a.TrustDomain = DefaultTrustDomain(a.Name)
		if err := checkTrustDomain(a.TrustDomain); err != nil {
			return nil, errs.Invalidf("name", "gives no usable trust domain; set trust_domain")
		}
	}
	err := s.st.WithTx(ctx, func(tx store.Store) error {
		if err := tx.CreateAccount(ctx, a); err != nil {
			return err
		}
		if err := tx.AddMember(ctx, &store.Member{AccountID: a.ID, UserID: p.UserID, Role: store.RoleManager, CreatedAt: now}); err != nil {
			return err
		}
		if err := s.ca.Create(ctx, tx, a); err != nil {
			return err
		}
		return s.audit.Append(ctx, tx, audit.Event{AccountID: a.ID, Action: "account.create", SubjectType: "account", SubjectID: a.ID,
			Details: map[string]any{"name": a.Name}})
	})
	if errors.Is(err, store.ErrConflict) {
		return nil, &errs.Error{Kind: errs.Conflict, Field: "name", Msg: "an account with this name already exists"}
	}
	if err != nil {
		return nil, err
	}
	s.log.Info("account created", "account_id", a.ID, "user_id", p.UserID)
	return a, nil
}

// Get returns an account (the caller's access was checked by the caller).
func (s *Service) Get(ctx context.Context, accountID string) (*store.Account, error) {
	a, err := s.st.GetAccount(ctx, accountID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, errs.NotFoundf("no such account")
	}
	return a, err
}

// Update changes an account's settings.
func (s *Service) Update(ctx context.Context, accountID string, patch Patch) (*store.Account, error) {
	var a *store.Account
	err := s.st.WithTx(ctx, func(tx store.Store) error {
		var err error
		if a, err = tx.GetAccount(ctx, accountID); err != nil {
			return err
		}
		if err := apply(a, patch); err != nil {
			return err
		}
		a.UpdatedAt = s.nowUTC()
		if err := tx.UpdateAccount(ctx, a); err != nil {
			return err
		}
		return s.audit.Append(ctx, tx, audit.Event{AccountID: a.ID, Action: "account.update", SubjectType: "account", SubjectID: a.ID,
			Details: map[string]any{"name": a.Name, "trust_domain": a.TrustDomain, "approval_policy": a.ApprovalPolicy,
				"azure_cvm_pcr_priority": a.AzureCVMPCRPriority, "sgx_accepted_tcb_statuses": a.SGXAcceptedTCBStatuses}})
	})
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, errs.NotFoundf("no such account")
	case errors.Is(err, store.ErrConflict):
		return nil, &errs.Error{Kind: errs.Conflict, Field: "name", Msg: "an account with this name already exists"}
	case err != nil:
		return nil, err
	}
	s.log.Info("account updated", "account_id", a.ID)
	return a, nil
}

// Delete removes an account and everything in it.
func (s *Service) Delete(ctx context.Context, accountID string) error {
	// The audit log outlives the account: its last event records the deletion.
	err := s.st.WithTx(ctx, func(tx store.Store) error {
		if err := s.audit.Append(ctx, tx, audit.Event{AccountID: accountID, Action: "account.delete", SubjectType: "account", SubjectID: accountID}); err != nil {
			return err
		}
		return tx.DeleteAccount(ctx, accountID)
	})
	if errors.Is(err, store.ErrNotFound) {
		return errs.NotFoundf("no such account")
	}
	if err == nil {
		s.log.Info("account deleted", "account_id", accountID)
	}
	return err
}

func apply(a *store.Account, p Patch) error {
	if p.Name != nil {
		n, err := valid.Name("name", *p.Name)
		if err != nil {
			return err
		}
		a.Name = n
	}
	if p.TrustDomain != nil {
		if err := checkTrustDomain(*p.TrustDomain); err != nil {
			return err
		}
		a.TrustDomain = *p.TrustDomain
	}
	if p.RequiredApprovals != nil {
		if n := *p.RequiredApprovals; n < 1 || n > 10 {
			return errs.Invalidf("approval_policy.required_approvals", "must be between 1 and 10")
		}
		a.ApprovalPolicy.RequiredApprovals = *p.RequiredApprovals
	}
	if p.AllowSelfApproval != nil {
		a.ApprovalPolicy.AllowSelfApproval = *p.AllowSelfApproval
	}
	if p.PCRPriority != nil {
		if err := checkPCRPriority(p.PCRPriority); err != nil {
			return err
		}
		a.AzureCVMPCRPriority = append([]int(nil), p.PCRPriority...)
	}
	if p.TCBStatuses != nil {
		if err := checkTCBStatuses(p.TCBStatuses); err != nil {
			return err
		}
		a.SGXAcceptedTCBStatuses = append([]string(nil), p.TCBStatuses...)
	}
	return nil
}

func checkTrustDomain(td string) error {
	if td == "" || len(td) > 255 {
		return errs.Invalidf("trust_domain", "must be 1 to 255 characters")
	}
	for _, r := range td {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '.' || r == '-' || r == '_') {
			return errs.Invalidf("trust_domain", "may contain only a-z, 0-9, '.', '-' and '_'")
		}
	}
	return nil
}

func checkPCRPriority(p []int) error {
	if len(p) != PCRCount {
		return errs.Invalidf("azure_cvm_pcr_priority", "must list each PCR index 0..22 exactly once (got %d entries)", len(p))
	}
	var seen [PCRCount]bool
	for i, v := range p {
		if v < 0 || v >= PCRCount {
			return errs.Invalidf(fmt.Sprintf("azure_cvm_pcr_priority[%d]", i), "must be between 0 and 22")
		}
		if seen[v] {
			return errs.Invalidf(fmt.Sprintf("azure_cvm_pcr_priority[%d]", i), "repeats PCR %d", v)
		}
		seen[v] = true
	}
	return nil
}

func checkTCBStatuses(st []string) error {
	if len(st) == 0 {
		return errs.Invalidf("sgx_accepted_tcb_statuses", "must list at least one status")
	}
	seen := map[string]bool{}
	for i, v := range st {
		field := fmt.Sprintf("sgx_accepted_tcb_statuses[%d]", i)
		known := false
		for _, k := range TCBStatuses {
			known = known || v == k
		}
		if !known {
			return errs.Invalidf(field, "must be one of %s", strings.Join(TCBStatuses, ", "))
		}
		if seen[v] {
			return errs.Invalidf(field, "repeats %s", v)
		}
		seen[v] = true
	}
	return nil
}
