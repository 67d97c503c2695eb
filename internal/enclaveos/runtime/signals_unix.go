//go:build unix

package runtime

import (
	"os"
	"syscall"
)

// ForwardedSignals are the signals the agent passes on to the command it
// runs: the ones that ask a service to stop, reload or reopen its logs.
var ForwardedSignals = []os.Signal{
	syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP, syscall.SIGQUIT,
	syscall.SIGUSR1, syscall.SIGUSR2,
}
