package cli

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/openccm/openccm/pkg/apiv1"
	"github.com/openccm/openccm/pkg/client"
)

func newTaskCmd(flags *clientFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "task",
		Aliases: []string{"tasks"},
		Short:   "Review and decide approval tasks (images and domains)",
	}
	cmd.AddCommand(
		newTaskListCmd(flags),
		newTaskShowCmd(flags),
		newTaskApproveCmd(flags),
		newTaskDenyCmd(flags),
	)
	return cmd
}

func newTaskListCmd(flags *clientFlags) *cobra.Command {
	var opts client.TaskListOptions
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List the approval tasks",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, accountID, err := openAccount(cmd, flags)
			if err != nil {
				return err
			}
			all, err := client.ListAll(cmd.Context(), func(ctx context.Context, o client.ListOptions) (*apiv1.List[apiv1.Task], error) {
				opts.ListOptions = o
				return s.api.ListTasks(ctx, accountID, opts)
			})
			if err != nil {
				return err
			}
			return writeList(cmd.OutOrStdout(), flags.output, all,
				[]string{"ID", "KIND", "SUBJECT", "STATUS", "APPROVALS", "CREATED"},
				func(t apiv1.Task) []string {
					return []string{t.TaskID, t.Kind, t.Subject.Type + " " + t.Subject.ID, t.Status, approvalCount(&t), fmtTime(t.CreatedAt)}
				})
		},
	}
	cmd.Flags().StringVar(&opts.Status, "status", "", "only tasks in this state: pending, approved or denied")
	cmd.Flags().StringVar(&opts.Kind, "kind", "", "only tasks of this kind: image_approval or domain_approval")
	return cmd
}

func newTaskShowCmd(flags *clientFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "show ID",
		Short: "Show an approval task and its decisions",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, accountID, err := openAccount(cmd, flags)
			if err != nil {
				return err
			}
			t, err := s.api.GetTask(cmd.Context(), accountID, args[0])
			if err != nil {
				return err
			}
			return writeTask(cmd, flags, t)
		},
	}
}

func newTaskApproveCmd(flags *clientFlags) *cobra.Command {
	var comment string
	cmd := &cobra.Command{
		Use:   "approve ID [--comment C]",
		Short: "Approve a task",
		Long: `Approve a task. It is approved once the account's required number of
distinct managers or writers approved it.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, accountID, err := openAccount(cmd, flags)
			if err != nil {
				return err
			}
			t, err := s.api.ApproveTask(cmd.Context(), accountID, args[0], comment)
			if err != nil {
				return err
			}
			return writeTask(cmd, flags, t)
		},
	}
	cmd.Flags().StringVar(&comment, "comment", "", "a comment recorded with your approval")
	return cmd
}

func newTaskDenyCmd(flags *clientFlags) *cobra.Command {
	var reason string
	cmd := &cobra.Command{
		Use:   "deny ID --reason R",
		Short: "Deny a task; one denial resolves it",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if reason == "" {
				return fmt.Errorf("--reason must not be empty")
			}
			s, accountID, err := openAccount(cmd, flags)
			if err != nil {
				return err
			}
			t, err := s.api.DenyTask(cmd.Context(), accountID, args[0], reason)
			if err != nil {
				return err
			}
			return writeTask(cmd, flags, t)
		},
	}
	cmd.Flags().StringVar(&reason, "reason", "", "why the task is denied (required)")
	_ = cmd.MarkFlagRequired("reason")
	return cmd
}

// approvalCount reads like "1/2": approvals so far of those required.
func approvalCount(t *apiv1.Task) string {
	n := 0
	for _, d := range t.Approvals {
		if d.Decision == "approve" {
			n++
		}
	}
	return strconv.Itoa(n) + "/" + strconv.Itoa(t.RequiredApprovals)
}

func writeTask(cmd *cobra.Command, flags *clientFlags, t *apiv1.Task) error {
	fields := []field{
		{"ID", t.TaskID},
		{"Kind", t.Kind},
		{"Subject", t.Subject.Type + " " + t.Subject.ID},
		{"Status", t.Status},
		{"Approvals", approvalCount(t) + " required approvals"},
	}
	if t.DomainsAdded != nil || t.DomainsRemoved != nil {
		fields = append(fields, field{"Domains added", fmtList(deref(t.DomainsAdded))}, field{"Domains removed", fmtList(deref(t.DomainsRemoved))})
	}
	fields = append(fields,
		field{"Created by", t.CreatedBy},
		field{"Created", fmtTime(t.CreatedAt)},
		field{"Resolved", fmtTimePtr(t.ResolvedAt)},
	)
	w := cmd.OutOrStdout()
	if err := writeObject(w, flags.output, t, fields); err != nil || flags.output == outputJSON {
		return err
	}
	return writeDecisions(w, t.Approvals)
}

// writeDecisions prints the decisions on a task as a table.
func writeDecisions(w io.Writer, ds []apiv1.TaskDecision) error {
	fmt.Fprintln(w)
	if len(ds) == 0 {
		fmt.Fprintln(w, "No decisions yet.")
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 0, 3, ' ', 0)
	fmt.Fprintln(tw, "DECISION\tBY\tAT\tCOMMENT")
	for _, d := range ds {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", cell(d.Decision), cell(firstNonEmpty(d.Email, d.UserID)), cell(fmtTime(d.At)), cell(d.Comment))
	}
	return tw.Flush()
}

func deref(s *[]string) []string {
	if s == nil {
		return nil
	}
	return *s
}
