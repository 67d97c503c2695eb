package attest

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/openccm/openccm/internal/audit"
	"github.com/openccm/openccm/internal/ca"
	"github.com/openccm/openccm/internal/errs"
	"github.com/openccm/openccm/internal/ids"
	"github.com/openccm/openccm/internal/platform"
	"github.com/openccm/openccm/internal/platform/gpu"
	"github.com/openccm/openccm/internal/store"
)

// DefaultNonceTTL is how long a challenge lives.
const DefaultNonceTTL = 5 * time.Minute

// MaxOutstandingNonces bounds an account's unexpired challenges: the
// endpoint needs no credentials, so it must not let anyone fill the table.
const MaxOutstandingNonces = 10000

// clockSkew is the difference between the server's and the hardware's
// clocks that evidence timestamps are allowed.
const clockSkew = 2 * time.Minute

// BindingLabel prefixes what the binding hashes, so that a binding can
// never be confused with another protocol's hash.
const BindingLabel = "openccm-attest-v1"

// Binding is SHA-256("openccm-attest-v1" || nonce || SPKI): what the
// workload's evidence must carry, tying the evidence to this challenge and
// to the key the certificate will certify.
func Binding(nonce, spki []byte) [32]byte {
	h := sha256.New()
	h.Write([]byte(BindingLabel))
	h.Write(nonce)
	h.Write(spki)
	var b [32]byte
	copy(b[:], h.Sum(nil))
	return b
}

func nonceHash(n []byte) []byte {
	h := sha256.Sum256(n)
	return h[:]
}

// Challenge issues a single-use nonce for an attestation in the account.
func (s *Service) Challenge(ctx context.Context, accountID string) ([]byte, time.Time, error) {
	if !ids.Valid(accountID) {
		return nil, time.Time{}, &errs.Error{Kind: errs.NotFound, Field: "account_id", Msg: "no such account"}
	}
	nonce := make([]byte, 32)
	if _, err := rand.Read(nonce); err != nil {
		return nil, time.Time{}, fmt.Errorf("attest: reading a random nonce: %w", err)
	}
	now := s.now().UTC().Truncate(time.Microsecond)
	count, err := s.st.CountNonces(ctx, accountID, now)
	if err != nil {
		return nil, time.Time{}, err
	}
	if count >= s.maxNonces {
		return nil, time.Time{}, errs.E(errs.RateLimited, "too many outstanding challenges for this account; use or let expire the ones issued")
	}
	n := &store.Nonce{Hash: nonceHash(nonce), AccountID: accountID, CreatedAt: now, ExpiresAt: now.Add(s.nonceTTL)}
	if err := s.st.CreateNonce(ctx, n); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return nil, time.Time{}, &errs.Error{Kind: errs.NotFound, Field: "account_id", Msg: "no such account"}
		}
		return nil, time.Time{}, err
	}
	return nonce, n.ExpiresAt, nil
}

// PruneNonces removes expired challenges.
func (s *Service) PruneNonces(ctx context.Context) error {
	_, err := s.st.DeleteExpiredNonces(ctx, s.now())
	return err
}

// Request is an attestation request.
type Request struct {
	AccountID string
	AppID     string
	Platform  string
	Nonce     string // base64
	CSR       string // PEM
	Evidence  json.RawMessage
}

// Result is an accepted attestation.
type Result struct {
	Certificate *store.Certificate
	Leaf        *x509.Certificate
	CA          *x509.Certificate
	Image       *store.Image
}

func reject(reason, format string, args ...any) error {
	return platform.Reject(reason, format, args...)
}

// Attest verifies a workload's evidence, selects the approved image it
// attests as, and issues a certificate for the CSR's key. Every attempt in
// an existing account is audited, accepted or not.
func (s *Service) Attest(ctx context.Context, req Request) (*Result, error) {
	if !ids.Valid(req.AccountID) {
		return nil, &errs.Error{Kind: errs.NotFound, Field: "account_id", Msg: "no such account"}
	}
	acct, err := s.st.GetAccount(ctx, req.AccountID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, &errs.Error{Kind: errs.NotFound, Field: "account_id", Msg: "no such account"}
	}
	if err != nil {
		return nil, err
	}
	res, claims, err := s.attest(ctx, acct, req)
	details := map[string]any{"platform": req.Platform}
	if claims != nil {
		details["claims"] = claims
	}
	ev := audit.Event{AccountID: acct.ID, Action: "attestation.accept", SubjectType: "image",
		Actor: &audit.Actor{Type: audit.ActorWorkload}, Details: details}
	if err != nil {
		reason := platform.ReasonOf(err)
		if !errs.Is(errs.Rejected, err) {
			if errs.KindOf(err) == errs.Internal || errs.KindOf(err) == errs.Transient {
				return nil, err
			}
			reason = "invalid_request"
		}
		ev.Action, ev.Outcome = "attestation.reject", audit.Failure
		details["reason"], details["message"] = reason, errMessage(err)
		if aerr := s.appendAudit(ctx, ev); aerr != nil {
			return nil, aerr
		}
		s.log.Info("attestation rejected", "account_id", acct.ID, "platform", req.Platform, "reason", reason)
		return nil, err
	}
	s.log.Info("attestation accepted", "account_id", acct.ID, "platform", req.Platform, "image_id", res.Image.ID,
		"certificate_id", res.Certificate.ID)
	return res, nil
}

