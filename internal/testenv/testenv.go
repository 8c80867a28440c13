// Package testenv decides what tests that need a real external program do
// when it is missing: plain "go test" skips them with the reason, while the
// README's test command (MAILREP_INTEGRATION=1) makes a missing program a
// failure, so CI can never pass by skipping.
package testenv

import (
	"os"
	"os/exec"
	"testing"
)

// Integration reports whether MAILREP_INTEGRATION=1 is set.
func Integration() bool { return os.Getenv("MAILREP_INTEGRATION") == "1" }

// NeedProgram returns the path of program, or skips (fails under
// MAILREP_INTEGRATION=1) when it is not installed.
func NeedProgram(tb testing.TB, program, debianPackage string) string {
	tb.Helper()
	p, err := exec.LookPath(program)
	if err == nil {
		return p
	}
	for _, dir := range []string{"/usr/sbin", "/sbin", "/usr/local/sbin"} {
		if st, err := os.Stat(dir + "/" + program); err == nil && !st.IsDir() {
			return dir + "/" + program
		}
	}
	if Integration() {
		tb.Fatalf("%s not found (MAILREP_INTEGRATION=1): install Debian package %s", program, debianPackage)
	}
	tb.Skipf("%s not found: install Debian package %s (or run the README's test command)", program, debianPackage)
	return ""
}
