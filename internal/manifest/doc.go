// Package manifest reads WebStack manifests the way the API server admits them: it applies
// the CRD's schema defaults and checks its OpenAPI schema and CEL rules, so the `tune` and
// `render` commands see exactly the object a cluster would store, or the error it would give.
package manifest
