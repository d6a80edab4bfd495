// Package real runs the django-shop sample on real pods: a single-node Kubernetes with
// containerd (hack/real-cluster.sh) and images built from Debian packages (hack/images.sh),
// with the operator installed by its Helm chart, checked with kubectl and HTTP as a user would.
package real
