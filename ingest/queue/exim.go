package queue

import (
	"bufio"
	"fmt"
	"io"
	"net/netip"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// An Exim message is two files in the spool's input directory (or, with
// split_spool_directory, in its subdirectory named by the id's sixth
// character): ID-H holds the envelope, status and headers, ID-D the body.
// The -H format (Exim specification, "Format of spool files"):
//
//	ID-H
//	login uid gid              (the caller: the submitting user, or the Exim user for SMTP)
//	<sender>
//	received-time delay-warnings
//	-name value                (options; "--name" marks a tainted value, and
//	                            -aclc/-aclm carry "name length" and the value on the next lines)
//	XX                         (or the tree of addresses already delivered: "YN addr" …)
//	count
//	recipient…                 (one per line, possibly "addr … len,pno#flags")
//	                           (blank line)
//	NNNf header                (length including newlines, flag: * deleted, P Received, F From …)
//
// The -D file's first line is "ID-D"; the body follows.

// eximMaxLine bounds one line of the envelope part of a -H file.
const eximMaxLine = 1 << 16

// ParseEximHeader reads an Exim -H file from r. The message's headers start
// its content (deleted ones left out), which keeps at most maxContent bytes;
// ReadExim appends the body from the -D file. File-system fields are the
// caller's.
func ParseEximHeader(r io.Reader, maxContent int64) (*Queued, error) {
	q := &Queued{Kind: KindExim, LocalUID: -1}
	c := content{limit: max(maxContent, 0)}
	br := getReader(r)
	defer putReader(br)
	if err := parseEximHeader(br, q, &c, true); err != nil {
		return nil, err
	}
	c.finish(q)
	return q, nil
}

type eximLines struct {
	br   *bufio.Reader
	line int
}

// next returns the next line without its newline.
func (l *eximLines) next() (string, error) {
	l.line++
	var sb []byte
	for {
		frag, err := l.br.ReadSlice('\n')
		sb = append(sb, frag...)
		if len(sb) > eximMaxLine {
			return "", fmt.Errorf("%w: -H line %d longer than %d bytes", ErrMalformed, l.line, eximMaxLine)
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		if err != nil {
			if err == io.EOF {
				return "", fmt.Errorf("%w: -H file ends at line %d", ErrIncomplete, l.line)
			}
			return "", fmt.Errorf("exim -H line %d: %w", l.line, err)
		}
		return string(sb[:len(sb)-1]), nil
	}
}

// parseEximHeader parses the -H file; with headers false it stops after the
// recipients (the envelope is all that is wanted).
func parseEximHeader(br *bufio.Reader, q *Queued, c *content, headers bool) error {
	l := &eximLines{br: br}
	first, err := l.next()
	if err != nil {
		return err
	}
	id, ok := strings.CutSuffix(first, "-H")
	if !ok || !validEximID(id) {
		return fmt.Errorf("%w: first line %q is not an Exim message id", ErrMalformed, clip(first))
	}
	q.QueueID = id

	caller, err := l.next()
	if err != nil {
		return err
	}
	cf := strings.Fields(caller)
	if len(cf) != 3 {
		return fmt.Errorf("%w: caller line %q", ErrMalformed, clip(caller))
	}
	login := cf[0]
	uid, err := strconv.Atoi(cf[1])
	if err != nil {
		return fmt.Errorf("%w: caller uid %q", ErrMalformed, cf[1])
	}

	sender, err := l.next()
	if err != nil {
		return err
	}
	if len(sender) < 2 || sender[0] != '<' || sender[len(sender)-1] != '>' {
		return fmt.Errorf("%w: sender line %q", ErrMalformed, clip(sender))
	}
	q.Sender = sender[1 : len(sender)-1]

	tline, err := l.next()
	if err != nil {
		return err
	}
	tf := strings.Fields(tline)
	secs, err := strconv.ParseInt(firstField(tf), 10, 64)
	if err != nil || secs <= 0 {
		return fmt.Errorf("%w: time line %q", ErrMalformed, clip(tline))
	}
	q.Arrival = time.Unix(secs, 0)

	// Options, then the non-recipients tree.
	var (
		line      string
		firstTime bool
		frozen    bool
		local           = true
		usec      int64 = -1
	)
	for {
		if line, err = l.next(); err != nil {
			return err
		}
		if !strings.HasPrefix(line, "-") {
			break
		}
		name, val := eximOption(line)
		switch name {
		case "acl", "aclc", "aclm":
			// "-aclm name length": the value follows on its own line(s).
			f := strings.Fields(val)
			n, err := strconv.Atoi(lastField(f))
			if err != nil || n < 0 || n > eximMaxLine {
				return fmt.Errorf("%w: ACL variable line %q", ErrMalformed, clip(line))
			}
			if _, err := br.Discard(n + 1); err != nil {
				return fmt.Errorf("%w: ACL variable value", ErrIncomplete)
			}
		case "received_time_usec":
			if u, err := strconv.ParseInt(strings.TrimPrefix(val, "."), 10, 64); err == nil && u >= 0 && u < 1e6 {
				usec = u
			}
		case "auth_id":
			q.AuthUser = val
		case "host_auth":
			q.AuthMethod = val
		case "host_address":
			local = false
			if ap, ok := parseEximAddrPort(val); ok {
				q.ClientIP = ap.Addr()
			}
		case "host_name":
			q.ClientHost = val
		case "interface_address":
			if ap, ok := parseEximAddrPort(val); ok {
				q.ServerAddr = ap
			}
		case "helo_name":
			q.HELO = val
		case "received_protocol":
			q.Protocol = val
		case "deliver_firsttime":
			firstTime = true
		case "frozen":
			frozen = true
		}
	}
	if usec >= 0 {
		q.Arrival = q.Arrival.Add(time.Duration(usec) * time.Microsecond)
	}
	switch {
	case frozen:
		q.Queue = "frozen"
	case firstTime:
		q.Queue = "incoming"
	default:
		q.Queue = "deferred"
	}
	if local {
		// No client address: a local submission, and the caller line
		// names the submitting user.
		q.LocalUID, q.LocalUser = uid, login
	}

	delivered, err := eximTree(l, line)
	if err != nil {
		return err
	}
	countLine, err := l.next()
	if err != nil {
		return err
	}
	count, err := strconv.Atoi(strings.TrimSpace(countLine))
	if err != nil || count < 0 {
		return fmt.Errorf("%w: recipient count %q", ErrMalformed, clip(countLine))
	}
	for range count {
		rl, err := l.next()
		if err != nil {
			return err
		}
		addr := eximRecipient(rl)
		q.Recipients = append(q.Recipients, addr)
		if !delivered[addr] {
			q.Pending++
		}
	}
	blank, err := l.next()
	if err != nil {
		return err
	}
	if blank != "" {
		return fmt.Errorf("%w: no blank line after %d recipients", ErrMalformed, count)
	}
	if !headers {
		return nil
	}
	return eximHeaders(br, c)
}

// eximOption splits "-name value", "--name value" (tainted) or
// "-(quoter)name value" into name and value.
func eximOption(line string) (name, val string) {
	s := strings.TrimPrefix(strings.TrimPrefix(line, "-"), "-")
	if strings.HasPrefix(s, "(") {
		if i := strings.IndexByte(s, ')'); i > 0 {
			s = s[i+1:]
		}
	}
	name, val, _ = strings.Cut(s, " ")
	return name, val
}

// eximTree reads the non-recipients tree starting at line and returns the
// addresses in it (those already delivered).
func eximTree(l *eximLines, line string) (map[string]bool, error) {
	if line == "XX" {
		return nil, nil
	}
	done := map[string]bool{}
	for pending := 1; ; {
		if len(line) < 3 || (line[0] != 'Y' && line[0] != 'N') || (line[1] != 'Y' && line[1] != 'N') || line[2] != ' ' {
			return nil, fmt.Errorf("%w: non-recipients tree line %q", ErrMalformed, clip(line))
		}
		done[line[3:]] = true
		pending--
		if line[0] == 'Y' {
			pending++
		}
		if line[1] == 'Y' {
			pending++
		}
		if pending == 0 {
			break
		}
		var err error
		if line, err = l.next(); err != nil {
			return nil, err
		}
	}
	return done, nil
}

// eximRecipient returns the address of a recipient line. A line ending in
// "#flags" carries extra fields after the address, each "value len,n" read
// from the right: flag 1 an errors_to address and parent number, flag 2 (DSN)
// the original recipient and DSN flags.
func eximRecipient(line string) string {
	i := strings.LastIndexByte(line, '#')
	if i < 0 {
		return line
	}
	flags, err := strconv.Atoi(line[i+1:])
	if err != nil || flags < 0 {
		return line
	}
	rest := line[:i]
	for _, bit := range []int{1, 2} {
		if flags&bit == 0 {
			continue
		}
		// rest ends in " value len,n".
		sp := strings.LastIndexByte(rest, ' ')
		if sp < 0 {
			return line
		}
		ln, _, ok := strings.Cut(rest[sp+1:], ",")
		n, err := strconv.Atoi(ln)
		if !ok || err != nil || n < 0 || sp-n-1 < 0 || rest[sp-n-1] != ' ' {
			return line
		}
		rest = rest[:sp-n-1]
	}
	return rest
}

// eximHeaders reads the header section: "NNNf text" where NNN counts the
// bytes of text including its newlines. Deleted (*) headers are dropped.
func eximHeaders(br *bufio.Reader, c *content) error {
	for {
		var n int
		digits := 0
		for {
			b, err := br.ReadByte()
			if err == io.EOF && digits == 0 {
				return nil
			}
			if err != nil {
				return fmt.Errorf("%w: header length", ErrIncomplete)
			}
			if b < '0' || b > '9' {
				if digits == 0 {
					return fmt.Errorf("%w: header line without a length", ErrMalformed)
				}
				if err := br.UnreadByte(); err != nil {
					return fmt.Errorf("exim -H: %w", err)
				}
				break
			}
			if digits++; digits > 9 {
				return fmt.Errorf("%w: header length too long", ErrMalformed)
			}
			n = n*10 + int(b-'0')
		}
		flag, err := br.ReadByte()
		if err != nil {
			return fmt.Errorf("%w: header flag", ErrIncomplete)
		}
		if sp, err := br.ReadByte(); err != nil || sp != ' ' {
			return fmt.Errorf("%w: no space after header flag", ErrMalformed)
		}
		if flag == '*' {
			if d, _ := br.Discard(n); d < n {
				return fmt.Errorf("%w: deleted header cut short", ErrIncomplete)
			}
			continue
		}
		if err := copyN(c, br, n); err != nil {
			return err
		}
	}
}

// copyN moves n bytes from br into c, keeping what fits.
func copyN(c *content, br *bufio.Reader, n int) error {
	for n > 0 {
		chunk, err := br.Peek(min(n, br.Size()))
		if len(chunk) == 0 {
			if err == nil || err == io.EOF {
				err = ErrIncomplete
			}
			return fmt.Errorf("%w: header text cut short", err)
		}
		c.write(chunk)
		_, _ = br.Discard(len(chunk))
		n -= len(chunk)
	}
	return nil
}

// ReadExim reads the message whose -H file is at hPath, and its body from
// the -D file beside it, keeping at most maxContent bytes of content (0
// keeps none, and then only the -H envelope is read). A -D file that is
// gone by the time it is opened means the message left the queue: the
// error wraps fs.ErrNotExist.
func ReadExim(hPath string, maxContent int64) (*Queued, error) {
	hf, err := openRead(hPath)
	if err != nil {
		return nil, err
	}
	defer hf.Close()
	hst, err := hf.Stat()
	if err != nil {
		return nil, fmt.Errorf("exim -H: %w", err)
	}
	q := &Queued{Kind: KindExim, LocalUID: -1, Path: hPath}
	c := content{limit: max(maxContent, 0)}
	c.reserve(hst.Size())
	br := getReader(hf)
	err = parseEximHeader(br, q, &c, maxContent > 0)
	putReader(br)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", hPath, err)
	}
	if want := filepath.Base(hPath); want != q.QueueID+"-H" {
		return nil, fmt.Errorf("%s: %w: first line names %s", hPath, ErrMalformed, q.QueueID)
	}
	q.MTime = hst.ModTime()

	dPath := strings.TrimSuffix(hPath, "-H") + "-D"
	df, err := openRead(dPath)
	if err != nil {
		return nil, err
	}
	defer df.Close()
	dst, err := df.Stat()
	if err != nil {
		return nil, fmt.Errorf("exim -D: %w", err)
	}
	_, q.Inode = fileID(dst)
	q.Size = hst.Size() + dst.Size()
	lookupUser(q)
	if maxContent <= 0 {
		c.finish(q)
		q.Content, q.ContentSize, q.Truncated = nil, 0, true
		return q, nil
	}
	// The first line names the file; the body follows.
	first := make([]byte, len(q.QueueID)+3)
	if _, err := io.ReadFull(df, first); err != nil || string(first) != q.QueueID+"-D\n" {
		return nil, fmt.Errorf("%s: %w: first line %q", dPath, ErrMalformed, clip(string(first)))
	}
	c.writeByte('\n') // the blank line between headers and body
	body := dst.Size() - int64(len(first))
	c.reserve(body)
	if room := min(c.limit-int64(len(c.buf)), body); room > 0 {
		n := len(c.buf)
		c.buf = c.buf[:n+int(room)]
		got, err := io.ReadFull(df, c.buf[n:])
		c.buf = c.buf[:n+got]
		if err != nil && err != io.ErrUnexpectedEOF {
			return nil, fmt.Errorf("%s: %w", dPath, err)
		}
	}
	c.size += max(body, 0)
	c.finish(q)
	return q, nil
}

// validEximID accepts Exim message ids: three base-62 groups separated by
// hyphens, 6-6-2 (before 4.97) or 6-11-4.
func validEximID(id string) bool {
	parts := strings.Split(id, "-")
	if len(parts) != 3 {
		return false
	}
	oldFormat := len(parts[1]) == 6 && len(parts[2]) == 2
	newFormat := len(parts[1]) == 11 && len(parts[2]) == 4
	if len(parts[0]) != 6 || !oldFormat && !newFormat {
		return false
	}
	for _, p := range parts {
		for i := 0; i < len(p); i++ {
			b := p[i]
			if !('0' <= b && b <= '9' || 'a' <= b && b <= 'z' || 'A' <= b && b <= 'Z') {
				return false
			}
		}
	}
	return true
}

// parseEximAddrPort parses a -host_address or -interface_address value:
// "[ip]:port" (Exim 4.96) or "ip.port" (the documented older form).
func parseEximAddrPort(s string) (netip.AddrPort, bool) {
	if rest, ok := strings.CutPrefix(s, "["); ok {
		host, port, ok := strings.Cut(rest, "]:")
		ip, err1 := netip.ParseAddr(host)
		p, err2 := strconv.ParseUint(port, 10, 16)
		if !ok || err1 != nil || err2 != nil {
			return netip.AddrPort{}, false
		}
		return netip.AddrPortFrom(ip.Unmap(), uint16(p)), true
	}
	if ip, err := netip.ParseAddr(s); err == nil {
		return netip.AddrPortFrom(ip.Unmap(), 0), true
	}
	i := strings.LastIndexByte(s, '.')
	if i <= 0 {
		return netip.AddrPort{}, false
	}
	ip, err := netip.ParseAddr(s[:i])
	if err != nil {
		return netip.AddrPort{}, false
	}
	port, err := strconv.ParseUint(s[i+1:], 10, 16)
	if err != nil {
		return netip.AddrPort{}, false
	}
	return netip.AddrPortFrom(ip.Unmap(), uint16(port)), true
}

func firstField(f []string) string {
	if len(f) == 0 {
		return ""
	}
	return f[0]
}

func lastField(f []string) string {
	if len(f) == 0 {
		return ""
	}
	return f[len(f)-1]
}

// clip shortens s for an error message.
func clip(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}

// eximHFile reports whether name is an Exim -H file name.
func eximHFile(name string) bool {
	id, ok := strings.CutSuffix(name, "-H")
	return ok && validEximID(id)
}
