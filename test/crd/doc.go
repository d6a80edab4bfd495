// Package crd reads the CRD admission cases under testdata: invalid manifests with the
// message the API server must give, and update pairs. Both the offline admission of
// internal/manifest and the envtest suite beside this file run the same cases, so the
// `tune` and `render` commands judge a manifest exactly as the API server does.
package crd
