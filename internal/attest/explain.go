// Package attest decides whether a workload's evidence attests as an
// approved image: it selects the image the evidence's measurements match
// (by unique measurement for SGX, Nitro, SEV-SNP and ACI; by the account's
// PCR priority for Azure CVM) and says why. Explain runs the same decision
// on measurements given by hand, issuing nothing.
package attest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/openccm/openccm/internal/audit"
	"github.com/openccm/openccm/internal/ca"
	"github.com/openccm/openccm/internal/errs"
	"github.com/openccm/openccm/internal/ids"
	"github.com/openccm/openccm/internal/image"
	"github.com/openccm/openccm/internal/platform"
	"github.com/openccm/openccm/internal/platform/azurecvm"
	"github.com/openccm/openccm/internal/platform/gpu"
	"github.com/openccm/openccm/internal/store"
	"github.com/openccm/openccm/internal/valid"
)

// Results (the attestation_failed reasons of API.md, and "ok").
const (
	ResultOK               = "ok"
	ResultNoMatchingImage  = "no_matching_image"
	ResultImageNotApproved = "image_not_approved"
	ResultPCRMismatch      = "pcr_mismatch"
	ResultVMPLMismatch     = "vmpl_mismatch"
	ResultNonceInvalid     = "nonce_invalid"
	ResultDebugNotAllowed  = "debug_not_allowed"
	ResultCertDisabled     = "certificate_disabled"
	ResultGPUMissing       = "gpu_evidence_missing"
	ResultGPUFailed        = "gpu_attestation_failed"
)

// Config configures a Service.
type Config struct {
	Store store.Store
	// CA issues the certificates of accepted attestations.
	CA *ca.Service
	// Verifiers by platform; a platform without one is refused.
	Verifiers map[platform.Platform]platform.Verifier
	Audit     *audit.Log
	Log       *slog.Logger
	Now       func() time.Time
	// NonceTTL is how long a challenge lives (default 5 minutes).
	NonceTTL time.Duration
	// MaxNonces bounds an account's unexpired challenges (default MaxOutstandingNonces).
	MaxNonces int
	// GPU verifies NVIDIA attestation tokens for images with gpu:
	// required; nil refuses them (gpu_attestation_failed).
	GPU GPUVerifier
}

// GPUVerifier verifies an NVIDIA GPU attestation token for a binding
// (gpu.Verifier, gpu.FileVerifier).
type GPUVerifier interface {
	Verify(ctx context.Context, token string, binding [32]byte) (*gpu.Result, error)
}

// Service selects images for evidence, and runs attestations.
type Service struct {
	st        store.Store
	ca        *ca.Service
	verifiers map[platform.Platform]platform.Verifier
	audit     *audit.Log
	log       *slog.Logger
	now       func() time.Time
	nonceTTL  time.Duration
	maxNonces int
	gpu       GPUVerifier

	mu sync.Mutex
	// cvm caches each account's Azure CVM index until its image set changes.
	cvm map[string]*cvmIndex
}

// cvmIndex is an account's Azure CVM selection index at one image-set stamp.
type cvmIndex struct {
	stamp string
	index *azurecvm.Index
	byID  map[string]*store.Image
	count int
}

// maxCachedAccounts bounds the index cache; past it, the cache starts over.
const maxCachedAccounts = 1024

