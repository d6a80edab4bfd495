// Package ssa applies the operator's children with server-side apply, and skips the request
// when the live object already holds what would be sent: the intent comparison, the memo of
// children verified to match, and the watch predicate that keeps the events of the
// operator's own writes from starting another reconcile.
package ssa
