package textdiff

import (
	"strings"
	"testing"
)

func TestLines(t *testing.T) {
	cases := map[string]struct{ want, got, diff string }{
		"equal":         {"a\nb\n", "a\nb\n", ""},
		"one line":      {"a\nb\nc", "a\nB\nc", "line 2:\n  want: b\n  got:  B"},
		"got is longer": {"a", "a\nb", "line 2:\n  want: \n  got:  b"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			if d := Lines(c.want, c.got); d != c.diff {
				t.Errorf("Lines = %q, want %q", d, c.diff)
			}
		})
	}
	// Twelve differing lines: the report names the first ten.
	many := Lines("1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n11\n12", "x\nx\nx\nx\nx\nx\nx\nx\nx\nx\nx\nx")
	if n := strings.Count(many, "line "); n != 10 || !strings.Contains(many, "line 10:") || strings.Contains(many, "line 11:") {
		t.Errorf("want the first 10 differing lines, got %d:\n%s", n, many)
	}
}
