package ssa

import (
	"crypto/sha256"
	"testing"

	"k8s.io/apimachinery/pkg/types"
)

func TestVerifiedRemembersOneVersionOfWhatWasBuilt(t *testing.T) {
	digest := func(s string) [sha256.Size]byte { return sha256.Sum256([]byte(s)) }
	seen := match{resourceVersion: "10", digest: digest("deployment v1")}
	cases := map[string]struct {
		forget     func(v *verified)
		stack      string
		uid        types.UID
		ask        match
		wantsMatch bool
	}{
		"same version, same build":             {stack: "ns/shop", uid: "u1", ask: seen, wantsMatch: true},
		"written since (new version)":          {stack: "ns/shop", uid: "u1", ask: match{"11", seen.digest}},
		"built differently (a spec change)":    {stack: "ns/shop", uid: "u1", ask: match{"10", digest("deployment v2")}},
		"another child":                        {stack: "ns/shop", uid: "u2", ask: seen},
		"the same child name in another stack": {stack: "ns/other", uid: "u1", ask: seen},
		"the child was pruned": {
			forget: func(v *verified) { v.forget("ns/shop", "u1") },
			stack:  "ns/shop", uid: "u1", ask: seen,
		},
		"the WebStack was deleted": {
			forget: func(v *verified) { v.forget("ns/shop", "") },
			stack:  "ns/shop", uid: "u1", ask: seen,
		},
		"another child pruned, this one kept": {
			forget: func(v *verified) { v.forget("ns/shop", "u9") },
			stack:  "ns/shop", uid: "u1", ask: seen, wantsMatch: true,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			v := newVerified()
			v.remember("ns/shop", "u1", seen)
			if tc.forget != nil {
				tc.forget(v)
			}
			if got := v.matches(tc.stack, tc.uid, tc.ask); got != tc.wantsMatch {
				t.Fatalf("matches = %v, want %v", got, tc.wantsMatch)
			}
		})
	}
}
