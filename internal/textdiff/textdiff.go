// Package textdiff shows how a rendered text differs from its golden file, for the tests that
// compare configs, objects and tuning results with files under testdata.
package textdiff

import (
	"strconv"
	"strings"
)

// maxLines bounds the report, so a wholly different file does not flood the test log.
const maxLines = 10

// Lines lists the first lines (at most 10) where got differs from want, with their numbers;
// "" when they are equal.
func Lines(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var out []string
	for i := 0; i < max(len(w), len(g)) && len(out) < maxLines; i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			out = append(out, "line "+strconv.Itoa(i+1)+":\n  want: "+wl+"\n  got:  "+gl)
		}
	}
	return strings.Join(out, "\n")
}