func errMessage(err error) string {
	var e *errs.Error
	if errors.As(err, &e) {
		return e.Msg
	}
	return ""
}

func (s *Service) appendAudit(ctx context.Context, ev audit.Event) error {
	return s.st.WithTx(ctx, func(tx store.Store) error { return s.audit.Append(ctx, tx, ev) })
}

func (s *Service) attest(ctx context.Context, acct *store.Account, req Request) (*Result, *platform.Claims, error) {
	p := platform.Platform(req.Platform)
	v := s.verifiers[p]
	if req.Platform == "" {
		return nil, nil, errs.Invalidf("platform", "is required")
	}
	if v == nil {
		return nil, nil, errs.Invalidf("platform", "%q is not a platform this server attests (sgx, nitro, sev_snp, aci, azure_cvm)", req.Platform)
	}
	if req.AppID != "" && !ids.Valid(req.AppID) {
		return nil, nil, &errs.Error{Kind: errs.NotFound, Field: "app_id", Msg: "no such app"}
	}
	csr, err := ca.ParseCSR(req.CSR)
	if err != nil {
		return nil, nil, err
	}
	if len(req.Evidence) == 0 || string(req.Evidence) == "null" {
		return nil, nil, errs.Invalidf("evidence", "is required")
	}
	nonce, err := base64.StdEncoding.DecodeString(req.Nonce)
	if err != nil || len(nonce) != 32 {
		return nil, nil, reject(ResultNonceInvalid, "the nonce is not a 32-byte base64 value this server issued")
	}
	// The nonce is spent whatever happens next: evidence gets one try.
	if err := s.st.ConsumeNonce(ctx, acct.ID, nonceHash(nonce), s.now()); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return nil, nil, reject(ResultNonceInvalid, "the nonce is unknown, expired or already used; ask for a new challenge")
		}
		return nil, nil, err
	}
	binding := Binding(nonce, csr.RawSubjectPublicKeyInfo)
	claims, err := v.Verify(ctx, req.Evidence, platform.Options{Binding: &binding})
	if err != nil {
		return nil, nil, err
	}
	// Evidence that carries the binding was made after the challenge. A
	// document dated earlier was backdated, to be judged against a chain
	// that has since expired: refuse it.
	if ts := claims.Timestamp; ts != nil {
		now := s.now()
		if ts.Before(now.Add(-s.nonceTTL-clockSkew)) || ts.After(now.Add(clockSkew)) {
			return nil, claims, reject(platform.ReasonSignatureInvalid, "%s: the evidence is dated %s, outside the challenge's lifetime", p, ts.UTC().Format(time.RFC3339))
		}
	}
	if claims.Debug {
		return nil, claims, reject(ResultDebugNotAllowed, "%s: the evidence comes from a debug-mode workload, whose memory is not confidential", p)
	}
	if p == platform.SGX && !slices.Contains(acct.SGXAcceptedTCBStatuses, claims.TCBStatus) {
		return nil, claims, reject(platform.ReasonSignatureInvalid, "sgx: the platform's TCB status is %s, which the account does not accept (sgx_accepted_tcb_statuses: %s)%s",
			claims.TCBStatus, strings.Join(acct.SGXAcceptedTCBStatuses, ", "), tcbHint(claims.TCBStatus))
	}
	q, err := queryFor(p, claims)
	if err != nil {
		return nil, claims, err
	}
	q.AppID = req.AppID
	d, err := s.Select(ctx, acct.ID, q)
	if err != nil {
		return nil, claims, err
	}
	if d.Result != ResultOK {
		return nil, claims, reject(d.Result, "%s", lastStep(d))
	}
	img := d.Image
	app, err := s.st.GetApp(ctx, acct.ID, img.AppID)
	if err != nil {
		return nil, claims, err
	}
	if err := s.gpuCheck(ctx, img, req.Evidence, binding, claims); err != nil {
		return nil, claims, err
	}
	if !app.Certificate.Enabled {
		return nil, claims, reject(ResultCertDisabled, "the app %q does not issue certificates (certificate.enabled is false)", app.Name)
	}
	res := &Result{Image: img}
	err = s.st.WithTx(ctx, func(tx store.Store) error {
		// The image may have been deleted since selection: issue nothing then.
		if _, err := tx.GetImage(ctx, acct.ID, img.ID); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return reject(ResultNoMatchingImage, "the image was deleted")
			}
			return err
		}
		rec, leaf, err := s.ca.Issue(ctx, tx, acct, app, img.ID, csr)
		if err != nil {
			return err
		}
		res.Certificate, res.Leaf = rec, leaf
		actor := &audit.Actor{Type: audit.ActorWorkload, ID: img.ID}
		if err := s.audit.Append(ctx, tx, audit.Event{AccountID: acct.ID, Action: "attestation.accept", SubjectType: "image",
			SubjectID: img.ID, Actor: actor, Details: map[string]any{"platform": req.Platform, "app_id": app.ID, "claims": claims}}); err != nil {
			return err
		}
		return s.audit.Append(ctx, tx, audit.Event{AccountID: acct.ID, Action: "certificate.issue", SubjectType: "certificate",
			SubjectID: rec.ID, Actor: actor, Details: map[string]any{"serial": rec.Serial, "common_name": rec.CommonName,
				"dns_names": rec.DNSNames, "not_after": rec.NotAfter}})
	})
	if err != nil {
		return nil, claims, err
	}
	if res.CA, err = s.ca.Certificate(ctx, acct.ID); err != nil {
		return nil, claims, err
	}
	return res, claims, nil
}

