// Package storetest is the conformance suite of store.Store: every
// implementation runs it (sqlstore on SQLite always, on PostgreSQL in CI),
// so that the behaviour services rely on is written down once, as tests.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync/atomic"
	"testing"
	"time"

	"github.com/openccm/openccm/internal/store"
)

// Run runs the suite. open must return a new, empty, migrated store each
// time it is called, close it when t ends, and be safe to call from
// parallel tests: the areas of the suite run in parallel.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	for _, area := range []struct {
		name string
		test func(*testing.T, func(*testing.T) store.Store)
	}{
		{"accounts", testAccounts},
		{"users", testUsers},
		{"members", testMembers},
		{"sessions", testSessions},
		{"tokens", testTokens},
		{"login failures", testLoginFailures},
		{"registries", testRegistries},
		{"apps", testApps},
		{"images", testImages},
		{"jobs", testJobs},
		{"the job queue", testJobQueue},
		{"tasks", testTasks},
		{"audit", testAudit},
		{"nonces", testNonces},
		{"CAs and certificates", testCertificates},
		{"deleting an account", testDeleteAccount},
		{"times", testTimes},
		{"transactions", testTx},
		{"schema", testSchema},
	} {
		t.Run(area.name, func(t *testing.T) {
			t.Parallel()
			area.test(t, open)
		})
	}
}

// idSeq makes IDs that sort in creation order, like the UUIDv7s callers use.
var idSeq atomic.Uint64

func newID() string {
	return fmt.Sprintf("01900000-0000-7000-8000-%012d", idSeq.Add(1))
}

// t0 is a time the database keeps exactly: UTC, whole microseconds.
var t0 = time.Date(2025, 3, 4, 5, 6, 7, 123456000, time.UTC)

// fixture creates rows with every field set, for tests that need them.
type fixture struct {
	t   *testing.T
	ctx context.Context
	s   store.Store
}

func newFixture(t *testing.T, open func(t *testing.T) store.Store) *fixture {
	return &fixture{t: t, ctx: t.Context(), s: open(t)}
}

func (f *fixture) account(name string) *store.Account {
	f.t.Helper()
	a := &store.Account{
		ID:                     newID(),
		Name:                   name,
		TrustDomain:            name + ".example.com",
		ApprovalPolicy:         store.ApprovalPolicy{RequiredApprovals: 2, AllowSelfApproval: true},
		AzureCVMPCRPriority:    []int{4, 7, 11},
		SGXAcceptedTCBStatuses: []string{"UpToDate", "SWHardeningNeeded"},
		CreatedAt:              t0,
		UpdatedAt:              t0.Add(time.Second),
	}
	mustOK(f.t, f.s.CreateAccount(f.ctx, a))
	return a
}

func (f *fixture) user(email string) *store.User {
	f.t.Helper()
	u := &store.User{
		ID:           newID(),
		Email:        email,
		PasswordHash: "$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA",
		CreatedAt:    t0,
	}
	mustOK(f.t, f.s.CreateUser(f.ctx, u))
	return u
}

func (f *fixture) member(a *store.Account, u *store.User, role store.Role) *store.Member {
	f.t.Helper()
	m := &store.Member{AccountID: a.ID, UserID: u.ID, Role: role, CreatedAt: t0}
	mustOK(f.t, f.s.AddMember(f.ctx, m))
	m.Email = u.Email
	return m
}

func (f *fixture) token(a *store.Account, u *store.User) *store.Token {
	f.t.Helper()
	tok := &store.Token{
		ID:        newID(),
		Name:      "ci",
		UserID:    u.ID,
		AccountID: a.ID,
		Role:      store.RoleWriter,
		TokenHash: []byte("hash-" + newID()),
		CreatedAt: t0,
	}
	mustOK(f.t, f.s.CreateToken(f.ctx, tok))
	return tok
}

