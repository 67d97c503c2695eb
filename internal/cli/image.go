package cli

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/openccm/openccm/pkg/apiv1"
	"github.com/openccm/openccm/pkg/client"
)

// Bounds of the files image create and the tools read.
const (
	maxSigstructFile   = 64 << 10 // a SIGSTRUCT is 1808 bytes
	maxMeasurementFile = 1 << 20
)

func newImageCmd(flags *clientFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "image",
		Aliases: []string{"images"},
		Short:   "Manage the images (releases) of applications",
	}
	cmd.AddCommand(
		newImageCreateCmd(flags),
		newImageListCmd(flags),
		newImageShowCmd(flags),
		newImageWaitCmd(flags),
		newImageRmCmd(flags),
		newImagePolicyCmd(flags),
	)
	return cmd
}

// imageFlags are the flags of image create. Which apply depends on the
// app's type; only the flags the user sets are sent, and the server
// rejects those that do not apply.
type imageFlags struct {
	app, version, platform string

	// edp + sgx
	sigstruct, mrenclave, mrsigner string
	isvprodid, isvsvn              int
	// edp + nitro
	measurementJSON, pcr0, pcr1, pcr2 string
	// azure_cvm
	pcrs []string
	// sev_snp
	measurement string
	vmpl        int
	// sev_snp and azure_cvm
	gpu string
	// aci
	tag                     string
	waitForNodeRegistration bool
	memoryGB                float64
	// enclave_os
	inputTag, outputTag                string
	memoryMiB, cpuCount                int
	filePersistence, noFilePersistence bool
	useInputCredentialsForOutput       bool
	inputRegistry, outputRegistry, reg string
	outputUsername, username           string
	passwordStdin                      bool
}

func (f *imageFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&f.app, "app", "", "the app, by name or ID (required)")
	fl.StringVar(&f.version, "version", "", "version of the image (edp, sev_snp, azure_cvm)")
	fl.StringVar(&f.platform, "platform", "", "platform: sgx or nitro (edp; enclave_os: nitro)")

	fl.StringVar(&f.sigstruct, "sigstruct", "", "SGX: the enclave's SIGSTRUCT file (sigstruct.bin); the server reads the measurements from it")
	fl.StringVar(&f.mrenclave, "mrenclave", "", "SGX: MRENCLAVE, 64 hex")
	fl.StringVar(&f.mrsigner, "mrsigner", "", "SGX: MRSIGNER, 64 hex")
	fl.IntVar(&f.isvprodid, "isvprodid", 0, "SGX: ISVPRODID, 0..65535")
	fl.IntVar(&f.isvsvn, "isvsvn", 0, "SGX: ISVSVN, 0..65535")

	fl.StringVar(&f.measurementJSON, "measurement-json", "", "Nitro: file of the JSON that nitro-cli build-enclave or describe-eif prints (- reads stdin)")
	fl.StringVar(&f.pcr0, "pcr0", "", "Nitro: PCR0, 96 hex")
	fl.StringVar(&f.pcr1, "pcr1", "", "Nitro: PCR1, 96 hex")
	fl.StringVar(&f.pcr2, "pcr2", "", "Nitro: PCR2, 96 hex")

	fl.StringArrayVar(&f.pcrs, "pcr", nil, "Azure CVM: PCR N=HEX (N 0..22, SHA-256 hex; repeatable)")

	fl.StringVar(&f.measurement, "measurement", "", "SEV-SNP: launch measurement, 96 hex")
	fl.IntVar(&f.vmpl, "vmpl", 0, "SEV-SNP: VMPL, 0..3")
	fl.StringVar(&f.gpu, "gpu", "", "SEV-SNP, Azure CVM: GPU evidence: none, ignored or required")

	fl.StringVar(&f.tag, "tag", "", "ACI: tag of the input image (the image's version; a new value each time)")
	fl.BoolVar(&f.waitForNodeRegistration, "wait-for-node-registration", false, "ACI: start the workload only once the agent holds its certificate: true or false (server default: true)")
	fl.Float64Var(&f.memoryGB, "memory-gb", 0, "ACI: memory in GB (server default: 1)")
	fl.StringVar(&f.reg, "registry", "", "ACI: saved registry (ID or URL) with the credentials of the input image")
	fl.StringVar(&f.username, "username", "", "ACI: user name of inline credentials for the input image (password from a prompt or --password-stdin)")

	fl.StringVar(&f.inputTag, "input-tag", "", "Enclave OS: tag of the input image (server default: latest)")
	fl.StringVar(&f.outputTag, "output-tag", "", "Enclave OS: tag of the converted image (server default: latest)")
	fl.IntVar(&f.memoryMiB, "memory-mib", 0, "Enclave OS: enclave memory in MiB (server default: 2048)")
	fl.IntVar(&f.cpuCount, "cpu-count", 0, "Enclave OS, ACI: number of CPUs")
	fl.BoolVar(&f.filePersistence, "file-persistence", false, "Enclave OS: keep the enclave's files across restarts: true or false (server default: true)")
	fl.BoolVar(&f.noFilePersistence, "no-file-persistence", false, "Enclave OS: same as --file-persistence=false")
	fl.StringVar(&f.inputRegistry, "input-registry", "", "Enclave OS: saved registry (ID or URL) with the credentials of the input image")
	fl.StringVar(&f.outputRegistry, "output-registry", "", "Enclave OS: saved registry (ID or URL) with the credentials to push the output image")
	fl.BoolVar(&f.useInputCredentialsForOutput, "use-input-credentials-for-output", false, "Enclave OS: push with the input registry's credentials")
	fl.StringVar(&f.outputUsername, "output-username", "", "Enclave OS: user name of inline credentials to push the output image (password from a prompt or --password-stdin)")

	fl.BoolVar(&f.passwordStdin, "password-stdin", false, "read the password of --username/--output-username from stdin instead of a prompt")

	cmd.MarkFlagsMutuallyExclusive("file-persistence", "no-file-persistence")
	cmd.MarkFlagsMutuallyExclusive("username", "output-username")
	cmd.MarkFlagsMutuallyExclusive("output-registry", "output-username", "use-input-credentials-for-output")
	cmd.MarkFlagsMutuallyExclusive("registry", "username")
	cmd.MarkFlagsMutuallyExclusive("sigstruct", "mrenclave")
	cmd.MarkFlagsMutuallyExclusive("measurement-json", "pcr0")
	_ = cmd.MarkFlagRequired("app")
}

