package crd

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
)

// Case is one admission case read from testdata.
type Case struct {
	// Name is the file name without .yaml.
	Name string
	// Expect is the part of the error message the API server must return ("" = accepted).
	Expect string
	// Old is the stored object of an update case (nil for a create).
	Old []byte
	// New is the object created, or the update.
	New []byte
}

// Dir is the absolute path of this package's testdata directory.
func Dir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "testdata")
}

// Load reads every case in testdata/<sub>: a file starts with "# expect: MESSAGE" (omitted
// for accepted cases) and holds one document, or two separated by "---" for an update.
func Load(sub string) ([]Case, error) {
	files, err := filepath.Glob(filepath.Join(Dir(), sub, "*.yaml"))
	if err != nil {
		return nil, err
	}
	sort.Strings(files)
	cases := make([]Case, 0, len(files))
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		c := Case{Name: strings.TrimSuffix(filepath.Base(f), ".yaml")}
		first, _, _ := bytes.Cut(data, []byte("\n"))
		if expect, ok := strings.CutPrefix(string(first), "# expect: "); ok {
			c.Expect = strings.TrimSpace(expect)
		}
		docs := bytes.Split(data, []byte("\n---\n"))
		switch len(docs) {
		case 1:
			c.New = docs[0]
		case 2:
			c.Old, c.New = docs[0], docs[1]
		default:
			return nil, fmt.Errorf("%s: want one document, or two for an update, got %d", f, len(docs))
		}
		cases = append(cases, c)
	}
	if len(cases) == 0 {
		return nil, fmt.Errorf("no cases in %s", filepath.Join(Dir(), sub))
	}
	return cases, nil
}
