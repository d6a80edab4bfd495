package report

import (
	"cmp"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"

	"github.com/prometheus/procfs"
)

// WriteSection replaces the section name of the Markdown file at path with body: everything
// between the lines "<!-- name:begin -->" and "<!-- name:end -->". A file without that
// section gets it appended; a missing file is created with a title.
func WriteSection(path, name, body string) error {
	if strings.TrimSpace(body) == "" {
		return fmt.Errorf("section %s of %s: nothing to write", name, path)
	}
	old, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		old, err = []byte("# Benchmarks\n\nEach section below is written by its own command; see the command line in it.\n"), nil
	}
	if err != nil {
		return err
	}
	begin, end := "<!-- "+name+":begin -->\n", "<!-- "+name+":end -->\n"
	body = strings.TrimSuffix(body, "\n") + "\n"
	text := string(old)
	i := strings.Index(text, begin)
	j := strings.Index(text, end)
	if i >= 0 && j > i {
		text = text[:i+len(begin)] + body + text[j:]
	} else {
		text = strings.TrimSuffix(text, "\n") + "\n\n" + begin + body + end
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, []byte(text), 0o644)
}

// Machine describes where a benchmark ran.
type Machine struct {
	CPUs      int     `json:"cpus"`
	CPUModel  string  `json:"cpuModel"`
	MemoryGiB float64 `json:"memoryGiB"`
	Kernel    string  `json:"kernel"`
	GoVersion string  `json:"goVersion"`
	// LoadStart and LoadEnd are the load averages (1, 5, 15 min) before and after: the
	// machine is shared, and other work takes some of its CPU.
	LoadStart string `json:"loadAverageAtStart"`
	LoadEnd   string `json:"loadAverageAtEnd,omitempty"`
}

// DescribeMachine reads the machine's CPUs, memory, kernel and load average now.
func DescribeMachine() Machine {
	m := Machine{CPUs: runtime.NumCPU(), GoVersion: runtime.Version(), CPUModel: "unknown CPU", LoadStart: LoadAverage()}
	fs, err := procfs.NewDefaultFS()
	if err != nil {
		return m
	}
	if cpus, err := fs.CPUInfo(); err == nil && len(cpus) > 0 {
		m.CPUModel = cpus[0].ModelName
	}
	if mem, err := fs.Meminfo(); err == nil && mem.MemTotal != nil {
		m.MemoryGiB = float64(*mem.MemTotal) / (1 << 20)
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	return m
}

// LoadAverage is the machine's 1, 5 and 15 minute load average.
func LoadAverage() string {
	fs, err := procfs.NewDefaultFS()
	if err != nil {
		return ""
	}
	l, err := fs.LoadAvg()
	if err != nil {
		return ""
	}
	return fmt.Sprintf("%.2f %.2f %.2f", l.Load1, l.Load5, l.Load15)
}

// Median is the median of xs (the mean of the middle two for an even count), 0 for none.
func Median[T ~int | ~int64 | ~float64](xs []T) T {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.SortFunc(s, cmp.Compare)
	if n := len(s); n%2 == 0 {
		return (s[n/2-1] + s[n/2]) / 2
	}
	return s[len(s)/2]
}

// Table writes a Markdown table: the header, then one row per slice of cells.
func Table(b *strings.Builder, header []string, rows [][]string) {
	line := func(cells []string) { fmt.Fprintf(b, "| %s |\n", strings.Join(cells, " | ")) }
	line(header)
	line(slices.Repeat([]string{"---"}, len(header)))
	for _, r := range rows {
		line(r)
	}
	b.WriteString("\n")
}
