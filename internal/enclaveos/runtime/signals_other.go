//go:build !unix

package runtime

import (
	"os"
	"syscall"
)

// ForwardedSignals are the signals the agent passes on to the command it
// runs: the ones that ask a service to stop.
var ForwardedSignals = []os.Signal{syscall.SIGTERM, syscall.SIGINT}
