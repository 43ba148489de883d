package sftp

import (
	"errors"
	"strings"
)

// errUnterminated reports an open quote or a trailing backslash.
var errUnterminated = errors.New("unterminated quote or trailing backslash")

// SplitCommand splits an ssh command line such as `ssh -i "my key" -p 22`
// into words the way a POSIX shell would, minus expansions: words are
// separated by unquoted blanks; single quotes keep everything literally;
// double quotes keep everything except that a backslash escapes `"`, `\`,
// `$` and '`'; outside quotes a backslash escapes any character.
func SplitCommand(s string) ([]string, error) {
	var (
		words  []string
		cur    strings.Builder
		inWord bool
	)
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
			continue
		case c == '\\':
			if i+1 >= len(s) {
				return nil, errUnterminated
			}
			i++
			cur.WriteByte(s[i])
		case c == '\'':
			end := strings.IndexByte(s[i+1:], '\'')
			if end < 0 {
				return nil, errUnterminated
			}
			cur.WriteString(s[i+1 : i+1+end])
			i += end + 1
		case c == '"':
			n, err := doubleQuoted(s[i+1:], &cur)
			if err != nil {
				return nil, err
			}
			i += n
		default:
			cur.WriteByte(c)
		}
		inWord = true
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}

// doubleQuoted copies the body of a double-quoted string from s (which
// starts right after the opening quote) into b and returns how many bytes of
// s it consumed, the closing quote included.
func doubleQuoted(s string, b *strings.Builder) (int, error) {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '"':
			return i + 1, nil
		case '\\':
			if i+1 < len(s) && strings.IndexByte("\"\\$`", s[i+1]) >= 0 {
				i++
				b.WriteByte(s[i])
				continue
			}
			b.WriteByte(c)
		default:
			b.WriteByte(c)
		}
	}
	return 0, errUnterminated
}
