// Package report writes the benchmarks' shared report, docs/benchmarks.md: each benchmark
// (test/bench/operator, test/bench/stack) replaces its own section and leaves the others, and
// describes the machine it ran on the same way.
package report
