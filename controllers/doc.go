// Package controllers holds the WebStack reconciler: everything that talks to the API server
// (reading children, applying them with server-side apply, writing status). What to apply
// comes from the pure packages tuning, render and resources.
package controllers
