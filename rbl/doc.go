// Package rbl owns mailrep's DNS blocklist checks: the list catalog (what
// each zone's answer codes mean), the typed interpretation of an answer,
// the DNS client that asks the resolvers (github.com/miekg/dns), the
// checker that runs one cycle of (target, zone) lookups with RFC 5782
// zone-health probes, reverse-DNS checks of the shared IPs, the listing
// history with damping, and the cron scheduler that runs the cycles.
//
// An answer is a typed code, not a boolean (DESIGN §9). Every (target,
// zone) lookup ends in exactly one of three states: listed (with the
// codes, their meanings and severity, the TXT record and the delisting
// URL), clean (NXDOMAIN or an empty NOERROR answer), or error with a
// kind (timeout, servfail, refused, public resolver blocked, over quota,
// zone typo, bad key, IP on a domain list, rewritten NXDOMAIN, unknown
// code, unhealthy zone). An error is never reported as clean or listed,
// and errors never flip a listed target to clean in the history.
package rbl
