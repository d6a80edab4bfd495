package resources

import (
	"path"
	"strconv"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/webstack-dev/webstack-operator/api/v1alpha1"
	"github.com/webstack-dev/webstack-operator/internal/stack/render"
	"github.com/webstack-dev/webstack-operator/internal/stack/tuning"
)

const (
	portRedis = "redis"
	// redisPasswordEnv holds the password; the kubelet expands $(REDIS_PASSWORD) in the
	// arguments (Redis hides its arguments from the process title once started).
	redisPasswordEnv = "REDIS_PASSWORD"
	// redisGraceSeconds lets Redis write its snapshot or flush its append-only file on
	// SIGTERM.
	redisGraceSeconds = 60
)

// redisObjects are the cache Redis' ConfigMap, Service and a Deployment with an emptyDir
// (persistence None) or a StatefulSet with a volume claim (RDB, AOF; the claim is deleted
// with the StatefulSet: it only holds a cache).
func redisObjects(in Inputs) ([]Object, error) {
	ws := in.WebStack
	conf, err := required(render.FileRedis, in.Configs.Redis)
	if err != nil {
		return nil, missing("redis", err)
	}
	// The agent applies maxmemory and maxmemory-policy with CONFIG SET; the rest of
	// redis.conf is startup-only. Without the agent, every change rolls the pod.
	hash := ConfigHash(render.FileRedis, render.RedisStartupOnly(conf))
	if in.AgentImage == "" {
		hash = ConfigHash(render.FileRedis, conf)
	}
	objs := []Object{RedisConfigMap(ws, conf), RedisService(ws)}
	if persistent(&ws.Spec.Redis) {
		objs = append(objs, RedisStatefulSet(ws, in.Tuning, hash, credentialsHash(in.Credentials.Redis), in.AgentImage))
	} else {
		objs = append(objs, RedisDeployment(ws, in.Tuning, hash, credentialsHash(in.Credentials.Redis), in.AgentImage))
	}
	return objs, nil
}

// RedisConfigMap holds the cache Redis' redis.conf.
func RedisConfigMap(ws *v1alpha1.WebStack, redisConf string) *corev1.ConfigMap {
	return configMap(ws, RedisConfigName(ws), ComponentRedis, map[string]string{render.FileRedis: redisConf})
}

// RedisDeployment is the cache Redis without persistence: one pod, data on an emptyDir.
// cfgHash is ConfigHash of the startup-only part of redis.conf (all of it without an agent);
// with agentImage, the agent applies the rest (redisAgent).
func RedisDeployment(ws *v1alpha1.WebStack, t tuning.Result, cfgHash, credsHash, agentImage string) *appsv1.Deployment {
	r := &ws.Spec.Redis
	volumes := []corev1.Volume{redisConfigVolume(RedisConfigName(ws), render.FileRedis), emptyDir(dataVolume)}
	c := redisContainer(r.Image, RedisCredentialsName(ws), *t.Redis.Resources.DeepCopy())
	containers, volumes := redisAgent(ws, t, agentImage, volumes, c)
	spec := podSpec(RedisUID, RedisUID, redisGraceSeconds, volumes, containers...)
	template := podTemplate(ws, ComponentRedis, map[string]string{v1alpha1.ConfigHashAnnotation: cfgHash, v1alpha1.CredentialsHashAnnotation: credsHash}, spec)
	return deployment(ws, RedisName(ws), ComponentRedis, ptr(int32(1)), appsv1.DeploymentStrategy{}, template)
}

// RedisStatefulSet is the cache Redis with persistence RDB or AOF: one pod, data on a
// volume claim of redis.storage. cfgHash and agentImage as for RedisDeployment.
func RedisStatefulSet(ws *v1alpha1.WebStack, t tuning.Result, cfgHash, credsHash, agentImage string) *appsv1.StatefulSet {
	r := &ws.Spec.Redis
	volumes := []corev1.Volume{redisConfigVolume(RedisConfigName(ws), render.FileRedis)}
	c := redisContainer(r.Image, RedisCredentialsName(ws), *t.Redis.Resources.DeepCopy())
	containers, volumes := redisAgent(ws, t, agentImage, volumes, c)
	spec := podSpec(RedisUID, RedisUID, redisGraceSeconds, volumes, containers...)
	template := podTemplate(ws, ComponentRedis, map[string]string{v1alpha1.ConfigHashAnnotation: cfgHash, v1alpha1.CredentialsHashAnnotation: credsHash}, spec)
	return statefulSet(ws, RedisName(ws), ComponentRedis, RedisName(ws), storageOf(r), template)
}

