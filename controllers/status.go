package controllers

import (
	"fmt"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/webstack-dev/webstack-operator/api/v1alpha1"
)

// workload is what the reconcile observed of one Deployment or StatefulSet.
type workload struct {
	// name is the object's name, for messages.
	name string
	// exists is false when the object is not in the cache yet.
	exists bool
	// desired is the number of pods asked for; ready and updated what the status reports.
	desired, ready, updated int32
	// current is true when the workload controller has seen the latest spec
	// (status.observedGeneration >= metadata.generation).
	current bool
}

// rolledOut is true when every desired pod runs the latest spec and is ready.
func (w workload) rolledOut() bool {
	return w.exists && w.current && w.updated >= w.desired && w.ready >= w.desired
}

// component is one condition's worth of observation: its workloads (empty when disabled).
type component struct {
	condition string
	enabled   bool
	// disabledBy is the spec field that turns the component off, for the message.
	disabledBy string
	workloads  []workload
}

// migrationPhase is where the migration of a new app image stands.
type migrationPhase int

const (
	migrationNone migrationPhase = iota
	migrationRunning
	migrationFailed
)

// observation is everything status is computed from; filled by the reconcile phases.
type observation struct {
	generation int64
	components []component
	migration  migrationPhase
	// migrationJob names the Job of the running or failed migration.
	migrationJob string
	// pendingImage is the app image waiting for its migration.
	pendingImage string
	// warnings are tuning warnings (explicit values the operator did not correct).
	warnings []string
	// budgetShort is true when database.maxConnections is below the connection budget.
	budgetShort bool
	// failure is the phase that stopped the reconcile, if one did.
	failure *failure
	tuning  *v1alpha1.TuningStatus
	// endpoint and connectionSecret are observed facts for status.
	endpoint, connectionSecret string
	replicas                   v1alpha1.ComponentsStatus
}

// failure is a phase's error, with the condition reason status reports it under.
type failure struct {
	// reason is its condition reason (v1alpha1.ReasonCredentialsFailed, ...).
	reason string
	err    error
}

// computeStatus derives the whole status afresh from one observation. Condition times only
// change when a condition's status changes (meta.SetStatusCondition keeps them otherwise).
func computeStatus(old v1alpha1.WebStackStatus, o observation) v1alpha1.WebStackStatus {
	st := v1alpha1.WebStackStatus{
		ObservedGeneration: o.generation,
		Conditions:         append([]metav1.Condition(nil), old.Conditions...),
		Components:         o.replicas,
		Tuning:             o.tuning,
		Endpoint:           o.endpoint,
		ConnectionSecret:   o.connectionSecret,
	}
	set := func(t string, ok bool, reason, msg string) {
		status := metav1.ConditionFalse
		if ok {
			status = metav1.ConditionTrue
		}
		meta.SetStatusCondition(&st.Conditions, metav1.Condition{Type: t, Status: status, Reason: reason, Message: msg, ObservedGeneration: o.generation})
	}

	var notReady, rolling []string
	for _, c := range o.components {
		ok, reason, msg := componentCondition(c)
		set(c.condition, ok, reason, msg)
		if !ok {
			notReady = append(notReady, strings.TrimSuffix(c.condition, "Ready"))
		}
		for _, w := range c.workloads {
			if w.exists && (!w.current || w.updated < w.desired) {
				rolling = append(rolling, w.name)
			}
		}
	}

	switch {
	case o.migration == migrationRunning:
		set(v1alpha1.ConditionProgressing, true, v1alpha1.ReasonMigrating, fmt.Sprintf("migration Job %s runs for image %s; the app keeps its current image until it succeeds", o.migrationJob, o.pendingImage))
	case len(rolling) > 0:
		sort.Strings(rolling)
		set(v1alpha1.ConditionProgressing, true, v1alpha1.ReasonRollingOut, "rolling out: "+strings.Join(rolling, ", "))
	default:
		set(v1alpha1.ConditionProgressing, false, v1alpha1.ReasonStable, "every component runs its latest spec")
	}

	switch {
	case o.failure != nil:
		set(v1alpha1.ConditionDegraded, true, o.failure.reason, o.failure.err.Error())
	case o.migration == migrationFailed:
		set(v1alpha1.ConditionDegraded, true, v1alpha1.ReasonMigrationFailed, fmt.Sprintf("migration Job %s failed for image %s; the app keeps its current image: read the Job's logs, then fix the image or app.migration.command", o.migrationJob, o.pendingImage))
	case o.budgetShort:
		set(v1alpha1.ConditionDegraded, true, v1alpha1.ReasonConnectionBudgetExceeded, strings.Join(o.warnings, "; "))
	default:
		set(v1alpha1.ConditionDegraded, false, v1alpha1.ReasonAsExpected, "nothing needs attention")
	}

	switch {
	case len(notReady) > 0:
		set(v1alpha1.ConditionReady, false, v1alpha1.ReasonComponentsNotReady, "not ready yet: "+strings.Join(notReady, ", "))
	case o.migration != migrationNone:
		set(v1alpha1.ConditionReady, false, v1alpha1.ReasonMigrating, "the app does not run spec.app.image yet: its migration has not succeeded")
	case o.failure != nil:
		set(v1alpha1.ConditionReady, false, o.failure.reason, "the stack does not match the spec: "+o.failure.err.Error())
	default:
		set(v1alpha1.ConditionReady, true, v1alpha1.ReasonReady, "every enabled component is ready at generation "+fmt.Sprint(o.generation))
	}
	sortConditions(st.Conditions)
	return st
}

// componentCondition is one component's condition: ready when every workload rolled out.
func componentCondition(c component) (bool, string, string) {
	if !c.enabled {
		return true, v1alpha1.ReasonDisabled, c.disabledBy + " turns it off"
	}
	var waiting []string
	for _, w := range c.workloads {
		switch {
		case !w.exists:
			waiting = append(waiting, w.name+" not created yet")
		case !w.rolledOut():
			waiting = append(waiting, fmt.Sprintf("%s %d/%d pods ready and updated", w.name, min(w.ready, w.updated), w.desired))
		}
	}
	if len(waiting) > 0 {
		return false, v1alpha1.ReasonPending, strings.Join(waiting, "; ")
	}
	return true, v1alpha1.ReasonReady, "all pods ready"
}

// conditionOrder keeps conditions in a stable, readable order.
var conditionOrder = append([]string{v1alpha1.ConditionReady, v1alpha1.ConditionProgressing, v1alpha1.ConditionDegraded}, v1alpha1.ComponentConditions...)

func sortConditions(cs []metav1.Condition) {
	rank := func(t string) int {
		for i, o := range conditionOrder {
			if o == t {
				return i
			}
		}
		return len(conditionOrder)
	}
	sort.SliceStable(cs, func(i, j int) bool { return rank(cs[i].Type) < rank(cs[j].Type) })
}

// replicaStatus is a component's replicas for status.components.
func replicaStatus(ws ...workload) *v1alpha1.ComponentStatus {
	var c v1alpha1.ComponentStatus
	for _, w := range ws {
		c.Desired += w.desired
		c.Ready += w.ready
	}
	c.Replicas = fmt.Sprintf("%d/%d", c.Ready, c.Desired)
	return &c
}
