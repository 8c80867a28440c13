// Command mailrep watches the outbound side of a shared mail server: which
// account sends what through which IP, what the remote servers answered,
// and — as later subcommands land — why messages were scored as spam and
// whether the shared IPs are listed.
//
// Usage:
//
//	mailrep run     [-c mailrep.yaml]
//	mailrep replay  [-c F] [--format text|json] [--top N] FILE…
//	mailrep rbl check [-c F] [--resolver HOST:PORT] [--list NAME|ZONE]… [--format text|json] TARGET…
//	mailrep config check [-c F]
//	mailrep version
//
// Exit codes follow the Nagios plugin convention: 0 ok, 1 a finding,
// 2 usage or configuration error, 3 could not determine.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strings"
)

// Exit codes.
const (
	exitOK      = 0
	exitFinding = 1
	exitUsage   = 2
	exitUnknown = 3
)

// usageError marks errors that exit with code 2.
type usageError struct{ err error }

func (u usageError) Error() string { return u.err.Error() }
func (u usageError) Unwrap() error { return u.err }

func usagef(format string, args ...any) error {
	return usageError{fmt.Errorf(format, args...)}
}

type command struct {
	name, args, short string
	run               func(args []string, stdout, stderr io.Writer) error
}

func commands() []command {
	return []command{
		{"run", "[-c FILE]", "follow the configured logs, keep state, serve /healthz and /api/v1/summary", cmdRun},
		{"replay", "[-c FILE] [--format text|json] [--top N] FILE…", "read logs start to end (.gz ok, - = stdin) and print a summary", cmdReplay},
		{"rules", "lint " + rulesLintArgs, "load SpamAssassin rule files and report what loaded, what was skipped and why", cmdRules},
		{"rescore", "[-c FILE] [--rules PATH]… [--scores FILE] [--format text|json] LOGFILE…", "re-apply a score table to logged spam-filter results: verdict changes per account", cmdRescore},
		{"rbl", "check [-c FILE] [--resolver HOST:PORT] [--list NAME|ZONE]… [--format text|json] [IP|CIDR|DOMAIN…]", "look up IPs and domains on DNS blocklists (typed results, Nagios exit codes)", cmdRBL},
		{"config", "check [-c FILE]", "validate the configuration and show what mailrep will watch", cmdConfig},
		{"version", "", "print the version", cmdVersion},
	}
}

func mainUsage(w io.Writer) {
	fmt.Fprintf(w, "mailrep — outbound reputation monitor for shared mail servers\n\nUsage:\n")
	for _, c := range commands() {
		fmt.Fprintf(w, "  mailrep %-8s %s\n", c.name, c.args)
	}
	fmt.Fprintf(w, "\nCommands:\n")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-8s %s\n", c.name, c.short)
	}
	fmt.Fprintf(w, "\nRun 'mailrep COMMAND --help' for a command's flags.\n"+
		"Exit codes: 0 ok, 1 finding, 2 usage/config error, 3 could not determine.\n")
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run executes one command line and returns the exit code.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		mainUsage(stderr)
		return exitUsage
	}
	name := args[0]
	if name == "-h" || name == "--help" || name == "help" {
		mainUsage(stdout)
		return exitOK
	}
	for _, c := range commands() {
		if c.name != name {
			continue
		}
		err := c.run(args[1:], stdout, stderr)
		switch {
		case err == nil:
			return exitOK
		case errors.Is(err, flag.ErrHelp):
			return exitOK
		case errors.As(err, new(usageError)):
			fmt.Fprintf(stderr, "mailrep %s: %v\n", name, err)
			return exitUsage
		case errors.As(err, new(findingError)):
			return exitFinding
		case errors.As(err, new(undeterminedError)):
			return exitUnknown
		default:
			fmt.Fprintf(stderr, "mailrep %s: %v\n", name, err)
			return exitUnknown
		}
	}
	fmt.Fprintf(stderr, "mailrep: unknown command %q\n\n", name)
	mainUsage(stderr)
	return exitUsage
}

// findingError makes a command exit 1 after printing its result.
type findingError struct{ what string }

func (f findingError) Error() string { return f.what }

// newFlags returns a flag set whose --help prints usage to stdout.
func newFlags(name, args, doc string, stdout io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("mailrep "+name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {
		fmt.Fprintf(stdout, "Usage: mailrep %s %s\n\n%s\n\nFlags:\n", name, args, doc)
		fs.SetOutput(stdout)
		fs.PrintDefaults()
		fs.SetOutput(io.Discard)
	}
	return fs
}

// parseInterleaved parses flags that may appear before, between or after
// positional arguments ("mailrep replay a.log --format json").
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				fs.Usage()
				return nil, err
			}
			return nil, usageError{err}
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		if args[0] == "--" {
			return append(pos, args[1:]...), nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

func cmdVersion(args []string, stdout, _ io.Writer) error {
	fs := newFlags("version", "", "Print mailrep's version and build information.", stdout)
	if _, err := parseInterleaved(fs, args); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "mailrep %s\n", version())
	return nil
}

// version returns the module version or VCS revision the binary was built from.
func version() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "(unknown)"
	}
	v := bi.Main.Version
	var rev, dirty string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				dirty = "+dirty"
			}
		}
	}
	if rev != "" && (v == "" || v == "(devel)") {
		if len(rev) > 12 {
			rev = rev[:12]
		}
		return "devel-" + rev + dirty + " " + bi.GoVersion
	}
	return strings.TrimSpace(v + " " + bi.GoVersion)
}
