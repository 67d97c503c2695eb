package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/openccm/openccm/pkg/apiv1"
	"github.com/openccm/openccm/pkg/client"
)

func newImageWaitCmd(flags *clientFlags) *cobra.Command {
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "wait ID [--timeout 30m]",
		Short: "Wait for an image's build to finish, printing its log as it grows",
		Long: `Wait for an image's build to finish, printing its log as it grows.

It exits 0 when the image is ready, 1 when its build failed (the reason is
printed), and 1 when the timeout passes first (0 waits for ever). An image
that needs no build is ready at once. With -o json it prints the image at
the end instead of the log.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, accountID, err := openAccount(cmd, flags)
			if err != nil {
				return err
			}
			return waitImage(cmd, flags, s.api, accountID, args[0], timeout)
		},
	}
	cmd.Flags().DurationVar(&timeout, "timeout", 30*time.Minute, "give up after this long (0: never)")
	return cmd
}

// waitPoll is how often waitImage asks for the build's state.
var waitPoll = time.Second

// waitImage follows the build of an image until it is ready or failed.
func waitImage(cmd *cobra.Command, flags *clientFlags, api *client.Client, accountID, imageID string, timeout time.Duration) error {
	ctx := cmd.Context()
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	logOut := cmd.ErrOrStderr()
	if flags.output != outputJSON {
		logOut = cmd.OutOrStdout()
	}
	printed := 0
	for {
		img, err := api.GetImage(ctx, accountID, imageID)
		if err != nil {
			return waitErr(err, timeout)
		}
		b, err := api.GetImageBuild(ctx, accountID, img.ImageID)
		switch {
		case client.HasCode(err, apiv1.CodeNotFound):
			b = nil
		case err != nil:
			return waitErr(err, timeout)
		}
		if b != nil {
			printed = printNewLog(logOut, b.Log, printed)
		}
		done := b == nil || b.Status == "succeeded" || b.Status == "failed"
		if done && (img.Status == "ready" || img.Status == "failed") {
			if flags.output == outputJSON {
				if err := writeImage(cmd, flags, img); err != nil {
					return err
				}
			}
			if img.Status == "failed" {
				return &exitError{code: 1, msg: fmt.Sprintf("the build of image %s failed: %s", img.ImageID, img.Error)}
			}
			if flags.output != outputJSON {
				fmt.Fprintf(cmd.OutOrStdout(), "Image %s is ready; its approval task is %s.\n", img.ImageID, img.TaskID)
			}
			return nil
		}
		select {
		case <-ctx.Done():
			return waitErr(ctx.Err(), timeout)
		case <-time.After(waitPoll):
		}
	}
}

// printNewLog prints the log lines after the first n and returns the new count.
func printNewLog(w io.Writer, lines []string, n int) int {
	if n > len(lines) { // the server keeps the last lines only
		n = 0
	}
	for _, l := range lines[n:] {
		fmt.Fprintln(w, cell(l))
	}
	return len(lines)
}

func waitErr(err error, timeout time.Duration) error {
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("the build did not finish within %s", timeout)
	}
	return err
}
