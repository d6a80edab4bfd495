package ssa

import "testing"

func TestContains(t *testing.T) {
	cases := map[string]struct {
		live, want any
		match      bool
	}{
		"equal scalars":            {int64(3), int64(3), true},
		"different scalars":        {int64(3), int64(4), false},
		"live has more keys":       {map[string]any{"a": "x", "b": "y"}, map[string]any{"a": "x"}, true},
		"live misses a key":        {map[string]any{"b": "y"}, map[string]any{"a": "x"}, false},
		"empty wanted map":         {map[string]any{}, map[string]any{"a": map[string]any{}}, true},
		"false wanted, absent":     {map[string]any{}, map[string]any{"a": false}, true},
		"list lengths differ":      {[]any{"a", "b"}, []any{"a"}, false},
		"list elements subset":     {[]any{map[string]any{"n": "a", "d": int64(1)}}, []any{map[string]any{"n": "a"}}, true},
		"list element differs":     {[]any{map[string]any{"n": "a"}}, []any{map[string]any{"n": "b"}}, false},
		"number types differ":      {float64(2), int64(2), true},
		"hand-scaled replicas":     {map[string]any{"spec": map[string]any{"replicas": int64(5)}}, map[string]any{"spec": map[string]any{"replicas": int64(2)}}, false},
		"empty wanted list absent": {map[string]any{}, map[string]any{"l": []any{}}, true},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			if got := contains(c.live, c.want); got != c.match {
				t.Fatalf("contains = %v, want %v", got, c.match)
			}
		})
	}
}
