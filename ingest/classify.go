package ingest

import "strings"

// Classify returns the class of an SMTP reply text — the remote reply of a
// deferred, bounced or expired delivery, or the text of a local reject — and,
// for ClassBlocklist, the lower-case name of the list the text names ("" when
// it names none). An empty text is ClassNone; a text that matches nothing is
// ClassOther.
//
// Classification is a single pass over the text that looks up a fixed keyword
// table case-insensitively at word starts, so it allocates nothing unless a
// list name written in upper case has to be lower-cased. Keywords match whole
// words only, and a word glued to a host name or address ("spam" in
// "spam.example.com" or "<spam@example.com>") is not a word, so the host and
// recipient a reply quotes do not change its class.
//
// When a text carries signals of several classes the most specific wins:
//
//  1. blocklist, when the text names a list ("blocked using zen.spamhaus.org",
//     "listed at …", a spamhaus.org/spamcop.net/barracuda URL, Microsoft
//     S3140/S3150, AT&T DNSBL:RBL) — a Spamhaus reply also says "blocked" and
//     Barracuda's says "Reputation", but the list is the actionable fact;
//  2. reputation/rate (Gmail 4.7.28 and "unsolicited", Yahoo TS/TSS codes,
//     Comcast RL/BL codes, Outlook S775, "rate limit", "too many connections")
//     — Gmail's rate text mentions the "SPF domain" and "spam", Comcast's BL
//     codes mention "DNSBLs" without naming one;
//  3. blocklist without a name ("blacklisted", "DNSBL", "is in an RBL");
//  4. authentication (SPF, DKIM, DMARC, 5.7.26, 5.7.25/PTR, 5.7.515);
//  5. recipient, strong signals (unknown user, mailbox full, 5.1.1, 5.2.2) —
//     an unknown user is not a content problem even if the text says "spam";
//  6. content (spam, virus, "message content rejected");
//  7. greylisting, which is ClassOther even inside a Postfix "Recipient
//     address rejected: Greylisted";
//  8. recipient, weak signals ("Recipient address rejected", "mailbox
//     unavailable"), which Postfix also puts in front of policy rejects;
//  9. other.
func Classify(reply string) (Class, string) {
	var m classMatch
	m.scan(reply)
	switch {
	case m.rank > 0:
		return ClassBlocklist, m.name
	case m.sigs&sigReputation != 0:
		return ClassReputation, ""
	case m.sigs&sigBlocklist != 0:
		return ClassBlocklist, ""
	case m.sigs&sigAuth != 0:
		return ClassAuthentication, ""
	case m.sigs&sigRecipient != 0:
		return ClassRecipient, ""
	case m.sigs&sigContent != 0:
		return ClassContent, ""
	case m.sigs&sigGreylist != 0:
		return ClassOther, ""
	case m.sigs&sigRecipientWeak != 0:
		return ClassRecipient, ""
	}
	if strings.TrimSpace(reply) == "" {
		return ClassNone, ""
	}
	return ClassOther, ""
}

// Signals a keyword can raise.
const (
	sigBlocklist uint16 = 1 << iota
	sigReputation
	sigAuth
	sigRecipient
	sigContent
	sigGreylist
	sigRecipientWeak
)

// What a keyword does besides raising a signal.
const (
	actNone     uint8 = iota
	actName           // names the list kw.name (rank kw.rank)
	actToken          // the list's name follows the keyword
	actSpamhaus       // a spamhaus.org URL; the path says which list
)

// Kinds of keyword boundaries.
const (
	bWord   uint8 = iota // whole word; host names and addresses are not words
	bLoose               // any non-alphanumeric byte before, whole word after
	bCode                // a status code like 5.7.26: no digit or dot around it
	bPrefix              // whole-word start, anything may follow (RL000001)
	bURL                 // any non-alphanumeric byte before, anything after
)

