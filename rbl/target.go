package rbl

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
)

// MaxExpand is the largest number of addresses one CIDR target expands to
// (a /16 of IPv4, a /112 of IPv6).
const MaxExpand = 1 << 16

// Target is one thing to look up: an IP address or a domain name.
type Target struct {
	// Addr is set for IP targets.
	Addr netip.Addr
	// Domain is set for domain targets, lower case without trailing dot.
	Domain string
}

// IPTarget and DomainTarget build targets.
func IPTarget(a netip.Addr) Target { return Target{Addr: a.Unmap()} }

// DomainTarget builds a domain target, normalising case and the trailing
// dot.
func DomainTarget(d string) Target {
	return Target{Domain: strings.TrimSuffix(strings.ToLower(strings.TrimSpace(d)), ".")}
}

// IsIP reports whether t is an IP target.
func (t Target) IsIP() bool { return t.Addr.IsValid() }

func (t Target) String() string {
	if t.IsIP() {
		return t.Addr.String()
	}
	return t.Domain
}

// ParseTargets turns command-line or configuration targets into Targets:
// IP addresses, CIDR prefixes (expanded to every address; at most
// MaxExpand each) and domain names. Every bad argument is reported.
// Duplicates are dropped, order is kept.
func ParseTargets(args []string) ([]Target, error) {
	// Addresses of one prefix are distinct: duplicates can only come
	// from another argument, so a single argument needs no set.
	size := 0
	for _, arg := range args {
		size++
		if p, err := netip.ParsePrefix(strings.TrimSpace(arg)); err == nil && p.Addr().BitLen()-p.Bits() <= 16 {
			size += 1<<(p.Addr().BitLen()-p.Bits()) - 1
		}
	}
	out := make([]Target, 0, min(size, 4*MaxExpand))
	var seen map[Target]bool
	if len(args) > 1 {
		seen = make(map[Target]bool, min(size, 4*MaxExpand))
	}
	add := func(t Target) {
		if seen != nil {
			if seen[t] {
				return
			}
			seen[t] = true
		}
		out = append(out, t)
	}
	var errs []error
	for _, arg := range args {
		s := strings.TrimSpace(arg)
		if strings.Contains(s, "/") {
			p, err := netip.ParsePrefix(s)
			if err != nil {
				errs = append(errs, fmt.Errorf("target %q: not a CIDR prefix: %w", arg, err))
				continue
			}
			p = p.Masked()
			host := p.Addr().BitLen() - p.Bits()
			if host > 16 {
				errs = append(errs, fmt.Errorf("target %q: expands to more than %d addresses; split it", arg, MaxExpand))
				continue
			}
			for a := p.Addr(); a.IsValid() && p.Contains(a); a = a.Next() {
				add(IPTarget(a))
			}
			continue
		}
		if a, err := netip.ParseAddr(s); err == nil {
			add(IPTarget(a))
			continue
		}
		d := DomainTarget(s)
		if !validZone(d.Domain) || strings.ContainsAny(d.Domain, "{}") || numericTLD(d.Domain) {
			errs = append(errs, fmt.Errorf("target %q: not an IP address, CIDR prefix or domain name", arg))
			continue
		}
		add(d)
	}
	return out, errors.Join(errs...)
}

// Applies reports whether t is looked up in l: IP targets in IP lists
// (IPv6 only where the list supports it), domains in domain lists.
func (t Target) Applies(l *List) bool {
	if t.IsIP() {
		return l.Kind == KindIP && (t.Addr.Is4() || l.IPv6)
	}
	return l.Kind == KindDomain
}

// QueryName is the DNS name to look up for t in zone: the reversed octets
// of an IPv4 address, the 32 reversed nibbles of an IPv6 address, or the
// domain itself, followed by the zone, with the trailing dot.
func (t Target) QueryName(zone string) string {
	var b strings.Builder
	b.Grow(72 + len(zone))
	t.appendReversed(&b)
	b.WriteByte('.')
	b.WriteString(zone)
	b.WriteByte('.')
	return b.String()
}

func (t Target) appendReversed(b *strings.Builder) {
	const hexDigits = "0123456789abcdef"
	switch {
	case !t.IsIP():
		b.WriteString(t.Domain)
	case t.Addr.Is4():
		o := t.Addr.As4()
		for i := 3; i >= 0; i-- {
			writeUint8(b, o[i])
			if i > 0 {
				b.WriteByte('.')
			}
		}
	default:
		o := t.Addr.As16()
		for i := 15; i >= 0; i-- {
			b.WriteByte(hexDigits[o[i]&0xf])
			b.WriteByte('.')
			b.WriteByte(hexDigits[o[i]>>4])
			if i > 0 {
				b.WriteByte('.')
			}
		}
	}
}

func writeUint8(b *strings.Builder, v uint8) {
	if v >= 100 {
		b.WriteByte('0' + v/100)
	}
	if v >= 10 {
		b.WriteByte('0' + v/10%10)
	}
	b.WriteByte('0' + v%10)
}

// probeTarget is the target of a health probe name: an IP test point
// ("127.0.0.2") or a domain one ("test").
func probeTarget(name string) Target {
	if a, err := netip.ParseAddr(name); err == nil {
		return IPTarget(a)
	}
	return DomainTarget(name)
}

// numericTLD reports whether the last label of name is all digits: no
// top-level domain is (RFC 3696 §2), so such a name is a mistyped
// address ("300.1.1.1"), not a domain.
func numericTLD(name string) bool {
	tld := name[strings.LastIndexByte(name, '.')+1:]
	return strings.Trim(tld, "0123456789") == ""
}
