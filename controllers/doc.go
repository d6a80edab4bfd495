// Package controllers holds the WebStack reconciler: everything that talks to the API server
// (reading children, applying them with server-side apply, writing status). What to apply
// comes from one pure plan, internal/stack.Build; the reconciler only does the I/O around it.
package controllers