// New returns a Service.
func New(c Config) (*Service, error) {
	if c.Store == nil {
		return nil, errors.New("attest: store is required")
	}
	s := &Service{st: c.Store, ca: c.CA, verifiers: c.Verifiers, audit: c.Audit, log: c.Log, now: c.Now,
		nonceTTL: c.NonceTTL, maxNonces: c.MaxNonces, gpu: c.GPU, cvm: map[string]*cvmIndex{}}
	if s.maxNonces <= 0 {
		s.maxNonces = MaxOutstandingNonces
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.audit == nil {
		s.audit = audit.New(s.now)
	}
	if s.nonceTTL <= 0 {
		s.nonceTTL = DefaultNonceTTL
	}
	return s, nil
}

// Decision is the outcome of image selection.
type Decision struct {
	Image  *store.Image // nil when none was selected
	Result string
	Steps  []string
}

// Query is what selection matches on: the platform's measurements.
type Query struct {
	Platform string
	// AppID restricts matching to one app (optional).
	AppID string
	// Azure CVM: the VM's PCR values (index → hex SHA-256).
	PCRs map[int]string
	// Other platforms: measurements by name (mrenclave, mrsigner, isvprodid,
	// isvsvn, pcr0..2, measurement, vmpl, host_data).
	Measurements map[string]any
}

// Select finds the image the measurements attest as, and whether it passes.
func (s *Service) Select(ctx context.Context, accountID string, q Query) (Decision, error) {
	if q.AppID != "" && !ids.Valid(q.AppID) {
		return Decision{}, &errs.Error{Kind: errs.NotFound, Field: "app_id", Msg: "no such app"}
	}
	switch q.Platform {
	case "azure_cvm":
		return s.azureCVM(ctx, accountID, q)
	case "sgx", "nitro", "sev_snp", "aci":
		return s.byKey(ctx, accountID, q)
	case "":
		return Decision{}, errs.Invalidf("platform", "is required")
	}
	return Decision{}, errs.Invalidf("platform", "must be sgx, nitro, sev_snp, aci or azure_cvm")
}

func (s *Service) azureCVM(ctx context.Context, accountID string, q Query) (Decision, error) {
	acct, err := s.st.GetAccount(ctx, accountID)
	if err != nil {
		return Decision{}, err
	}
	ix, err := s.cvmIndex(ctx, accountID, q.AppID)
	if err != nil {
		return Decision{}, err
	}
	d := ix.index.Select(q.PCRs, acct.AzureCVMPCRPriority)
	steps := append([]string{fmt.Sprintf("%d Azure CVM images considered; PCR priority %s", ix.count, joinInts(acct.AzureCVMPCRPriority))}, d.Steps...)
	return Decision{Image: ix.byID[d.ImageID], Result: d.Result, Steps: steps}, nil
}

// cvmIndex returns the account's Azure CVM index, rebuilding it only when
// the account's Azure CVM images changed since it was built. Selection
// considers ready images only: a building or failed one has no PCRs to trust.
func (s *Service) cvmIndex(ctx context.Context, accountID, appID string) (*cvmIndex, error) {
	stamp, err := s.st.ImageSetStamp(ctx, accountID, store.AppAzureCVM)
	if err != nil {
		return nil, err
	}
	if appID == "" {
		s.mu.Lock()
		c := s.cvm[accountID]
		s.mu.Unlock()
		if c != nil && c.stamp == stamp {
			return c, nil
		}
	}
	rows, err := s.st.ListImagesByType(ctx, accountID, store.AppAzureCVM)
	if err != nil {
		return nil, err
	}
	c := &cvmIndex{stamp: stamp, byID: map[string]*store.Image{}}
	imgs := make([]azurecvm.Image, 0, len(rows))
	for _, r := range rows {
		if r.Status != store.ImageReady || (appID != "" && r.AppID != appID) {
			continue
		}
		c.byID[r.ID] = r
		imgs = append(imgs, azurecvm.Image{ID: r.ID, PCRs: r.Measurements.PCRs, Approved: r.ApprovalStatus == store.ApprovalApproved})
	}
	c.index, c.count = azurecvm.NewIndex(imgs), len(imgs)
	if appID == "" {
		s.mu.Lock()
		if len(s.cvm) >= maxCachedAccounts {
			s.cvm = map[string]*cvmIndex{}
		}
		s.cvm[accountID] = c
		s.mu.Unlock()
	}
	return c, nil
}

// byKey finds the image by its unique measurement key.
func (s *Service) byKey(ctx context.Context, accountID string, q Query) (Decision, error) {
	m := q.Measurements
	str := func(name string, n int) (string, error) {
		v, _ := m[name].(string)
		return valid.Hex("measurements."+name, v, n)
	}
	var (
		key   string
		steps []string
		err   error
		check func(img *store.Image) (string, string) // result, step
	)
	switch q.Platform {
	case "sgx":
		mre, err := str("mrenclave", 32)
		if err != nil {
			return Decision{}, err
		}
		key = "sgx:" + mre
		steps = append(steps, "SGX: looking for the image with MRENCLAVE "+mre)
		check = func(img *store.Image) (string, string) { return checkSGX(img, m) }
	case "nitro":
		var p [3]string
		for i := range p {
			if p[i], err = str(fmt.Sprintf("pcr%d", i), 48); err != nil {
				return Decision{}, err
			}
		}
		key = "nitro:" + p[0] + ":" + p[1] + ":" + p[2]
		steps = append(steps, "Nitro: looking for the image with these PCR0, PCR1 and PCR2")
	case "sev_snp":
		meas, err := str("measurement", 48)
		if err != nil {
			return Decision{}, err
		}
		vmpl, err := intField(m, "vmpl", 0, 3)
		if err != nil {
			return Decision{}, err
		}
		key = fmt.Sprintf("sev_snp:%s:%d", meas, vmpl)
		steps = append(steps, fmt.Sprintf("SEV-SNP: looking for the image with this launch measurement at VMPL %d", vmpl))
		img, err := s.lookup(ctx, accountID, key, q.AppID)
		if err != nil {
			return Decision{}, err
		}
		if img == nil {
			for other := 0; other <= 3; other++ {
				if other == vmpl {
					continue
				}
				if o, err := s.lookup(ctx, accountID, fmt.Sprintf("sev_snp:%s:%d", meas, other), q.AppID); err != nil {
					return Decision{}, err
				} else if o != nil {
					steps = append(steps, fmt.Sprintf("image %s has this measurement but VMPL %d, not %d", o.ID, other, vmpl))
					return Decision{Image: o, Result: ResultVMPLMismatch, Steps: steps}, nil
				}
			}
		}
		return finish(img, steps, nil), nil
	case "aci":
		hd, err := str("host_data", 32)
		if err != nil {
			return Decision{}, err
		}
		key = "aci:" + hd
		steps = append(steps, "ACI: looking for the image whose policy SHA-256 equals host_data "+hd)
	}
	img, err := s.lookup(ctx, accountID, key, q.AppID)
	if err != nil {
		return Decision{}, err
	}
	return finish(img, steps, check), nil
}

func (s *Service) lookup(ctx context.Context, accountID, key, appID string) (*store.Image, error) {
	img, err := s.st.GetImageByMeasurementKey(ctx, accountID, key)
	if errors.Is(err, store.ErrNotFound) || (err == nil && appID != "" && img.AppID != appID) {
		return nil, nil
	}
	return img, err
}

func finish(img *store.Image, steps []string, check func(*store.Image) (string, string)) Decision {
	if img == nil {
		return Decision{Result: ResultNoMatchingImage, Steps: append(steps, "no image of the account has these measurements")}
	}
	steps = append(steps, fmt.Sprintf("found image %s (version %q)", img.ID, img.Version))
	if check != nil {
		if res, step := check(img); res != ResultOK {
			return Decision{Image: img, Result: res, Steps: append(steps, step)}
		}
	}
	if img.ApprovalStatus != store.ApprovalApproved {
		return Decision{Image: img, Result: ResultImageNotApproved, Steps: append(steps, fmt.Sprintf("the image is not approved (approval status %s)", img.ApprovalStatus))}
	}
	return Decision{Image: img, Result: ResultOK, Steps: append(steps, "the image is approved: ok")}
}

// checkSGX compares the optional SGX identity values with the image's:
// MRSIGNER and ISVPRODID must be equal, ISVSVN at least the image's.
func checkSGX(img *store.Image, m map[string]any) (string, string) {
	im := img.Measurements
	if v, ok := m["mrsigner"].(string); ok && v != "" {
		h, err := valid.Hex("measurements.mrsigner", v, 32)
		if err != nil || h != im.MRSigner {
			return ResultNoMatchingImage, "MRSIGNER differs from the image's"
		}
	}
	if _, ok := m["isvprodid"]; ok && im.ISVProdID != nil {
		if n, err := intField(m, "isvprodid", 0, 65535); err != nil || n != *im.ISVProdID {
			return ResultNoMatchingImage, "ISVPRODID differs from the image's"
		}
	}
	if _, ok := m["isvsvn"]; ok && im.ISVSVN != nil {
		if n, err := intField(m, "isvsvn", 0, 65535); err != nil || n < *im.ISVSVN {
			return ResultNoMatchingImage, fmt.Sprintf("ISVSVN is below the image's (%d)", *im.ISVSVN)
		}
	}
	return ResultOK, ""
}

func intField(m map[string]any, name string, min, max int) (int, error) {
	v, ok := m[name]
	if !ok {
		return 0, nil
	}
	f, ok := v.(float64)
	if !ok || f != float64(int(f)) || int(f) < min || int(f) > max {
		return 0, errs.Invalidf("measurements."+name, "must be a whole number from %d to %d", min, max)
	}
	return int(f), nil
}

// ParsePCRs reads an explain request's PCRs ({"pcr0": hex, …}).
func ParsePCRs(in map[string]string) (map[int]string, error) {
	return image.ParsePCRs("pcrs", in)
}

func joinInts(p []int) string {
	s := make([]string, len(p))
	for i, v := range p {
		s[i] = strconv.Itoa(v)
	}
	return strings.Join(s, ",")
}