type keyword struct {
	text  string // lower case; a space matches a run of white space
	sig   uint16
	bound uint8
	act   uint8
	// rank of the name: 1 vendor word, 2 URL or vendor code, 3 zone from the
	// text. For actToken, the rank a bare word after the keyword gets (0 =
	// a bare word names nothing).
	rank uint8
	name string
}

// keywords is the classification table. Order does not matter: every
// keyword that matches raises its signal and precedence is decided once.
var keywords = []keyword{
	// Blocklists that name the list.
	{text: "blocked using ", sig: sigBlocklist, bound: bWord, act: actToken, rank: 1},
	{text: "listed at ", sig: sigBlocklist, bound: bWord, act: actToken},
	{text: "listed in ", sig: sigBlocklist, bound: bWord, act: actToken},
	{text: "listed on ", sig: sigBlocklist, bound: bWord, act: actToken},
	{text: "listed by ", sig: sigBlocklist, bound: bWord, act: actToken},
	{text: "listing in ", sig: sigBlocklist, bound: bWord, act: actToken},
	{text: "rbl on ", sig: sigBlocklist, bound: bWord, act: actToken},
	{text: "in an rbl (", sig: sigBlocklist, bound: bWord, act: actToken},
	{text: "spamhaus.org/", sig: sigBlocklist, bound: bURL, act: actSpamhaus},
	{text: "spamhaus", sig: sigBlocklist, bound: bWord, act: actName, rank: 1, name: "spamhaus"},
	{text: "spamcop.net/bl", sig: sigBlocklist, bound: bURL, act: actName, rank: 2, name: "bl.spamcop.net"},
	{text: "spamcop", sig: sigBlocklist, bound: bWord, act: actName, rank: 1, name: "bl.spamcop.net"},
	{text: "barracudacentral.org", sig: sigBlocklist, bound: bURL, act: actName, rank: 2, name: "b.barracudacentral.org"},
	{text: "barracudanetworks.com/reputation", sig: sigBlocklist, bound: bURL, act: actName, rank: 2, name: "b.barracudacentral.org"},
	{text: "barracuda", sig: sigBlocklist, bound: bWord, act: actName, rank: 1, name: "b.barracudacentral.org"},
	{text: "uceprotect", sig: sigBlocklist, bound: bWord, act: actName, rank: 1, name: "uceprotect"},
	{text: "sorbs", sig: sigBlocklist, bound: bWord, act: actName, rank: 1, name: "sorbs"},
	{text: "s3140", sig: sigBlocklist, bound: bLoose, act: actName, rank: 2, name: "microsoft"},
	{text: "s3150", sig: sigBlocklist, bound: bLoose, act: actName, rank: 2, name: "microsoft"},
	{text: "as3140", sig: sigBlocklist, bound: bLoose, act: actName, rank: 2, name: "microsoft"},
	{text: "as3150", sig: sigBlocklist, bound: bLoose, act: actName, rank: 2, name: "microsoft"},
	{text: "banned sending ip", sig: sigBlocklist, bound: bWord, act: actName, rank: 2, name: "microsoft"},
	{text: "dnsbl:rbl", sig: sigBlocklist, bound: bLoose, act: actName, rank: 2, name: "att"},
	{text: "dnsbl:attrbl", sig: sigBlocklist, bound: bLoose, act: actName, rank: 2, name: "att"},
	{text: "dnsbl:attbl", sig: sigBlocklist, bound: bLoose, act: actName, rank: 2, name: "att"},

	// Blocklists without a name.
	{text: "blacklist", sig: sigBlocklist, bound: bWord},
	{text: "blacklisted", sig: sigBlocklist, bound: bWord},
	{text: "black list", sig: sigBlocklist, bound: bWord},
	{text: "blocklist", sig: sigBlocklist, bound: bWord},
	{text: "blocklisted", sig: sigBlocklist, bound: bWord},
	{text: "block list", sig: sigBlocklist, bound: bWord},
	{text: "dnsbl", sig: sigBlocklist, bound: bLoose},
	{text: "dnsbls", sig: sigBlocklist, bound: bLoose},
	{text: "rbl", sig: sigBlocklist, bound: bWord},
	{text: "rbls", sig: sigBlocklist, bound: bWord},

	// Reputation and rate.
	{text: "unsolicited", sig: sigReputation, bound: bWord},
	{text: "reputation", sig: sigReputation, bound: bWord},
	{text: "rate limit", sig: sigReputation, bound: bWord},
	{text: "rate limited", sig: sigReputation, bound: bWord},
	{text: "rate limiting", sig: sigReputation, bound: bWord},
	{text: "rate-limited", sig: sigReputation, bound: bWord},
	{text: "ratelimit", sig: sigReputation, bound: bWord},
	{text: "ratelimited", sig: sigReputation, bound: bWord},
	{text: "unusual rate", sig: sigReputation, bound: bWord},
	{text: "connection rate", sig: sigReputation, bound: bWord},
	{text: "too many connections", sig: sigReputation, bound: bWord},
	{text: "too many open connections", sig: sigReputation, bound: bWord},
	{text: "too many concurrent", sig: sigReputation, bound: bWord},
	{text: "too many messages", sig: sigReputation, bound: bWord},
	{text: "user complaints", sig: sigReputation, bound: bWord},
	{text: "unexpected volume", sig: sigReputation, bound: bWord},
	{text: "temporarily deferred", sig: sigReputation, bound: bWord},
	{text: "permanently deferred", sig: sigReputation, bound: bWord},
	{text: "throttled", sig: sigReputation, bound: bWord},
	{text: "throttling", sig: sigReputation, bound: bWord},
	{text: "4.7.28", sig: sigReputation, bound: bCode},
	{text: "4.7.650", sig: sigReputation, bound: bCode},
	{text: "4.7.651", sig: sigReputation, bound: bCode},
	{text: "ts01", sig: sigReputation, bound: bWord},
	{text: "ts02", sig: sigReputation, bound: bWord},
	{text: "ts03", sig: sigReputation, bound: bWord},
	{text: "tss04", sig: sigReputation, bound: bWord},
	{text: "tss05", sig: sigReputation, bound: bWord},
	{text: "tss06", sig: sigReputation, bound: bWord},
	{text: "tss07", sig: sigReputation, bound: bWord},
	{text: "tss08", sig: sigReputation, bound: bWord},
	{text: "tss09", sig: sigReputation, bound: bWord},
	{text: "tss11", sig: sigReputation, bound: bWord},
	{text: "ipts04", sig: sigReputation, bound: bWord},
	{text: "ipts05", sig: sigReputation, bound: bWord},
	{text: "rl0000", sig: sigReputation, bound: bPrefix},
	{text: "bl0000", sig: sigReputation, bound: bPrefix},
	{text: "s775", sig: sigReputation, bound: bPrefix},
	{text: "s77719", sig: sigReputation, bound: bWord},

	// Authentication.
	{text: "spf", sig: sigAuth, bound: bWord},
	{text: "dkim", sig: sigAuth, bound: bWord},
	{text: "dmarc", sig: sigAuth, bound: bWord},
	{text: "unauthenticated", sig: sigAuth, bound: bWord},
	{text: "not authenticated", sig: sigAuth, bound: bWord},
	{text: "authentication level", sig: sigAuth, bound: bWord},
	{text: "authentication requirements", sig: sigAuth, bound: bWord},
	{text: "authenticate with", sig: sigAuth, bound: bWord},
	{text: "cannot find your hostname", sig: sigAuth, bound: bWord},
	{text: "cannot find your reverse hostname", sig: sigAuth, bound: bWord},
	{text: "reverse dns", sig: sigAuth, bound: bWord},
	{text: "rdns", sig: sigAuth, bound: bWord},
	{text: "ptr", sig: sigAuth, bound: bWord},
	{text: "5.7.20", sig: sigAuth, bound: bCode},
	{text: "5.7.21", sig: sigAuth, bound: bCode},
	{text: "5.7.22", sig: sigAuth, bound: bCode},
	{text: "5.7.23", sig: sigAuth, bound: bCode},
	{text: "5.7.24", sig: sigAuth, bound: bCode},
	{text: "5.7.25", sig: sigAuth, bound: bCode},
	{text: "5.7.26", sig: sigAuth, bound: bCode},
	{text: "5.7.27", sig: sigAuth, bound: bCode},
	{text: "4.7.25", sig: sigAuth, bound: bCode},
	{text: "4.7.26", sig: sigAuth, bound: bCode},
	{text: "5.7.509", sig: sigAuth, bound: bCode},
	{text: "5.7.515", sig: sigAuth, bound: bCode},

	// Recipient, strong.
	{text: "user unknown", sig: sigRecipient, bound: bWord},
	{text: "unknown user", sig: sigRecipient, bound: bWord},
	{text: "no such user", sig: sigRecipient, bound: bWord},
	{text: "no such recipient", sig: sigRecipient, bound: bWord},
	{text: "no such mailbox", sig: sigRecipient, bound: bWord},
	{text: "unknown recipient", sig: sigRecipient, bound: bWord},
	{text: "recipient unknown", sig: sigRecipient, bound: bWord},
	{text: "recipient not found", sig: sigRecipient, bound: bWord},
	{text: "user not found", sig: sigRecipient, bound: bWord},
	{text: "mailbox not found", sig: sigRecipient, bound: bWord},
	{text: "address not found", sig: sigRecipient, bound: bWord},
	{text: "invalid recipient", sig: sigRecipient, bound: bWord},
	{text: "invalid mailbox", sig: sigRecipient, bound: bWord},
	{text: "does not exist", sig: sigRecipient, bound: bWord},
	{text: "doesn't exist", sig: sigRecipient, bound: bWord},
	{text: "mailbox full", sig: sigRecipient, bound: bWord},
	{text: "mailbox is full", sig: sigRecipient, bound: bWord},
	{text: "inbox is full", sig: sigRecipient, bound: bWord},
	{text: "over quota", sig: sigRecipient, bound: bWord},
	{text: "overquota", sig: sigRecipient, bound: bWord},
	{text: "quota exceeded", sig: sigRecipient, bound: bWord},
	{text: "out of storage", sig: sigRecipient, bound: bWord},
	{text: "undeliverable address", sig: sigRecipient, bound: bWord},
	{text: "unrouteable address", sig: sigRecipient, bound: bWord},
	{text: "host or domain name not found", sig: sigRecipient, bound: bWord},
	{text: "account disabled", sig: sigRecipient, bound: bWord},
	{text: "account is disabled", sig: sigRecipient, bound: bWord},
	{text: "5.1.1", sig: sigRecipient, bound: bCode},
	{text: "5.1.10", sig: sigRecipient, bound: bCode},
	{text: "5.1.2", sig: sigRecipient, bound: bCode},
	{text: "5.2.1", sig: sigRecipient, bound: bCode},
	{text: "5.2.2", sig: sigRecipient, bound: bCode},
	{text: "4.2.2", sig: sigRecipient, bound: bCode},

	// Content.
	{text: "spam", sig: sigContent, bound: bWord},
	{text: "spammy", sig: sigContent, bound: bWord},
	{text: "spamassassin", sig: sigContent, bound: bWord},
	{text: "virus", sig: sigContent, bound: bWord},
	{text: "viruses", sig: sigContent, bound: bWord},
	{text: "infected", sig: sigContent, bound: bWord},
	{text: "malware", sig: sigContent, bound: bWord},
	{text: "phishing", sig: sigContent, bound: bWord},
	{text: "message content", sig: sigContent, bound: bWord},
	{text: "content rejected", sig: sigContent, bound: bWord},
	{text: "content filter", sig: sigContent, bound: bWord},
	{text: "dt:spm", sig: sigContent, bound: bWord},

	// Greylisting (ClassOther, but it outranks a weak recipient signal).
	{text: "greylisted", sig: sigGreylist, bound: bWord},
	{text: "greylisting", sig: sigGreylist, bound: bWord},
	{text: "greylist", sig: sigGreylist, bound: bWord},
	{text: "graylisted", sig: sigGreylist, bound: bWord},
	{text: "graylisting", sig: sigGreylist, bound: bWord},

	// Recipient, weak.
	{text: "recipient address rejected", sig: sigRecipientWeak, bound: bWord},
	{text: "recipient rejected", sig: sigRecipientWeak, bound: bWord},
	{text: "mailbox unavailable", sig: sigRecipientWeak, bound: bWord},
	{text: "mailbox not available", sig: sigRecipientWeak, bound: bWord},
}