// tcbHint says how to get a TCB status other than unknown.
func tcbHint(status string) string {
	if status == "unknown" {
		return "; send the collateral with the quote to get a TCB status, or add \"unknown\" to the setting"
	}
	return ""
}

func lastStep(d Decision) string {
	if len(d.Steps) == 0 {
		return d.Result
	}
	return d.Steps[len(d.Steps)-1]
}

// queryFor turns verified claims into the measurements selection matches.
func queryFor(p platform.Platform, c *platform.Claims) (Query, error) {
	q := Query{Platform: string(p), Measurements: map[string]any{}}
	switch p {
	case platform.Nitro:
		for i := 0; i < 3; i++ {
			v, ok := c.PCRs[i]
			if !ok {
				return q, reject(platform.ReasonMalformed, "nitro: the document has no PCR%d", i)
			}
			q.Measurements[fmt.Sprintf("pcr%d", i)] = v
		}
	case platform.SEVSNP:
		if c.VMPL == nil {
			return q, reject(platform.ReasonMalformed, "sevsnp: the report has no VMPL")
		}
		q.Measurements["measurement"] = c.Measurement
		q.Measurements["vmpl"] = float64(*c.VMPL)
	case platform.ACI:
		q.Measurements["host_data"] = c.HostData
	case platform.SGX:
		if c.MREnclave == "" {
			return q, reject(platform.ReasonMalformed, "sgx: the quote has no MRENCLAVE")
		}
		q.Measurements["mrenclave"] = c.MREnclave
		if c.MRSigner != "" {
			q.Measurements["mrsigner"] = c.MRSigner
		}
		if c.ISVProdID != nil {
			q.Measurements["isvprodid"] = float64(*c.ISVProdID)
		}
		if c.ISVSVN != nil {
			q.Measurements["isvsvn"] = float64(*c.ISVSVN)
		}
	case platform.AzureCVM:
		q.PCRs = c.PCRs
	default:
		return q, errs.Invalidf("platform", "%q cannot be matched to images yet", p)
	}
	return q, nil
}

// gpuCheck applies an image's GPU setting: "ignored" needs GPU evidence,
// "required" needs it verified (an NVIDIA attestation token for this
// binding, signed by a key of the server's --gpu-jwks, with a passing
// overall result). The verified result goes into the claims.
func (s *Service) gpuCheck(ctx context.Context, img *store.Image, evidence json.RawMessage, binding [32]byte, claims *platform.Claims) error {
	switch img.Settings.GPU {
	case "", "none":
		return nil
	case "ignored":
		return gpu.Present(evidence)
	}
	token, ok, err := gpu.Evidence(evidence)
	if err != nil {
		return err
	}
	if !ok {
		return reject(ResultGPUMissing, "the image %s requires GPU evidence (gpu: required) and the evidence has none", img.ID)
	}
	if s.gpu == nil {
		return reject(ResultGPUFailed, "this server verifies no GPU evidence (it was started without --gpu-jwks); the image requires it")
	}
	res, err := s.gpu.Verify(ctx, token, binding)
	if err != nil {
		return err
	}
	claims.GPU = res
	return nil
}

// BindingHex is the hex form of a binding, for logs and tools.
func BindingHex(b [32]byte) string { return hex.EncodeToString(b[:]) }
