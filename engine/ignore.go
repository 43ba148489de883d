package engine

import (
	"bufio"
	"bytes"
	"path/filepath"
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
	// names holds the patterns, in order, when every one is a name
	// pattern (no '/' but a trailing one): Ignored then matches them
	// itself, as the gitignore package does but without allocating and,
	// for globs made of literals and '*' only, without filepath.Match.
	names []namePattern
}

// namePattern is a gitignore pattern without '/' (but a trailing one):
// it matches a path when it matches one of its names.
type namePattern struct {
	glob      string   // for filepath.Match
	parts     []string // glob's literal parts between '*'s, when it has nothing else
	inclusion bool     // "!": a match takes the path back
	dirOnly   bool     // trailing '/': the last name matches only a directory
}

// NewIgnorer builds an Ignorer from DefaultIgnore, the content of an ignore
// file (may be nil) and extra patterns given on the command line. Later
// patterns win, as in gitignore, so the file overrides the defaults and
// command-line patterns override the file.
func NewIgnorer(file []byte, extra []string) *Ignorer {
	var ps []gitignore.Pattern
	var names []namePattern
	simple := true
	add := func(line string) {
		line = strings.TrimRight(line, "\r")
		if strings.TrimSpace(line) == "" || strings.HasPrefix(line, "#") {
			return
		}
		ps = append(ps, gitignore.ParsePattern(line, nil))
		np, ok := parseNamePattern(line)
		simple = simple && ok
		names = append(names, np)
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
	ig := &Ignorer{m: gitignore.NewMatcher(ps), empty: len(ps) == 0}
	if simple {
		ig.names = names
	}
	return ig
}

// parseNamePattern parses a pattern as gitignore.ParsePattern does; ok is
// false unless it is a name pattern.
func parseNamePattern(p string) (np namePattern, ok bool) {
	if strings.HasPrefix(p, "!") {
		np.inclusion = true
		p = p[1:]
	}
	if !strings.HasSuffix(p, "\\ ") {
		p = strings.TrimRight(p, " ")
	}
	if strings.HasSuffix(p, "/") {
		np.dirOnly = true
		p = p[:len(p)-1]
	}
	if strings.Contains(p, "/") {
		return np, false
	}
	np.glob = p
	np.parts = literalParts(p)
	return np, true
}

// literalParts splits a glob made of literals (escaped or not) and '*'
// only into its literal parts; nil for any other glob.
func literalParts(glob string) []string {
	var parts []string
	var b strings.Builder
	for i := 0; i < len(glob); i++ {
		switch c := glob[i]; c {
		case '?', '[':
			return nil
		case '*':
			parts = append(parts, b.String())
			b.Reset()
		case '\\':
			if i+1 == len(glob) {
				return nil // malformed: filepath.Match says so
			}
			i++
			b.WriteByte(glob[i])
		default:
			b.WriteByte(c)
		}
	}
	return append(parts, b.String())
}

// matchName is filepath.Match(np.glob, name), true or false (a malformed
// glob matches nothing).
func (np *namePattern) matchName(name string) bool {
	if np.parts == nil {
		ok, err := filepath.Match(np.glob, name)
		return ok && err == nil
	}
	first, last := np.parts[0], np.parts[len(np.parts)-1]
	if len(np.parts) == 1 {
		return name == first
	}
	if len(name) < len(first)+len(last) || !strings.HasPrefix(name, first) || !strings.HasSuffix(name, last) {
		return false
	}
	mid := name[len(first) : len(name)-len(last)]
	for _, part := range np.parts[1 : len(np.parts)-1] {
		i := strings.Index(mid, part)
		if i < 0 {
			return false
		}
		mid = mid[i+len(part):]
	}
	return true
}

// match tells whether np matches the path whose names are names, as
// gitignore's Pattern.Match.
func (np *namePattern) match(names []string, isDir bool) bool {
	for i, name := range names {
		if np.matchName(name) {
			return !np.dirOnly || isDir || i < len(names)-1
		}
	}
	return false
}

// Ignored reports whether the relative path p ('/'-separated) is ignored.
func (ig *Ignorer) Ignored(p string, isDir bool) bool {
	if ig == nil || ig.empty || p == "" {
		return false
	}
	if ig.names != nil {
		var buf [16]string // most paths are no deeper: no allocation
		names := buf[:0]
		for {
			name, rest, more := strings.Cut(p, "/")
			names = append(names, name)
			if !more {
				break
			}
			p = rest
		}
		for i := len(ig.names) - 1; i >= 0; i-- {
			if np := &ig.names[i]; np.match(names, isDir) {
				return !np.inclusion
			}
		}
		return false
	}
	return ig.m.Match(strings.Split(p, "/"), isDir)
}