// kwIndex finds the keywords that may start with a given pair of bytes: the
// keywords of hash bucket h are kwList[kwStart[h]:kwStart[h+1]]. lower folds
// ASCII upper case and alnum marks ASCII letters and digits (and every byte
// of a multi-byte UTF-8 sequence, so non-ASCII letters glue words too).
var (
	kwStart [pairBuckets + 1]uint16
	kwList  []uint8
	kwPair  []uint16 // kwPair[i] = first two bytes of kwList[i]'s keyword
	kwHead  []uint64 // kwHead[i] = up to 8 leading bytes of that keyword …
	kwMask  []uint64 // … and which of them are compared (none from a space on)
	starts  [256]bool
	lower   [256]byte
	alnum   [256]bool
)

const pairBuckets = 2048

// pairHash hashes the first two (lower-case) bytes of a keyword.
func pairHash(a, b byte) int { return (int(a)*131 + int(b)) & (pairBuckets - 1) }

func init() {
	for i := range 256 {
		c := byte(i)
		lower[i] = c
		if 'A' <= c && c <= 'Z' {
			lower[i] = c + 'a' - 'A'
		}
		alnum[i] = 'a' <= lower[i] && lower[i] <= 'z' || '0' <= c && c <= '9' || c >= 0x80
	}
	if len(keywords) > 255 {
		panic("ingest: classification keyword table exceeds 255 entries")
	}
	var buckets [pairBuckets][]uint8
	for i, k := range keywords {
		if len(k.text) < 2 || k.text[1] == ' ' {
			panic("ingest: classification keyword " + k.text + " is too short")
		}
		h := pairHash(k.text[0], k.text[1])
		buckets[h] = append(buckets[h], uint8(i))
		starts[k.text[0]] = true
	}
	for h, b := range buckets {
		kwStart[h] = uint16(len(kwList))
		kwList = append(kwList, b...)
		for _, ki := range b {
			t := keywords[ki].text
			kwPair = append(kwPair, uint16(t[0])<<8|uint16(t[1]))
			var head, mask uint64
			for j := 0; j < 8 && j < len(t) && t[j] != ' '; j++ {
				head |= uint64(t[j]) << (8 * j)
				mask |= 0xff << (8 * j)
			}
			kwHead = append(kwHead, head)
			kwMask = append(kwMask, mask)
		}
	}
	kwStart[pairBuckets] = uint16(len(kwList))
}

