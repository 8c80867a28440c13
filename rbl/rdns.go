package rbl

import (
	"context"
	"encoding/hex"
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/miekg/dns"
)

// maxForwardNames bounds the PTR names whose addresses are looked up to
// confirm the reverse DNS: an address with more names than this is
// unusual, and each name costs a lookup.
const maxForwardNames = 4

// RDNS is the reverse-DNS standing of one IP address: what receiving
// mail servers check before they look at anything else. Many reject or
// penalise a sender without a PTR record, whose PTR name does not resolve
// back to it (no forward-confirmed reverse DNS, FCrDNS), or whose name
// looks like a dynamic or residential address.
type RDNS struct {
	Addr netip.Addr `json:"addr"`
	// PTR are the names of the address's PTR records, lower case
	// without the trailing dot.
	PTR []string `json:"ptr"`
	// FCrDNS reports that some PTR name has an A (or AAAA) record that
	// is the address.
	FCrDNS bool `json:"fcrdns"`
	// Generic reports that some PTR name looks like one of a dynamic or
	// residential pool (see genericName).
	Generic bool `json:"generic"`
	// Status is StatusError when a DNS failure left the check undecided
	// (Error and Detail say why); otherwise StatusClean, and Problems
	// lists what is wrong with the reverse DNS, if anything.
	Status Status `json:"status"`
	// Problems are the findings: no PTR record, no FCrDNS, a generic
	// name. Empty when the reverse DNS is in order.
	Problems []string `json:"problems,omitempty"`
	// Error is the kind of DNS failure for StatusError.
	Error ErrorKind `json:"error,omitempty"`
	// Detail says in words what was found or what failed.
	Detail string `json:"detail,omitempty"`
}

// OK reports whether the check succeeded and found nothing wrong.
func (r *RDNS) OK() bool { return r.Status == StatusClean && len(r.Problems) == 0 }

// CheckRDNS checks the reverse DNS of addr: it looks up the PTR records
// of addr's in-addr.arpa or ip6.arpa name, then the A (for IPv4) or AAAA
// (for IPv6) records of up to maxForwardNames of the PTR names, and
// judges each name's look. A missing PTR record is a problem, never an
// error; a timeout, SERVFAIL or REFUSED is an error, never "no PTR".
func CheckRDNS(ctx context.Context, r Resolver, addr netip.Addr) RDNS {
	addr = addr.Unmap()
	res := RDNS{Addr: addr, Status: StatusClean}
	if !addr.IsValid() {
		return rdnsError(res, ErrBadAnswer, "not a valid IP address")
	}
	ptrName := reverseName(addr)
	ans, err := r.Lookup(ctx, ptrName, dns.TypePTR)
	if err != nil {
		return rdnsError(res, lookupErrorKind(err), fmt.Sprintf("PTR lookup of %s: %v", ptrName, err))
	}
	if kind, ok := rcodeError(ans.Rcode); ok {
		return rdnsError(res, kind, fmt.Sprintf("PTR lookup of %s: the resolver answered %s", ptrName, rcodeName(ans.Rcode)))
	}
	for _, n := range ans.Names {
		if n != "" {
			res.PTR = append(res.PTR, n)
		}
	}
	if len(res.PTR) == 0 {
		res.Problems = append(res.Problems, fmt.Sprintf("no PTR record for %s: most receivers distrust a mail server without reverse DNS", addr))
		res.Detail = "no PTR record"
		return res
	}

	for _, n := range res.PTR {
		if why, ok := genericName(n, addr); ok {
			res.Generic = true
			res.Problems = append(res.Problems, fmt.Sprintf("PTR %s looks like a dynamic or residential address (%s): use a name of your own such as mail.<your domain>", n, why))
		}
	}

	qtype := dns.TypeA
	if addr.Is6() {
		qtype = dns.TypeAAAA
	}
	var fwdErr string
	var fwdKind ErrorKind
	for _, n := range res.PTR[:min(len(res.PTR), maxForwardNames)] {
		fa, err := r.Lookup(ctx, n, qtype)
		if err != nil {
			fwdKind, fwdErr = lookupErrorKind(err), fmt.Sprintf("%s lookup of %s: %v", dns.TypeToString[qtype], n, err)
			continue
		}
		if kind, ok := rcodeError(fa.Rcode); ok {
			fwdKind, fwdErr = kind, fmt.Sprintf("%s lookup of %s: the resolver answered %s", dns.TypeToString[qtype], n, rcodeName(fa.Rcode))
			continue
		}
		for _, a := range fa.A {
			if a.Unmap() == addr {
				res.FCrDNS = true
				break
			}
		}
		if res.FCrDNS {
			break
		}
	}
	switch {
	case res.FCrDNS:
		res.Detail = fmt.Sprintf("PTR %s, forward-confirmed", strings.Join(res.PTR, ", "))
	case fwdErr != "":
		// Some name could not be resolved, so FCrDNS is undecided.
		return rdnsError(res, fwdKind, fwdErr)
	default:
		res.Problems = append(res.Problems, fmt.Sprintf("PTR %s does not resolve back to %s (no forward-confirmed reverse DNS): add a %s record for the name",
			strings.Join(res.PTR, ", "), addr, dns.TypeToString[qtype]))
		res.Detail = fmt.Sprintf("PTR %s, not forward-confirmed", strings.Join(res.PTR, ", "))
	}
	return res
}

