// Package testutil builds WebStack fixtures for tests with functional options, e.g.
// testutil.WebStack("shop", testutil.WithTasks(2), testutil.WithoutCache()).
package testutil
