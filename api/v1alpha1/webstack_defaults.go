package v1alpha1

// defaultAppReplicas is app.replicas when neither replicas nor autoscaling is set.
const defaultAppReplicas int32 = 2

// AppReplicas is the fixed number of app pods: spec.app.replicas, else 2. It is not used
// when autoscaling is set.
func (s *AppSpec) AppReplicas() int32 {
	if s.Replicas != nil {
		return *s.Replicas
	}
	return defaultAppReplicas
}

// TaskReplicas is tasks.replicas, 1 when unset (the schema default).
func (s *TasksSpec) TaskReplicas() int32 {
	if s.Replicas != nil {
		return *s.Replicas
	}
	return 1
}

// IsEnabled reports whether the cache is on (the schema default is true).
func (s *CacheSpec) IsEnabled() bool { return s.Enabled == nil || *s.Enabled }

// IsEnabled reports whether the cache Redis is on (the schema default is true).
func (s *RedisSpec) IsEnabled() bool { return s.Enabled == nil || *s.Enabled }

// IsEnabled reports whether the database is on (the schema default is true).
func (s *DatabaseSpec) IsEnabled() bool { return s.Enabled == nil || *s.Enabled }

// PostgresImage is spec.database.image, else the pinned image of spec.database.version.
func (s *DatabaseSpec) PostgresImage() string {
	if s.Image != "" {
		return s.Image
	}
	return DefaultPostgresImage(string(s.Version))
}