// request builds the body from the flags the user set. Registries and the
// password are filled in later: they need the server and a prompt.
func (f *imageFlags) request(cmd *cobra.Command) (apiv1.CreateImageRequest, error) {
	var req apiv1.CreateImageRequest
	fl := cmd.Flags()
	str := func(name string, dst *string, v string) {
		if fl.Changed(name) {
			*dst = v
		}
	}
	num := func(name string, v int) *int {
		if fl.Changed(name) {
			return &v
		}
		return nil
	}
	str("version", &req.Version, f.version)
	str("platform", &req.Platform, f.platform)
	str("mrenclave", &req.MREnclave, f.mrenclave)
	str("mrsigner", &req.MRSigner, f.mrsigner)
	req.ISVProdID = num("isvprodid", f.isvprodid)
	req.ISVSVN = num("isvsvn", f.isvsvn)
	str("pcr0", &req.PCR0, f.pcr0)
	str("pcr1", &req.PCR1, f.pcr1)
	str("pcr2", &req.PCR2, f.pcr2)
	str("measurement", &req.Measurement, f.measurement)
	req.VMPL = num("vmpl", f.vmpl)
	str("gpu", &req.GPU, f.gpu)
	str("tag", &req.Tag, f.tag)
	str("input-tag", &req.InputTag, f.inputTag)
	str("output-tag", &req.OutputTag, f.outputTag)
	req.MemoryMiB = num("memory-mib", f.memoryMiB)
	req.CPUCount = num("cpu-count", f.cpuCount)
	req.UseInputCredentialsForOutput = f.useInputCredentialsForOutput
	if fl.Changed("file-persistence") {
		v := f.filePersistence
		req.FilePersistence = &v
	}
	if fl.Changed("no-file-persistence") {
		v := !f.noFilePersistence
		req.FilePersistence = &v
	}
	if fl.Changed("wait-for-node-registration") {
		v := f.waitForNodeRegistration
		req.WaitForNodeRegistration = &v
	}
	if fl.Changed("memory-gb") {
		v := f.memoryGB
		req.MemoryGB = &v
	}
	if fl.Changed("pcr") {
		pcrs, err := parsePCRFlags(f.pcrs)
		if err != nil {
			return req, err
		}
		req.PCRs = pcrs
	}
	if f.passwordStdin && f.username == "" && f.outputUsername == "" {
		return req, errors.New("--password-stdin reads the password of --username or --output-username: give one of them")
	}
	if fl.Changed("sigstruct") {
		b, err := readFileLimited(cmd, f.sigstruct, maxSigstructFile)
		if err != nil {
			return req, fmt.Errorf("--sigstruct: %w", err)
		}
		req.Sigstruct = base64.StdEncoding.EncodeToString(b)
	}
	if fl.Changed("measurement-json") {
		if f.measurementJSON == "-" && f.passwordStdin {
			return req, errors.New("--measurement-json - and --password-stdin cannot both read stdin")
		}
		b, err := readFileLimited(cmd, f.measurementJSON, maxMeasurementFile)
		if err != nil {
			return req, fmt.Errorf("--measurement-json: %w", err)
		}
		req.MeasurementJSON = string(b)
	}
	return req, nil
}