func rdnsError(r RDNS, kind ErrorKind, detail string) RDNS {
	r.Status, r.Error, r.Detail = StatusError, kind, detail
	r.FCrDNS, r.Problems = false, nil
	return r
}

// rcodeError returns the error kind of a response code that is not an
// answer (NOERROR and NXDOMAIN are).
func rcodeError(rcode int) (ErrorKind, bool) {
	switch rcode {
	case dns.RcodeSuccess, dns.RcodeNameError:
		return "", false
	case dns.RcodeServerFailure:
		return ErrServfail, true
	case dns.RcodeRefused:
		return ErrRefused, true
	}
	return ErrBadAnswer, true
}

func rcodeName(rcode int) string {
	if s, ok := dns.RcodeToString[rcode]; ok {
		return s
	}
	return "RCODE" + strconv.Itoa(rcode)
}

// reverseName is the PTR query name of addr: its reversed octets under
// in-addr.arpa, or its 32 reversed nibbles under ip6.arpa.
func reverseName(addr netip.Addr) string {
	if addr.Is4() {
		return IPTarget(addr).QueryName("in-addr.arpa")
	}
	return IPTarget(addr).QueryName("ip6.arpa")
}

// genericWords mark a reverse-DNS name as one of a dynamic, residential
// or otherwise unnamed pool when they appear as a word of the host part
// (letters between separators or digits: "dyn" in "203-0-113-7.dyn.…",
// "pool" in "host7.pool.…"). They are the words access providers use
// for such pools and that receivers' generic-rDNS rules (Spamhaus PBL
// policy, SpamAssassin's RDNS_DYNAMIC, SpamRATS' Dyna list) look for.
// Words that also name real servers ("mail", "smtp", "mx", "static"
// alone) are left out.
var genericWords = map[string]bool{
	"dynamic": true, "dyn": true, "dynip": true, "dhcp": true, "pool": true,
	"dsl": true, "adsl": true, "vdsl": true, "xdsl": true, "sdsl": true,
	"cable": true, "ppp": true, "pppoe": true, "dial": true, "dialup": true,
	"dialin": true, "dip": true, "broadband": true, "client": true,
	"clients": true, "customer": true, "cust": true, "residential": true,
	"resnet": true, "unassigned": true, "cpe": true,
}

// numberedWords mark a name as generic only with a number attached
// ("host7", "ip-12", "static-4"): alone they may name a real server.
var numberedWords = map[string]bool{"host": true, "ip": true, "static": true}

// genericName reports whether name (a PTR target, lower case, no
// trailing dot) looks like a generic name of addr, and why: its host
// part (the labels left of the last two) contains addr in some written
// form, or a word of genericWords or numberedWords.
func genericName(name string, addr netip.Addr) (string, bool) {
	labels := strings.Split(strings.ToLower(name), ".")
	if len(labels) <= 2 {
		return "", false
	}
	host := labels[:len(labels)-2]
	if why, ok := containsAddr(host, addr); ok {
		return why, true
	}
	for _, label := range host {
		words := splitWords(label)
		for i, w := range words {
			if isDigits(w) {
				continue
			}
			if genericWords[w] {
				return fmt.Sprintf("word %q", w), true
			}
			if numberedWords[w] && i+1 < len(words) && isDigits(words[i+1]) {
				return fmt.Sprintf("numbered %q", w+words[i+1]), true
			}
		}
	}
	return "", false
}