// classMatch accumulates what one scan found.
type classMatch struct {
	sigs uint16
	rank uint8 // rank of name; 0 = no list named
	name string
}

func (m *classMatch) setName(name string, rank uint8) {
	if name != "" && rank > m.rank {
		m.rank, m.name = rank, name
	}
}

// scan looks up every keyword starting at a position that follows a
// non-alphanumeric byte (or the start of s).
func (m *classMatch) scan(s string) {
	for i := 0; i+1 < len(s); i++ {
		c := lower[s[i]]
		if !starts[c] {
			if alnum[c] {
				i = skipWord(s, i)
			}
			continue
		}
		c2 := lower[s[i+1]]
		pair := uint16(c)<<8 | uint16(c2)
		h := pairHash(c, c2)
		var head uint64
		haveHead := false
		for x := kwStart[h]; x < kwStart[h+1]; x++ {
			if kwPair[x] != pair {
				continue
			}
			if !haveHead {
				head, haveHead = foldHead(s, i), true
			}
			if head&kwMask[x] != kwHead[x] {
				continue
			}
			k := &keywords[kwList[x]]
			end := matchFold(s, i, k.text)
			if end < 0 {
				continue
			}
			switch k.bound {
			case bWord, bPrefix:
				if !wordStart(s, i) {
					continue
				}
			case bCode:
				if i > 0 && (s[i-1] == '.' || '0' <= s[i-1] && s[i-1] <= '9') {
					continue
				}
			}
			if !k.endOK(s, end) {
				continue
			}
			m.sigs |= k.sig
			switch k.act {
			case actName:
				m.setName(k.name, k.rank)
			case actToken:
				name, rank := listToken(s, end, k.rank)
				m.setName(name, rank)
			case actSpamhaus:
				m.setName(spamhausURL(s[end:]))
			}
		}
		if m.rank == 3 {
			return // nothing outranks a zone named in the text
		}
		if alnum[c] {
			i = skipWord(s, i)
		}
	}
}

