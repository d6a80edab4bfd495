// Package e2e is the end-to-end suite: the Helm chart installed into the local cluster of
// hack/cluster.sh (real API server, controller-manager and scheduler, kwok nodes), the manager
// run out of cluster as the chart's ServiceAccount, and the samples driven with kubectl and
// helm as a user would. It runs only with WEBSTACK_E2E=1 (`make test-e2e`).
package e2e
