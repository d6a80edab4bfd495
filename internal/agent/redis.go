package agent

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/webstack-dev/webstack-operator/internal/stack/render"
)

// Redis applies the in-place directives of redis.conf (render.RedisInPlace: maxmemory and
// maxmemory-policy) to the running Redis with CONFIG SET. The other directives are
// startup-only: their hash is on the pod template, so a change of one rolls the pod. A
// setting Redis refuses leaves every setting as it was.
type Redis struct {
	// Addr is Redis' address (its own pod: 127.0.0.1:6379); Password its requirepass.
	Addr, Password string
}

// Apply implements Applier.
func (r Redis) Apply(ctx context.Context, content []byte, _ string) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	c := redis.NewClient(&redis.Options{Addr: r.Addr, Password: r.Password, MaxRetries: -1})
	defer c.Close()
	settings := render.RedisSettings(string(content))
	if len(settings) == 0 {
		return nil
	}
	// One CONFIG SET of every setting: Redis 7 applies all of them or none.
	args := []any{"CONFIG", "SET"}
	for _, kv := range settings {
		args = append(args, kv[0], kv[1])
	}
	err := c.Do(ctx, args...).Err()
	var rerr redis.Error
	switch {
	case err == nil:
	case errors.As(err, &rerr) && !strings.HasPrefix(rerr.Error(), "NOAUTH") && !strings.HasPrefix(rerr.Error(), "WRONGPASS"):
		return &RefusedError{Message: fmt.Sprintf("CONFIG SET %v: %v", settings, err)}
	default:
		return fmt.Errorf("CONFIG SET: %w", err)
	}
	return nil
}
