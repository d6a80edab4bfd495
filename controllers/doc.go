// Package controllers holds the WebStack reconciler: everything that talks to the API server
// (reading children, applying them through controllers/ssa, writing status). What to apply
// comes from one pure plan, internal/stack.Build; the reconciler runs named phases of I/O
// around it, each failing under its own condition reason.
package controllers
