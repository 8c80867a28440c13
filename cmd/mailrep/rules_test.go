package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeCF(t *testing.T, body string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "10_test.cf"), []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestRulesLintClean(t *testing.T) {
	dir := writeCF(t, "header A Subject =~ /x/\nbody B /y/\nmeta C A && B\nreport ignored\n")
	var out bytes.Buffer
	if err := cmdRules([]string{"lint", dir}, &out, &out); err != nil {
		t.Fatalf("err %v\n%s", err, out.String())
	}
	for _, want := range []string{"Loaded: 3 rules", "body 1", "header 1", "meta 1", "Skipped: 0", "report"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}

func TestRulesLintSkipped(t *testing.T) {
	dir := writeCF(t, "header A Subject =~ /x/\nbody BAD /\\Gy/\nheader NET eval:check_rbl('a','b.example.')\n")
	var out bytes.Buffer
	err := cmdRules([]string{"lint", "--format", "json", dir}, &out, &out)
	if !errors.As(err, new(findingError)) {
		t.Fatalf("err %v, want a finding (exit 1)", err)
	}
	var doc struct {
		Paths       []string       `json:"paths"`
		Loaded      map[string]int `json:"loaded"`
		LoadedTotal int            `json:"loaded_total"`
		Skipped     []struct {
			Source struct {
				File string `json:"file"`
				Line int    `json:"line"`
			} `json:"source"`
			Rule, Kind, Reason string
		} `json:"skipped"`
		Dropped []struct{ Rule, Reason string } `json:"dropped"`
	}
	if err := json.Unmarshal(out.Bytes(), &doc); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if doc.LoadedTotal != 1 || len(doc.Skipped) != 1 || doc.Skipped[0].Rule != "BAD" || doc.Skipped[0].Source.Line != 2 ||
		!strings.Contains(doc.Skipped[0].Reason, `\G`) {
		t.Errorf("doc = %+v", doc)
	}
	if len(doc.Dropped) != 1 || doc.Dropped[0].Rule != "NET" {
		t.Errorf("dropped = %+v", doc.Dropped)
	}
}

func TestRulesLintUsage(t *testing.T) {
	var out bytes.Buffer
	for _, args := range [][]string{
		{"lint", "--format", "xml", "."},
		{"lint", filepath.Join(t.TempDir(), "missing")},
		{"frobnicate"},
		{},
	} {
		if err := cmdRules(args, &out, &out); !errors.As(err, new(usageError)) {
			t.Errorf("%v: err %v, want a usage error (exit 2)", args, err)
		}
	}
}
