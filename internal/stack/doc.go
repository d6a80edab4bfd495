// Package stack is the pure pipeline that turns a WebStack into everything its stack needs:
// Build derives the numbers (tuning), renders the configs (render) and builds the objects
// (resources) into one Plan. It has no client, no context, no clock and no randomness; the
// reconciler, the CLI, the stack tests and the benchmarks all build the stack through it.
package stack
