package resources

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"

	"github.com/webstack-dev/webstack-operator/api/v1alpha1"
)

// Every child is named <ws>-<component>[-<role>]. The API allows WebStack names of at most
// 40 characters, so that the longest name here (a Secret <ws>-database-credentials, 61)
// stays within the 63 characters of a DNS label and of a label value.

// Components are the values of the app.kubernetes.io/component label.
const (
	ComponentApp          = "app"
	ComponentTasks        = "tasks"
	ComponentBeat         = "beat"
	ComponentCache        = "cache"
	ComponentLoadBalancer = "loadbalancer"
	ComponentRedis        = "redis"
	ComponentBroker       = "broker"
	ComponentDatabase     = "database"
	ComponentPooler       = "pooler"
	ComponentMigration    = "migration"
	// ComponentConnection labels the connection Secret.
	ComponentConnection = "connection"
	// ComponentCredentials labels the generated credential Secrets.
	ComponentCredentials = "credentials"
	// ComponentNetwork labels the default-deny NetworkPolicy, which covers every component.
	ComponentNetwork = "network"
)

func name(ws *v1alpha1.WebStack, parts ...string) string {
	return ws.Name + "-" + strings.Join(parts, "-")
}

// AppName is the app Deployment, Service, HorizontalPodAutoscaler and PodDisruptionBudget.
func AppName(ws *v1alpha1.WebStack) string { return name(ws, ComponentApp) }

// AppHeadlessName is the headless Service whose A records HAProxy's server-template uses.
func AppHeadlessName(ws *v1alpha1.WebStack) string { return name(ws, ComponentApp, "headless") }

// TasksName is the task worker Deployment.
func TasksName(ws *v1alpha1.WebStack) string { return name(ws, ComponentTasks) }

// BeatName is the celery beat Deployment.
func BeatName(ws *v1alpha1.WebStack) string { return name(ws, ComponentBeat) }

// CacheName is the Varnish Deployment, Service and ConfigMap's prefix.
func CacheName(ws *v1alpha1.WebStack) string { return name(ws, ComponentCache) }

// CacheHeadlessName is the headless Service HAProxy hashes URLs over.
func CacheHeadlessName(ws *v1alpha1.WebStack) string { return name(ws, ComponentCache, "headless") }

// CacheConfigName is the ConfigMap with default.vcl.
func CacheConfigName(ws *v1alpha1.WebStack) string { return name(ws, ComponentCache, "config") }

// LoadBalancerName is the HAProxy Deployment and its public Service.
func LoadBalancerName(ws *v1alpha1.WebStack) string { return name(ws, ComponentLoadBalancer) }

// LoadBalancerAppName is the internal Service of HAProxy's app listener, Varnish's backend.
func LoadBalancerAppName(ws *v1alpha1.WebStack) string {
	return name(ws, ComponentLoadBalancer, "app")
}

// LoadBalancerConfigName is the ConfigMap with haproxy.cfg.
func LoadBalancerConfigName(ws *v1alpha1.WebStack) string {
	return name(ws, ComponentLoadBalancer, "config")
}

// RedisName is the cache Redis (a Deployment without persistence, else a StatefulSet) and
// its Service.
func RedisName(ws *v1alpha1.WebStack) string { return name(ws, ComponentRedis) }

// RedisConfigName is the ConfigMap with redis.conf.
func RedisConfigName(ws *v1alpha1.WebStack) string { return name(ws, ComponentRedis, "config") }

// RedisCredentialsName is the Secret with the cache Redis password (key PasswordKey).
func RedisCredentialsName(ws *v1alpha1.WebStack) string {
	return name(ws, ComponentRedis, "credentials")
}

// BrokerName is the broker Redis StatefulSet and its Service.
func BrokerName(ws *v1alpha1.WebStack) string { return name(ws, ComponentBroker) }

