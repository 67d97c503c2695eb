package cli

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/openccm/openccm/pkg/apiv1"
	"github.com/openccm/openccm/pkg/client"
)

func newAccountCmd(flags *clientFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "account",
		Short: "Manage accounts",
	}
	cmd.AddCommand(
		newAccountCreateCmd(flags),
		newAccountListCmd(flags),
		newAccountUseCmd(flags),
		newAccountShowCmd(flags),
		newAccountUpdateCmd(flags),
		newAccountRmCmd(flags),
	)
	return cmd
}

func newAccountCreateCmd(flags *clientFlags) *cobra.Command {
	var trustDomain string
	var use bool
	cmd := &cobra.Command{
		Use:   "create NAME",
		Short: "Create an account; you become its manager",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := openSession(flags)
			if err != nil {
				return err
			}
			req := apiv1.CreateAccountRequest{Name: args[0]}
			if cmd.Flags().Changed("trust-domain") {
				req.TrustDomain = &trustDomain
			}
			a, err := s.api.CreateAccount(cmd.Context(), req)
			if err != nil {
				return err
			}
			if use {
				s.cfg.AccountID = a.AccountID
				if err := s.save(); err != nil {
					return err
				}
			}
			return writeAccount(cmd, flags, a)
		},
	}
	cmd.Flags().StringVar(&trustDomain, "trust-domain", "", "SPIFFE trust domain of the account's certificates (default: from the name)")
	cmd.Flags().BoolVar(&use, "use", false, "make it the current account")
	return cmd
}

func newAccountListCmd(flags *clientFlags) *cobra.Command {
	return &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List your accounts",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := openSession(flags)
			if err != nil {
				return err
			}
			all, err := client.ListAll(cmd.Context(), s.api.ListAccounts)
			if err != nil {
				return err
			}
			return writeList(cmd.OutOrStdout(), flags.output, all,
				[]string{"CURRENT", "NAME", "ID", "ROLE", "TRUST DOMAIN", "CREATED"},
				func(a apiv1.Account) []string {
					current := ""
					if a.AccountID == s.cfg.AccountID {
						current = "*"
					}
					return []string{current, a.Name, a.AccountID, a.Role, a.TrustDomain, fmtTime(a.CreatedAt)}
				})
		},
	}
}

func newAccountUseCmd(flags *clientFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "use NAME|ID",
		Short: "Make an account the current one for the next commands",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := openSession(flags)
			if err != nil {
				return err
			}
			a, err := s.findAccount(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			s.cfg.AccountID = a.AccountID
			if err := s.save(); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Using account %s (%s).\n", a.Name, a.AccountID)
			return nil
		},
	}
}

func newAccountShowCmd(flags *clientFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "show [NAME|ID]",
		Short: "Show an account (default: the current one)",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := openSession(flags)
			if err != nil {
				return err
			}
			id, err := s.accountID(cmd.Context(), optArg(args))
			if err != nil {
				return err
			}
			a, err := s.api.GetAccount(cmd.Context(), id)
			if err != nil {
				return err
			}
			return writeAccount(cmd, flags, a)
		},
	}
}