// redisAgent adds the agent beside the cache Redis (with agentImage): it applies
// render.RedisInPlace with CONFIG SET, authenticated with the password from the Secret.
func redisAgent(ws *v1alpha1.WebStack, t tuning.Result, agentImage string, volumes []corev1.Volume, redis corev1.Container) ([]corev1.Container, []corev1.Volume) {
	if agentImage == "" {
		return []corev1.Container{redis}, volumes
	}
	a := agentContainer(agentImage, "redis", render.RedisConfigPath, t,
		[]corev1.VolumeMount{readOnlyMount("config", path.Dir(render.RedisConfigPath))},
		[]corev1.EnvVar{secretEnv(redisPasswordEnv, RedisCredentialsName(ws), PasswordKey)},
		"--addr", "127.0.0.1:"+strconv.Itoa(render.RedisPort))
	return []corev1.Container{redis, a}, append(volumes, emptyDir(agentVolume))
}

// RedisService is the cache Redis' Service, headless like DatabaseService.
func RedisService(ws *v1alpha1.WebStack) *corev1.Service {
	return service(ws, RedisName(ws), ComponentRedis, true, servicePort(portRedis, render.RedisPort, portRedis))
}

// brokerObjects are the broker's ConfigMap, StatefulSet and Service.
func brokerObjects(in Inputs) ([]Object, error) {
	ws := in.WebStack
	conf, err := required(render.FileBroker, in.Configs.Broker)
	if err != nil {
		return nil, missing("broker", err)
	}
	return []Object{
		BrokerConfigMap(ws, conf),
		BrokerStatefulSet(ws, in.Tuning, ConfigHash(render.FileBroker, conf), credentialsHash(in.Credentials.Broker)),
		BrokerService(ws),
	}, nil
}

// BrokerConfigMap holds broker.conf.
func BrokerConfigMap(ws *v1alpha1.WebStack, brokerConf string) *corev1.ConfigMap {
	return configMap(ws, BrokerConfigName(ws), ComponentBroker, map[string]string{render.FileBroker: brokerConf})
}

// BrokerStatefulSet is the task broker: one Redis pod whose append-only file is on a volume
// claim of tasks.broker.storage, kept or deleted with the StatefulSet as
// database.deletionPolicy says (queued tasks are data). cfgHash is ConfigHash of
// broker.conf. Call it only with tasks.
func BrokerStatefulSet(ws *v1alpha1.WebStack, t tuning.Result, cfgHash, credsHash string) *appsv1.StatefulSet {
	b := &ws.Spec.Tasks.Broker
	volumes := []corev1.Volume{redisConfigVolume(BrokerConfigName(ws), render.FileBroker)}
	c := redisContainer(b.Image, BrokerCredentialsName(ws), *t.Broker.Resources.DeepCopy())
	spec := podSpec(RedisUID, RedisUID, redisGraceSeconds, volumes, c)
	template := podTemplate(ws, ComponentBroker, map[string]string{v1alpha1.ConfigHashAnnotation: cfgHash, v1alpha1.CredentialsHashAnnotation: credsHash}, spec)
	return statefulSet(ws, BrokerName(ws), ComponentBroker, BrokerName(ws), b.Storage, template)
}

// BrokerService is the broker's Service, headless like DatabaseService.
func BrokerService(ws *v1alpha1.WebStack) *corev1.Service {
	return service(ws, BrokerName(ws), ComponentBroker, true, servicePort(portRedis, render.RedisPort, portRedis))
}

// redisConfigVolume is ConfigMap cm with its key as redis.conf, mounted at
// /etc/redis (so that the cache Redis and the broker start alike).
func redisConfigVolume(cm, key string) corev1.Volume {
	return configMapVolume("config", cm, corev1.KeyToPath{Key: key, Path: path.Base(render.RedisConfigPath)})
}

// redisContainer runs `redis-server /etc/redis/redis.conf --requirepass $(REDIS_PASSWORD)`
// with the "config" volume (redisConfigVolume) and its data on the "data" volume
// (render.RedisDataDir, the directory redis.conf names). REDISCLI_AUTH lets the probes'
// redis-cli authenticate without the password on its command line. Readiness needs a PONG
// (not ready while loading the data set); liveness only needs the port, so a long load is
// never killed.
func redisContainer(image, credentials string, resources corev1.ResourceRequirements) corev1.Container {
	return corev1.Container{
		Name:    "redis",
		Image:   image,
		Command: []string{"redis-server"},
		Args:    []string{render.RedisConfigPath, "--requirepass", "$(" + redisPasswordEnv + ")"},
		Ports:   []corev1.ContainerPort{tcpPort(portRedis, render.RedisPort)},
		Env: []corev1.EnvVar{
			secretEnv(redisPasswordEnv, credentials, PasswordKey),
			secretEnv("REDISCLI_AUTH", credentials, PasswordKey),
		},
		Resources: resources,
		ReadinessProbe: execProbe([]string{"sh", "-c", `test "$(redis-cli -p ` + strconv.Itoa(render.RedisPort) + ` ping)" = PONG`},
			timing{period: 5, timeout: 3, failures: 3}),
		LivenessProbe: tcpProbe(portRedis, timing{period: 10, timeout: 5, failures: 6}),
		VolumeMounts: []corev1.VolumeMount{
			readOnlyMount("config", path.Dir(render.RedisConfigPath)),
			mount(dataVolume, render.RedisDataDir),
		},
	}
}