// splitWords splits a label into runs of letters and runs of digits,
// dropping other characters: "host7-pool" is host, 7, pool.
func splitWords(label string) []string {
	var out []string
	start := -1
	for i := 0; i <= len(label); i++ {
		cls := 0
		if i < len(label) {
			cls = charClass(label[i])
		}
		if start >= 0 && (cls != charClass(label[start]) || cls == 0) {
			out = append(out, label[start:i])
			start = -1
		}
		if start < 0 && cls != 0 {
			start = i
		}
	}
	return out
}

// charClass is 1 for letters, 2 for digits, 0 for anything else.
func charClass(c byte) int {
	switch {
	case c >= 'a' && c <= 'z':
		return 1
	case c >= '0' && c <= '9':
		return 2
	}
	return 0
}

func isDigits(s string) bool { return s != "" && charClass(s[0]) == 2 }

// containsAddr reports whether the host labels spell addr out: for IPv4,
// its last three octets in order or reversed among the numbers of the
// name ("203-0-113-7", "7.113.0.203", "ip-0-113-7"), four numbers that
// make any IPv4 address, its twelve zero-padded digits ("203000113007")
// or its eight hex digits ("p5dd4a1c2" for 93.212.161.194); for IPv6, a
// label that is the address with '-' for ':' ("2001-db8--7"), or its 32
// or its interface identifier's 16 hex digits.
func containsAddr(host []string, addr netip.Addr) (string, bool) {
	joined := strings.Join(host, ".")
	if addr.Is4() {
		o := addr.As4()
		padded := fmt.Sprintf("%03d%03d%03d%03d", o[0], o[1], o[2], o[3])
		hexForm := hex.EncodeToString(o[:])
		if strings.Contains(joined, padded) {
			return "contains the address " + padded, true
		}
		if strings.Contains(joined, hexForm) {
			return "contains the address in hex " + hexForm, true
		}
		var nums []int
		for _, label := range host {
			for _, w := range splitWords(label) {
				if isDigits(w) && len(w) <= 3 {
					n, _ := strconv.Atoi(w)
					nums = append(nums, n)
				} else if isDigits(w) {
					nums = append(nums, -1)
				}
			}
		}
		// The host's octets: the network's alone ("203-0-113") may
		// name a router or a whole range.
		if containsRun(nums, []int{int(o[1]), int(o[2]), int(o[3])}) ||
			containsRun(nums, []int{int(o[3]), int(o[2]), int(o[1])}) {
			return "contains the address's octets", true
		}
		// Any address at all: a name that is an address is generic
		// even when it is not this one's.
		for i := 0; i+4 <= len(nums); i++ {
			if nums[i] >= 0 && nums[i] <= 255 && nums[i+1] >= 0 && nums[i+1] <= 255 &&
				nums[i+2] >= 0 && nums[i+2] <= 255 && nums[i+3] >= 0 && nums[i+3] <= 255 {
				return "contains an IPv4 address", true
			}
		}
		return "", false
	}
	b := addr.As16()
	full := hex.EncodeToString(b[:])
	if strings.Contains(joined, full) {
		return "contains the address in hex", true
	}
	if strings.Contains(joined, full[16:]) {
		return "contains the interface identifier " + full[16:], true
	}
	for _, label := range host {
		if !strings.Contains(label, "-") {
			continue
		}
		// Allow a letter prefix such as "ip6-".
		for s := label; s != ""; {
			if a, err := netip.ParseAddr(strings.ReplaceAll(s, "-", ":")); err == nil && a == addr.WithZone("") {
				return "contains the address " + s, true
			}
			_, rest, ok := strings.Cut(s, "-")
			if !ok {
				break
			}
			s = rest
		}
	}
	return "", false
}

// containsRun reports whether run occurs in nums as consecutive elements.
func containsRun(nums, run []int) bool {
	for i := 0; i+len(run) <= len(nums); i++ {
		match := true
		for j, v := range run {
			if nums[i+j] != v {
				match = false
				break
			}
		}
		if match {
			return true
		}
	}
	return false
}
