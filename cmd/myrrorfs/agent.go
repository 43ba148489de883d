package main

import (
	"github.com/spf13/cobra"

	"github.com/myrrorfs/myrrorfs/replica/agent"
)

// newAgent is the hidden command myrrorfs runs on the remote host over ssh:
// it serves SFTP and agent requests on its stdin and stdout.
func newAgent() *cobra.Command {
	var root string
	cmd := &cobra.Command{
		Use:    "agent",
		Short:  "Serve a remote tree over stdin/stdout (run by myrrorfs over ssh)",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return agent.ServeStdio(root)
		},
	}
	cmd.Flags().StringVar(&root, "root", ".", "the tree to serve (DIR)")
	return cmd
}
