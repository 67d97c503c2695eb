package cli

import (
	"fmt"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/openccm/openccm/pkg/apiv1"
	"github.com/openccm/openccm/pkg/client"
)

func newAuditCmd(flags *clientFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "Read and verify the account's audit log",
	}
	cmd.AddCommand(newAuditListCmd(flags), newAuditVerifyCmd(flags))
	return cmd
}

func newAuditListCmd(flags *clientFlags) *cobra.Command {
	var opts client.AuditListOptions
	var since string
	var all bool
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List audit events, newest first (one page unless --all)",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			switch opts.Order {
			case "", "asc", "desc":
			default:
				return fmt.Errorf("--order %q: use asc or desc", opts.Order)
			}
			if since != "" {
				t, err := time.Parse(time.RFC3339, since)
				if err != nil {
					return fmt.Errorf("--since: want an RFC 3339 time such as 2030-01-02T15:04:05Z: %w", err)
				}
				opts.Since = &t
			}
			s, accountID, err := openAccount(cmd, flags)
			if err != nil {
				return err
			}
			var events []apiv1.AuditEvent
			more := false
			if all {
				if events, err = client.ListAll(cmd.Context(), s.api.AuditPages(accountID, opts)); err != nil {
					return err
				}
			} else {
				l, err := s.api.ListAudit(cmd.Context(), accountID, opts)
				if err != nil {
					return err
				}
				events, more = l.Items, l.NextCursor != ""
			}
			err = writeList(cmd.OutOrStdout(), flags.output, events,
				[]string{"SEQ", "TIME", "ACTOR", "ACTION", "SUBJECT", "OUTCOME"},
				func(e apiv1.AuditEvent) []string {
					return []string{strconv.FormatInt(e.Seq, 10), fmtTime(e.At), typedID(e.Actor.Type, e.Actor.ID),
						e.Action, typedID(e.Subject.Type, e.Subject.ID), e.Outcome}
				})
			if err == nil && more {
				fmt.Fprintln(cmd.ErrOrStderr(), "There are more events: use --all, or a larger --limit (at most 500).")
			}
			return err
		},
	}
	fl := cmd.Flags()
	fl.IntVar(&opts.Limit, "limit", 50, "events per page, 1..500")
	fl.StringVar(&opts.Order, "order", "", "asc (oldest first) or desc (newest first, the default)")
	fl.StringVar(&opts.Action, "action", "", "only events of this action")
	fl.StringVar(&opts.SubjectID, "subject", "", "only events about this object ID")
	fl.StringVar(&opts.ActorID, "actor", "", "only events by this user or workload ID")
	fl.StringVar(&since, "since", "", "only events at or after this time, RFC 3339")
	fl.BoolVar(&all, "all", false, "fetch every page")
	cmd.MarkFlagsMutuallyExclusive("all", "limit")
	return cmd
}

// typedID reads like "user 1234…", or "system".
func typedID(typ, id string) string {
	if id == "" {
		return typ
	}
	if typ == "" {
		return id
	}
	return typ + " " + id
}

func newAuditVerifyCmd(flags *clientFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "verify",
		Short: "Check the hash chain of the audit log; exit 1 when it is broken",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, accountID, err := openAccount(cmd, flags)
			if err != nil {
				return err
			}
			v, err := s.api.VerifyAudit(cmd.Context(), accountID)
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			if flags.output == outputJSON {
				if err := writeJSON(w, v); err != nil {
					return err
				}
			} else if v.OK {
				fmt.Fprintf(w, "OK: the hash chain of %d events is intact.\n", v.Events)
			} else {
				fmt.Fprintf(w, "BROKEN: the hash chain of the audit log does not verify (%d events).\n", v.Events)
				fmt.Fprintf(w, "First bad event: %s (seq %d)\n", cell(v.FirstBadEventID), v.FirstBadSeq)
				fmt.Fprintf(w, "Reason: %s\n", cell(v.Reason))
			}
			if !v.OK {
				return &exitError{code: 1, msg: "the audit log failed verification"}
			}
			return nil
		},
	}
}
