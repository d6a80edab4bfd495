package stack

import "github.com/redis/go-redis/v9"

// Redis is one redis-server of the stack, with a client that authenticates with its password.
type Redis struct {
	*redis.Client
	Process *Process
}