// resolve fills in the registry IDs (given as IDs or URLs) and the inline
// credentials, whose password comes from a prompt or stdin.
func (f *imageFlags) resolve(cmd *cobra.Command, api *client.Client, accountID string, req *apiv1.CreateImageRequest) error {
	for _, r := range []struct {
		flag, ref string
		dst       **string
	}{
		{"input-registry", f.inputRegistry, &req.InputRegistryID},
		{"output-registry", f.outputRegistry, &req.OutputRegistryID},
		{"registry", f.reg, &req.RegistryID},
	} {
		if !cmd.Flags().Changed(r.flag) {
			continue
		}
		id, err := registryID(cmd.Context(), api, accountID, r.ref)
		if err != nil {
			return fmt.Errorf("--%s: %w", r.flag, err)
		}
		*r.dst = &id
	}
	user, dst := f.username, &req.Credentials
	if cmd.Flags().Changed("output-username") {
		user, dst = f.outputUsername, &req.OutputCredentials
	} else if !cmd.Flags().Changed("username") {
		return nil
	}
	password, err := readSecret(cmd, "registry password", f.passwordStdin, false)
	if err != nil {
		return err
	}
	*dst = &apiv1.RegistryCredentials{Username: user, Password: password}
	return nil
}

// parsePCRFlags turns --pcr N=HEX values into {"pcrN": HEX}.
func parsePCRFlags(values []string) (map[string]string, error) {
	pcrs := map[string]string{}
	for _, v := range values {
		k, hex, ok := strings.Cut(v, "=")
		k = strings.TrimPrefix(strings.ToLower(strings.TrimSpace(k)), "pcr")
		n, err := strconv.Atoi(k)
		if !ok || err != nil || n < 0 || n > 22 || k != strconv.Itoa(n) {
			return nil, fmt.Errorf("--pcr %q: want N=HEX with N from 0 to 22", v)
		}
		key := "pcr" + k
		if _, dup := pcrs[key]; dup {
			return nil, fmt.Errorf("--pcr: PCR %d given twice", n)
		}
		pcrs[key] = strings.TrimSpace(hex)
	}
	return pcrs, nil
}

