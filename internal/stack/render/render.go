package render

import (
	"bytes"
	"embed"
	"fmt"
	"math"
	"strconv"
	"strings"
	"text/template"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/webstack-dev/webstack-operator/api/v1alpha1"
)

//go:embed templates/*.tmpl
var templateFS embed.FS

// templates are the parsed templates, one per file, named after the file.
var templates = template.Must(template.New("").Option("missingkey=error").Funcs(template.FuncMap{
	"inc":  func(i int) int { return i + 1 },
	"join": strings.Join,
}).ParseFS(templateFS, "templates/*.tmpl"))

// execute renders the template of a file with data.
func execute(name string, data any) (string, error) {
	var b bytes.Buffer
	if err := templates.ExecuteTemplate(&b, name+".tmpl", data); err != nil {
		return "", fmt.Errorf("rendering %s: %w", name, err)
	}
	return b.String(), nil
}

// header is the identity line at the top of every file.
type header struct {
	Namespace, Name string
}

func headerOf(ws *v1alpha1.WebStack) header {
	ns := ws.Namespace
	if ns == "" {
		ns = "default"
	}
	return header{Namespace: ns, Name: ws.Name}
}

// duration is a spec duration that must be set (the CRD defaults it).
func duration(field string, d *metav1.Duration) (time.Duration, error) {
	if d == nil {
		return 0, fmt.Errorf("%s is not set: apply the CRD defaults first (manifest.Validate)", field)
	}
	if d.Duration < 0 {
		return 0, fmt.Errorf("%s is negative (%s)", field, d.Duration)
	}
	return d.Duration, nil
}

// seconds is d in seconds without a unit, e.g. "120" or "1.5", as varnishd parameters take it.
func seconds(d time.Duration) string {
	return strconv.FormatFloat(d.Seconds(), 'f', -1, 64)
}

// vclDuration is d as a VCL duration literal, e.g. "120s".
func vclDuration(d time.Duration) string { return seconds(d) + "s" }

// haproxyTime is d in HAProxy's time format: whole seconds as "30s", else milliseconds
// rounded up ("1500ms"), at least 1ms.
func haproxyTime(d time.Duration) string {
	if d%time.Second == 0 {
		return strconv.FormatInt(int64(d/time.Second), 10) + "s"
	}
	ms := int64(math.Ceil(float64(d) / float64(time.Millisecond)))
	return strconv.FormatInt(max(1, ms), 10) + "ms"
}
