// Package tuning derives every number of the stack (workers, connections, memory splits,
// HAProxy limits) from a WebStack spec, each with a one-line explanation. It is pure: no
// client, no I/O, no clock.
package tuning
