package ssa

import (
	"crypto/sha256"
	"sync"

	"k8s.io/apimachinery/pkg/types"
)

// verified remembers, per child, the resourceVersion at which the live object was last
// found to hold everything we send, and a digest of the object we built then. While both
// are the same, comparing again would find the same: the live object has not been written
// since, and we would send the same. Each WebStack's children are kept apart, so that a
// deleted WebStack's are forgotten with it.
type verified struct {
	mu sync.Mutex
	// by is WebStack "namespace/name" -> child UID -> what matched.
	by map[string]map[types.UID]match
}

type match struct {
	resourceVersion string
	digest          [sha256.Size]byte
}

func newVerified() *verified { return &verified{by: map[string]map[types.UID]match{}} }

func (v *verified) matches(stack string, uid types.UID, m match) bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	have, ok := v.by[stack][uid]
	return ok && have == m
}

func (v *verified) remember(stack string, uid types.UID, m match) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.by[stack] == nil {
		v.by[stack] = map[types.UID]match{}
	}
	v.by[stack][uid] = m
}

// forget drops what is known of one child, or with uid "" of a WebStack's every child.
func (v *verified) forget(stack string, uid types.UID) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if uid == "" {
		delete(v.by, stack)
		return
	}
	delete(v.by[stack], uid)
}
