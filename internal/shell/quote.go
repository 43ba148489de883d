// Package shell quotes words for a POSIX shell command line.
package shell

import "strings"

// Quote returns s as one word for a POSIX shell: unchanged when it holds
// only characters a shell takes literally, otherwise in single quotes.
func Quote(s string) string {
	if s != "" && strings.Trim(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_./:@%+=,-") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
