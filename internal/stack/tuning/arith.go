package tuning

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// The numbers are computed in int64 with these saturating helpers, and clamped into the
// int32 fields at the end, so that no spec (1000 pods x 256 workers x 64 threads, or CPU
// quantities in the exa range) can overflow.

// satAdd is a + b for non-negative a and b, saturating at MaxInt64.
func satAdd(a, b int64) int64 {
	if a > math.MaxInt64-b {
		return math.MaxInt64
	}
	return a + b
}

// satMul is a x b for non-negative a and b, saturating at MaxInt64.
func satMul(a, b int64) int64 {
	if a == 0 || b == 0 {
		return 0
	}
	if a > math.MaxInt64/b {
		return math.MaxInt64
	}
	return a * b
}

// ceilDiv is ceil(a / b) for a >= 0 and b > 0.
func ceilDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 {
		q++
	}
	return q
}

// clamp32 is n limited to [0, MaxInt32].
func clamp32(n int64) int32 {
	switch {
	case n < 0:
		return 0
	case n > math.MaxInt32:
		return math.MaxInt32
	}
	return int32(n)
}

// mi formats a whole number of MiB as status.tuning shows memory: always "<n>Mi".
func mi(n int64) string { return strconv.FormatInt(n, 10) + "Mi" }

// itoa formats an integer value.
func itoa[T int32 | int64](n T) string { return strconv.FormatInt(int64(n), 10) }

// cores formats millicores as cores: 500 -> "0.5", 2000 -> "2", 1250 -> "1.25".
func cores(milli int64) string {
	s := strconv.FormatInt(milli/1000, 10)
	if frac := milli % 1000; frac != 0 {
		s += "." + strings.TrimRight(fmt.Sprintf("%03d", frac), "0")
	}
	return s
}

// seconds formats a duration for an explanation: whole seconds as "90s", else Go's form.
func seconds(d time.Duration) string {
	if d%time.Second == 0 {
		return strconv.FormatInt(int64(d/time.Second), 10) + "s"
	}
	return d.String()
}
