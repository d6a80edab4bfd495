package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"text/tabwriter"

	"sigs.k8s.io/yaml"

	"github.com/webstack-dev/webstack-operator/api/v1alpha1"
	"github.com/webstack-dev/webstack-operator/internal/manifest"
	"github.com/webstack-dev/webstack-operator/internal/stack"
	"github.com/webstack-dev/webstack-operator/internal/stack/tuning"
)

const tuneUsage = `Usage: webstack-operator tune -f FILE [-o table|json|yaml]

Prints every number the operator derives for the first WebStack in FILE (defaults applied
and validated as the API server would), each with the formula that gave it, then warnings.
-o json and -o yaml print only status.tuning, as {"tuning": {...}}.

Flags:
`

// runTune implements `webstack-operator tune`.
func runTune(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("tune", flag.ContinueOnError)
	fs.SetOutput(stderr)
	file := fs.String("f", "", "manifest file to read, YAML or JSON, possibly several documents; - reads standard input")
	output := fs.String("o", "table", "output format: table, json or yaml")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), tuneUsage)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	switch {
	case fs.NArg() > 0:
		return fmt.Errorf("unexpected arguments %q: give the manifest with -f FILE", fs.Args())
	case *file == "":
		return errors.New("-f FILE is required (- reads standard input)")
	case *output != "table" && *output != "json" && *output != "yaml":
		return fmt.Errorf("-o %q is not an output format: use table, json or yaml", *output)
	}

	ws, err := manifest.Load(*file)
	if err != nil {
		return err
	}
	// The plan holds the numbers even when the configs would not render; that error is
	// returned after them.
	plan, buildErr := stack.Build(ws, stack.Options{Credentials: placeholderCredentials})
	if plan == nil {
		return buildErr
	}
	r := plan.Tuning

	switch *output {
	case "json":
		b, err := json.MarshalIndent(tuningDocument{Tuning: r.Status()}, "", "  ")
		if err != nil {
			return fmt.Errorf("encoding JSON: %w", err)
		}
		if _, err = fmt.Fprintf(stdout, "%s\n", b); err != nil {
			return err
		}
		return buildErr
	case "yaml":
		b, err := yaml.Marshal(tuningDocument{Tuning: r.Status()})
		if err != nil {
			return fmt.Errorf("encoding YAML: %w", err)
		}
		if _, err = stdout.Write(b); err != nil {
			return err
		}
		return buildErr
	}
	if err := writeTable(stdout, r); err != nil {
		return err
	}
	return buildErr
}

// tuningDocument is what -o json and -o yaml print: status.tuning under its own key.
type tuningDocument struct {
	Tuning v1alpha1.TuningStatus `json:"tuning"`
}

// writeTable prints one aligned line per derived value (path, value, explanation), then the
// warnings, if any.
func writeTable(w io.Writer, r tuning.Result) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "PATH\tVALUE\tEXPLANATION")
	for _, l := range r.Lines {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", l.Path, l.Value, l.Explanation)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(r.Warnings) > 0 {
		fmt.Fprintf(w, "\nWARNINGS\n")
		for _, warning := range r.Warnings {
			fmt.Fprintf(w, "- %s\n", warning)
		}
	}
	return nil
}
