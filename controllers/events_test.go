package controllers

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestChangesSummary(t *testing.T) {
	cases := map[string]struct {
		c          changes
		wantReason string
		wantNote   string
	}{
		"nothing changed": {},
		"a new stack": {
			c: changes{
				created:   []string{"Secret shop-db", "Service shop-app", "ConfigMap shop-lb", "Service shop-lb"},
				passwords: []string{"shop-db"},
			},
			wantReason: ReasonCreated,
			wantNote:   "created 4 objects (1 ConfigMap, 1 Secret, 2 Service); generated the passwords in Secret shop-db",
		},
		"a migration outranks creation": {
			c: changes{
				migrationReason: ReasonMigrationStarted,
				migration:       "started Job shop-migrate-1a2b",
				created:         []string{"Job shop-migrate-1a2b", "Deployment shop-cache"},
			},
			wantReason: ReasonMigrationStarted,
			wantNote:   "started Job shop-migrate-1a2b; created 2 objects (1 Deployment, 1 Job)",
		},
		"a rollout": {
			c:          changes{rolled: []string{"Deployment shop-cache", "StatefulSet shop-database"}},
			wantReason: ReasonRollingOut,
			wantNote:   "applied a new spec to Deployment shop-cache, StatefulSet shop-database",
		},
		"creation outranks a rollout and pruning": {
			c: changes{
				created: []string{"Deployment shop-tasks"},
				rolled:  []string{"Deployment shop-app"},
				pruned:  []string{"Deployment shop-redis", "Service shop-redis"},
			},
			wantReason: ReasonCreated,
			wantNote:   "created 1 object (1 Deployment); applied a new spec to Deployment shop-app; deleted Deployment shop-redis, Service shop-redis: their component is no longer in the spec",
		},
		"only pruning": {
			c:          changes{pruned: []string{"Deployment shop-cache"}},
			wantReason: ReasonPruned,
			wantNote:   "deleted Deployment shop-cache: their component is no longer in the spec",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			reason, note := tc.c.summary()
			if reason != tc.wantReason || note != tc.wantNote {
				t.Errorf("summary() = %q, %q\nwant %q, %q", reason, note, tc.wantReason, tc.wantNote)
			}
		})
	}
}

func TestChangesSummaryFitsAnEvent(t *testing.T) {
	var c changes
	for i := 0; i < 200; i++ {
		c.pruned = append(c.pruned, "NetworkPolicy a-rather-long-name-of-a-pruned-network-policy-é")
	}
	_, note := c.summary()
	if len(note) > maxEventNote {
		t.Fatalf("note is %d bytes, the API server takes at most %d", len(note), maxEventNote)
	}
	if !strings.HasSuffix(note, "...") || !strings.HasPrefix(note, "deleted NetworkPolicy") {
		t.Errorf("a cut note should start with the change and end with ...: %q", note)
	}
	if !utf8.ValidString(note) {
		t.Errorf("the cut split a character: %q", note[len(note)-10:])
	}
}
