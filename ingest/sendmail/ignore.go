package sendmail

import "strings"

// Lines Sendmail logs that carry nothing the ledger counts. They are listed
// explicitly so that a line matching none of them, nor any counted shape,
// is reported as malformed instead of silently dropped.

// ignoredPrefixes start the part of a message after the (optional) queue id.
var ignoredPrefixes = [...]string{
	// A bounce or warning message was created; the failed delivery that
	// caused it has already been counted on its to= line.
	"DSN: ",
	"return to sender: ",
	"sender notify: ",
	"postmaster notify: ",
	// TLS and SASL chatter. AUTH=client is Sendmail authenticating to a
	// smarthost, not a customer authenticating to us; AUTH failures are
	// brute-force noise for fail2ban, not mail.
	"STARTTLS",
	"AUTH=client,",
	"AUTH failure",
	"AUTH: ",
	"AUTH warning",
	"SASL",
	// Connection-level diagnostics without a message.
	"SMTP outgoing connect on",
	"timeout waiting for input",
	"lost input channel",
	"collect: ",
	"rejecting commands from ",
	"connect from ",
	"tcpwrappers ",
	"Too many recipients",
	"too many recipients",
	"ETRN ",
	"--- ",
	// Daemon life cycle and queue housekeeping.
	"starting daemon",
	"alias database ",
	"rejecting connections on daemon",
	"accepting connections again",
	"grew WorkList",
	"runqueue",
	"daemon ",
	"SYSERR",
	"Losing ",
	"savemail panic",
	"low on space",
	"Saved message in ",
	"clone ",
	"Authentication-Warning: ",
	"setsender: ",
	"forward ",
	"headers too large",
	"message size ",
	"Syntax error in mailbox address",
	// A message dropped after a discard already counted on its "Milter:
	// … discard" or ruleset line.
	"discarded",
}

// ignoredPhrases may appear anywhere: these lines start with the client's
// host name, which varies.
var ignoredPhrases = [...]string{
	"possible SMTP attack",
	"did not issue MAIL/EXPN/VRFY/ETRN",
	"[rejected]", // "[ip]: EXPN root [rejected]", "…: VRFY info [rejected]"
	"aliases, longest",
	"lost input channel",
	"timeout waiting for input",
	"pre-greeting traffic",
}

// ignored reports whether rest (the message after the queue id qid, if
// any) is a known line with nothing to count.
func ignored(qid, rest string) bool {
	// "QID: NEWQID: DSN: …", "QID: NEWQID: return to sender: …",
	// "QID: NEWQID: postmaster notify: …": a DSN message was created.
	if qid != "" {
		if q2, r2 := splitQueueID(rest); q2 != "" {
			return hasAnyPrefix(r2, ignoredPrefixes[:4])
		}
	}
	if hasAnyPrefix(rest, ignoredPrefixes[:]) {
		return true
	}
	for _, p := range ignoredPhrases {
		if strings.Contains(rest, p) {
			return true
		}
	}
	return isAddressNotice(rest)
}

func hasAnyPrefix(s string, prefixes []string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

// isAddressNotice reports whether s is an SMTP reply Sendmail echoed for
// one address during the dialogue ("<a@b>... User unknown", "root...
// Recipient ok"). The rejection it belongs to, if any, is counted on the
// ruleset, milter or to= line that accompanies it.
func isAddressNotice(s string) bool {
	i := strings.Index(s, "... ")
	if i <= 0 {
		return false
	}
	return strings.IndexByte(s[:i], ' ') < 0
}