func (f *fixture) registry(a *store.Account, url string) *store.Registry {
	f.t.Helper()
	r := &store.Registry{
		ID:                 newID(),
		AccountID:          a.ID,
		URL:                url,
		Username:           "robot",
		Description:        "the build registry",
		PasswordCiphertext: []byte{0, 1, 2, 0xff},
		CreatedAt:          t0,
		UpdatedAt:          t0,
	}
	mustOK(f.t, f.s.CreateRegistry(f.ctx, r))
	return r
}

func (f *fixture) app(a *store.Account, name string, typ store.AppType) *store.App {
	f.t.Helper()
	app := &store.App{
		ID:                  newID(),
		AccountID:           a.ID,
		Name:                name,
		Type:                typ,
		Description:         "payments backend",
		Domains:             []string{"pay.example.com", "api.example.com"},
		ApprovedDomains:     []string{"pay.example.com"},
		PendingDomainTaskID: newID(),
		InputImageName:      "registry.example.com/pay:1",
		OutputImageName:     "registry.example.com/pay-sgx:1",
		Certificate:         store.CertificateSettings{Enabled: true, ValidityDays: 30, KeyPath: "/k", CertPath: "/c"},
		Labels:              map[string]string{"team": "payments", "tier": "1"},
		CreatedAt:           t0,
		UpdatedAt:           t0.Add(time.Minute),
	}
	mustOK(f.t, f.s.CreateApp(f.ctx, app))
	return app
}

// image creates an image of app with every field set and a measurement
// key of its own.
func (f *fixture) image(app *store.App, version string) *store.Image {
	f.t.Helper()
	isvprodid, isvsvn, vmpl, misc, persist, wait := 1, 0, 2, int64(0xffff_ffff_ff), false, true
	img := &store.Image{
		ID:             newID(),
		AccountID:      app.AccountID,
		AppID:          app.ID,
		Type:           app.Type,
		Platform:       "sgx",
		Version:        version,
		Status:         store.ImageReady,
		ApprovalStatus: store.ApprovalPending,
		Measurements: store.Measurements{
			MREnclave: "aa" + version, MRSigner: "bb", ISVProdID: &isvprodid, ISVSVN: &isvsvn,
			Attributes: "0700", MiscSelect: &misc,
			PCR0: "p0", PCR1: "p1", PCR2: "p2", PolicySHA256: "cc", Measurement: "dd", VMPL: &vmpl,
			PCRs: map[int]string{0: "00", 7: "07", 22: "22"},
		},
		Settings: store.ImageSettings{
			InputTag: "1.0", OutputTag: "1.0-sgx", InputRegistryID: newID(), OutputRegistryID: newID(),
			UseInputCredentialsForOutput: true, MemoryMiB: 2048, FilePersistence: &persist, CPUCount: 4,
			Tag: "v1", RegistryID: newID(), WaitForNodeRegistration: &wait, MemoryGB: 1.5,
			GPU: "H100", HasInlineCredentials: true,
		},
		MeasurementKey:        "sgx:" + newID(),
		CredentialsCiphertext: []byte{0, 1, 2, 0xff},
		OutputDigest:          "sha256:0123",
		Error:                 "none yet",
		TaskID:                newID(),
		CreatedBy:             newID(),
		CreatedAt:             t0,
		UpdatedAt:             t0.Add(time.Minute),
	}
	mustOK(f.t, f.s.CreateImage(f.ctx, img))
	return img
}

// job creates a job of img created at created.
func (f *fixture) job(img *store.Image, created time.Time) *store.Job {
	f.t.Helper()
	lease := created.Add(5 * time.Minute)
	j := &store.Job{
		ID:         newID(),
		AccountID:  img.AccountID,
		ImageID:    img.ID,
		Kind:       "enclave_os_convert",
		Status:     store.JobRunning,
		Progress:   40,
		Log:        []string{"pulling", "converting"},
		Attempts:   2,
		LeaseUntil: &lease,
		CreatedAt:  created,
		UpdatedAt:  created.Add(time.Second),
	}
	mustOK(f.t, f.s.CreateJob(f.ctx, j))
	return j
}

