// Package corpus locates the shared corpus of real logs and messages that
// tests read in place (it is never copied into the repository). The corpus
// lives in ../shared/corpus beside the repository root.
package corpus

import (
	"os"
	"path/filepath"
	"sort"
	"testing"
)

// Root returns the corpus directory, or "" if it is not present.
func Root() string {
	dir, err := os.Getwd()
	if err != nil {
		return ""
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			c := filepath.Join(dir, "..", "shared", "corpus")
			if st, err := os.Stat(c); err == nil && st.IsDir() {
				return c
			}
			return ""
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
}

// Dir returns the corpus sub-directory sub (e.g. "logs/postfix"), skipping
// the test with a message when the corpus is absent.
func Dir(tb testing.TB, sub string) string {
	tb.Helper()
	root := Root()
	if root == "" {
		tb.Skip("corpus not found: ../shared/corpus beside the repository is absent")
	}
	d := filepath.Join(root, sub)
	if _, err := os.Stat(d); err != nil {
		tb.Skipf("corpus directory %s not found: %v", sub, err)
	}
	return d
}

// Files returns the sorted regular files of corpus sub-directory sub whose
// names match the glob pattern, skipping the test when the corpus is absent.
func Files(tb testing.TB, sub, pattern string) []string {
	tb.Helper()
	d := Dir(tb, sub)
	m, err := filepath.Glob(filepath.Join(d, pattern))
	if err != nil {
		tb.Fatalf("glob %s: %v", pattern, err)
	}
	sort.Strings(m)
	return m
}
