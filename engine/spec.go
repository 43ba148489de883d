package engine

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Spec names one side of a pair as the user wrote it.
type Spec struct {
	Host string // [user@]host for a remote side; "" for a local directory
	Path string // directory; for a remote side relative to the remote home ("" is the home)
}

// IsRemote reports whether the spec names a directory reached over ssh.
func (s Spec) IsRemote() bool { return s.Host != "" }

func (s Spec) String() string {
	if s.IsRemote() {
		return s.Host + ":" + s.Path
	}
	return s.Path
}

// ParseSpec reads "[user@]host:path" or a local directory, the way rsync
// does: a colon before any slash makes it remote. A local path with a colon
// can be written as ./name:with:colons.
func ParseSpec(s string) (Spec, error) {
	if s == "" {
		return Spec{}, fmt.Errorf("empty directory argument")
	}
	if i := strings.IndexByte(s, ':'); i >= 0 && !strings.Contains(s[:i], "/") {
		host := s[:i]
		if host == "" || strings.HasPrefix(host, "-") || strings.ContainsAny(host, " \t\n\x00") {
			return Spec{}, fmt.Errorf("%q: invalid host name", s)
		}
		return Spec{Host: host, Path: s[i+1:]}, nil
	}
	return Spec{Path: s}, nil
}

// canonicalDir returns the absolute, symlink-free path of an existing
// directory, or an error naming it and the cause.
func canonicalDir(p string) (string, error) {
	abs, err := filepath.Abs(p)
	if err != nil {
		return "", fmt.Errorf("%s: %w", p, err)
	}
	real, err := filepath.EvalSymlinks(abs)
	if err != nil {
		if os.IsNotExist(err) {
			return "", fmt.Errorf("%s: no such directory", p)
		}
		return "", fmt.Errorf("%s: %w", p, unwrapPathErr(err))
	}
	fi, err := os.Stat(real)
	if err != nil {
		return "", fmt.Errorf("%s: %w", p, unwrapPathErr(err))
	}
	if !fi.IsDir() {
		return "", fmt.Errorf("%s: not a directory", p)
	}
	return real, nil
}

// unwrapPathErr drops the operation and path of an *os.PathError, whose
// path the caller names already.
func unwrapPathErr(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err
	}
	return err
}

// within reports whether p lies strictly inside directory dir (both
// absolute and clean).
func within(p, dir string) bool {
	if dir == "/" {
		return p != "/"
	}
	return len(p) > len(dir) && p[len(dir)] == '/' && p[:len(dir)] == dir
}

// overlap reports how directories a and b (absolute, symlink-free), named
// aName and bName in messages, share a tree: nil when apart, else an error
// saying which holds the other. What follows a refusal explains it.
func overlap(a, aName, b, bName, why string) error {
	switch {
	case a == b:
		return fmt.Errorf("%s and %s are the same directory", aName, bName)
	case within(a, b):
		return fmt.Errorf("%s is inside %s (%s)%s", aName, bName, b, why)
	case within(b, a):
		return fmt.Errorf("%s is inside %s (%s)%s", bName, aName, a, why)
	}
	return nil
}
