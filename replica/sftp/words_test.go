package sftp

import (
	"slices"
	"strings"
	"testing"
)

func TestSplitWords(t *testing.T) {
	tests := []struct {
		in   string
		want []string
		bad  bool
	}{
		{in: "ssh", want: []string{"ssh"}},
		{in: "", want: nil},
		{in: "  \t ", want: nil},
		{in: "ssh -p 2222  -i key", want: []string{"ssh", "-p", "2222", "-i", "key"}},
		{in: `ssh -i 'my key'`, want: []string{"ssh", "-i", "my key"}},
		{in: `ssh -i "my key"`, want: []string{"ssh", "-i", "my key"}},
		{in: `ssh -i my\ key`, want: []string{"ssh", "-i", "my key"}},
		{in: `a'b'"c"d`, want: []string{"abcd"}},
		{in: `''`, want: []string{""}},
		{in: `a "" b`, want: []string{"a", "", "b"}},
		{in: `'a\b'`, want: []string{`a\b`}},
		{in: `"a\"b\\c\$d\e"`, want: []string{`a"b\c$d\e`}},
		{in: `"it's"`, want: []string{"it's"}},
		{in: `'say "hi"'`, want: []string{`say "hi"`}},
		{in: `\'`, want: []string{"'"}},
		{in: "ssh -o 'ProxyCommand ssh -W %h:%p gw'", want: []string{"ssh", "-o", "ProxyCommand ssh -W %h:%p gw"}},
		{in: `'open`, bad: true},
		{in: `"open`, bad: true},
		{in: `trailing\`, bad: true},
		{in: `"a\"`, bad: true},
	}
	for _, tt := range tests {
		got, err := SplitCommand(tt.in)
		if tt.bad {
			if err == nil {
				t.Errorf("SplitCommand(%q) = %q, want an error", tt.in, got)
			}
			continue
		}
		if err != nil || !slices.Equal(got, tt.want) {
			t.Errorf("SplitCommand(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

// quoteWord quotes w for SplitCommand so that it comes back unchanged.
func quoteWord(w string) string {
	return "'" + strings.ReplaceAll(w, "'", `'\''`) + "'"
}

func FuzzSplitWords(f *testing.F) {
	for _, s := range []string{"ssh -p 22", `a 'b c' "d\"e" f\ g`, `'`, `"\`, "\t\n", `''""`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		words, err := SplitCommand(s)
		if err != nil {
			return
		}
		quoted := make([]string, len(words))
		for i, w := range words {
			quoted[i] = quoteWord(w)
		}
		again, err := SplitCommand(strings.Join(quoted, " "))
		if err != nil || !slices.Equal(again, words) {
			t.Fatalf("SplitCommand(%q) = %q; quoted and split again: %q, %v", s, words, again, err)
		}
		for _, w := range words {
			if strings.ContainsAny(w, " \t\n") && !strings.ContainsAny(s, `'"\`) {
				t.Fatalf("SplitCommand(%q) kept a separator in word %q without quoting", s, w)
			}
		}
	})
}
