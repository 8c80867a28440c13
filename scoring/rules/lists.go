package rules

import (
	"regexp"
	"strings"
)

// domainList is an enlist_uri_host list: a host matches when it, or a
// parent domain, is listed; the most specific entry decides, and an entry
// written "!host" decides "not listed".
type domainList map[string]bool

func (d domainList) add(h string) {
	h = strings.ToLower(strings.TrimSuffix(h, "."))
	if strings.HasPrefix(h, "!") {
		d[h[1:]] = false
		return
	}
	d[h] = true
}

func (d domainList) remove(h string) {
	delete(d, strings.ToLower(strings.TrimPrefix(h, "!")))
}

// listed reports whether host is on the list.
func (d domainList) listed(host string) bool {
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	for host != "" {
		if v, ok := d[host]; ok {
			return v
		}
		i := strings.IndexByte(host, '.')
		if i < 0 {
			return false
		}
		host = host[i+1:]
	}
	return false
}

// globList holds exact names and file-glob patterns (* and ?), matched
// case-insensitively. With dotless set, * and ? do not match a dot (the
// freemail_domains wildcards); otherwise they match anything (address
// lists).
type globList struct {
	dotless bool
	exact   map[string]bool
	globs   []*regexp.Regexp
	src     []string
}

func newGlobList(dotless bool) *globList {
	return &globList{dotless: dotless, exact: map[string]bool{}}
}

func (g *globList) add(p string) {
	p = strings.ToLower(p)
	if !strings.ContainsAny(p, "*?") {
		g.exact[p] = true
		return
	}
	for _, s := range g.src {
		if s == p {
			return
		}
	}
	var b strings.Builder
	b.WriteString("^")
	for _, c := range p {
		switch c {
		case '*':
			if g.dotless {
				b.WriteString(`[^.]*`)
			} else {
				b.WriteString(`.*`)
			}
		case '?':
			if g.dotless {
				b.WriteString(`[^.]`)
			} else {
				b.WriteString(`.`)
			}
		default:
			b.WriteString(regexp.QuoteMeta(string(c)))
		}
	}
	b.WriteString("$")
	re, err := regexp.Compile(b.String())
	if err != nil {
		return
	}
	g.globs = append(g.globs, re)
	g.src = append(g.src, p)
}

func (g *globList) remove(p string) {
	p = strings.ToLower(p)
	delete(g.exact, p)
	for i, s := range g.src {
		if s == p {
			g.globs = append(g.globs[:i:i], g.globs[i+1:]...)
			g.src = append(g.src[:i:i], g.src[i+1:]...)
			return
		}
	}
}

func (g *globList) match(s string) bool {
	if g == nil {
		return false
	}
	s = strings.ToLower(s)
	if g.exact[s] {
		return true
	}
	for _, re := range g.globs {
		if re.MatchString(s) {
			return true
		}
	}
	return false
}

func (g *globList) empty() bool {
	return g == nil || len(g.exact) == 0 && len(g.globs) == 0
}

// addrList is an address list (enlist_addrlist, welcomelist_from …).
type addrList = globList

func newAddrList() *addrList { return newGlobList(false) }
