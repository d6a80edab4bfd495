package tuning

import (
	"fmt"

	"github.com/webstack-dev/webstack-operator/api/v1alpha1"
)

// For derives every number of ws, each with a one-line explanation in Result.Lines.
//
// ws must have the CRD's schema defaults applied (as the API server does, or
// manifest.Validate). Explicit values in the spec always win over derived ones; an explicit
// value that cannot work (a maxConnections below the connection budget) is kept and reported
// in Result.Warnings, never silently corrected. For never modifies ws and never panics: values
// the API would reject (a zero memoryPerWorker, no HAProxy replicas, negative quantities)
// fall back to the documented guards instead of dividing by zero or overflowing.
func For(ws *v1alpha1.WebStack) Result {
	if ws == nil {
		ws = &v1alpha1.WebStack{}
	}
	spec := &ws.Spec
	x := &explainer{}

	r := Result{}
	r.App = x.app(spec)
	if spec.Tasks != nil {
		t := x.tasks(spec.Tasks)
		r.Tasks = &t
	}
	if spec.Database.IsEnabled() {
		d, pooler := x.database(&spec.Database, r.App, r.Tasks)
		r.Database, r.Pooler = &d, pooler
	}
	if spec.Redis.IsEnabled() {
		c := x.redis(&spec.Redis)
		r.Redis = &c
	}
	if spec.Tasks != nil {
		b := x.broker(&spec.Tasks.Broker)
		r.Broker = &b
	}
	if spec.Cache.IsEnabled() {
		c := x.cache(&spec.Cache)
		r.Cache = &c
	}
	r.LoadBalancer = x.loadBalancer(&spec.LoadBalancer, r.App)
	r.Agent = agent()

	r.Warnings = x.warnings
	if r.Warnings == nil {
		r.Warnings = []string{}
	}
	r.Lines = x.lines
	return r
}

// explainer collects the lines and warnings while the numbers are derived, in display order.
type explainer struct {
	lines    []Line
	warnings []string
}

// line records one value of status.tuning with its explanation.
func (x *explainer) line(path, value, format string, args ...any) {
	x.lines = append(x.lines, Line{Path: path, Value: value, Explanation: fmt.Sprintf(format, args...)})
}

// warn records a problem with the spec.
func (x *explainer) warn(format string, args ...any) {
	x.warnings = append(x.warnings, fmt.Sprintf(format, args...))
}
