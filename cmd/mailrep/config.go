package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"os/user"
	"slices"
	"strings"

	"github.com/mailrep/mailrep/ingest/correlate"
	"github.com/mailrep/mailrep/internal/config"
	"github.com/mailrep/mailrep/rbl"
	"github.com/mailrep/mailrep/scoring"
)

// systemConfig is read when no -c is given and MAILREP_CONFIG is unset.
const systemConfig = "/etc/mailrep/mailrep.yaml"

// loadConfig loads the configuration named by -c, else $MAILREP_CONFIG,
// else /etc/mailrep/mailrep.yaml if it exists, else the built-in defaults.
// It returns where the configuration came from, for messages.
func loadConfig(path string) (*config.Config, string, error) {
	if path == "" {
		path = os.Getenv("MAILREP_CONFIG")
	}
	if path == "" {
		if _, err := os.Stat(systemConfig); err == nil {
			path = systemConfig
		}
	}
	if path == "" {
		return config.Default(), "built-in defaults (no -c, no $MAILREP_CONFIG, no " + systemConfig + ")", nil
	}
	cfg, err := config.Load(path)
	if err != nil {
		return nil, path, usageError{err}
	}
	return cfg, path, nil
}

// loadConfigOnly parses the arguments of a command whose only flag is -c
// and which takes no operands, then loads the configuration.
func loadConfigOnly(fs *flag.FlagSet, args []string) (*config.Config, string, error) {
	cfgPath := fs.String("c", "", "configuration `file` (default: $MAILREP_CONFIG, "+systemConfig+", built-in defaults)")
	rest, err := parseInterleaved(fs, args)
	if err != nil {
		return nil, "", err
	}
	if len(rest) > 0 {
		return nil, "", usagef("unexpected argument %q", rest[0])
	}
	return loadConfig(*cfgPath)
}

func correlatorConfig(cfg *config.Config) correlate.Config {
	return correlate.Config{MaxMessages: cfg.Correlator.MaxMessages, Expiry: cfg.Correlator.Expiry}
}

func attribution(cfg *config.Config) scoring.Attribution {
	return scoring.Attribution{
		Precedence:  cfg.Accounts.Precedence,
		StripDomain: cfg.Accounts.StripDomain,
		Aliases:     cfg.Accounts.Aliases,
		LocalName:   newUIDNames().name,
	}
}

// uidNames turns the numeric uid of a local submission (Postfix pickup
// "uid=1017") into the user's name — the hosting account — by looking it up
// in this machine's user database, but only for lines logged by this
// machine: a log replayed elsewhere keeps its uids, since another host's
// uid 1017 is somebody else.
type uidNames struct {
	host  string // this machine's host name, short form
	cache map[string]string
}

func newUIDNames() *uidNames {
	h, _ := os.Hostname()
	h, _, _ = strings.Cut(h, ".")
	return &uidNames{host: h, cache: make(map[string]string)}
}

func (u *uidNames) name(host, uid string) string {
	if u.host == "" || (host != u.host && !strings.HasPrefix(host, u.host+".")) {
		return uid
	}
	if n, ok := u.cache[uid]; ok {
		return n
	}
	n := uid
	if usr, err := user.LookupId(uid); err == nil && usr.Username != "" {
		n = usr.Username
	}
	if len(u.cache) < 65536 {
		u.cache[strings.Clone(uid)] = n
	}
	return n
}

func cmdConfig(args []string, stdout, _ io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprintf(stdout, "Usage: mailrep config check [-c FILE]\n\n"+
			"Validate the configuration (file, line and key of every problem) and show\n"+
			"what mailrep will watch. Without -c: $MAILREP_CONFIG, then %s,\n"+
			"then built-in defaults (the usual Postfix, Exim, cPanel and Sendmail log paths).\n", systemConfig)
		if len(args) == 0 {
			return usagef("missing subcommand: check")
		}
		return nil
	}
	if args[0] != "check" {
		return usagef("unknown subcommand %q (want: check)", args[0])
	}
	fs := newFlags("config check", "[-c FILE]", "Validate the configuration and show what mailrep will watch.", stdout)
	cfg, _, err := loadConfigOnly(fs, args[1:])
	if err != nil {
		return err
	}
	cfg.Describe(stdout)
	if cfg.RBL.Enabled {
		setup, err := newRBLSetup(cfg, nil, nil, 0)
		if err != nil {
			return err
		}
		if len(setup.findings) > 0 {
			fmt.Fprintln(stdout, "\nblocklist findings:")
			for _, f := range setup.findings {
				fmt.Fprintf(stdout, "  %s\n", f)
			}
		}
		names := make([]string, len(setup.lists))
		for i, l := range setup.lists {
			names[i] = l.Name
		}
		fmt.Fprintf(stdout, "\nblocklists queried: %s (resolvers %s)\n", strings.Join(names, ", "), strings.Join(setup.resolvers, ", "))
		for name := range cfg.RBL.Schedules {
			if !slices.ContainsFunc(setup.lists, func(l *rbl.List) bool { return l.Name == name || l.Zone == name }) {
				return usagef("rbl.schedules: %q is not a list that is queried", name)
			}
		}
	}
	fmt.Fprintln(stdout, "\nconfiguration OK")
	return nil
}
