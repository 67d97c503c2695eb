package cli

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/openccm/openccm/pkg/apiv1"
)

const explainPlatformsHelp = "sgx, nitro, sev_snp, aci or azure_cvm"

func newExplainCmd(flags *clientFlags) *cobra.Command {
	var (
		platform, app string
		pcrs          []string
		measurements  []string
	)
	cmd := &cobra.Command{
		Use:   "explain (--pcr N=HEX ... | --platform P --measurement KEY=VALUE ...) [--app APP]",
		Short: "Explain which image attestation would select for some measurements, and why",
		Long: `Explain which image attestation would select for some measurements, and why.
Nothing is issued. The exit status is 0 whatever the result: read the Result line.

Azure CVM (the default with --pcr): the VM's PCR values,
  ccm explain --pcr 0=HEX --pcr 7=HEX
Other platforms: the measurements attestation matches on,
  ccm explain --platform sgx --measurement mrenclave=HEX [--measurement mrsigner=HEX --measurement isvsvn=2]
  ccm explain --platform nitro --measurement pcr0=HEX --measurement pcr1=HEX --measurement pcr2=HEX
  ccm explain --platform sev_snp --measurement measurement=HEX --measurement vmpl=0
  ccm explain --platform aci --measurement host_data=HEX
Values that are whole numbers are sent as JSON numbers, others as strings.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			req := apiv1.ExplainRequest{Platform: platform}
			if req.Platform == "" {
				if len(pcrs) == 0 {
					return fmt.Errorf("give --pcr N=HEX (Azure CVM), or --platform (%s) with --measurement KEY=VALUE", explainPlatformsHelp)
				}
				req.Platform = "azure_cvm"
			}
			if req.Platform == "azure_cvm" {
				if len(measurements) > 0 {
					return fmt.Errorf("--measurement does not apply to azure_cvm: give the PCRs with --pcr N=HEX")
				}
				p, err := parsePCRFlags(pcrs)
				if err != nil {
					return err
				}
				req.PCRs = p
			} else {
				if len(pcrs) > 0 {
					return fmt.Errorf("--pcr applies to azure_cvm only: for %s, give --measurement KEY=VALUE", req.Platform)
				}
				m, err := parseMeasurementFlags(measurements)
				if err != nil {
					return err
				}
				req.Measurements = m
			}
			s, accountID, err := openAccount(cmd, flags)
			if err != nil {
				return err
			}
			if app != "" {
				if req.AppID, err = appID(cmd.Context(), s.api, accountID, app); err != nil {
					return err
				}
			}
			e, err := s.api.Explain(cmd.Context(), accountID, req)
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			if flags.output == outputJSON {
				return writeJSON(w, e)
			}
			verdict := "attestation with these measurements would be rejected"
			if e.Result == "ok" {
				verdict = "attestation with these measurements would select an approved image"
			}
			fmt.Fprintf(w, "Result: %s  (%s)\n", strings.ToUpper(cell(e.Result)), verdict)
			selected := "none"
			if e.SelectedImageID != nil {
				selected = *e.SelectedImageID
				// Best effort: the version and app make the ID readable.
				if img, err := s.api.GetImage(cmd.Context(), accountID, selected); err == nil {
					name := img.AppID
					if a, err := s.api.GetApp(cmd.Context(), accountID, img.AppID); err == nil {
						name = a.Name
					}
					selected += fmt.Sprintf(" (app %s, version %s, approval %s)", name, img.Version, img.ApprovalStatus)
				}
			}
			fmt.Fprintf(w, "Selected image: %s\n", cell(selected))
			fmt.Fprintln(w, "Steps:")
			for i, step := range e.Steps {
				fmt.Fprintf(w, "  %d. %s\n", i+1, cell(step))
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&platform, "platform", "", "platform: "+explainPlatformsHelp+" (default with --pcr: azure_cvm)")
	fl.StringArrayVar(&pcrs, "pcr", nil, "Azure CVM: the VM's PCR N=HEX (N 0..22; repeatable)")
	fl.StringArrayVar(&measurements, "measurement", nil, "a measurement KEY=VALUE, e.g. mrenclave=HEX or vmpl=0 (repeatable)")
	fl.StringVar(&app, "app", "", "only consider the images of this app (name or ID)")
	return cmd
}

// wholeNumber matches the values sent as JSON numbers: no leading zeros,
// so that hex such as "0042…" stays a string.
var wholeNumber = regexp.MustCompile(`^-?(0|[1-9][0-9]{0,17})$`)

// parseMeasurementFlags turns KEY=VALUE flags into a measurements object.
func parseMeasurementFlags(values []string) (map[string]any, error) {
	m := map[string]any{}
	for _, v := range values {
		k, val, ok := strings.Cut(v, "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" {
			return nil, fmt.Errorf("--measurement %q: want KEY=VALUE", v)
		}
		if _, dup := m[k]; dup {
			return nil, fmt.Errorf("--measurement: %s given twice", k)
		}
		val = strings.TrimSpace(val)
		if wholeNumber.MatchString(val) {
			n, err := strconv.ParseInt(val, 10, 64)
			if err == nil {
				m[k] = n
				continue
			}
		}
		m[k] = val
	}
	return m, nil
}