// readFileLimited reads a file, or stdin for "-", of at most max bytes.
func readFileLimited(cmd *cobra.Command, name string, max int64) ([]byte, error) {
	var r io.Reader
	if name == "-" {
		r = cmd.InOrStdin()
	} else {
		f, err := os.Open(name)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		r = f
	}
	b, err := io.ReadAll(io.LimitReader(r, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("%s is larger than %d bytes", name, max)
	}
	return b, nil
}

func newImageCreateCmd(flags *clientFlags) *cobra.Command {
	var (
		f           imageFlags
		wait        bool
		waitTimeout time.Duration
	)
	cmd := &cobra.Command{
		Use:   "create --app APP [flags of the app's type]",
		Short: "Create an image (a release) of an application",
		Long: `Create an image (a release) of an application. The flags depend on the app's type;
only the flags you give are sent.

  edp, SGX:    --version V --platform sgx --sigstruct sigstruct.bin
               --version V --platform sgx --mrenclave HEX --mrsigner HEX --isvprodid N --isvsvn N
  edp, Nitro:  --version V --platform nitro --measurement-json measurements.json
               --version V --platform nitro --pcr0 HEX --pcr1 HEX --pcr2 HEX
  sev_snp:     --version V --measurement HEX --vmpl N [--gpu none|ignored|required]
  azure_cvm:   --version V --pcr 0=HEX --pcr 7=HEX ... [--gpu none|ignored|required]
  aci:         --tag T [--registry ID|URL | --username U] [--cpu-count N] [--memory-gb G]
               [--wait-for-node-registration=false]
  enclave_os:  --input-tag T --output-tag T [--input-registry ID|URL]
               [--output-registry ID|URL | --output-username U | --use-input-credentials-for-output]
               [--memory-mib N] [--cpu-count N] [--no-file-persistence]

Passwords of inline registry credentials are read from a prompt, or from stdin
with --password-stdin; they are stored encrypted and never shown again.

enclave_os and aci images are built by a job on the server: they start as
pending; follow them with ` + "`ccm image wait ID`" + `, or give --wait to create.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			req, err := f.request(cmd)
			if err != nil {
				return err
			}
			s, accountID, err := openAccount(cmd, flags)
			if err != nil {
				return err
			}
			appID, err := appID(cmd.Context(), s.api, accountID, f.app)
			if err != nil {
				return err
			}
			if err := f.resolve(cmd, s.api, accountID, &req); err != nil {
				return err
			}
			img, err := s.api.CreateImage(cmd.Context(), accountID, appID, req)
			if err != nil {
				return err
			}
			if err := writeImage(cmd, flags, img); err != nil {
				return err
			}
			if img.Status == "pending" && wait {
				return waitImage(cmd, flags, s.api, accountID, img.ImageID, waitTimeout)
			}
			if img.Status == "pending" && flags.output == outputTable {
				fmt.Fprintf(cmd.OutOrStdout(), "\nA build job was queued: the image becomes ready when it finishes.\n"+
					"Follow it with `ccm image wait %s`.\n", img.ImageID)
			}
			return nil
		},
	}
	f.register(cmd)
	cmd.Flags().BoolVar(&wait, "wait", false, "enclave_os and aci: wait for the build to finish, printing its log (like `ccm image wait`)")
	cmd.Flags().DurationVar(&waitTimeout, "wait-timeout", 30*time.Minute, "with --wait: give up after this long (0: never)")
	return cmd
}

func newImageListCmd(flags *clientFlags) *cobra.Command {
	var app string
	var opts client.ImageListOptions
	cmd := &cobra.Command{
		Use:     "list [--app APP]",
		Aliases: []string{"ls"},
		Short:   "List the images of an app, or of every app",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			s, accountID, err := openAccount(cmd, flags)
			if err != nil {
				return err
			}
			page := func(ctx context.Context, o client.ListOptions) (*apiv1.List[apiv1.Image], error) {
				opts.ListOptions = o
				return s.api.ListImages(ctx, accountID, opts)
			}
			if app != "" {
				id, err := appID(ctx, s.api, accountID, app)
				if err != nil {
					return err
				}
				page = func(ctx context.Context, o client.ListOptions) (*apiv1.List[apiv1.Image], error) {
					opts.ListOptions = o
					return s.api.ListAppImages(ctx, accountID, id, opts)
				}
			}
			all, err := client.ListAll(ctx, page)
			if err != nil {
				return err
			}
			// Humans read app names; JSON keeps the IDs.
			names := map[string]string{}
			if flags.output == outputTable && len(all) > 0 {
				if apps, err := listApps(ctx, s.api, accountID, ""); err == nil {
					for _, a := range apps {
						names[a.AppID] = a.Name
					}
				}
			}
			return writeList(cmd.OutOrStdout(), flags.output, all,
				[]string{"ID", "APP", "TYPE", "PLATFORM", "VERSION", "STATUS", "APPROVAL", "CREATED"},
				func(i apiv1.Image) []string {
					return []string{i.ImageID, firstNonEmpty(names[i.AppID], i.AppID), i.Type, i.Platform, i.Version,
						i.Status, i.ApprovalStatus, fmtTime(i.CreatedAt)}
				})
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&app, "app", "", "only the images of this app (name or ID)")
	fl.StringVar(&opts.Status, "status", "", "only images in this state: pending, building, ready or failed")
	fl.StringVar(&opts.ApprovalStatus, "approval-status", "", "only images with this approval status: pending, approved or denied")
	fl.StringVar(&opts.Type, "type", "", "only images of apps of this type: "+appTypesHelp)
	return cmd
}

func newImageShowCmd(flags *clientFlags) *cobra.Command {
	var withBuild bool
	cmd := &cobra.Command{
		Use:   "show ID [--build]",
		Short: "Show an image, and with --build the state and log of its build job",
		Long: `Show an image, and with --build the state and log of its build job.

With -o json and --build, the output is {"image": {...}, "build": {...}}
("build" is null when the image has no build job).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, accountID, err := openAccount(cmd, flags)
			if err != nil {
				return err
			}
			img, err := s.api.GetImage(cmd.Context(), accountID, args[0])
			if err != nil {
				return err
			}
			if !withBuild {
				return writeImage(cmd, flags, img)
			}
			b, err := s.api.GetImageBuild(cmd.Context(), accountID, img.ImageID)
			if client.HasCode(err, apiv1.CodeNotFound) {
				b, err = nil, nil
			}
			if err != nil {
				return err
			}
			if flags.output == outputJSON {
				return writeJSON(cmd.OutOrStdout(), struct {
					Image *apiv1.Image `json:"image"`
					Build *apiv1.Build `json:"build"`
				}{img, b})
			}
			if err := writeImage(cmd, flags, img); err != nil {
				return err
			}
			return writeBuild(cmd.OutOrStdout(), b)
		},
	}
	cmd.Flags().BoolVar(&withBuild, "build", false, "also show the build job's state, progress and log")
	return cmd
}

