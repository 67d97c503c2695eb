package cli

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/openccm/openccm/pkg/apiv1"
	"github.com/openccm/openccm/pkg/client"
)

const appTypesHelp = "enclave_os, edp, aci, sev_snp or azure_cvm"

func newAppCmd(flags *clientFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "app",
		Aliases: []string{"apps"},
		Short:   "Manage applications",
	}
	cmd.AddCommand(
		newAppCreateCmd(flags),
		newAppListCmd(flags),
		newAppShowCmd(flags),
		newAppUpdateCmd(flags),
		newAppRmCmd(flags),
	)
	return cmd
}

// appFlags are the settings of an app that create and update share.
type appFlags struct {
	name, typ, description  string
	domains                 []string
	inputImage, outputImage string
	certValidityDays        int
	noCertificate           bool
	certKeyPath, certPath   string
	labels                  []string
}

func (f *appFlags) register(cmd *cobra.Command, update bool) {
	fl := cmd.Flags()
	fl.StringVar(&f.typ, "type", "", "app type: "+appTypesHelp)
	fl.StringVar(&f.description, "description", "", "description")
	fl.StringSliceVar(&f.domains, "domain", nil, "DNS name of the app's certificates (repeatable; wildcards *.x.y allowed)")
	fl.StringVar(&f.inputImage, "input-image", "", "input image repository, without tag (enclave_os, aci)")
	fl.StringVar(&f.outputImage, "output-image", "", "output image repository, without tag (enclave_os)")
	fl.IntVar(&f.certValidityDays, "cert-validity-days", 0, "validity of issued certificates, 1..825 days (server default: 30)")
	fl.BoolVar(&f.noCertificate, "no-certificate", false, "do not issue certificates to attested instances")
	fl.StringVar(&f.certKeyPath, "cert-key-path", "", "where the instance keeps its certificate's key")
	fl.StringVar(&f.certPath, "cert-path", "", "where the instance keeps its certificate")
	fl.StringArrayVar(&f.labels, "label", nil, "label KEY=VALUE (repeatable)")
	if update {
		fl.StringVar(&f.name, "name", "", "new name")
		// The type cannot change; the flag exists so that the server says so.
		_ = fl.MarkHidden("type")
		fl.Lookup("domain").Usage += `; replaces all domains, --domain "" removes them`
		fl.Lookup("label").Usage += `; replaces all labels, --label "" removes them`
		fl.Lookup("no-certificate").Usage += "; --no-certificate=false issues them again"
	}
}

// certificate returns the certificate settings the user set, or nil.
func (f *appFlags) certificate(cmd *cobra.Command) *apiv1.CertificateSettingsPatch {
	fl := cmd.Flags()
	if countChanged(cmd, "no-certificate", "cert-validity-days", "cert-key-path", "cert-path") == 0 {
		return nil
	}
	var c apiv1.CertificateSettingsPatch
	if fl.Changed("no-certificate") {
		enabled := !f.noCertificate
		c.Enabled = &enabled
	}
	if fl.Changed("cert-validity-days") {
		c.ValidityDays = &f.certValidityDays
	}
	if fl.Changed("cert-key-path") {
		c.KeyPath = &f.certKeyPath
	}
	if fl.Changed("cert-path") {
		c.CertPath = &f.certPath
	}
	return &c
}

// labelMap parses KEY=VALUE labels; empty entries are skipped.
func (f *appFlags) labelMap() (map[string]string, error) {
	m := map[string]string{}
	for _, l := range f.labels {
		if l == "" {
			continue
		}
		k, v, ok := strings.Cut(l, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("--label %q: want KEY=VALUE", l)
		}
		if _, dup := m[k]; dup {
			return nil, fmt.Errorf("--label: key %q given twice", k)
		}
		m[k] = v
	}
	return m, nil
}

// domainList is the domains the user gave, without empty entries.
func (f *appFlags) domainList() []string {
	d := []string{}
	for _, s := range f.domains {
		if s = strings.TrimSpace(s); s != "" {
			d = append(d, s)
		}
	}
	return d
}

