package webui

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/openccm/openccm/internal/account"
	"github.com/openccm/openccm/internal/app"
	"github.com/openccm/openccm/internal/store"
)

func accountPatchNone() account.Patch { return account.Patch{} }

// appTypes are the application types as the console names them.
var appTypes = []struct{ Value, Label, Help string }{
	{"enclave_os", "Enclave OS", "Convert a container image to run in AWS Nitro Enclaves"},
	{"edp", "EDP", "A pre-built Intel SGX or AWS Nitro enclave"},
	{"aci", "Azure Confidential Containers", "A confidential container group on Azure Container Instances"},
	{"sev_snp", "AMD SEV-SNP", "A confidential VM on AMD SEV-SNP"},
	{"azure_cvm", "Azure Confidential VM", "An Azure confidential VM, identified by its vTPM PCRs"},
}

func (u *UI) newAppPage(w http.ResponseWriter, r *http.Request, s *session) error {
	p := u.base(s, "Add application", "apps")
	p.Form.Set("type", r.URL.Query().Get("type"))
	p.Form.Set("validity_days", "30")
	p.Form.Set("certificate_enabled", "on")
	p.Data = appTypes
	u.render(w, r, http.StatusOK, "app_new", p)
	return nil
}

// splitList reads a comma- or newline-separated list.
func splitList(s string) []string {
	out := []string{}
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == '\n' || r == '\r' || r == ' ' }) {
		out = append(out, f)
	}
	return out
}

func (u *UI) createApp(w http.ResponseWriter, r *http.Request, s *session) error {
	f := r.PostForm
	name, typ, desc := f.Get("name"), f.Get("type"), f.Get("description")
	in, out := f.Get("input_image_name"), f.Get("output_image_name")
	domains := splitList(f.Get("domains"))
	enabled := f.Get("certificate_enabled") == "on"
	in2 := app.Input{Name: &name, Type: &typ, Description: &desc, Domains: &domains, InputImageName: &in, OutputImageName: &out,
		Certificate: &app.CertificatePatch{Enabled: &enabled}}
	if v := f.Get("validity_days"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			n = -1
		}
		in2.Certificate.ValidityDays = &n
	}
	a, err := u.svc.Apps.Create(r.Context(), s.account.ID, s.p.UserID, in2)
	if err != nil {
		if field, msg, ok := fieldErr(err); ok {
			p := u.base(s, "Add application", "apps")
			if field == "" {
				field = "name"
			}
			p.Errors[field] = msg
			p.Form = f
			p.Data = appTypes
			u.render(w, r, http.StatusBadRequest, "app_new", p)
			return nil
		}
		return err
	}
	http.Redirect(w, r, "/apps/"+a.ID, http.StatusSeeOther)
	return nil
}

// appData is an application's page.
type appData struct {
	App    *store.App
	Images []*store.Image
	Tab    string
	Label  string
}

func typeLabel(t store.AppType) string {
	for _, at := range appTypes {
		if at.Value == string(t) {
			return at.Label
		}
	}
	return string(t)
}

func (u *UI) appPage(w http.ResponseWriter, r *http.Request, s *session) error {
	a, err := u.svc.Apps.Get(r.Context(), s.account.ID, r.PathValue("app_id"))
	if err != nil {
		return err
	}
	imgs, _, err := u.svc.Images.List(r.Context(), s.account.ID, store.ImageFilter{AppID: a.ID}, store.Page{Limit: store.MaxPageLimit})
	if err != nil {
		return err
	}
	p := u.base(s, a.Name, "apps")
	p.Flash = r.URL.Query().Get("flash")
	p.Data = appData{App: a, Images: imgs, Tab: "images", Label: typeLabel(a.Type)}
	u.render(w, r, http.StatusOK, "app", p)
	return nil
}
