package controllers

import (
	"fmt"
	"sort"
	"strings"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"

	"github.com/webstack-dev/webstack-operator/controllers/ssa"
	"github.com/webstack-dev/webstack-operator/internal/stack/resources"
)

// Event reasons of the one Normal Event a reconcile emits about what it changed.
const (
	ReasonCreated            = "Created"
	ReasonRollingOut         = "RollingOut"
	ReasonPruned             = "Pruned"
	ReasonMigrationStarted   = "MigrationStarted"
	ReasonMigrationSucceeded = "MigrationSucceeded"
)

// maxEventNote is the API server's limit on an Event's note (events.k8s.io/v1), in bytes.
const maxEventNote = 1024

// changes is what one reconcile changed. The reconcile tells a person about all of it in one
// Event (changes.announce) instead of one per child: a new stack used to cost 4 to 7 Event
// writes, now 1, or 2 with a migration gate.
type changes struct {
	// migrationReason and migration describe a migration that started or succeeded.
	migrationReason, migration string
	// created, rolled and pruned hold "Kind name" of children created, given a new
	// workload spec, and deleted because their component left the spec.
	created, rolled, pruned []string
	// replaced holds "Service name" of Services deleted to be created with another kind of
	// address (replaceOnAddressChange).
	replaced []string
	// passwords are the credential Secrets created with newly generated passwords.
	passwords []string
}

// announce emits the one Event that sums up c, if anything changed. Its reason is the most
// telling change (a migration, then creation, rollout, pruning); the note lists every change.
func (c changes) announce(s *scope) {
	reason, note := c.summary()
	if reason != "" {
		s.event(corev1.EventTypeNormal, reason, "Reconcile", "%s", note)
	}
}

// recordApply notes a created child, and a workload that got a new spec (a rollout). Other
// updates (a Service, a ConfigMap whose hash then rolls its workload) are not worth a
// person's attention on their own.
func (c *changes) recordApply(obj resources.Object, action ssa.Action) {
	kind := obj.GetObjectKind().GroupVersionKind().Kind
	switch {
	case action == ssa.Created:
		c.created = append(c.created, kind+" "+obj.GetName())
	case action == ssa.Updated && (kind == "Deployment" || kind == "StatefulSet"):
		c.rolled = append(c.rolled, kind+" "+obj.GetName())
	}
}

// log writes one line per kind of change, for a person following the operator's log:
// names of objects, never their contents. Migrations log where they happen (migration.go).
func (c changes) log(log logr.Logger) {
	if len(c.created) > 0 {
		log.Info("Created children", "count", len(c.created), "objects", c.created)
	}
	if len(c.passwords) > 0 {
		log.Info("Generated passwords", "secrets", c.passwords)
	}
	if len(c.rolled) > 0 {
		log.Info("Applied a new spec", "workloads", c.rolled)
	}
	if len(c.replaced) > 0 {
		log.Info("Replaced Services whose kind of address changed", "services", c.replaced)
	}
	if len(c.pruned) > 0 {
		log.Info("Pruned children of components no longer in the spec", "objects", c.pruned)
	}
}

// summary returns the Event's reason and note; "" when nothing changed.
func (c changes) summary() (reason, note string) {
	var parts []string
	if c.migration != "" {
		reason = c.migrationReason
		parts = append(parts, c.migration)
	}
	if len(c.created) > 0 {
		if reason == "" {
			reason = ReasonCreated
		}
		parts = append(parts, fmt.Sprintf("created %d %s (%s)", len(c.created), plural(len(c.created), "object"), kindCounts(c.created)))
	}
	if len(c.passwords) > 0 {
		parts = append(parts, "generated the passwords in Secret "+strings.Join(c.passwords, ", "))
	}
	if len(c.rolled) > 0 {
		if reason == "" {
			reason = ReasonRollingOut
		}
		parts = append(parts, "applied a new spec to "+strings.Join(c.rolled, ", "))
	}
	if len(c.replaced) > 0 {
		parts = append(parts, "replaced "+strings.Join(c.replaced, ", ")+" (a Service's kind of address cannot change in place)")
	}
	if len(c.pruned) > 0 {
		if reason == "" {
			reason = ReasonPruned
		}
		parts = append(parts, "deleted "+strings.Join(c.pruned, ", ")+": their component is no longer in the spec")
	}
	return reason, truncate(strings.Join(parts, "; "), maxEventNote)
}

// kindCounts turns ["Service a", "Service b", "ConfigMap c"] into "1 ConfigMap, 2 Service".
func kindCounts(objs []string) string {
	counts := map[string]int{}
	for _, o := range objs {
		kind, _, _ := strings.Cut(o, " ")
		counts[kind]++
	}
	kinds := make([]string, 0, len(counts))
	for k := range counts {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	out := make([]string, len(kinds))
	for i, k := range kinds {
		out[i] = fmt.Sprintf("%d %s", counts[k], k)
	}
	return strings.Join(out, ", ")
}

func plural(n int, word string) string {
	if n == 1 {
		return word
	}
	return word + "s"
}

// truncate cuts s to at most n bytes, at a rune boundary, marking the cut with "...".
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n - len("...")
	for cut > 0 && s[cut]&0xC0 == 0x80 {
		cut--
	}
	return s[:cut] + "..."
}
