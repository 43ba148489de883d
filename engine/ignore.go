package engine

import (
	"bufio"
	"bytes"
	"strings"

	"github.com/go-git/go-git/v5/plumbing/format/gitignore"
)

// IgnoreFile is the name of the ignore file read at the local root. It uses
// gitignore syntax.
const IgnoreFile = ".myrrorignore"

// DefaultIgnore lists what every scan leaves out unless told otherwise:
// editors' backup, lock, auto-save and swap files (Emacs's name~, .#name
// and #name#, vim's .name.swp). They come first, so that the ignore file
// or --ignore can take one back with a negation (!*.swp). A leading # is
// escaped, or the pattern would be a comment.
var DefaultIgnore = []string{"*~", ".#*", `\#*#`, "*.swp"}

// Ignorer decides which paths a scan leaves out.
type Ignorer struct {
	m     gitignore.Matcher
	empty bool
}

// NewIgnorer builds an Ignorer from DefaultIgnore, the content of an ignore
// file (may be nil) and extra patterns given on the command line. Later
// patterns win, as in gitignore, so the file overrides the defaults and
// command-line patterns override the file.
func NewIgnorer(file []byte, extra []string) *Ignorer {
	var ps []gitignore.Pattern
	add := func(line string) {
		line = strings.TrimRight(line, "\r")
		if strings.TrimSpace(line) == "" || strings.HasPrefix(line, "#") {
			return
		}
		ps = append(ps, gitignore.ParsePattern(line, nil))
	}
	for _, d := range DefaultIgnore {
		add(d)
	}
	sc := bufio.NewScanner(bytes.NewReader(file))
	for sc.Scan() {
		add(sc.Text())
	}
	for _, e := range extra {
		add(e)
	}
	return &Ignorer{m: gitignore.NewMatcher(ps), empty: len(ps) == 0}
}

// Ignored reports whether the relative path p ('/'-separated) is ignored.
func (ig *Ignorer) Ignored(p string, isDir bool) bool {
	if ig == nil || ig.empty || p == "" {
		return false
	}
	return ig.m.Match(strings.Split(p, "/"), isDir)
}
