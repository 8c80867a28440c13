package main

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"time"
)

// generator replays an input with fresh queue ids.
type generator struct {
	in       *input
	accounts int
	seed     uint64
	replays  int

	counter  uint64    // fresh ids handed out so far
	ids      [][]byte  // current fresh id of each story …
	idRound  []int32   // … and the replay (+1) it was made for
	gRound   []int32   // replay (+1) a group was last decided in …
	gWrite   []bool    // … and whether it is written in that replay
	domains  []string  // account domains
	users    []string  // account SASL users
	last     time.Time // the last timestamp written
	haveLast bool
	buf      []byte
}

func newGenerator(in *input, accounts int, seed uint64) *generator {
	g := &generator{
		in:       in,
		accounts: accounts,
		seed:     seed,
		ids:      make([][]byte, len(in.stories)),
		idRound:  make([]int32, len(in.stories)),
		gRound:   make([]int32, len(in.stories)),
		gWrite:   make([]bool, len(in.stories)),
		buf:      make([]byte, 0, 4096),
	}
	for i := range accounts {
		n := strconv.Itoa(i + 1)
		g.domains = append(g.domains, "acct"+n+".example")
		g.users = append(g.users, "user"+n+"@acct"+n+".example")
	}
	return g
}

// write writes exactly n lines to w. Each replay walks the input in order;
// a story group is written whole or not at all, so when fewer lines remain
// than a replay holds, groups that no longer fit are left out and the
// in-between lines fill up. Only an input with no in-between lines and no
// group small enough can leave a replay empty; then the next one is cut
// short at exactly n lines.
func (g *generator) write(ctx context.Context, w io.Writer, n int64) error {
	in := g.in
	period := in.span + time.Second
	remaining := n
	cut := false
	for r := int32(0); remaining > 0; r++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		g.replays++
		base := in.origin.Add(time.Duration(r) * period)
		written := int64(0)
		for i := range in.lines {
			ln := &in.lines[i]
			acct := -1
			switch {
			case cut:
				if remaining == 0 {
					return nil
				}
				remaining--
			case ln.group < 0:
				if remaining == 0 {
					continue // the rest of the replay writes only reserved groups
				}
				remaining--
			default:
				gr := ln.group
				if g.gRound[gr] != r+1 {
					g.gRound[gr] = r + 1
					g.gWrite[gr] = int64(in.groupSz[gr]) <= remaining
					if g.gWrite[gr] {
						remaining -= int64(in.groupSz[gr])
					}
				}
				if !g.gWrite[gr] {
					continue
				}
			}
			if g.accounts > 0 && len(ln.subs) > 0 {
				// A message keeps one account through all its lines and
				// hops; an in-between line (a NOQUEUE reject) gets its own.
				key := uint64(ln.group)
				if ln.group < 0 {
					key = 1<<63 | uint64(i)
				}
				acct = int(mix(g.seed^uint64(r)<<32^key) % uint64(g.accounts))
			}
			if err := g.writeLine(w, ln, base, r, acct); err != nil {
				return err
			}
			written++
			if written&0xffff == 0 {
				if err := ctx.Err(); err != nil {
					return err
				}
			}
		}
		if written == 0 {
			cut = true
		}
	}
	return nil
}

func (g *generator) writeLine(w io.Writer, ln *line, base time.Time, r int32, acct int) error {
	in := g.in
	t := base.Add(ln.rel)
	if g.haveLast && t.Before(g.last) {
		t = g.last
	}
	g.last, g.haveLast = t, true
	st := &in.styles[ln.style]
	b := t.In(st.loc).AppendFormat(g.buf[:0], st.layout)
	pos := int32(0)
	for _, s := range ln.subs {
		b = append(b, ln.rest[pos:s.start]...)
		switch {
		case s.kind == subQueueID:
			b = append(b, g.id(s.story, r)...)
		case acct < 0:
			b = append(b, ln.rest[s.start:s.end]...)
		case s.kind == subDomain:
			b = append(b, g.domains[acct]...)
		default:
			b = append(b, g.users[acct]...)
		}
		pos = s.end
	}
	b = append(b, ln.rest[pos:]...)
	b = append(b, '\n')
	g.buf = b
	if _, err := w.Write(b); err != nil {
		return fmt.Errorf("write: %w", err)
	}
	return nil
}

// id returns story s's fresh queue id in replay r, in the style of the
// original: upper-case hex of the same length, or a long id with the 'z'
// at the same place and as many inode digits.
func (g *generator) id(s, r int32) []byte {
	if g.idRound[s] == r+1 {
		return g.ids[s]
	}
	g.idRound[s] = r + 1
	orig := g.in.stories[s].qid
	for {
		n := g.counter
		g.counter++
		var id []byte
		if isShortID(orig) {
			id = shortID(g.ids[s][:0], n, len(orig), g.seed)
		} else {
			id = longID(g.ids[s][:0], n, orig, g.seed)
		}
		g.ids[s] = id
		if !g.in.origIDs[string(id)] {
			return id
		}
	}
}

// shortID writes counter n as an l-digit upper-case hex id. Multiplying by
// an odd constant and xor-ing modulo 2^(4l) is a bijection, so distinct
// counters give distinct ids (for l >= 6, the first 16 million).
func shortID(b []byte, n uint64, l int, seed uint64) []byte {
	bits := 4 * min(l, 16)
	mask := uint64(1)<<bits - 1
	if bits == 64 {
		mask = ^uint64(0)
	}
	x := (n*0x9E3779B97F4A7C15)&mask ^ mix(seed)&mask
	for range l {
		b = append(b, '0')
	}
	for i := l - 1; i >= l-bits/4; i-- {
		b[i] = "0123456789ABCDEF"[x&15]
		x >>= 4
	}
	return b
}

// longID writes counter n as a long queue id shaped like orig: the 62-bit
// bijection of n fills the eleven base-51 digits that make it unique, a
// hash of n the remaining ones, and the 'z' stays where orig has it.
func longID(b []byte, n uint64, orig string, seed uint64) []byte {
	const mask = 1<<62 - 1
	x := (n*0x9E3779B97F4A7C15)&mask ^ mix(seed)&mask
	y := mix(n ^ seed<<1)
	sep := 0
	for i := len(orig) - 1; i >= 0; i-- {
		if orig[i] == 'z' {
			sep = i
			break
		}
	}
	digits := 0
	for i := range len(orig) {
		if i == sep {
			b = append(b, 'z')
			continue
		}
		var d uint64
		if digits < 11 {
			d, x = x%51, x/51
		} else {
			d, y = y%51, y/51
		}
		digits++
		b = append(b, alphabet51[d])
	}
	return b
}

// mix is the splitmix64 finaliser.
func mix(x uint64) uint64 {
	x += 0x9E3779B97F4A7C15
	x = (x ^ x>>30) * 0xBF58476D1CE4E5B9
	x = (x ^ x>>27) * 0x94D049BB133111EB
	return x ^ x>>31
}
