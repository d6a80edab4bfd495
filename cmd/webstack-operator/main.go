// Command webstack-operator runs the WebStack controller manager (the default) and offers
// the `tune` and `render` subcommands, which show what the operator derives from a manifest,
// and `agent`, the in-pod helper that applies config changes without restarting a daemon.
package main

import (
	"fmt"
	"io"
	"os"
)

const usage = `webstack-operator: provisions and tunes a whole web stack from one WebStack manifest.

Usage:
  webstack-operator [manager] [flags]        run the controller manager (default)
  webstack-operator tune -f FILE [-o table|json|yaml]
                                            print every derived number with its explanation
  webstack-operator render -f FILE [--configs DIR]
                                            print the child objects, or write the config files
  webstack-operator agent varnish|haproxy|redis|postgres|secret [flags]
                                            the in-pod agent that applies config changes in place

Run "webstack-operator COMMAND -h" for the flags of a command.
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run dispatches to a subcommand and returns the process exit code.
func run(args []string, stdout, stderr io.Writer) int {
	cmd, rest := "manager", args
	if len(args) > 0 && len(args[0]) > 0 && args[0][0] != '-' {
		cmd, rest = args[0], args[1:]
	}
	var err error
	switch cmd {
	case "manager":
		err = runManager(rest, stderr)
	case "tune":
		err = runTune(rest, stdout, stderr)
	case "render":
		err = runRender(rest, stdout, stderr)
	case "agent":
		err = runAgent(rest, stderr)
	case "help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "unknown command %q\n\n%s", cmd, usage)
		return 2
	}
	if err != nil {
		fmt.Fprintf(stderr, "webstack-operator %s: %v\n", cmd, err)
		return 1
	}
	return 0
}
