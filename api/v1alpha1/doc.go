// Package v1alpha1 holds the WebStack API of group webstack.dev: the types, their
// validation markers, the condition constants and a few helpers that read defaults.
//
// +kubebuilder:object:generate=true
// +groupName=webstack.dev
package v1alpha1