func newImageRmCmd(flags *clientFlags) *cobra.Command {
	return &cobra.Command{
		Use:     "rm ID",
		Aliases: []string{"delete"},
		Short:   "Delete an image; nothing attests as it any more",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, accountID, err := openAccount(cmd, flags)
			if err != nil {
				return err
			}
			if err := s.api.DeleteImage(cmd.Context(), accountID, args[0]); err != nil {
				return err
			}
			done(cmd, flags, "Deleted image %s: nothing attests as it any more.", args[0])
			return nil
		},
	}
}

func writeImage(cmd *cobra.Command, flags *clientFlags, img *apiv1.Image) error {
	fields := []field{
		{"ID", img.ImageID},
		{"App", img.AppID},
		{"Type", img.Type},
		{"Platform", img.Platform},
		{"Version", img.Version},
		{"Status", img.Status},
	}
	if img.Error != "" {
		fields = append(fields, field{"Error", img.Error})
	}
	fields = append(fields,
		field{"Approval", img.ApprovalStatus},
		field{"Approval task", img.TaskID},
	)
	fields = append(fields, measurementFields(img.Measurements)...)
	opt := func(name, v string) {
		if v != "" {
			fields = append(fields, field{name, v})
		}
	}
	optInt := func(name string, v int) {
		if v != 0 {
			opt(name, strconv.Itoa(v))
		}
	}
	optBool := func(name string, v *bool) {
		if v != nil {
			opt(name, strconv.FormatBool(*v))
		}
	}
	st := img.ImageSettings
	opt("Output digest", img.OutputDigest)
	opt("GPU", st.GPU)
	opt("Tag", st.Tag)
	opt("Input tag", st.InputTag)
	opt("Output tag", st.OutputTag)
	opt("Registry", st.RegistryID)
	opt("Input registry", st.InputRegistryID)
	opt("Output registry", st.OutputRegistryID)
	if st.UseInputCredentialsForOutput {
		opt("Output credentials", "the input registry's")
	}
	if st.HasInlineCredentials {
		opt("Inline credentials", "yes (never shown)")
	}
	optInt("Memory (MiB)", st.MemoryMiB)
	if st.MemoryGB != 0 {
		opt("Memory (GB)", strconv.FormatFloat(st.MemoryGB, 'f', -1, 64))
	}
	optInt("CPU count", st.CPUCount)
	optBool("File persistence", st.FilePersistence)
	optBool("Wait for node registration", st.WaitForNodeRegistration)
	fields = append(fields,
		field{"Created by", img.CreatedBy},
		field{"Created", fmtTime(img.CreatedAt)},
		field{"Updated", fmtTime(img.UpdatedAt)},
	)
	return writeObject(cmd.OutOrStdout(), flags.output, img, fields)
}

