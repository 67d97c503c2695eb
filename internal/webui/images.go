package webui

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"github.com/openccm/openccm/internal/errs"
	"github.com/openccm/openccm/internal/image"
	"github.com/openccm/openccm/internal/platform/nitro"
	"github.com/openccm/openccm/internal/store"
	"github.com/openccm/openccm/pkg/apiv1"
)

// imageRoutes registers the image pages.
func (u *UI) imageRoutes(m *http.ServeMux) {
	m.Handle("GET /apps/{app_id}/images/new", u.authed(true, u.newImagePage))
	m.Handle("POST /apps/{app_id}/images", u.authed(true, u.createImage))
	m.Handle("POST /tools/sigstruct", u.authed(true, u.toolSigstruct))
	m.Handle("POST /tools/nitro-measurements", u.authed(true, u.toolNitroMeasurements))
	m.Handle("GET /images", u.authed(true, u.imagesPage))
	m.Handle("GET /images/{image_id}", u.authed(true, u.imagePage))
	m.Handle("GET /images/{image_id}/policy-view", u.authed(true, u.imagePolicyPage))
	m.Handle("GET /images/{image_id}/policy.json", u.authed(true, u.imagePolicyDownload))
	m.Handle("POST /images/{image_id}/delete", u.authed(true, u.deleteImage))
}

// needWriter refuses a change to a reader, as the API's role policy does.
func needWriter(s *session) error { return need(s, store.RoleWriter) }

// Upload limits of the auto-fill helpers and the form's files.
const (
	maxSigstructFile   = 4096
	maxMeasurementFile = image.MaxMeasurementJSONSize
)

// memorySizes are the Enclave OS memory choices, in MiB.
var memorySizes = []int{256, 512, 1024, 2048, 4096, 8192, 16384}

// newImageData is the Add Image page.
type newImageData struct {
	App         *store.App
	Label       string
	Registries  []*store.Registry
	MemorySizes []int
	PCRs        []int
}

func (u *UI) newImageData(r *http.Request, s *session, a *store.App) (newImageData, error) {
	regs, _, err := u.svc.Registries.List(r.Context(), s.account.ID, store.Page{Limit: store.MaxPageLimit})
	if err != nil {
		return newImageData{}, err
	}
	return newImageData{App: a, Label: typeLabel(a.Type), Registries: regs, MemorySizes: memorySizes, PCRs: seqInts(23)}, nil
}

func seqInts(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i
	}
	return out
}

// matchRegistry returns the ID of the saved registry for an image's host, or "".
func (u *UI) matchRegistry(r *http.Request, s *session, imageName string) string {
	if imageName == "" {
		return ""
	}
	reg, err := u.svc.Registries.Match(r.Context(), s.account.ID, imageName)
	if err != nil {
		return ""
	}
	return reg.ID
}

func (u *UI) newImagePage(w http.ResponseWriter, r *http.Request, s *session) error {
	if err := needWriter(s); err != nil {
		return err
	}
	a, err := u.svc.Apps.Get(r.Context(), s.account.ID, r.PathValue("app_id"))
	if err != nil {
		return err
	}
	d, err := u.newImageData(r, s, a)
	if err != nil {
		return err
	}
	p := u.base(s, "Add image · "+a.Name, "apps")
	f := p.Form
	switch a.Type {
	case store.AppEnclaveOS:
		f.Set("platform", "nitro")
		f.Set("input_tag", "latest")
		f.Set("output_tag", "latest")
		f.Set("output_registry_id", u.matchRegistry(r, s, a.OutputImageName))
		f.Set("input_registry_id", u.matchRegistry(r, s, a.InputImageName))
		f.Set("memory_mib", "2048")
		f.Set("cpu_count", "2")
		if a.Certificate.Enabled {
			f.Set("file_persistence", "on")
		}
	case store.AppEDP:
		f.Set("platform", "sgx")
	case store.AppACI:
		if id := u.matchRegistry(r, s, a.InputImageName); id != "" {
			f.Set("registry_id", id)
			f.Set("use_saved", "on")
		}
		f.Set("wait_for_node_registration", "on")
		f.Set("cpu_count", "1")
		f.Set("memory_gb", "1")
	case store.AppSEVSNP:
		f.Set("vmpl", "0")
		f.Set("gpu", "none")
	case store.AppAzureCVM:
		f.Set("gpu", "none")
	}
	p.Data = d
	u.render(w, r, http.StatusOK, "image_new", p)
	return nil
}