// foldHead returns up to 8 lower-cased bytes of s from i, little-endian.
func foldHead(s string, i int) uint64 {
	var w uint64
	for j := 0; j < 8 && i+j < len(s); j++ {
		w |= uint64(lower[s[i+j]]) << (8 * j)
	}
	return w
}

// skipWord returns the index of the last alphanumeric byte of the run that
// starts at s[i], so that the caller's i++ lands on the byte after it.
func skipWord(s string, i int) int {
	for i+1 < len(s) && alnum[s[i+1]] {
		i++
	}
	return i
}

// wordStart reports whether a word starts at s[i]: the byte before is not
// alphanumeric, and is not a dot, hyphen, underscore, @ or slash that glues
// s[i] to a host name, address or path.
func wordStart(s string, i int) bool {
	if i == 0 {
		return true
	}
	p := s[i-1]
	if alnum[p] {
		return false
	}
	switch p {
	case '.', '-', '_', '@', '/':
		return i < 2 || !alnum[s[i-2]]
	}
	return true
}

// endOK checks the boundary after a keyword that matched s[:end].
func (k *keyword) endOK(s string, end int) bool {
	last := k.text[len(k.text)-1]
	if k.bound == bPrefix || k.bound == bURL || !alnum[last] {
		return true
	}
	if end == len(s) {
		return true
	}
	c := s[end]
	if k.bound == bCode {
		if '0' <= c && c <= '9' {
			return false
		}
		return c != '.' || end+1 == len(s) || s[end+1] < '0' || s[end+1] > '9'
	}
	if alnum[c] {
		return false
	}
	switch c {
	case '.', '-', '_', '@':
		return end+1 == len(s) || !alnum[s[end+1]]
	}
	return true
}

