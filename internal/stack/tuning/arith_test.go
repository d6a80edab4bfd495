package tuning

import (
	"math"
	"testing"
	"time"
)

func TestSaturatingArithmetic(t *testing.T) {
	cases := map[string]struct{ got, want int64 }{
		"add":                 {satAdd(2, 3), 5},
		"add saturates":       {satAdd(math.MaxInt64-1, 2), math.MaxInt64},
		"mul":                 {satMul(1000, 256*64), 16384000},
		"mul by zero":         {satMul(0, math.MaxInt64), 0},
		"mul saturates":       {satMul(math.MaxInt32, math.MaxInt64/2), math.MaxInt64},
		"mul cube of int32s":  {satMul(satMul(math.MaxInt32, math.MaxInt32), math.MaxInt32), math.MaxInt64},
		"ceilDiv exact":       {ceilDiv(6, 3), 2},
		"ceilDiv rounds up":   {ceilDiv(7, 3), 3},
		"ceilDiv of zero":     {ceilDiv(0, 3), 0},
		"clamp32 keeps":       {int64(clamp32(42)), 42},
		"clamp32 caps":        {int64(clamp32(math.MaxInt64)), math.MaxInt32},
		"clamp32 floors at 0": {int64(clamp32(-1)), 0},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			if c.got != c.want {
				t.Errorf("got %d, want %d", c.got, c.want)
			}
		})
	}
}

func TestFormats(t *testing.T) {
	cases := map[string]struct{ got, want string }{
		"whole cores":     {cores(2000), "2"},
		"half a core":     {cores(500), "0.5"},
		"millicores":      {cores(1250), "1.25"},
		"one millicore":   {cores(1), "0.001"},
		"Mi":              {mi(1024), "1024Mi"},
		"whole seconds":   {seconds(90 * time.Second), "90s"},
		"fractional":      {seconds(2500 * time.Millisecond), "2.5s"},
		"int32 and int64": {itoa(int32(7)) + itoa(int64(-8)), "7-8"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			if c.got != c.want {
				t.Errorf("got %q, want %q", c.got, c.want)
			}
		})
	}
}