// measurementOrder lists the measurements in the order people read them.
var measurementOrder = []string{"mrenclave", "mrsigner", "isvprodid", "isvsvn", "attributes", "miscselect",
	"pcr0", "pcr1", "pcr2", "measurement", "vmpl", "policy_sha256"}

// measurementFields renders an image's measurements, one line each; Azure
// CVM PCRs (under "pcrs") in index order.
func measurementFields(m map[string]any) []field {
	keys := slices.SortedFunc(maps.Keys(m), func(a, b string) int {
		ia, ib := slices.Index(measurementOrder, a), slices.Index(measurementOrder, b)
		switch {
		case ia >= 0 && ib >= 0:
			return ia - ib
		case ia >= 0:
			return -1
		case ib >= 0:
			return 1
		}
		return strings.Compare(a, b)
	})
	if len(keys) == 0 {
		return []field{{"Measurements", "none yet"}}
	}
	var out []field
	for _, k := range keys {
		pcrs, ok := m[k].(map[string]any)
		if !ok {
			out = append(out, field{k, fmtAny(m[k])})
			continue
		}
		if len(pcrs) == 0 {
			out = append(out, field{k, "none (selected only when no image matches by PCRs)"})
		}
		names := slices.SortedFunc(maps.Keys(pcrs), func(a, b string) int {
			na, ea := strconv.Atoi(strings.TrimPrefix(a, "pcr"))
			nb, eb := strconv.Atoi(strings.TrimPrefix(b, "pcr"))
			if ea != nil || eb != nil {
				return strings.Compare(a, b)
			}
			return na - nb
		})
		for _, name := range names {
			out = append(out, field{name, fmtAny(pcrs[name])})
		}
	}
	return out
}

// fmtAny formats a JSON value for a table cell.
func fmtAny(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case bool:
		return strconv.FormatBool(x)
	}
	return fmt.Sprint(v)
}

// writeBuild prints a build job after an image, in table form.
func writeBuild(w io.Writer, b *apiv1.Build) error {
	fmt.Fprintln(w)
	if b == nil {
		fmt.Fprintln(w, "Build: none (the image's measurements were given directly)")
		return nil
	}
	fmt.Fprintln(w, "Build:")
	if err := writeObject(w, outputTable, b, []field{
		{"  Job ID", b.JobID},
		{"  Kind", b.Kind},
		{"  Status", b.Status},
		{"  Progress", strconv.Itoa(b.Progress) + "%"},
		{"  Attempts", strconv.Itoa(b.Attempts)},
		{"  Last error", b.Error},
		{"  Next attempt", fmtTimePtr(b.NextAttemptAt)},
		{"  Started", fmtTime(b.CreatedAt)},
		{"  Updated", fmtTime(b.UpdatedAt)},
	}); err != nil {
		return err
	}
	if len(b.Log) == 0 {
		return nil
	}
	fmt.Fprintln(w, "  Log:")
	for _, l := range b.Log {
		fmt.Fprintln(w, "    "+cell(l))
	}
	return nil
}

func newImagePolicyCmd(flags *clientFlags) *cobra.Command {
	var format, out string
	cmd := &cobra.Command{
		Use:   "policy ID",
		Short: "Download an ACI image's ARM template, or its CCE policy with --format rego",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, accountID, err := openAccount(cmd, flags)
			if err != nil {
				return err
			}
			b, err := s.api.GetImagePolicy(cmd.Context(), accountID, args[0], format)
			if err != nil {
				return err
			}
			if out == "" || out == "-" {
				_, err = cmd.OutOrStdout().Write(b)
				return err
			}
			return os.WriteFile(out, b, 0o644)
		},
	}
	cmd.Flags().StringVar(&format, "format", "arm", "arm (the ARM template) or rego (the policy text)")
	cmd.Flags().StringVarP(&out, "file", "f", "", "write to this file instead of standard output")
	return cmd
}