func newAppCreateCmd(flags *clientFlags) *cobra.Command {
	var af appFlags
	cmd := &cobra.Command{
		Use:   "create NAME --type TYPE",
		Short: "Create an application",
		Long: `Create an application.

Domains need approval: creating an app with domains starts a domain approval task.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			labels, err := af.labelMap()
			if err != nil {
				return err
			}
			req := apiv1.CreateAppRequest{
				Name:            args[0],
				Type:            af.typ,
				Description:     af.description,
				Domains:         af.domainList(),
				InputImageName:  af.inputImage,
				OutputImageName: af.outputImage,
				Certificate:     af.certificate(cmd),
			}
			if len(labels) > 0 {
				req.Labels = labels
			}
			s, accountID, err := openAccount(cmd, flags)
			if err != nil {
				return err
			}
			a, err := s.api.CreateApp(cmd.Context(), accountID, req)
			if err != nil {
				return err
			}
			return writeApp(cmd, flags, a)
		},
	}
	af.register(cmd, false)
	_ = cmd.MarkFlagRequired("type")
	return cmd
}

func newAppListCmd(flags *clientFlags) *cobra.Command {
	var typ string
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List the applications",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, accountID, err := openAccount(cmd, flags)
			if err != nil {
				return err
			}
			all, err := listApps(cmd.Context(), s.api, accountID, typ)
			if err != nil {
				return err
			}
			return writeList(cmd.OutOrStdout(), flags.output, all,
				[]string{"NAME", "ID", "TYPE", "DOMAINS", "CREATED"},
				func(a apiv1.App) []string {
					return []string{a.Name, a.AppID, a.Type, fmtList(a.Domains), fmtTime(a.CreatedAt)}
				})
		},
	}
	cmd.Flags().StringVar(&typ, "type", "", "only apps of this type: "+appTypesHelp)
	return cmd
}

func newAppShowCmd(flags *clientFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "show NAME|ID",
		Short: "Show an application",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, accountID, err := openAccount(cmd, flags)
			if err != nil {
				return err
			}
			id, err := appID(cmd.Context(), s.api, accountID, args[0])
			if err != nil {
				return err
			}
			a, err := s.api.GetApp(cmd.Context(), accountID, id)
			if err != nil {
				return err
			}
			return writeApp(cmd, flags, a)
		},
	}
}

func newAppUpdateCmd(flags *clientFlags) *cobra.Command {
	var af appFlags
	cmd := &cobra.Command{
		Use:   "update NAME|ID",
		Short: "Change an application; only the flags you give are changed",
		Long: `Change an application; only the flags you give are changed.

Changing the domains starts a domain approval task; while it is pending,
another domain change is refused.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			req, err := af.updateRequest(cmd)
			if err != nil {
				return err
			}
			s, accountID, err := openAccount(cmd, flags)
			if err != nil {
				return err
			}
			id, err := appID(cmd.Context(), s.api, accountID, args[0])
			if err != nil {
				return err
			}
			a, err := s.api.UpdateApp(cmd.Context(), accountID, id, req)
			if err != nil {
				return err
			}
			return writeApp(cmd, flags, a)
		},
	}
	af.register(cmd, true)
	return cmd
}

// updateRequest holds exactly the settings whose flags the user gave.
func (f *appFlags) updateRequest(cmd *cobra.Command) (apiv1.UpdateAppRequest, error) {
	var req apiv1.UpdateAppRequest
	fl := cmd.Flags()
	str := func(name string, v *string) *string {
		if fl.Changed(name) {
			return v
		}
		return nil
	}
	req.Name = str("name", &f.name)
	req.Type = str("type", &f.typ)
	req.Description = str("description", &f.description)
	req.InputImageName = str("input-image", &f.inputImage)
	req.OutputImageName = str("output-image", &f.outputImage)
	if fl.Changed("domain") {
		d := f.domainList()
		req.Domains = &d
	}
	if fl.Changed("label") {
		m, err := f.labelMap()
		if err != nil {
			return req, err
		}
		req.Labels = &m
	}
	req.Certificate = f.certificate(cmd)
	if req == (apiv1.UpdateAppRequest{}) {
		return req, fmt.Errorf("nothing to change: give at least one setting (see `ccm app update --help`)")
	}
	return req, nil
}

func newAppRmCmd(flags *clientFlags) *cobra.Command {
	var cascade bool
	cmd := &cobra.Command{
		Use:     "rm NAME|ID",
		Aliases: []string{"delete"},
		Short:   "Delete an application",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, accountID, err := openAccount(cmd, flags)
			if err != nil {
				return err
			}
			id, err := appID(cmd.Context(), s.api, accountID, args[0])
			if err != nil {
				return err
			}
			if err := s.api.DeleteApp(cmd.Context(), accountID, id, cascade); err != nil {
				if client.HasCode(err, apiv1.CodeConflict) && !cascade {
					return fmt.Errorf("%w\nto delete the app with its images, add --cascade", err)
				}
				return err
			}
			done(cmd, flags, "Deleted app %s.", args[0])
			return nil
		},
	}
	cmd.Flags().BoolVar(&cascade, "cascade", false, "also delete the app's images")
	return cmd
}

// appID resolves an app name or ID.
func appID(ctx context.Context, api *client.Client, accountID, ref string) (string, error) {
	if isUUID(ref) {
		return ref, nil
	}
	all, err := listApps(ctx, api, accountID, "")
	if err != nil {
		return "", err
	}
	a, err := findByName(all, ref, "app", func(a apiv1.App) string { return a.Name })
	if err != nil {
		return "", err
	}
	return a.AppID, nil
}

func listApps(ctx context.Context, api *client.Client, accountID, typ string) ([]apiv1.App, error) {
	return client.ListAll(ctx, func(ctx context.Context, o client.ListOptions) (*apiv1.List[apiv1.App], error) {
		return api.ListApps(ctx, accountID, typ, o)
	})
}

func writeApp(cmd *cobra.Command, flags *clientFlags, a *apiv1.App) error {
	cert := "disabled"
	if a.Certificate.Enabled {
		cert = "enabled, valid " + strconv.Itoa(a.Certificate.ValidityDays) + " days"
	}
	var labels []string
	for _, k := range slices.Sorted(maps.Keys(a.Labels)) {
		labels = append(labels, k+"="+a.Labels[k])
	}
	return writeObject(cmd.OutOrStdout(), flags.output, a, []field{
		{"ID", a.AppID},
		{"Name", a.Name},
		{"Type", a.Type},
		{"Description", a.Description},
		{"Domains", fmtList(a.Domains)},
		{"Approved domains", fmtList(a.ApprovedDomains)},
		{"Pending domain task", a.PendingDomainTaskID},
		{"Input image", a.InputImageName},
		{"Output image", a.OutputImageName},
		{"Certificate", cert},
		{"Certificate key path", a.Certificate.KeyPath},
		{"Certificate path", a.Certificate.CertPath},
		{"Labels", fmtList(labels)},
		{"Created", fmtTime(a.CreatedAt)},
		{"Updated", fmtTime(a.UpdatedAt)},
	})
}
