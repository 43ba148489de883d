package journal

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
)

// maxPairFile bounds what is read of a pair file: two paths.
const maxPairFile = 64 << 10

// Identities returns the identities of the pairs whose journals lie under
// stateDir (every pair a command opened there), read from their pair
// files, sorted. The state directory is not trusted: a pair file is taken
// only when it is a regular file whose identity names its directory (see
// PairDir), so that a damaged or planted one is skipped, and a name that
// holds a newline is still read exactly. A missing stateDir holds none.
func Identities(stateDir string) ([]string, error) {
	root := filepath.Join(stateDir, "pairs")
	des, err := os.ReadDir(root)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, de := range des {
		if !de.IsDir() || len(de.Name()) != 16 {
			continue // a journal moved aside, or not a pair's
		}
		if id, ok := readIdentity(stateDir, de.Name()); ok {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	return ids, nil
}

// readIdentity reads the pair file of the pair directory name under
// stateDir and returns the identity it holds, if that identity names the
// directory.
func readIdentity(stateDir, name string) (string, bool) {
	dir := filepath.Join(stateDir, "pairs", name)
	f, err := os.OpenFile(filepath.Join(dir, pairFile), os.O_RDONLY|syscall.O_NOFOLLOW, 0)
	if err != nil {
		return "", false
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		return "", false
	}
	b, err := io.ReadAll(io.LimitReader(f, maxPairFile+1))
	if err != nil || len(b) > maxPairFile {
		return "", false
	}
	text, ok := strings.CutSuffix(string(b), "\n")
	if !ok || strings.IndexByte(text, 0) >= 0 {
		return "", false
	}
	// pairText made the NUL between the two parts a newline: the one
	// newline whose NUL gives the directory's name is it
	for i := 0; i < len(text); i++ {
		if text[i] != '\n' {
			continue
		}
		id := text[:i] + "\x00" + text[i+1:]
		if PairDir(stateDir, id) == dir {
			return id, true
		}
	}
	return "", false
}