// matchFold matches the lower-case keyword kw against s at i, ignoring ASCII
// case; a space in kw matches one or more blanks in s. It returns the index
// after the match, or -1.
func matchFold(s string, i int, kw string) int {
	for j := 0; j < len(kw); j++ {
		if i >= len(s) {
			return -1
		}
		if kw[j] == ' ' {
			if !isBlank(s[i]) {
				return -1
			}
			for i < len(s) && isBlank(s[i]) {
				i++
			}
			continue
		}
		if lower[s[i]] != kw[j] {
			return -1
		}
		i++
	}
	return i
}

func isBlank(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// listToken reads the list name that follows "blocked using", "listed at"
// and the like at s[i:]. A dotted zone ("zen.spamhaus.org") is rank 3; a
// known vendor word maps to its list at rank 1; any other word names a list
// at rank bare ("blocked using cm-csi-v11" trusts a bare word, "listed in our
// database" does not); an IP address or nothing at all names nothing.
func listToken(s string, i int, bare uint8) (string, uint8) {
	for i < len(s) && (isBlank(s[i]) || s[i] == '[' || s[i] == '(') {
		i++
	}
	j, letter := i, false
scan:
	for ; j < len(s); j++ {
		c := s[j]
		switch {
		case c == '.' || c == '-' || c == '_' || '0' <= c && c <= '9':
		case 'a' <= lower[c] && lower[c] <= 'z':
			letter = true
		default:
			break scan
		}
	}
	for j > i && (s[j-1] == '.' || s[j-1] == '-' || s[j-1] == '_') {
		j--
	}
	tok := s[i:j]
	if !letter || tok == "" {
		return "", 0
	}
	if dot := strings.LastIndexByte(tok, '.'); dot > 0 && hasLetter(tok[dot+1:]) {
		return toLower(tok), 3
	}
	switch toLowerKnown(tok) {
	case "spamhaus":
		return "spamhaus", 1
	case "spamcop":
		return "bl.spamcop.net", 1
	case "barracuda":
		return "b.barracudacentral.org", 1
	case "uceprotect":
		return "uceprotect", 1
	case "sorbs":
		return "sorbs", 1
	}
	if bare == 0 || isStopWord(tok) {
		return "", 0
	}
	return toLower(tok), bare
}

// toLowerKnown lower-cases tok if it is short enough to be a vendor word,
// without allocating for the words listToken compares against.
func toLowerKnown(tok string) string {
	if len(tok) > len("uceprotect") {
		return ""
	}
	var b [10]byte
	for i := 0; i < len(tok); i++ {
		b[i] = lower[tok[i]]
	}
	switch string(b[:len(tok)]) {
	case "spamhaus":
		return "spamhaus"
	case "spamcop":
		return "spamcop"
	case "barracuda":
		return "barracuda"
	case "uceprotect":
		return "uceprotect"
	case "sorbs":
		return "sorbs"
	}
	return ""
}

func isStopWord(tok string) bool {
	switch toLower(tok) {
	case "the", "our", "a", "an", "one", "your", "this", "local", "internal":
		return true
	}
	return false
}

func hasLetter(s string) bool {
	for i := 0; i < len(s); i++ {
		if 'a' <= lower[s[i]] && lower[s[i]] <= 'z' {
			return true
		}
	}
	return false
}

// toLower lower-cases ASCII, returning s itself when it has no upper case.
func toLower(s string) string {
	for i := 0; i < len(s); i++ {
		if 'A' <= s[i] && s[i] <= 'Z' {
			return strings.ToLower(s)
		}
	}
	return s
}

// spamhausURL names the Spamhaus list from the path that follows
// "spamhaus.org/" in a lookup URL.
func spamhausURL(path string) (string, uint8) {
	switch {
	case hasPrefixFold(path, "query/bl"), hasPrefixFold(path, "sbl/"), hasPrefixFold(path, "query/sbl"):
		return "sbl.spamhaus.org", 2
	case hasPrefixFold(path, "query/ip"):
		return "zen.spamhaus.org", 2
	case hasPrefixFold(path, "query/dbl"), hasPrefixFold(path, "dbl/"):
		return "dbl.spamhaus.org", 2
	case hasPrefixFold(path, "pbl/"), hasPrefixFold(path, "query/pbl"):
		return "pbl.spamhaus.org", 2
	}
	return "spamhaus", 1
}

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && matchFold(s, 0, prefix) == len(prefix)
}