// BrokerConfigName is the ConfigMap with broker.conf.
func BrokerConfigName(ws *v1alpha1.WebStack) string { return name(ws, ComponentBroker, "config") }

// BrokerCredentialsName is the Secret with the broker password (key PasswordKey).
func BrokerCredentialsName(ws *v1alpha1.WebStack) string {
	return name(ws, ComponentBroker, "credentials")
}

// DatabaseName is the PostgreSQL StatefulSet and its ClusterIP Service.
func DatabaseName(ws *v1alpha1.WebStack) string { return name(ws, ComponentDatabase) }

// DatabaseHeadlessName is the StatefulSet's governing headless Service.
func DatabaseHeadlessName(ws *v1alpha1.WebStack) string {
	return name(ws, ComponentDatabase, "headless")
}

// DatabaseConfigName is the ConfigMap with postgresql.conf, pg_hba.conf, init.sql and the
// script that runs init.sql.
func DatabaseConfigName(ws *v1alpha1.WebStack) string {
	return name(ws, ComponentDatabase, "config")
}

// PoolerName is the PgBouncer Deployment, its Service, PodDisruptionBudget and
// NetworkPolicy.
func PoolerName(ws *v1alpha1.WebStack) string { return name(ws, ComponentPooler) }

// PoolerConfigName is the ConfigMap with pgbouncer.ini.
func PoolerConfigName(ws *v1alpha1.WebStack) string { return name(ws, ComponentPooler, "config") }

// PoolerAuthName is the Secret with PgBouncer's auth file (the app role's password).
func PoolerAuthName(ws *v1alpha1.WebStack) string { return name(ws, ComponentPooler, "auth") }

// DatabaseCredentialsName is the Secret with the superuser and app passwords (keys
// SuperuserPasswordKey and AppPasswordKey).
func DatabaseCredentialsName(ws *v1alpha1.WebStack) string {
	return name(ws, ComponentDatabase, "credentials")
}

// ConnectionSecretName is the Secret with DATABASE_URL, REDIS_URL, CACHE_URL and
// CELERY_BROKER_URL that the app, task and migration pods load.
func ConnectionSecretName(ws *v1alpha1.WebStack) string { return name(ws, ComponentConnection) }

// DefaultDenyName is the NetworkPolicy that denies all ingress to the stack's pods.
func DefaultDenyName(ws *v1alpha1.WebStack) string { return name(ws, "default-deny") }

// dataVolume is the name of the StatefulSets' volume claim template.
const dataVolume = "data"

// claimName is the claim the StatefulSet controller makes for pod 0 of a StatefulSet:
// <template>-<statefulset>-0.
func claimName(statefulSet string) string { return dataVolume + "-" + statefulSet + "-0" }

// DatabaseClaimName is the data claim of the database pod: data-<ws>-database-0.
func DatabaseClaimName(ws *v1alpha1.WebStack) string { return claimName(DatabaseName(ws)) }

// RedisClaimName is the data claim of the cache Redis with persistence RDB or AOF.
func RedisClaimName(ws *v1alpha1.WebStack) string { return claimName(RedisName(ws)) }

// BrokerClaimName is the data claim of the broker.
func BrokerClaimName(ws *v1alpha1.WebStack) string { return claimName(BrokerName(ws)) }

// migrationHashLen is how many hex digits of the image and command hash name a migration Job.
const migrationHashLen = 10

// MigrationJobName is the migration Job for image: <ws>-migrate-<first 10 hex digits of
// sha256(image NUL command joined by NUL)>. A new image or command is a new Job; the same
// ones find the Job that already ran.
func MigrationJobName(ws *v1alpha1.WebStack, image string) string {
	var command []string
	if m := ws.Spec.App.Migration; m != nil {
		command = m.Command
	}
	sum := sha256.Sum256([]byte(image + "\x00" + strings.Join(command, "\x00")))
	return name(ws, "migrate", hex.EncodeToString(sum[:])[:migrationHashLen])
}
