package stack

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
)

// startForTest starts the stack of o (Root is the repository root) for a test, or skips the
// test unless WEBSTACK_STACK_TEST=1 or CI=true (under CI a missing daemon fails it). The
// stack stops at the end of the test, after logging the processes' logs if it failed;
// WEBSTACK_STACK_KEEP=1 keeps its temp dir.
func startForTest(ctx context.Context, t *testing.T, o Options) *Stack {
	t.Helper()
	if os.Getenv("WEBSTACK_STACK_TEST") != "1" && os.Getenv("CI") != "true" {
		t.Skip("the local stack test runs with WEBSTACK_STACK_TEST=1 (make test-stack) or CI=true")
	}
	if missing := Missing(); len(missing) > 0 {
		msg := fmt.Sprintf("%s: %v", strings.Join(missing, ", "), errMissing)
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	o.Root, o.KeepDir, o.Logf = "../..", os.Getenv("WEBSTACK_STACK_KEEP") == "1", t.Logf
	s, err := Start(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("logs (%s):\n%s", s.Dir, s.Logs(40))
		}
		s.Stop()
		if o.KeepDir {
			t.Logf("kept %s", s.Dir)
		}
	})
	return s
}