// formReader reads typed form values, collecting the errors of values
// that are not numbers.
type formReader struct {
	f    url.Values
	errs map[string]string
}

func (fr *formReader) str(name string) string { return strings.TrimSpace(fr.f.Get(name)) }

func (fr *formReader) on(name string) bool { return fr.f.Get(name) == "on" }

func (fr *formReader) int(name string) *int {
	v := fr.str(name)
	if v == "" {
		return nil
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		fr.errs[name] = "must be a whole number"
		return nil
	}
	return &n
}

func (fr *formReader) float(name string) *float64 {
	v := fr.str(name)
	if v == "" {
		return nil
	}
	n, err := strconv.ParseFloat(v, 64)
	if err != nil {
		fr.errs[name] = "must be a number"
		return nil
	}
	return &n
}

func (fr *formReader) optID(name string) *string {
	if v := fr.str(name); v != "" {
		return &v
	}
	return nil
}

func (fr *formReader) creds(prefix string) *apiv1.RegistryCredentials {
	user, pw := fr.str(prefix+".username"), fr.f.Get(prefix+".password")
	if user == "" && pw == "" {
		return nil
	}
	return &apiv1.RegistryCredentials{Username: user, Password: pw}
}

// uploaded reads a file of the multipart form, or "" when none was sent.
func uploaded(r *http.Request, name string, limit int64) (string, error) {
	if r.MultipartForm == nil || len(r.MultipartForm.File[name]) == 0 {
		return "", nil
	}
	fh := r.MultipartForm.File[name][0]
	if fh.Size == 0 {
		return "", nil
	}
	if fh.Size > limit {
		return "", errs.Invalidf(name, "the file is %d bytes, more than the %d allowed", fh.Size, limit)
	}
	f, err := fh.Open()
	if err != nil {
		return "", errs.Wrap(errs.Invalid, err, "the file could not be read")
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, limit))
	if err != nil {
		return "", errs.Wrap(errs.Invalid, err, "the file could not be read")
	}
	return string(b), nil
}

// imageRequest builds the API request from the Add Image form; form errors
// that need no service (a file too big, a number that is not one) are in fr.errs.
func imageRequest(r *http.Request, t store.AppType, fr *formReader) apiv1.CreateImageRequest {
	var req apiv1.CreateImageRequest
	switch t {
	case store.AppEnclaveOS:
		req.Platform = fr.str("platform")
		req.InputTag, req.OutputTag = fr.str("input_tag"), fr.str("output_tag")
		req.InputRegistryID = fr.optID("input_registry_id")
		req.OutputRegistryID = fr.optID("output_registry_id")
		req.UseInputCredentialsForOutput = fr.on("use_input_credentials_for_output")
		if req.UseInputCredentialsForOutput {
			// The input registry's credentials are the output's: the
			// (hidden) saved-registry and password fields do not apply.
			req.OutputRegistryID = nil
		} else {
			req.OutputCredentials = fr.creds("output_credentials")
		}
		req.MemoryMiB = fr.int("memory_mib")
		req.CPUCount = fr.int("cpu_count")
		fp := fr.on("file_persistence")
		req.FilePersistence = &fp
	case store.AppEDP:
		req.Version, req.Platform = fr.str("version"), fr.str("platform")
		switch req.Platform {
		case "sgx":
			file, err := uploaded(r, "sigstruct_file", maxSigstructFile)
			switch {
			case err != nil:
				fr.errs["sigstruct"] = toolMessage(err)
			case file != "":
				req.Sigstruct = base64.StdEncoding.EncodeToString([]byte(file))
			case fr.str("sigstruct") != "":
				req.Sigstruct = fr.str("sigstruct")
			default:
				req.MREnclave, req.MRSigner = fr.str("mrenclave"), fr.str("mrsigner")
				req.ISVProdID, req.ISVSVN = fr.int("isvprodid"), fr.int("isvsvn")
			}
		case "nitro":
			file, err := uploaded(r, "measurement_file", maxMeasurementFile)
			switch {
			case err != nil:
				fr.errs["measurement_json"] = toolMessage(err)
			case file != "":
				req.MeasurementJSON = file
			case fr.str("measurement_json") != "":
				req.MeasurementJSON = fr.str("measurement_json")
			default:
				req.PCR0, req.PCR1, req.PCR2 = fr.str("pcr0"), fr.str("pcr1"), fr.str("pcr2")
			}
		}
	case store.AppACI:
		req.Tag = fr.str("tag")
		if fr.on("use_saved") {
			req.RegistryID = fr.optID("registry_id")
			if req.RegistryID == nil {
				fr.errs["registry_id"] = "choose a saved registry, or untick “Use saved credentials”"
			}
		} else {
			req.Credentials = fr.creds("credentials")
		}
		w := fr.on("wait_for_node_registration")
		req.WaitForNodeRegistration = &w
		req.CPUCount = fr.int("cpu_count")
		req.MemoryGB = fr.float("memory_gb")
	case store.AppSEVSNP:
		req.Version, req.Measurement = fr.str("version"), fr.str("measurement")
		req.VMPL = fr.int("vmpl")
		req.GPU = fr.str("gpu")
	case store.AppAzureCVM:
		req.Version = fr.str("version")
		req.GPU = fr.str("gpu")
		for i := range 23 {
			k := "pcr" + strconv.Itoa(i)
			if v := fr.str("pcrs." + k); v != "" {
				if req.PCRs == nil {
					req.PCRs = map[string]string{}
				}
				req.PCRs[k] = v
			}
		}
	}
	return req
}

