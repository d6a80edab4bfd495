package resources

import (
	"errors"
	"maps"
	"net"
	"net/url"
	"slices"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/webstack-dev/webstack-operator/api/v1alpha1"
	"github.com/webstack-dev/webstack-operator/internal/stack/render"
)

// Keys of the credential Secrets.
const (
	// SuperuserPasswordKey is the postgres superuser's password in DatabaseCredentialsName.
	SuperuserPasswordKey = "superuser-password"
	// AppPasswordKey is the app role's password in DatabaseCredentialsName.
	AppPasswordKey = "app-password"
	// PasswordKey is the password in RedisCredentialsName and BrokerCredentialsName.
	PasswordKey = "password"
)

// Keys of the connection Secret, which the app, task and migration pods load as variables.
const (
	// DatabaseURLKey is postgres://app:<password>@<ws>-pooler.<ns>.svc:5432/app through
	// PgBouncer, or <ws>-database.<ns>.svc with database.pooling.mode None.
	DatabaseURLKey = "DATABASE_URL"
	// DatabaseDirectURLKey is postgres://app:<password>@<ws>-database.<ns>.svc:5432/app,
	// PostgreSQL itself: the migration Job's DATABASE_URL (session features, no pooler).
	DatabaseDirectURLKey = "DATABASE_DIRECT_URL"
	// RedisURLKey is the cache Redis, redis://:<password>@<ws>-redis.<ns>.svc:6379/0.
	RedisURLKey = "REDIS_URL"
	// RedisCacheURLKey is the same URL as RedisURLKey, under the name django-environ's cache_url
	// reads (CACHES with django-redis).
	RedisCacheURLKey = "CACHE_URL"
	// BrokerURLKey is the broker, redis://:<password>@<ws>-broker.<ns>.svc:6379/0.
	BrokerURLKey = "CELERY_BROKER_URL"
)

// CredentialSecret is a generated credential Secret, name one of DatabaseCredentialsName,
// RedisCredentialsName and BrokerCredentialsName. It has no owner reference, so garbage
// collection never deletes it: with database.deletionPolicy Retain a WebStack of the same
// name adopts the same passwords (and the data they open); with Delete the controller
// deletes it. The controller creates it once and never rewrites it.
func CredentialSecret(ws *v1alpha1.WebStack, name string, data map[string][]byte) *corev1.Secret {
	copied := make(map[string][]byte, len(data))
	for k, v := range data {
		copied[k] = slices.Clone(v)
	}
	return &corev1.Secret{
		TypeMeta:   typeMeta(coreV1, "Secret"),
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ws.Namespace, Labels: Labels(ws, ComponentCredentials)},
		Type:       corev1.SecretTypeOpaque,
		Data:       copied,
	}
}

// ConnectionSecret holds the connection URLs of the enabled components, passwords
// URL-escaped: DATABASE_URL (through the pooler with pooling) and DATABASE_DIRECT_URL with
// the database, REDIS_URL and CACHE_URL with the cache
// Redis, CELERY_BROKER_URL with tasks. It is an error when an enabled component's password
// is empty.
func ConnectionSecret(ws *v1alpha1.WebStack, c Credentials) (*corev1.Secret, error) {
	data := map[string][]byte{}
	if ws.Spec.Database.IsEnabled() {
		if c.DatabaseApp == "" {
			return nil, missing("connection secret", errEmptyAppPassword)
		}
		databaseURL := func(svc string) []byte {
			u := url.URL{
				Scheme: "postgres",
				User:   url.UserPassword(render.DefaultAppRole, c.DatabaseApp),
				Host:   hostPort(ServiceHost(ws, svc), render.PostgresPort),
				Path:   "/" + render.DefaultAppDatabase,
			}
			return []byte(u.String())
		}
		data[DatabaseDirectURLKey] = databaseURL(DatabaseName(ws))
		data[DatabaseURLKey] = data[DatabaseDirectURLKey]
		if ws.Spec.Database.IsPooled() {
			data[DatabaseURLKey] = databaseURL(PoolerName(ws))
		}
	}
	if ws.Spec.Redis.IsEnabled() {
		if c.Redis == "" {
			return nil, errors.New("building the connection secret: the redis password is empty")
		}
		u := redisURL(ServiceHost(ws, RedisName(ws)), c.Redis)
		data[RedisURLKey] = []byte(u)
		data[RedisCacheURLKey] = []byte(u)
	}
	if ws.Spec.Tasks != nil {
		if c.Broker == "" {
			return nil, errors.New("building the connection secret: the broker password is empty")
		}
		data[BrokerURLKey] = []byte(redisURL(ServiceHost(ws, BrokerName(ws)), c.Broker))
	}
	return &corev1.Secret{
		TypeMeta:   typeMeta(coreV1, "Secret"),
		ObjectMeta: objectMeta(ws, ConnectionSecretName(ws), ComponentConnection),
		Type:       corev1.SecretTypeOpaque,
		Data:       data,
	}, nil
}

// errEmptyAppPassword is a database app password that was not passed.
var errEmptyAppPassword = errors.New("the database app password is empty")

// connectionHash is a hash of the connection Secret's keys and values.
func connectionHash(s *corev1.Secret) string {
	pairs := make([]string, 0, 2*len(s.Data))
	for _, k := range slices.Sorted(maps.Keys(s.Data)) {
		pairs = append(pairs, k, string(s.Data[k]))
	}
	return ConfigHash(pairs...)
}

// credentialsHash is a hash of passwords, for CredentialsHashAnnotation.
func credentialsHash(passwords ...string) string {
	return ConfigHash(append([]string{"credentials"}, passwords...)...)
}

// redisURL is database 0 of a Redis with password and no user name.
func redisURL(host, password string) string {
	u := url.URL{Scheme: "redis", User: url.UserPassword("", password), Host: hostPort(host, render.RedisPort), Path: "/0"}
	return u.String()
}

// ServiceHost is a Service's name as the app resolves it: <svc>.<ns>.svc, which the pod's
// DNS search path completes whatever the cluster domain.
func ServiceHost(ws *v1alpha1.WebStack, svc string) string {
	return svc + "." + namespace(ws) + ".svc"
}

func hostPort(host string, port int) string { return net.JoinHostPort(host, strconv.Itoa(port)) }

// namespace is the WebStack's namespace, "default" when unset (outside a cluster).
func namespace(ws *v1alpha1.WebStack) string {
	if ws.Namespace == "" {
		return "default"
	}
	return ws.Namespace
}

// Credential is one Secret of generated passwords: its name and keys.
type Credential struct {
	Name string
	Keys []string
}

// CredentialSecrets are the credential Secrets of ws's enabled components: the database's
// superuser and app passwords, the cache Redis' and the broker's passwords.
func CredentialSecrets(ws *v1alpha1.WebStack) []Credential {
	var out []Credential
	if ws.Spec.Database.IsEnabled() {
		out = append(out, Credential{DatabaseCredentialsName(ws), []string{SuperuserPasswordKey, AppPasswordKey}})
	}
	if ws.Spec.Redis.IsEnabled() {
		out = append(out, Credential{RedisCredentialsName(ws), []string{PasswordKey}})
	}
	if ws.Spec.Tasks != nil {
		out = append(out, Credential{BrokerCredentialsName(ws), []string{PasswordKey}})
	}
	return out
}
