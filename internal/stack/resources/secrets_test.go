package resources

import (
	"maps"
	"net/url"
	"slices"
	"testing"

	"github.com/webstack-dev/webstack-operator/api/v1alpha1"
)

func TestConnectionSecret(t *testing.T) {
	cases := map[string]struct {
		opts []option
		want map[string]string
	}{
		"defaults: DATABASE_URL through the pooler": {want: map[string]string{
			DatabaseURLKey:       "postgres://app:app%2Fpw%3Awith%40odd%23chars@shop-pooler.shop-ns.svc:5432/app",
			DatabaseDirectURLKey: "postgres://app:app%2Fpw%3Awith%40odd%23chars@shop-database.shop-ns.svc:5432/app",
			RedisURLKey:          "redis://:redis-pw@shop-redis.shop-ns.svc:6379/0",
			RedisCacheURLKey:     "redis://:redis-pw@shop-redis.shop-ns.svc:6379/0",
		}},
		"pooling None: both URLs are PostgreSQL": {opts: []option{withPooling(v1alpha1.PoolingNone)}, want: map[string]string{
			DatabaseURLKey:       "postgres://app:app%2Fpw%3Awith%40odd%23chars@shop-database.shop-ns.svc:5432/app",
			DatabaseDirectURLKey: "postgres://app:app%2Fpw%3Awith%40odd%23chars@shop-database.shop-ns.svc:5432/app",
			RedisURLKey:          "redis://:redis-pw@shop-redis.shop-ns.svc:6379/0",
			RedisCacheURLKey:     "redis://:redis-pw@shop-redis.shop-ns.svc:6379/0",
		}},
		"with tasks": {opts: []option{withTasks(1)}, want: map[string]string{
			DatabaseURLKey:       "postgres://app:app%2Fpw%3Awith%40odd%23chars@shop-pooler.shop-ns.svc:5432/app",
			DatabaseDirectURLKey: "postgres://app:app%2Fpw%3Awith%40odd%23chars@shop-database.shop-ns.svc:5432/app",
			RedisURLKey:          "redis://:redis-pw@shop-redis.shop-ns.svc:6379/0",
			RedisCacheURLKey:     "redis://:redis-pw@shop-redis.shop-ns.svc:6379/0",
			BrokerURLKey:         "redis://:broker-pw@shop-broker.shop-ns.svc:6379/0",
		}},
		"no redis": {opts: []option{withoutRedis()}, want: map[string]string{
			DatabaseURLKey:       "postgres://app:app%2Fpw%3Awith%40odd%23chars@shop-pooler.shop-ns.svc:5432/app",
			DatabaseDirectURLKey: "postgres://app:app%2Fpw%3Awith%40odd%23chars@shop-database.shop-ns.svc:5432/app",
		}},
		"no database":           {opts: []option{withoutDatabase()}, want: map[string]string{RedisURLKey: "redis://:redis-pw@shop-redis.shop-ns.svc:6379/0", RedisCacheURLKey: "redis://:redis-pw@shop-redis.shop-ns.svc:6379/0"}},
		"nothing to connect to": {opts: []option{withoutDatabase(), withoutRedis()}, want: map[string]string{}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			s, err := ConnectionSecret(webStack(t, tc.opts...), testCredentials)
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]string{}
			for k, v := range s.Data {
				got[k] = string(v)
			}
			if !maps.Equal(got, tc.want) {
				t.Errorf("data\n got %v\nwant %v", got, tc.want)
			}
			// The escaped password reads back as the password.
			if u, ok := got[DatabaseURLKey]; ok {
				parsed, err := url.Parse(u)
				if err != nil {
					t.Fatal(err)
				}
				if pw, _ := parsed.User.Password(); pw != testCredentials.DatabaseApp || parsed.User.Username() != "app" || parsed.Path != "/app" {
					t.Errorf("DATABASE_URL reads back as user %q password %q path %q", parsed.User.Username(), pw, parsed.Path)
				}
			}
		})
	}
}

func TestCredentialSecret(t *testing.T) {
	ws := webStack(t)
	data := map[string][]byte{PasswordKey: []byte("secret")}
	s := CredentialSecret(ws, RedisCredentialsName(ws), data)
	if len(s.OwnerReferences) != 0 {
		t.Errorf("owner references %v: garbage collection would delete the passwords", s.OwnerReferences)
	}
	if s.Name != "shop-redis-credentials" || s.Namespace != "shop-ns" || s.Kind != "Secret" || s.APIVersion != "v1" {
		t.Errorf("metadata %v %v", s.TypeMeta, s.ObjectMeta)
	}
	if !maps.Equal(s.Labels, Labels(ws, ComponentCredentials)) {
		t.Errorf("labels %v", s.Labels)
	}
	data[PasswordKey][0] = 'X'
	if string(s.Data[PasswordKey]) != "secret" {
		t.Error("the Secret shares its data with the caller")
	}
	if !slices.Equal(slices.Sorted(maps.Keys(s.Data)), []string{PasswordKey}) {
		t.Errorf("keys %v", slices.Collect(maps.Keys(s.Data)))
	}
}
