package main

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/mailrep/mailrep/scoring"
)

// writeText prints a replay report for people: pflogsumm-style grand
// totals, then the top accounts, outbound IPs, sender domains and the
// remote blocklist rejections.
func writeText(w io.Writer, r *ReplayReport, files []string) {
	l := r.Lines
	fmt.Fprintf(w, "mailrep replay of %d file(s): %s lines (%s parsed, %s ignored, %s malformed)\n\n",
		len(files), num(l.Total), num(l.Parsed), num(l.Ignored), num(l.Malformed))
	t := r.Totals
	fmt.Fprintf(w, "Grand Totals\n------------\n")
	line := func(n int64, what string) { fmt.Fprintf(w, "%10s  %s\n", num(n), what) }
	line(t.Received, "received")
	line(t.Delivered, "delivered")
	fmt.Fprintf(w, "%10s  deferred  (%s deferrals)\n", num(t.Deferred), num(t.Deferrals))
	line(t.Bounced, "bounced")
	line(t.Rejected, "rejected")
	line(t.Expired, "expired")
	line(t.Filtered, "filtered (outbound spam filter)")
	if t.Scored > 0 {
		fmt.Fprintf(w, "%10s  scored by a spam filter, %s spam (%s)\n", num(t.Scored), num(t.Spam), spamRate(&t))
	}
	if t.Held+t.Discarded > 0 {
		line(t.Held, "held")
		line(t.Discarded, "discarded")
	}
	if t.Hops > 0 {
		line(t.Hops, "internal hops (content filter, sendmail → sm-mta; counted once)")
	}
	fmt.Fprintf(w, "\nRemote rejections: %s blocklist, %s reputation/rate, %s content, %s authentication, %s recipient, %s other\n",
		num(t.BlocklistRejections), num(t.ReputationRejections), num(t.ContentRejections),
		num(t.AuthenticationRejections), num(t.RecipientRejections), num(t.OtherRejections))

	type row struct {
		key string
		c   *scoring.Counters
	}
	table := func(title, head string, rows []row) {
		fmt.Fprintf(w, "\n%s\n%s\n", title, strings.Repeat("-", len(title)))
		if len(rows) == 0 {
			fmt.Fprintf(w, "  (none)\n")
			return
		}
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintf(tw, "%s\treceived\tdelivered\tdeferred\tbounced\texpired\trejected\tfiltered\tblocklist\treputation\tscored\tspam\t\n", head)
		for _, r := range rows {
			c := r.c
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", r.key, num(c.Received), num(c.Delivered),
				num(c.Deferred), num(c.Bounced), num(c.Expired), num(c.Rejected), num(c.Filtered),
				num(c.BlocklistRejections), num(c.ReputationRejections), num(c.Scored), spamRate(c))
		}
		tw.Flush()
	}
	var rows []row
	for i := range r.Accounts {
		rows = append(rows, row{r.Accounts[i].Account, &r.Accounts[i].Counters})
	}
	table("Top accounts", "account", rows)
	rows = rows[:0]
	for i := range r.IPs {
		rows = append(rows, row{r.IPs[i].IP, &r.IPs[i].Counters})
	}
	table("Top outbound IPs", "ip", rows)
	rows = rows[:0]
	for i := range r.SenderDomains {
		rows = append(rows, row{r.SenderDomains[i].Domain, &r.SenderDomains[i].Counters})
	}
	table("Top sender domains", "domain", rows)

	fmt.Fprintf(w, "\nRemote blocklist rejections\n---------------------------\n")
	if len(r.Blocklists) == 0 {
		fmt.Fprintf(w, "  (none)\n")
	} else {
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		for _, b := range r.Blocklists {
			fmt.Fprintf(tw, "  %s\t%s\n", b.List, num(b.Rejections))
		}
		tw.Flush()
	}
	c := r.Correlator
	if c.Evicted > 0 {
		fmt.Fprintf(w, "\nnote: the correlator dropped %s messages at its memory cap (correlator.max_messages); their later lines lost their account\n",
			num(c.Evicted))
	}
	if len(r.Malformed) > 0 {
		fmt.Fprintf(w, "\nMalformed lines (first %d):\n", len(r.Malformed))
		for _, m := range r.Malformed {
			fmt.Fprintf(w, "  %s:%d: %s\n", m.Input, m.Line, m.Error)
		}
	}
}

// num formats n with thousands separators.
func num(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	if neg {
		s = s[1:]
	}
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// spamRate formats a spam rate as a percentage ("-" when nothing was
// scored).
func spamRate(c *scoring.Counters) string {
	if c.Scored == 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f%%", 100*c.SpamRate)
}