// formField maps an error's field (a JSON path of the API) to the form
// input that shows it; "" for an error of the whole form.
func formField(t store.AppType, field string) string {
	switch field {
	case "output_credentials":
		return "output_credentials.username"
	case "credentials":
		return "credentials.username"
	case "input_image_name", "output_image_name":
		return ""
	case "pcr0", "pcr1", "pcr2":
		if t == store.AppEnclaveOS {
			return "" // a build's result, not an input of this form
		}
	}
	return field
}

func (u *UI) createImage(w http.ResponseWriter, r *http.Request, s *session) error {
	if err := needWriter(s); err != nil {
		return err
	}
	a, err := u.svc.Apps.Get(r.Context(), s.account.ID, r.PathValue("app_id"))
	if err != nil {
		return err
	}
	fr := &formReader{f: r.PostForm, errs: map[string]string{}}
	req := imageRequest(r, a.Type, fr)
	var field, msg string
	if len(fr.errs) == 0 {
		img, err := u.svc.Images.Create(r.Context(), s.account.ID, a.ID, s.p.UserID, req)
		if err == nil {
			flash := fmt.Sprintf("Image %s added; it waits for approval.", img.Version)
			if img.Status == store.ImagePending {
				flash = fmt.Sprintf("Image %s added; its build is queued.", img.Version)
				if a.Type == store.AppACI {
					flash = fmt.Sprintf("Image %s added; its secure policy is being generated.", img.Version)
				}
			}
			http.Redirect(w, r, "/apps/"+a.ID+"?flash="+url.QueryEscape(flash), http.StatusSeeOther)
			return nil
		}
		var ok bool
		if field, msg, ok = fieldErr(err); !ok {
			return err
		}
	}
	d, err := u.newImageData(r, s, a)
	if err != nil {
		return err
	}
	p := u.base(s, "Add image · "+a.Name, "apps")
	for k, v := range fr.errs {
		p.Errors[k] = v
	}
	if msg != "" {
		if f := formField(a.Type, field); f != "" {
			p.Errors[f] = msg
		} else {
			p.Error = strings.TrimSpace(field + " " + msg)
		}
	}
	// What was typed stays, except passwords.
	p.Form = url.Values{}
	for k, v := range r.PostForm {
		if k == "csrf" || strings.HasSuffix(k, "password") {
			continue
		}
		p.Form[k] = v
	}
	p.Data = d
	u.render(w, r, http.StatusBadRequest, "image_new", p)
	return nil
}

