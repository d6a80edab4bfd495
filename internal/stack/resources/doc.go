// Package resources builds the Kubernetes objects of a WebStack from its spec (defaults
// applied), its tuning.Result and its rendered config files. It is pure: no client, no
// context, no clock, no randomness; the same input always gives the same objects.
package resources
