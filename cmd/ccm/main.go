// Command ccm is the OpenCCM server, command-line client and workload agent.
package main

import (
	"os"

	"github.com/openccm/openccm/internal/cli"
)

func main() {
	os.Exit(cli.Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
