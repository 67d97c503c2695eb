package image

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"unicode"

	"github.com/openccm/openccm/internal/errs"
	"github.com/openccm/openccm/internal/ids"
	"github.com/openccm/openccm/internal/platform/nitro"
	"github.com/openccm/openccm/internal/platform/sgx"
	"github.com/openccm/openccm/internal/store"
	"github.com/openccm/openccm/internal/valid"
	"github.com/openccm/openccm/pkg/apiv1"
)

// Limits of the API contract.
const (
	MaxSigstructBase64     = 4096
	MaxMeasurementJSONSize = 64 << 10
)

// present lists the request fields that are set, by JSON name.
func present(r apiv1.CreateImageRequest) []string {
	set := map[string]bool{
		"version": r.Version != "", "platform": r.Platform != "",
		"sigstruct": r.Sigstruct != "", "mrenclave": r.MREnclave != "", "mrsigner": r.MRSigner != "",
		"isvprodid": r.ISVProdID != nil, "isvsvn": r.ISVSVN != nil,
		"measurement_json": r.MeasurementJSON != "", "pcr0": r.PCR0 != "", "pcr1": r.PCR1 != "", "pcr2": r.PCR2 != "",
		"input_tag": r.InputTag != "", "output_tag": r.OutputTag != "",
		"input_registry_id": r.InputRegistryID != nil, "output_registry_id": r.OutputRegistryID != nil,
		"output_credentials": r.OutputCredentials != nil, "use_input_credentials_for_output": r.UseInputCredentialsForOutput,
		"memory_mib": r.MemoryMiB != nil, "file_persistence": r.FilePersistence != nil, "cpu_count": r.CPUCount != nil,
		"tag": r.Tag != "", "registry_id": r.RegistryID != nil, "credentials": r.Credentials != nil,
		"wait_for_node_registration": r.WaitForNodeRegistration != nil, "memory_gb": r.MemoryGB != nil,
		"measurement": r.Measurement != "", "vmpl": r.VMPL != nil, "gpu": r.GPU != "", "pcrs": r.PCRs != nil,
	}
	var out []string
	for k, v := range set {
		if v {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

// onlyFields rejects any set field not in allowed.
func onlyFields(r apiv1.CreateImageRequest, what string, allowed ...string) error {
	ok := map[string]bool{}
	for _, a := range allowed {
		ok[a] = true
	}
	for _, f := range present(r) {
		if !ok[f] {
			return errs.Invalidf(f, "is not used by %s images; leave it out", what)
		}
	}
	return nil
}

func version(field, v string) (string, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return "", errs.Invalidf(field, "is required")
	}
	if len([]rune(v)) > 128 || strings.IndexFunc(v, unicode.IsControl) >= 0 {
		return "", errs.Invalidf(field, "must be at most 128 characters without control characters")
	}
	return v, nil
}

// ociTag is the OCI distribution spec's tag grammar.
var ociTag = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$`)

func tag(field, t, def string) (string, error) {
	if t == "" {
		if def == "" {
			return "", errs.Invalidf(field, "is required")
		}
		return def, nil
	}
	if !ociTag.MatchString(t) {
		return "", errs.Invalidf(field, "is not an image tag (letters, digits, '_', '.', '-'; at most 128; not starting with '.' or '-')")
	}
	return t, nil
}

func intIn(field string, v *int, def, min, max int) (int, error) {
	if v == nil {
		return def, nil
	}
	if *v < min || *v > max {
		return 0, errs.Invalidf(field, "must be between %d and %d", min, max)
	}
	return *v, nil
}

func gpu(g string) (string, error) {
	switch g {
	case "":
		return "none", nil
	case "none", "ignored", "required":
		return g, nil
	}
	return "", errs.Invalidf("gpu", "must be none, ignored or required")
}

func (s *Service) edp(img *store.Image, r apiv1.CreateImageRequest) error {
	v, err := version("version", r.Version)
	if err != nil {
		return err
	}
	img.Version = v
	switch r.Platform {
	case "sgx":
		img.Platform = "sgx"
		if err := onlyFields(r, "edp sgx", "version", "platform", "sigstruct", "mrenclave", "mrsigner", "isvprodid", "isvsvn"); err != nil {
			return err
		}
		m, err := sgxMeasurements(r)
		if err != nil {
			return err
		}
		img.Measurements = m
		img.MeasurementKey = "sgx:" + m.MREnclave
	case "nitro":
		img.Platform = "nitro"
		if err := onlyFields(r, "edp nitro", "version", "platform", "measurement_json", "pcr0", "pcr1", "pcr2"); err != nil {
			return err
		}
		m, err := nitroMeasurements(r)
		if err != nil {
			return err
		}
		img.Measurements = m
		img.MeasurementKey = nitroKey(m)
	case "":
		return errs.Invalidf("platform", "is required for edp images: sgx or nitro")
	default:
		return errs.Invalidf("platform", "must be sgx or nitro")
	}
	return nil
}

func nitroKey(m store.Measurements) string { return "nitro:" + m.PCR0 + ":" + m.PCR1 + ":" + m.PCR2 }

// sgxMeasurements reads exactly one SGX input form: a SIGSTRUCT, or values.
func sgxMeasurements(r apiv1.CreateImageRequest) (store.Measurements, error) {
	byHand := r.MREnclave != "" || r.MRSigner != "" || r.ISVProdID != nil || r.ISVSVN != nil
	if r.Sigstruct != "" {
		if byHand {
			return store.Measurements{}, errs.Invalidf("sigstruct", "give either a SIGSTRUCT or mrenclave/mrsigner/isvprodid/isvsvn, not both")
		}
		ss, err := ParseSigstructBase64(r.Sigstruct)
		if err != nil {
			return store.Measurements{}, err
		}
		return sigstructMeasurements(ss), nil
	}
	if !byHand {
		return store.Measurements{}, errs.Invalidf("sigstruct", "is required (or give mrenclave, mrsigner, isvprodid and isvsvn)")
	}
	var m store.Measurements
	var err error
	if m.MREnclave, err = valid.Hex("mrenclave", r.MREnclave, 32); err != nil {
		return m, err
	}
	if m.MRSigner, err = valid.Hex("mrsigner", r.MRSigner, 32); err != nil {
		return m, err
	}
	for _, f := range []struct {
		name string
		v    *int
		dst  **int
	}{{"isvprodid", r.ISVProdID, &m.ISVProdID}, {"isvsvn", r.ISVSVN, &m.ISVSVN}} {
		if f.v == nil {
			return m, errs.Invalidf(f.name, "is required (0..65535)")
		}
		if *f.v < 0 || *f.v > 65535 {
			return m, errs.Invalidf(f.name, "must be between 0 and 65535")
		}
		v := *f.v
		*f.dst = &v
	}
	return m, nil
}

// ParseSigstructBase64 decodes, parses and verifies a base64 SIGSTRUCT.
func ParseSigstructBase64(b64 string) (*sgx.Sigstruct, error) {
	if len(b64) > MaxSigstructBase64 {
		return nil, errs.Invalidf("sigstruct", "is too long for a SIGSTRUCT (1808 bytes)")
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(b64))
	if err != nil {
		return nil, errs.Invalidf("sigstruct", "is not base64")
	}
	ss, err := sgx.ParseSigstruct(raw)
	if err != nil {
		return nil, err
	}
	if err := ss.Verify(); err != nil {
		return nil, err
	}
	return ss, nil
}

func sigstructMeasurements(ss *sgx.Sigstruct) store.Measurements {
	signer := ss.MRSigner()
	prod, svn, misc := int(ss.ISVProdID), int(ss.ISVSVN), int64(ss.MiscSelect)
	return store.Measurements{
		MREnclave: fmt.Sprintf("%x", ss.MREnclave[:]), MRSigner: fmt.Sprintf("%x", signer[:]),
		ISVProdID: &prod, ISVSVN: &svn, Attributes: fmt.Sprintf("%x", ss.Attributes[:]), MiscSelect: &misc,
	}
}

// SigstructInfo describes a verified SIGSTRUCT for the auto-fill helper.
func SigstructInfo(ss *sgx.Sigstruct) apiv1.SigstructInfo {
	m := sigstructMeasurements(ss)
	date := ""
	if !ss.Date.IsZero() {
		date = ss.Date.Format("2006-01-02")
	}
	return apiv1.SigstructInfo{MREnclave: m.MREnclave, MRSigner: m.MRSigner, ISVProdID: *m.ISVProdID, ISVSVN: *m.ISVSVN,
		Attributes: m.Attributes, MiscSelect: *m.MiscSelect, Date: date, Vendor: int64(ss.Vendor), Debug: ss.Debug}
}

// nitroMeasurements reads exactly one Nitro input form.
func nitroMeasurements(r apiv1.CreateImageRequest) (store.Measurements, error) {
	byHand := r.PCR0 != "" || r.PCR1 != "" || r.PCR2 != ""
	var m store.Measurements
	if r.MeasurementJSON != "" {
		if byHand {
			return m, errs.Invalidf("measurement_json", "give either measurement_json or pcr0/pcr1/pcr2, not both")
		}
		if len(r.MeasurementJSON) > MaxMeasurementJSONSize {
			return m, errs.Invalidf("measurement_json", "is longer than %d bytes", MaxMeasurementJSONSize)
		}
		nm, err := nitro.ParseMeasurements(r.MeasurementJSON)
		if err != nil {
			return m, err
		}
		m.PCR0, m.PCR1, m.PCR2 = nm.PCR0, nm.PCR1, nm.PCR2
		return m, nil
	}
	if !byHand {
		return m, errs.Invalidf("measurement_json", "is required (or give pcr0, pcr1 and pcr2)")
	}
	var err error
	if m.PCR0, err = valid.Hex("pcr0", r.PCR0, 48); err != nil {
		return m, err
	}
	if m.PCR1, err = valid.Hex("pcr1", r.PCR1, 48); err != nil {
		return m, err
	}
	if m.PCR2, err = valid.Hex("pcr2", r.PCR2, 48); err != nil {
		return m, err
	}
	zero := strings.Repeat("0", 96)
	for i, p := range []string{m.PCR0, m.PCR1, m.PCR2} {
		if p == zero {
			// A debug-mode enclave reports all-zero PCRs: approving them would approve every debug enclave.
			return m, errs.Invalidf(fmt.Sprintf("pcr%d", i), "is all zeros, which is what a debug-mode enclave reports; give the release build's PCRs")
		}
	}
	return m, nil
}

func (s *Service) registryIn(ctx context.Context, accountID, field string, id *string) (string, error) {
	if id == nil {
		return "", nil
	}
	if !ids.Valid(*id) {
		return "", errs.Invalidf(field, "is not a saved registry of this account")
	}
	if _, err := s.st.GetRegistry(ctx, accountID, *id); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return "", errs.Invalidf(field, "is not a saved registry of this account")
		}
		return "", err
	}
	return *id, nil
}

func checkCredentials(field string, c *apiv1.RegistryCredentials) error {
	if c == nil {
		return nil
	}
	if c.Username == "" {
		return errs.Invalidf(field+".username", "is required")
	}
	if c.Password == "" {
		return errs.Invalidf(field+".password", "is required")
	}
	if len(c.Username) > 256 || strings.ContainsAny(c.Username, "\x00\r\n") {
		return errs.Invalidf(field+".username", "must be at most 256 characters on one line")
	}
	if len(c.Password) > 4096 || strings.ContainsRune(c.Password, 0) {
		return errs.Invalidf(field+".password", "must be at most 4096 bytes")
	}
	return nil
}

func (s *Service) enclaveOS(ctx context.Context, app *store.App, img *store.Image, r apiv1.CreateImageRequest) (*apiv1.RegistryCredentials, error) {
	if err := onlyFields(r, "enclave_os", "platform", "input_tag", "output_tag", "input_registry_id", "output_registry_id",
		"output_credentials", "use_input_credentials_for_output", "memory_mib", "cpu_count", "file_persistence"); err != nil {
		return nil, err
	}
	switch r.Platform {
	case "", "nitro":
		img.Platform = "nitro"
	default:
		return nil, errs.Invalidf("platform", "must be nitro (the only Enclave OS platform today)")
	}
	st := &img.Settings
	var err error
	if st.InputTag, err = tag("input_tag", r.InputTag, "latest"); err != nil {
		return nil, err
	}
	if st.OutputTag, err = tag("output_tag", r.OutputTag, "latest"); err != nil {
		return nil, err
	}
	img.Version = st.OutputTag
	if st.MemoryMiB, err = intIn("memory_mib", r.MemoryMiB, 2048, 64, 1048576); err != nil {
		return nil, err
	}
	if st.MemoryMiB%2 != 0 {
		return nil, errs.Invalidf("memory_mib", "must be a multiple of 2")
	}
	if st.CPUCount, err = intIn("cpu_count", r.CPUCount, 2, 1, 256); err != nil {
		return nil, err
	}
	fp := true
	if r.FilePersistence != nil {
		fp = *r.FilePersistence
	}
	if fp && !app.Certificate.Enabled {
		return nil, errs.Invalidf("file_persistence", "needs the app's certificate.enabled: the enclave unlocks its volume key with its certificate")
	}
	st.FilePersistence = &fp
	if st.InputRegistryID, err = s.registryIn(ctx, img.AccountID, "input_registry_id", r.InputRegistryID); err != nil {
		return nil, err
	}
	if st.OutputRegistryID, err = s.registryIn(ctx, img.AccountID, "output_registry_id", r.OutputRegistryID); err != nil {
		return nil, err
	}
	if err := checkCredentials("output_credentials", r.OutputCredentials); err != nil {
		return nil, err
	}
	forms := 0
	for _, b := range []bool{r.OutputRegistryID != nil, r.OutputCredentials != nil, r.UseInputCredentialsForOutput} {
		if b {
			forms++
		}
	}
	if forms > 1 {
		return nil, errs.Invalidf("output_registry_id", "give one of output_registry_id, output_credentials or use_input_credentials_for_output")
	}
	if r.UseInputCredentialsForOutput {
		if r.InputRegistryID == nil {
			return nil, errs.Invalidf("input_registry_id", "is required with use_input_credentials_for_output")
		}
		st.UseInputCredentialsForOutput = true
	}
	if forms == 0 {
		// A saved registry matching the output image's host is used (the UI pre-ticks it).
		reg, err := s.regs.Match(ctx, img.AccountID, app.OutputImageName)
		if err != nil {
			if errs.Is(errs.NotFound, err) {
				return nil, errs.Invalidf("output_registry_id", "output registry credentials are required: give output_registry_id, output_credentials or use_input_credentials_for_output (no saved registry matches %s)", app.OutputImageName)
			}
			return nil, err
		}
		st.OutputRegistryID = reg.ID
	}
	img.Status = store.ImagePending
	img.Measurements = store.Measurements{}
	return r.OutputCredentials, nil
}

func (s *Service) aci(ctx context.Context, app *store.App, img *store.Image, r apiv1.CreateImageRequest) (*apiv1.RegistryCredentials, error) {
	if err := onlyFields(r, "aci", "platform", "tag", "registry_id", "credentials", "wait_for_node_registration", "cpu_count", "memory_gb"); err != nil {
		return nil, err
	}
	if r.Platform != "" && r.Platform != "aci" {
		return nil, errs.Invalidf("platform", "must be aci (or left out)")
	}
	img.Platform = "aci"
	st := &img.Settings
	var err error
	if st.Tag, err = tag("tag", r.Tag, ""); err != nil {
		return nil, err
	}
	img.Version = st.Tag
	if r.RegistryID != nil && r.Credentials != nil {
		return nil, errs.Invalidf("credentials", "give registry_id or credentials, not both")
	}
	if st.RegistryID, err = s.registryIn(ctx, img.AccountID, "registry_id", r.RegistryID); err != nil {
		return nil, err
	}
	if err := checkCredentials("credentials", r.Credentials); err != nil {
		return nil, err
	}
	if (r.RegistryID != nil || r.Credentials != nil) && !hasRegistryHost(app.InputImageName) {
		return nil, errs.Invalidf("input_image_name", "must start with a registry host (docker.io/…, myreg.azurecr.io/…) when credentials are given; update the app's input_image_name")
	}
	w := true
	if r.WaitForNodeRegistration != nil {
		w = *r.WaitForNodeRegistration
	}
	st.WaitForNodeRegistration = &w
	if st.CPUCount, err = intIn("cpu_count", r.CPUCount, 1, 1, 64); err != nil {
		return nil, err
	}
	st.MemoryGB = 1
	if r.MemoryGB != nil {
		if *r.MemoryGB <= 0 || *r.MemoryGB > 256 {
			return nil, errs.Invalidf("memory_gb", "must be more than 0 and at most 256")
		}
		st.MemoryGB = *r.MemoryGB
	}
	img.Status = store.ImagePending
	return r.Credentials, nil
}

// hasRegistryHost reports whether an image name starts with a registry
// host: a first component with a '.' or ':', or localhost.
func hasRegistryHost(name string) bool {
	first, _, ok := strings.Cut(name, "/")
	return ok && (strings.ContainsAny(first, ".:") || first == "localhost")
}

func sevSNP(img *store.Image, r apiv1.CreateImageRequest) error {
	if err := onlyFields(r, "sev_snp", "version", "platform", "measurement", "vmpl", "gpu"); err != nil {
		return err
	}
	if r.Platform != "" && r.Platform != "sev_snp" {
		return errs.Invalidf("platform", "must be sev_snp (or left out)")
	}
	img.Platform = "sev_snp"
	var err error
	if img.Version, err = version("version", r.Version); err != nil {
		return err
	}
	var m store.Measurements
	if m.Measurement, err = valid.Hex("measurement", r.Measurement, 48); err != nil {
		return err
	}
	vmpl, err := intIn("vmpl", r.VMPL, 0, 0, 3)
	if err != nil {
		return err
	}
	m.VMPL = &vmpl
	img.Measurements = m
	img.MeasurementKey = fmt.Sprintf("sev_snp:%s:%d", m.Measurement, vmpl)
	img.Settings.GPU, err = gpu(r.GPU)
	return err
}

func azureCVM(img *store.Image, r apiv1.CreateImageRequest) error {
	if err := onlyFields(r, "azure_cvm", "version", "platform", "pcrs", "gpu"); err != nil {
		return err
	}
	if r.Platform != "" && r.Platform != "azure_cvm" {
		return errs.Invalidf("platform", "must be azure_cvm (or left out)")
	}
	img.Platform = "azure_cvm"
	var err error
	if img.Version, err = version("version", r.Version); err != nil {
		return err
	}
	pcrs, err := ParsePCRs("pcrs", r.PCRs)
	if err != nil {
		return err
	}
	img.Measurements = store.Measurements{PCRs: pcrs}
	img.MeasurementKey = AzureCVMKey(pcrs)
	img.Settings.GPU, err = gpu(r.GPU)
	return err
}

// ParsePCRs reads {"pcr0": hex, …, "pcr22": hex} (SHA-256 values).
func ParsePCRs(field string, in map[string]string) (map[int]string, error) {
	out := make(map[int]string, len(in))
	keys := make([]string, 0, len(in))
	for k := range in {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		i, ok := pcrIndex(k)
		if !ok {
			return nil, errs.Invalidf(field+"."+k, "is not a PCR: use pcr0 .. pcr22")
		}
		h, err := valid.Hex(field+"."+k, in[k], 32)
		if err != nil {
			return nil, err
		}
		out[i] = h
	}
	return out, nil
}

func pcrIndex(k string) (int, bool) {
	n, ok := strings.CutPrefix(k, "pcr")
	if !ok || n == "" || (len(n) > 1 && n[0] == '0') {
		return 0, false
	}
	i, err := strconv.Atoi(n)
	if err != nil || i < 0 || i > 22 {
		return 0, false
	}
	return i, true
}

// AzureCVMKey is the uniqueness key of an exact PCR combination.
func AzureCVMKey(pcrs map[int]string) string {
	idx := make([]int, 0, len(pcrs))
	for i := range pcrs {
		idx = append(idx, i)
	}
	sort.Ints(idx)
	var b strings.Builder
	b.WriteString("azure_cvm:")
	for n, i := range idx {
		if n > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "%d=%s", i, pcrs[i])
	}
	return b.String()
}