// renderPart writes one named template of a page: htmx fragments.
func (u *UI) renderPart(w http.ResponseWriter, page, name string, data any) error {
	var buf bytes.Buffer
	if err := u.pages[page].ExecuteTemplate(&buf, name, data); err != nil {
		return err
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(buf.Bytes())
	return nil
}

// toolSource reads what an auto-fill helper parses: the file input that
// triggered it, or the pasted text.
func toolSource(r *http.Request, fileField, textField string, limit int64) (string, bool, error) {
	if r.Header.Get("HX-Trigger-Name") != textField {
		file, err := uploaded(r, fileField, limit)
		if err != nil || file != "" {
			return file, true, err
		}
	}
	return strings.TrimSpace(r.PostFormValue(textField)), false, nil
}

// toolSigstruct parses a SIGSTRUCT (uploaded or pasted as base64) and
// returns the SGX parameter fieldset, filled, or with the error.
func (u *UI) toolSigstruct(w http.ResponseWriter, r *http.Request, s *session) error {
	p := u.base(s, "", "")
	for _, k := range []string{"mrenclave", "mrsigner", "isvprodid", "isvsvn"} {
		p.Form.Set(k, r.PostFormValue(k))
	}
	src, isFile, err := toolSource(r, "sigstruct_file", "sigstruct", maxSigstructFile)
	if err == nil && src == "" {
		err = errs.Invalidf("sigstruct", "choose a sigstruct.bin file or paste its Base64")
	}
	if err == nil {
		if isFile {
			src = base64.StdEncoding.EncodeToString([]byte(src))
		}
		ss, perr := image.ParseSigstructBase64(src)
		if perr != nil {
			err = perr
		} else {
			info := image.SigstructInfo(ss)
			p.Form.Set("mrenclave", info.MREnclave)
			p.Form.Set("mrsigner", info.MRSigner)
			p.Form.Set("isvprodid", strconv.Itoa(info.ISVProdID))
			p.Form.Set("isvsvn", strconv.Itoa(info.ISVSVN))
			p.Flash = "Filled from the SIGSTRUCT" + map[bool]string{true: " (a debug enclave)", false: ""}[info.Debug] + "."
		}
	}
	if err != nil {
		p.Errors["sigstruct"] = toolMessage(err)
	}
	return u.renderPart(w, "image_new", "sgx-params", p)
}

// toolNitroMeasurements parses nitro-cli's measurement JSON (uploaded or
// pasted) and returns the Nitro PCR fieldset, filled, or with the error.
func (u *UI) toolNitroMeasurements(w http.ResponseWriter, r *http.Request, s *session) error {
	p := u.base(s, "", "")
	for _, k := range []string{"pcr0", "pcr1", "pcr2"} {
		p.Form.Set(k, r.PostFormValue(k))
	}
	src, _, err := toolSource(r, "measurement_file", "measurement_json", maxMeasurementFile)
	if err == nil && src == "" {
		err = errs.Invalidf("measurement_json", "choose a measurement.json file or paste its text")
	}
	if err == nil {
		m, perr := nitro.ParseMeasurements(src)
		if perr != nil {
			err = perr
		} else {
			p.Form.Set("pcr0", m.PCR0)
			p.Form.Set("pcr1", m.PCR1)
			p.Form.Set("pcr2", m.PCR2)
			p.Flash = "Filled from the measurement JSON."
		}
	}
	if err != nil {
		p.Errors["measurement_json"] = toolMessage(err)
	}
	return u.renderPart(w, "image_new", "nitro-params", p)
}

// toolMessage is an auto-fill error safe to show.
func toolMessage(err error) string {
	var e *errs.Error
	if errors.As(err, &e) && e.Kind != errs.Internal && e.Msg != "" {
		return e.Msg
	}
	return "the file could not be read"
}

// imageRow is an image in the Images list.
type imageRow struct {
	*store.Image
	AppName  string
	Progress int
}

// imagesData is the Images page.
type imagesData struct {
	Images         []imageRow
	Status         string
	ApprovalStatus string
	Type           string
	Query          string
	Busy           bool
	Types          []struct{ Value, Label, Help string }
}

func busy(st store.ImageStatus) bool { return st == store.ImagePending || st == store.ImageBuilding }

func (u *UI) imagesPage(w http.ResponseWriter, r *http.Request, s *session) error {
	q := r.URL.Query()
	d := imagesData{Status: q.Get("status"), ApprovalStatus: q.Get("approval_status"), Type: q.Get("type"), Types: appTypes}
	f := store.ImageFilter{Status: store.ImageStatus(d.Status), ApprovalStatus: store.ApprovalStatus(d.ApprovalStatus), Type: store.AppType(d.Type)}
	imgs, _, err := u.svc.Images.List(r.Context(), s.account.ID, f, store.Page{Limit: store.MaxPageLimit})
	if err != nil {
		return err
	}
	apps, _, err := u.svc.Apps.List(r.Context(), s.account.ID, "", store.Page{Limit: store.MaxPageLimit})
	if err != nil {
		return err
	}
	names := map[string]string{}
	for _, a := range apps {
		names[a.ID] = a.Name
	}
	for _, img := range imgs {
		row := imageRow{Image: img, AppName: names[img.AppID]}
		if busy(img.Status) {
			d.Busy = true
			if j, err := u.svc.Images.Build(r.Context(), s.account.ID, img.ID); err == nil {
				row.Progress = j.Progress
			}
		}
		d.Images = append(d.Images, row)
	}
	vals := url.Values{}
	for k, v := range map[string]string{"status": d.Status, "approval_status": d.ApprovalStatus, "type": d.Type} {
		if v != "" {
			vals.Set(k, v)
		}
	}
	d.Query = vals.Encode()
	p := u.base(s, "Images", "images")
	p.Flash = q.Get("flash")
	p.Data = d
	u.render(w, r, http.StatusOK, "image_list", p)
	return nil
}

// kv is a labelled value on the image page.
type kv struct {
	Label, Value string
	Mono         bool
}

// imageData is an image's page.
type imageData struct {
	Image        *store.Image
	App          *store.App
	Label        string
	Settings     []kv
	Measurements []kv
	Task         *store.Task
	Approvals    int
	Build        *store.Job
	Busy         bool
	Tab          string
	// Policy tab.
	Policy      string
	PolicyError string
}

func measurementRows(m store.Measurements) []kv {
	var out []kv
	add := func(label, v string) {
		if v != "" {
			out = append(out, kv{Label: label, Value: v, Mono: true})
		}
	}
	add("MRENCLAVE", m.MREnclave)
	add("MRSIGNER", m.MRSigner)
	if m.ISVProdID != nil {
		add("ISVPRODID", strconv.Itoa(*m.ISVProdID))
	}
	if m.ISVSVN != nil {
		add("ISVSVN", strconv.Itoa(*m.ISVSVN))
	}
	add("Attributes", m.Attributes)
	if m.MiscSelect != nil {
		add("MISCSELECT", strconv.FormatInt(*m.MiscSelect, 10))
	}
	add("PCR0", m.PCR0)
	add("PCR1", m.PCR1)
	add("PCR2", m.PCR2)
	add("Policy SHA-256 (host_data)", m.PolicySHA256)
	add("Measurement", m.Measurement)
	if m.VMPL != nil {
		add("VMPL", "VMPL"+strconv.Itoa(*m.VMPL))
	}
	idx := make([]int, 0, len(m.PCRs))
	for i := range m.PCRs {
		idx = append(idx, i)
	}
	sort.Ints(idx)
	for _, i := range idx {
		add("PCR"+strconv.Itoa(i), m.PCRs[i])
	}
	return out
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func (u *UI) settingRows(r *http.Request, s *session, img *store.Image) []kv {
	regs, _, _ := u.svc.Registries.List(r.Context(), s.account.ID, store.Page{Limit: store.MaxPageLimit})
	regName := func(id string) string {
		for _, reg := range regs {
			if reg.ID == id {
				return reg.URL + " (" + reg.Username + ")"
			}
		}
		return id
	}
	st := img.Settings
	var out []kv
	add := func(label, v string) {
		if v != "" {
			out = append(out, kv{Label: label, Value: v})
		}
	}
	switch img.Type {
	case store.AppEnclaveOS:
		add("Input tag", st.InputTag)
		add("Output tag", st.OutputTag)
		if st.InputRegistryID != "" {
			add("Input registry", regName(st.InputRegistryID))
		}
		switch {
		case st.UseInputCredentialsForOutput:
			add("Output credentials", "same as the input registry")
		case st.OutputRegistryID != "":
			add("Output registry", regName(st.OutputRegistryID))
		case st.HasInlineCredentials:
			add("Output credentials", "entered with the image (stored encrypted)")
		}
		if st.MemoryMiB != 0 {
			add("Memory", strconv.Itoa(st.MemoryMiB)+" MiB")
		}
		if st.CPUCount != 0 {
			add("CPUs", strconv.Itoa(st.CPUCount))
		}
		if st.FilePersistence != nil {
			add("File persistence", yesNo(*st.FilePersistence))
		}
		add("Output digest", img.OutputDigest)
	case store.AppACI:
		add("Tag", st.Tag)
		switch {
		case st.RegistryID != "":
			add("Registry", regName(st.RegistryID))
		case st.HasInlineCredentials:
			add("Registry credentials", "entered with the image (stored encrypted)")
		default:
			add("Registry credentials", "none (public image)")
		}
		if st.WaitForNodeRegistration != nil {
			add("Wait for node registration", yesNo(*st.WaitForNodeRegistration))
		}
		if st.CPUCount != 0 {
			add("CPUs", strconv.Itoa(st.CPUCount))
		}
		if st.MemoryGB != 0 {
			add("Memory", strconv.FormatFloat(st.MemoryGB, 'f', -1, 64)+" GB")
		}
	case store.AppSEVSNP, store.AppAzureCVM:
		add("Coprocessors (GPU)", st.GPU)
	}
	return out
}

// imageDetail gathers an image's page.
func (u *UI) imageDetail(r *http.Request, s *session, tab string) (*page, imageData, error) {
	img, err := u.svc.Images.Get(r.Context(), s.account.ID, r.PathValue("image_id"))
	if err != nil {
		return nil, imageData{}, err
	}
	a, err := u.svc.Apps.Get(r.Context(), s.account.ID, img.AppID)
	if err != nil {
		return nil, imageData{}, err
	}
	d := imageData{Image: img, App: a, Label: typeLabel(img.Type), Tab: tab, Busy: busy(img.Status),
		Measurements: measurementRows(img.Measurements), Settings: u.settingRows(r, s, img)}
	if img.TaskID != "" {
		if t, err := u.svc.Tasks.Get(r.Context(), s.account.ID, img.TaskID); err == nil {
			d.Task = t
			for _, dec := range t.Decisions {
				if dec.Decision == store.DecisionApprove {
					d.Approvals++
				}
			}
		} else if !errs.Is(errs.NotFound, err) {
			return nil, imageData{}, err
		}
	}
	if img.Type == store.AppEnclaveOS || img.Type == store.AppACI {
		if j, err := u.svc.Images.Build(r.Context(), s.account.ID, img.ID); err == nil {
			d.Build = j
		} else if !errs.Is(errs.NotFound, err) {
			return nil, imageData{}, err
		}
	}
	p := u.base(s, img.Version+" · "+a.Name, "images")
	p.Flash = r.URL.Query().Get("flash")
	return p, d, nil
}

func (u *UI) imagePage(w http.ResponseWriter, r *http.Request, s *session) error {
	p, d, err := u.imageDetail(r, s, "overview")
	if err != nil {
		return err
	}
	p.Data = d
	u.render(w, r, http.StatusOK, "image", p)
	return nil
}

func (u *UI) imagePolicyPage(w http.ResponseWriter, r *http.Request, s *session) error {
	p, d, err := u.imageDetail(r, s, "policy")
	if err != nil {
		return err
	}
	if d.Image.Type != store.AppACI {
		return errs.NotFoundf("only Azure Confidential Containers images have a confidential-computing policy")
	}
	b, _, err := u.svc.Images.Policy(r.Context(), s.account.ID, d.Image.ID, "")
	if err != nil {
		var e *errs.Error
		if !errors.As(err, &e) || e.Kind == errs.Internal {
			return err
		}
		d.PolicyError = e.Msg
	} else {
		var out bytes.Buffer
		if json.Indent(&out, b, "", "  ") == nil {
			d.Policy = out.String()
		} else {
			d.Policy = string(b)
		}
	}
	p.Data = d
	u.render(w, r, http.StatusOK, "image", p)
	return nil
}

// imagePolicyDownload streams an ACI image's ARM template (or, with
// ?format=rego, its policy) as an attachment.
func (u *UI) imagePolicyDownload(w http.ResponseWriter, r *http.Request, s *session) error {
	format := r.URL.Query().Get("format")
	b, name, err := u.svc.Images.Policy(r.Context(), s.account.ID, r.PathValue("image_id"), format)
	if err != nil {
		return err
	}
	ct := "application/json"
	if format == "rego" {
		ct = "text/plain; charset=utf-8"
	}
	w.Header().Set("Content-Type", ct)
	w.Header().Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": name}))
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
	return nil
}

func (u *UI) deleteImage(w http.ResponseWriter, r *http.Request, s *session) error {
	if err := needWriter(s); err != nil {
		return err
	}
	img, err := u.svc.Images.Get(r.Context(), s.account.ID, r.PathValue("image_id"))
	if err != nil {
		return err
	}
	if err := u.svc.Images.Delete(r.Context(), s.account.ID, img.ID); err != nil {
		return err
	}
	flash := fmt.Sprintf("Image %s deleted; nothing attests as it any more.", img.Version)
	http.Redirect(w, r, "/apps/"+img.AppID+"?flash="+url.QueryEscape(flash), http.StatusSeeOther)
	return nil
}
