package postfix

import "strings"

// This file is the explicit list of Postfix messages the parser ignores on
// purpose: they are understood, but carry nothing the correlator or the
// ledger counts. Anything neither parsed nor listed here is reported as
// malformed, so that a format change shows up instead of silently lowering
// the counts.

// quietDaemons log nothing that is counted: connection limits (anvil), DNS
// blocklist lookups for postscreen (dnsblog), TLS for postscreen (tlsproxy),
// connection and verification caches (scache, verify, tlsmgr), the master
// process, address rewriting and table lookups (trivial-rewrite, proxymap),
// and the administrative commands. Every line of theirs is ignored.
var quietDaemons = [...]string{
	"anvil", "dnsblog", "tlsproxy", "scache", "verify", "tlsmgr", "master",
	"trivial-rewrite", "proxymap", "flush", "showq", "spawn",
	"postmap", "postalias", "postdrop", "postqueue", "postlog", "postmulti",
	"postconf", "postcat", "postkick", "postlock", "postfix-script", "sendmail",
	"postlogd",
}

func isQuietDaemon(d string) bool {
	for _, q := range quietDaemons {
		if d == q {
			return true
		}
	}
	return false
}

// ignoredEverywhere are message prefixes any daemon may log, with or without
// a queue id: diagnostics, and anvil/scache style statistics.
var ignoredEverywhere = [...]string{
	"warning: ", "error: ", "fatal: ", "panic: ", "info: ", "statistics: ",
}

// ignoredActions are the action words of reject-style lines (after
// actionVerb strips milter-/proxy-/header-/body-) that count nothing:
// header/body/access-map actions that change or only log a message, smtpd's
// reject_warning (a rejection in warn_if_reject mode), access(5) WARN and
// proxy-accept.
var ignoredActions = [...]string{
	"reject_warning", "warning", "info", "filter", "redirect", "replace",
	"prepend", "strip", "bcc", "ignore", "accept", "warn",
}

// ignoredSMTPD are smtpd messages about connections, TLS and protocol
// hiccups. "lost connection after" also appears after "NOQUEUE: ".
var ignoredSMTPD = [...]string{
	"connect from ", "disconnect from ", "lost connection after ",
	"timeout after ", "too many errors after ",
	"improper command pipelining after ", "bare <LF> received after ",
	"setting up TLS connection from ", "TLS connection established from ",
	"Anonymous TLS connection established from ",
	"Untrusted TLS connection established from ",
	"Trusted TLS connection established from ",
	"Verified TLS connection established from ",
	"SSL_accept error from ", "discarding EHLO keywords: ",
	"table ", // "table hash:… has changed -- restarting"
}

// ignoredPostscreen are postscreen's connection verdicts and cache
// maintenance. Its NOQUEUE rejects are parsed.
var ignoredPostscreen = [...]string{
	"CONNECT from ", "DISCONNECT ", "PASS OLD ", "PASS NEW ", "DNSBL rank ",
	"PREGREET ", "HANGUP ", "COMMAND TIME LIMIT ", "COMMAND COUNT LIMIT ",
	"COMMAND LENGTH LIMIT ", "COMMAND PIPELINING ", "BARE NEWLINE ",
	"NON-SMTP COMMAND ", "DATA without valid RCPT ", "BDAT without valid RCPT ",
	"DENYLISTED ", "BLACKLISTED ", "ALLOWLISTED ", "WHITELISTED ",
	"ALLOWLIST VETO ", "WHITELIST VETO ", "cache ",
}

// ignoredCleanup: the Resent-Message-ID header (the Message-ID is parsed).
var ignoredCleanup = [...]string{"resent-message-id="}

// ignoredQmgr: a message qmgr found still in delivery after a restart.
var ignoredQmgr = [...]string{"skipped, still being delivered"}

// ignoredPostsuper: requeue and release, and the per-run summaries.
var ignoredPostsuper = [...]string{
	"released from hold", "requeued", "Deleted: ", "Requeued: ",
	"Placed on hold: ", "Released from hold: ",
}

// ignoredBounce: bounce/defer/trace report which notification they queued
// (the notification itself then shows up as a new queue id).
var ignoredBounce = [...]string{
	"sender non-delivery notification: ", "sender delivery status notification: ",
	"sender delay notification: ", "postmaster non-delivery notification: ",
	"postmaster delivery status notification: ", "postmaster delay notification: ",
}

// ignoredDelivery are delivery-agent messages about connections, TLS and
// remote replies that precede the status line which is counted ("QID: host
// X said: …" is followed by "QID: to=<…>, …, status=…").
var ignoredDelivery = [...]string{
	"host ", "lost connection with ", "conversation with ", "connect to ",
	"enabling PIX workarounds: ", "SASL authentication failed; ",
	"setting up TLS connection to ", "TLS connection established to ",
	"Anonymous TLS connection established to ",
	"Untrusted TLS connection established to ",
	"Trusted TLS connection established to ",
	"Verified TLS connection established to ",
	"certificate verification failed for ",
	"server certificate verification failed for ",
	"SSL_connect error to ",
}

// isIgnored reports whether rest (the message after any queue id) is one
// the parser ignores on purpose for a daemon of class svc.
func isIgnored(svc service, rest string, hasID bool) bool {
	if hasAnyPrefix(rest, ignoredEverywhere[:]) {
		return true
	}
	switch svc {
	case svcSMTPD, svcPostscreen, svcCleanup:
		if word, _, ok := strings.Cut(rest, ": "); ok && isIgnoredAction(word) {
			return true
		}
	}
	switch svc {
	case svcSMTPD:
		return hasAnyPrefix(rest, ignoredSMTPD[:])
	case svcPostscreen:
		return !hasID && hasAnyPrefix(rest, ignoredPostscreen[:])
	case svcCleanup:
		return hasID && hasAnyPrefix(rest, ignoredCleanup[:])
	case svcQmgr:
		return hasID && hasAnyPrefix(rest, ignoredQmgr[:])
	case svcPostsuper:
		return hasAnyPrefix(rest, ignoredPostsuper[:])
	case svcBounce:
		return hasID && hasAnyPrefix(rest, ignoredBounce[:])
	case svcDelivery:
		return hasAnyPrefix(rest, ignoredDelivery[:])
	}
	return false
}

func isIgnoredAction(word string) bool {
	if strings.IndexByte(word, ' ') >= 0 {
		return false
	}
	v := actionVerb(word)
	for _, a := range ignoredActions {
		if v == a {
			return true
		}
	}
	return false
}

func hasAnyPrefix(s string, prefixes []string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}
