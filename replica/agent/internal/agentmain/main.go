// Command agentmain is the agent alone (what `myrrorfs agent --root DIR`
// runs), for the tests of package agent when the whole command cannot be
// built.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/myrrorfs/myrrorfs/replica/agent"
)

func main() {
	root := flag.String("root", ".", "the tree to serve")
	flag.CommandLine.Parse(os.Args[2:]) // os.Args[1] is "agent"
	if err := agent.ServeStdio(*root); err != nil {
		fmt.Fprintln(os.Stderr, "myrrorfs: "+err.Error())
		os.Exit(1)
	}
}