func newAccountUpdateCmd(flags *clientFlags) *cobra.Command {
	var (
		name              string
		trustDomain       string
		requiredApprovals int
		allowSelf         bool
		pcrPriority       []int
		tcbStatuses       []string
	)
	cmd := &cobra.Command{
		Use:   "update [NAME|ID]",
		Short: "Change an account's settings (default: the current account)",
		Long: `Change an account's settings (default: the current account).
Only the flags you give are changed.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			fl := cmd.Flags()
			var req apiv1.UpdateAccountRequest
			if fl.Changed("name") {
				req.Name = &name
			}
			if fl.Changed("trust-domain") {
				req.TrustDomain = &trustDomain
			}
			if fl.Changed("required-approvals") || fl.Changed("allow-self-approval") {
				req.ApprovalPolicy = &apiv1.ApprovalPolicyPatch{}
				if fl.Changed("required-approvals") {
					req.ApprovalPolicy.RequiredApprovals = &requiredApprovals
				}
				if fl.Changed("allow-self-approval") {
					req.ApprovalPolicy.AllowSelfApproval = &allowSelf
				}
			}
			if fl.Changed("azure-cvm-pcr-priority") {
				req.AzureCVMPCRPriority = pcrPriority
			}
			if fl.Changed("sgx-accepted-tcb-statuses") {
				req.SGXAcceptedTCBStatuses = tcbStatuses
			}
			if countChanged(cmd, "name", "trust-domain", "required-approvals", "allow-self-approval",
				"azure-cvm-pcr-priority", "sgx-accepted-tcb-statuses") == 0 {
				return fmt.Errorf("nothing to change: give at least one setting (see `ccm account update --help`)")
			}
			s, err := openSession(flags)
			if err != nil {
				return err
			}
			id, err := s.accountID(cmd.Context(), optArg(args))
			if err != nil {
				return err
			}
			a, err := s.api.UpdateAccount(cmd.Context(), id, req)
			if err != nil {
				return err
			}
			return writeAccount(cmd, flags, a)
		},
	}
	f := cmd.Flags()
	f.StringVar(&name, "name", "", "new name")
	f.StringVar(&trustDomain, "trust-domain", "", "SPIFFE trust domain of the account's certificates")
	f.IntVar(&requiredApprovals, "required-approvals", 0, "approvals a task needs, 1..10")
	f.BoolVar(&allowSelf, "allow-self-approval", false, "whether the creator of an image (or of a domain change) may approve its task: true or false")
	f.IntSliceVar(&pcrPriority, "azure-cvm-pcr-priority", nil, "order of the PCRs 0..22 for Azure CVM image selection, e.g. 7,0,1,...")
	f.StringSliceVar(&tcbStatuses, "sgx-accepted-tcb-statuses", nil, "SGX TCB statuses accepted at attestation, e.g. UpToDate,SWHardeningNeeded")
	return cmd
}

func newAccountRmCmd(flags *clientFlags) *cobra.Command {
	var yes bool
	cmd := &cobra.Command{
		Use:     "rm NAME|ID --yes",
		Aliases: []string{"delete"},
		Short:   "Delete an account and everything in it",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !yes {
				return fmt.Errorf("deleting account %s deletes its apps, images and certificates: confirm with --yes", args[0])
			}
			s, err := openSession(flags)
			if err != nil {
				return err
			}
			id, err := s.accountID(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if err := s.api.DeleteAccount(cmd.Context(), id); err != nil {
				return err
			}
			if s.cfg.AccountID == id {
				s.cfg.AccountID = ""
				if err := s.save(); err != nil {
					return err
				}
			}
			done(cmd, flags, "Deleted account %s.", args[0])
			return nil
		},
	}
	cmd.Flags().BoolVar(&yes, "yes", false, "confirm the deletion")
	return cmd
}

func writeAccount(cmd *cobra.Command, flags *clientFlags, a *apiv1.Account) error {
	pcrs := make([]string, len(a.AzureCVMPCRPriority))
	for i, p := range a.AzureCVMPCRPriority {
		pcrs[i] = strconv.Itoa(p)
	}
	return writeObject(cmd.OutOrStdout(), flags.output, a, []field{
		{"ID", a.AccountID},
		{"Name", a.Name},
		{"Your role", a.Role},
		{"Trust domain", a.TrustDomain},
		{"Required approvals", strconv.Itoa(a.ApprovalPolicy.RequiredApprovals)},
		{"Allow self-approval", strconv.FormatBool(a.ApprovalPolicy.AllowSelfApproval)},
		{"Azure CVM PCR priority", strings.Join(pcrs, ",")},
		{"SGX accepted TCB statuses", fmtList(a.SGXAcceptedTCBStatuses)},
		{"Created", fmtTime(a.CreatedAt)},
		{"Updated", fmtTime(a.UpdatedAt)},
	})
}

// optArg is the first argument, or "".
func optArg(args []string) string {
	if len(args) == 0 {
		return ""
	}
	return args[0]
}

// countChanged counts how many of the named flags the user set.
func countChanged(cmd *cobra.Command, names ...string) int {
	n := 0
	for _, name := range names {
		if cmd.Flags().Changed(name) {
			n++
		}
	}
	return n
}

// done reports a change that has no object to print, in table mode only.
func done(cmd *cobra.Command, flags *clientFlags, format string, args ...any) {
	if flags.output == outputTable {
		fmt.Fprintf(cmd.OutOrStdout(), format+"\n", args...)
	}
}
