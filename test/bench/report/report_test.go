package report

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestWriteSectionReplacesOnlyItsOwnSection(t *testing.T) {
	const other = "<!-- stack:begin -->\nstack numbers\n<!-- stack:end -->\n"
	cases := map[string]struct {
		before string // "" for no file
		want   string
	}{
		"no file yet":                    {"", "# Benchmarks\n\nEach section below is written by its own command; see the command line in it.\n\n<!-- operator:begin -->\nnew\n<!-- operator:end -->\n"},
		"appended after another section": {"# B\n\n" + other, "# B\n\n" + other + "\n<!-- operator:begin -->\nnew\n<!-- operator:end -->\n"},
		"replaced, the other kept": {"# B\n\n" + other + "\n<!-- operator:begin -->\nold\nlines\n<!-- operator:end -->\ntail\n",
			"# B\n\n" + other + "\n<!-- operator:begin -->\nnew\n<!-- operator:end -->\ntail\n"},
		"replaced before another section": {"<!-- operator:begin -->\nold\n<!-- operator:end -->\n" + other,
			"<!-- operator:begin -->\nnew\n<!-- operator:end -->\n" + other},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "docs", "benchmarks.md")
			if tc.before != "" {
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, []byte(tc.before), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if err := WriteSection(path, "operator", "new\n"); err != nil {
				t.Fatal(err)
			}
			got, _ := os.ReadFile(path)
			if string(got) != tc.want {
				t.Errorf("got:\n%s\nwant:\n%s", got, tc.want)
			}
		})
	}
	if err := WriteSection(filepath.Join(t.TempDir(), "b.md"), "operator", " \n"); err == nil {
		t.Error("an empty section was written, want an error")
	}
}

func TestMedian(t *testing.T) {
	cases := map[string]struct {
		xs   []float64
		want float64
	}{
		"odd count, unsorted":                {[]float64{3, 1, 2}, 2},
		"even count: mean of the middle two": {[]float64{4, 1, 3, 2}, 2.5},
		"one":                                {[]float64{7}, 7},
		"empty":                              {nil, 0},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if got := Median(tc.xs); got != tc.want {
				t.Errorf("Median(%v) = %v, want %v", tc.xs, got, tc.want)
			}
		})
	}
	if got := Median([]time.Duration{3, 1, 2}); got != 2 {
		t.Errorf("Median of durations = %v, want 2", got)
	}
}

func TestTable(t *testing.T) {
	var b strings.Builder
	Table(&b, []string{"N", "total"}, [][]string{{"1", "0.3 s"}, {"100", "22 s"}})
	want := "| N | total |\n| --- | --- |\n| 1 | 0.3 s |\n| 100 | 22 s |\n\n"
	if b.String() != want {
		t.Errorf("got:\n%s\nwant:\n%s", b.String(), want)
	}
}