// task creates a pending domain task with every field set and no
// decisions (Decisions is the empty list that reads return).
func (f *fixture) task(a *store.Account, subjectType, subjectID string) *store.Task {
	f.t.Helper()
	tk := &store.Task{
		ID:                newID(),
		AccountID:         a.ID,
		Kind:              store.TaskDomainApproval,
		SubjectType:       subjectType,
		SubjectID:         subjectID,
		Status:            store.TaskPending,
		RequiredApprovals: 2,
		DomainsAdded:      []string{"new.example.com"},
		DomainsRemoved:    []string{"old.example.com"},
		ProposedDomains:   []string{"pay.example.com", "new.example.com"},
		CreatedBy:         newID(),
		CreatedAt:         t0,
	}
	mustOK(f.t, f.s.CreateTask(f.ctx, tk))
	tk.Decisions = []store.TaskDecision{}
	return tk
}

// decide records u's decision on tk at at and returns it as reads do.
func (f *fixture) decide(tk *store.Task, u *store.User, d store.Decision, at time.Time) store.TaskDecision {
	f.t.Helper()
	td := store.TaskDecision{TaskID: tk.ID, UserID: u.ID, Decision: d, Comment: "by " + u.Email, At: at}
	mustOK(f.t, f.s.AddDecision(f.ctx, &td))
	td.Email = u.Email
	return td
}

// audit appends the account's event number seq, at t0 plus seq minutes.
func (f *fixture) audit(accountID string, seq int64) *store.AuditEvent {
	f.t.Helper()
	e := &store.AuditEvent{
		ID:          newID(),
		AccountID:   accountID,
		Seq:         seq,
		At:          t0.Add(time.Duration(seq) * time.Minute),
		ActorType:   "user",
		ActorID:     "user-1",
		Action:      "app.create",
		SubjectType: "app",
		SubjectID:   "app-1",
		Outcome:     "success",
		Details:     []byte(fmt.Sprintf(`{"seq":%d}`, seq)),
		PrevHash:    fmt.Sprintf("hash-%d", seq-1),
		Hash:        fmt.Sprintf("hash-%d", seq),
	}
	mustOK(f.t, f.s.AppendAudit(f.ctx, e))
	return e
}

func mustOK(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("unexpected error: %v", err)
	}
}

func wantNotFound(t *testing.T, err error) {
	t.Helper()
	if !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("got error %v, want store.ErrNotFound", err)
	}
}

func wantConflict(t *testing.T, err error, constraint string) {
	t.Helper()
	var ce *store.ConflictError
	if !errors.As(err, &ce) {
		t.Fatalf("got error %v, want a *store.ConflictError on %q", err, constraint)
	}
	if ce.Constraint != constraint {
		t.Fatalf("conflict on %q, want %q", ce.Constraint, constraint)
	}
	if !errors.Is(err, store.ErrConflict) {
		t.Fatalf("errors.Is(%v, store.ErrConflict) is false", err)
	}
}

func wantEqual[T any](t *testing.T, got, want T) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got  %+v\nwant %+v", got, want)
	}
}

// ids returns the IDs of rows, in order.
func ids[T any](rows []T, id func(T) string) []string {
	out := []string{}
	for _, r := range rows {
		out = append(out, id(r))
	}
	return out
}

// checkPaging lists the ids (which must be in ascending order, at least
// four of them) page by page with list and checks the order, the limit,
// After, and the default limit.
func checkPaging(t *testing.T, want []string, list func(p store.Page) ([]string, error)) {
	t.Helper()
	page := func(p store.Page) []string {
		t.Helper()
		got, err := list(p)
		mustOK(t, err)
		return got
	}
	wantEqual(t, page(store.Page{}), want)
	wantEqual(t, page(store.Page{Limit: 2}), want[:2])
	wantEqual(t, page(store.Page{Limit: 2, After: want[1]}), want[2:4])
	if got := page(store.Page{Limit: 100, After: want[len(want)-1]}); got == nil || len(got) != 0 {
		t.Fatalf("after the last row: got %#v, want an empty list", got)
	}
}
