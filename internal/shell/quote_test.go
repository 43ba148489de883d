package shell

import (
	"os/exec"
	"testing"
)

// Every word comes back unchanged from a real shell.
func TestQuote(t *testing.T) {
	for _, w := range []string{"", "plain/path.txt", "a b", "it's", `"$HOME"`, "x;rm -rf y", "new\nline", "*", "~user", "-n"} {
		out, err := exec.Command("sh", "-c", "printf %s "+Quote(w)).Output()
		if err != nil || string(out) != w {
			t.Errorf("Quote(%q) = %s: shell gave %q, %v", w, Quote(w), out, err)
		}
	}
}
