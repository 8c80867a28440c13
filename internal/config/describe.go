package config

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// Describe writes a human summary of c for "mailrep config check": the
// files it will watch (and whether each can be read now), their format
// and host, account attribution, the outbound IP mapping, correlator
// limits, windows, state directory, HTTP listener and blocklist checks
// (never the values of their keys), in aligned columns. Its output is
// for people, so write errors are ignored.
func (c *Config) Describe(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	defer tw.Flush()
	p := func(format string, args ...any) { fmt.Fprintf(tw, format+"\n", args...) }

	if c.origin.file != "" {
		p("Configuration\t%s", c.origin.file)
	} else {
		p("Configuration\tbuilt-in defaults")
	}
	p("")
	if len(c.Sources) == 0 {
		p("Sources\tnone: \"mailrep run\" has nothing to watch (looked for %s)", strings.Join(DefaultSourceCandidates(), ", "))
	} else {
		p("Sources\tPATH\tFORMAT\tHOST\tYEAR\tSTATUS")
		for _, s := range c.Sources {
			host := s.Host
			if s.Format == FormatSyslog {
				host = "(from each line)"
			} else if host == "" {
				host = "(unknown)"
			}
			year := "infer"
			if s.Year != 0 {
				year = strconv.Itoa(s.Year)
			}
			p("\t%s\t%s\t%s\t%s\t%s", s.Path, s.Format, host, year, fileStatus(s.Path))
		}
	}
	p("")
	p("Accounts\tprecedence\t%s", strings.Join(c.Accounts.Precedence, " > "))
	p("\tstrip domain\t%t", c.Accounts.StripDomain)
	if len(c.Accounts.Aliases) == 0 {
		p("\taliases\tnone")
	}
	for i, k := range sortedKeys(c.Accounts.Aliases) {
		label := ""
		if i == 0 {
			label = "aliases"
		}
		p("\t%s\t%s -> %s", label, k, c.Accounts.Aliases[k])
	}
	p("")
	c.IPs.describe(p)
	p("")
	p("Correlator\tmax messages\t%d", c.Correlator.MaxMessages)
	p("\texpiry\t%s", formatDuration(c.Correlator.Expiry))
	p("")
	ws := make([]string, len(c.Windows))
	for i, d := range c.Windows {
		ws[i] = formatDuration(d)
	}
	p("Windows\t%s", strings.Join(ws, ", "))
	p("State dir\t%s", c.StateDir)
	p("Checkpoint every\t%s", formatDuration(c.CheckpointInterval))
	if c.HTTP.Listen == "" {
		p("HTTP listen\tdisabled")
	} else {
		p("HTTP listen\t%s", c.HTTP.Listen)
	}
	p("")
	c.RBL.describe(p)
	c.Scoring.describe(p)
}

func (ips *IPs) describe(p func(string, ...any)) {
	shared := make([]string, len(ips.Shared))
	for i, s := range ips.Shared {
		shared[i] = s.String()
	}
	if len(shared) == 0 {
		shared = []string{"none"}
	}
	p("Outbound IPs\tshared\t%s", strings.Join(shared, ", "))
	if len(ips.Transports) == 0 {
		p("\ttransports\tnone")
	}
	for i, t := range ips.Transports {
		label := ""
		if i == 0 {
			label = "transports"
		}
		kind := "program or transport"
		if strings.HasSuffix(t.Match, "/") {
			kind = "program prefix"
		}
		host := "any host"
		if t.Host != "" {
			host = "host " + t.Host
		}
		p("\t%s\t%s (%s, %s) -> %s", label, t.Match, kind, host, addrString(t.IP))
	}
	if len(ips.Hosts) == 0 {
		p("\tper host\tnone")
	}
	for i, h := range sortedKeys(ips.Hosts) {
		label := ""
		if i == 0 {
			label = "per host"
		}
		p("\t%s\t%s -> %s", label, h, addrString(ips.Hosts[h]))
	}
	def := "none (deliveries no rule maps have no outbound IP)"
	if ips.Default.IsValid() {
		def = ips.Default.String()
	}
	p("\tdefault\t%s", def)
	p("\tprecedence\texact program > longest program prefix > transport name > per host > default")
}

func addrString(a netip.Addr) string {
	if !a.IsValid() {
		return "(none)"
	}
	return a.String()
}

// fileStatus says whether path can be read now.
func fileStatus(path string) string {
	st, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "missing (will be watched for)"
	case err != nil:
		return "error: " + err.Error()
	case st.IsDir():
		return "error: is a directory"
	case !st.Mode().IsRegular():
		// Opening a FIFO would block "config check".
		return "error: not a regular file (" + st.Mode().Type().String() + ")"
	}
	f, err := os.Open(path)
	if err != nil {
		return "not readable: " + err.Error()
	}
	f.Close()
	return fmt.Sprintf("readable, %s, modified %s", byteSize(st.Size()), st.ModTime().Format(time.DateTime))
}

// byteSize formats n bytes for people.
func byteSize(n int64) string {
	const unit = 1024
	if n < unit {
		return strconv.FormatInt(n, 10) + " B"
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
