// Package stack runs a whole WebStack on loopback, outside Kubernetes: PostgreSQL, the cache
// Redis, the broker, gunicorn instances of the example app (examples/django-shop), a Celery
// worker, Varnish and HAProxy, each from the configs and with the environment the operator
// derives from config/samples/webstack_v1alpha1_django_shop.yaml. Its test (make test-stack)
// checks the stack's behaviour end to end; test/bench/stack (make bench-stack) measures it.
package stack
