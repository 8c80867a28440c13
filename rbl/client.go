package rbl

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"
)

// Client defaults.
const (
	// DefaultTimeout is how long one attempt waits for an answer.
	DefaultTimeout = 2 * time.Second
	// DefaultAttempts is how many queries one lookup sends at most.
	DefaultAttempts = 3
	// DefaultBackoff is the pause before the second attempt; it doubles
	// for each further attempt, up to MaxBackoff.
	DefaultBackoff = 100 * time.Millisecond
	// MaxBackoff caps the pause between attempts.
	MaxBackoff = 2 * time.Second
	// DefaultCacheSize is how many answers the cache holds.
	DefaultCacheSize = 100_000
	// DefaultMaxTTL caps how long an answer is cached, whatever its TTL:
	// a listing or delisting is seen within the hour.
	DefaultMaxTTL = time.Hour
	// DefaultNegativeTTL is the TTL of a negative answer (NXDOMAIN or no
	// data) that carries no SOA record to take it from.
	DefaultNegativeTTL = 5 * time.Minute
	// EDNSBufferSize is the UDP payload size advertised with EDNS0: the
	// DNS flag day 2020 value, which avoids IP fragmentation.
	EDNSBufferSize = 1232
)

const (
	// readBufferSize is larger than EDNSBufferSize so that a server
	// ignoring the advertised size is noticed (a full buffer is treated
	// as truncation) instead of silently cut.
	readBufferSize = 4096
	// maxConnUses is how many queries one UDP socket carries before it is
	// closed and a new one (with a new source port) opened, so that a
	// spoofer cannot learn a long-lived port and has the 16-bit message
	// ID to guess only for a while.
	maxConnUses = 256
	// maxIdleConns bounds the idle UDP sockets kept per server.
	maxIdleConns = 1024
	// minRTO is the shortest retransmission timeout: unbound's lower
	// bound (RTT_MIN_TIMEOUT), low enough that a query lost on a local
	// server costs little, high enough not to resend to a resolver that
	// is merely recursing.
	minRTO = 50 * time.Millisecond
	// initialRTO is the retransmission timeout before a server's round
	// trip has been measured (RFC 6298 §2.1), capped by the attempt
	// timeout.
	initialRTO = time.Second
	// shunTime is how long a server that failed an attempt is not asked
	// first (it is still asked on retries): long enough that a dead
	// primary costs one timeout now and then rather than one per lookup,
	// short enough that a recovered one is back soon.
	shunTime = 30 * time.Second
	// maxCNAMEs bounds the CNAME chain followed in an answer.
	maxCNAMEs = 8
)

// ClientConfig configures a Client. A zero field means its default.
type ClientConfig struct {
	// Servers are the resolvers, as host:port; a host without a port gets
	// port 53, and an IPv6 address is written [::1]:53 (a bare "::1" is
	// accepted too). Lookups go to the first server that has not failed
	// an attempt in the last 30 seconds; retries rotate through the
	// others.
	Servers []string
	// Timeout is how long one attempt waits for an answer
	// (DefaultTimeout). A lookup's context deadline shortens it. Within
	// an attempt, a UDP query is sent again whenever the server's
	// measured retransmission timeout passes without an answer.
	Timeout time.Duration
	// Attempts is how many attempts a lookup makes at most, over all
	// servers (DefaultAttempts).
	Attempts int
	// Backoff is the pause before the second attempt (DefaultBackoff); it
	// doubles for each further attempt, is jittered to between half and
	// all of that, and is capped at MaxBackoff.
	Backoff time.Duration
	// CacheSize is how many answers are cached (DefaultCacheSize); a
	// negative size disables the cache.
	CacheSize int
	// MinTTL and MaxTTL clamp the TTL an answer is cached for (0 and
	// DefaultMaxTTL). An answer whose clamped TTL is 0 is not cached.
	MinTTL, MaxTTL time.Duration
	// Logger receives a debug record for every failed attempt (none when
	// nil).
	Logger *slog.Logger
}

// Client asks DNS resolvers, over UDP with TCP on truncation, with
// retries, a cache and coalescing of concurrent identical lookups. It
// implements Resolver and is safe for concurrent use.
//
// UDP queries go out over connected sockets kept in a pool per server:
// a lookup takes a socket, sends, reads until the answer with its ID and
// question arrives, and returns the socket. That costs two system calls
// per query instead of the five of a socket per query, which is what
// lets one checker do tens of thousands of lookups a second. A query
// with no answer after the server's retransmission timeout (RFC 6298
// estimate from measured round trips, at least 50ms) is sent again
// within the same attempt, so a packet lost in a full server socket
// buffer does not stall its lookup for the whole attempt timeout.
type Client struct {
	servers        []*server
	timeout        time.Duration
	attempts       int
	backoff        time.Duration
	minTTL, maxTTL time.Duration
	log            *slog.Logger
	cache          *answerCache // nil when disabled

	// now returns the monotonic time since the client was made; tests
	// replace it to expire cache entries.
	now func() time.Duration

	closed atomic.Bool
}

// server is one resolver and its idle UDP sockets.
type server struct {
	addr string
	idle chan *udpConn
	// shunnedUntil is when the server may be asked first again after an
	// attempt that got no response from it, on the Client's monotonic
	// clock; 0 when it has not failed since its last response.
	shunnedUntil atomic.Int64
	// srtt and rttvar estimate the round-trip time (RFC 6298 §2), in
	// nanoseconds; srtt is 0 before the first measurement. Concurrent
	// updates may lose one another, which an estimate can afford.
	srtt, rttvar atomic.Int64
}

// rto is the retransmission timeout of a UDP query to s, RFC 6298's
// SRTT + 4·RTTVAR, at least minRTO and at most limit (the attempt
// timeout); initialRTO until a round trip has been measured.
func (s *server) rto(limit time.Duration) time.Duration {
	srtt := s.srtt.Load()
	if srtt == 0 {
		return min(initialRTO, limit)
	}
	return min(max(time.Duration(srtt+4*s.rttvar.Load()), minRTO), limit)
}

// observe adds a measured round trip to the estimate (RFC 6298 §2.2-2.3,
// alpha 1/8, beta 1/4).
func (s *server) observe(rtt time.Duration) {
	r := max(int64(rtt), 1)
	srtt := s.srtt.Load()
	if srtt == 0 {
		s.srtt.Store(r)
		s.rttvar.Store(r / 2)
		return
	}
	v := s.rttvar.Load()
	d := srtt - r
	if d < 0 {
		d = -d
	}
	s.rttvar.Store(v - v/4 + d/4)
	s.srtt.Store(srtt - srtt/8 + r/8)
}

type udpConn struct {
	*net.UDPConn
	uses int
}

// NewClient checks cfg, fills in the defaults and returns a Client.
func NewClient(cfg ClientConfig) (*Client, error) {
	if len(cfg.Servers) == 0 {
		return nil, errors.New("rbl client: no resolvers configured")
	}
	c := &Client{
		timeout:  cfg.Timeout,
		attempts: cfg.Attempts,
		backoff:  cfg.Backoff,
		minTTL:   cfg.MinTTL,
		maxTTL:   cfg.MaxTTL,
		log:      cfg.Logger,
	}
	var errs []error
	seen := map[string]bool{}
	for _, s := range cfg.Servers {
		addr, err := normalizeServer(s)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if seen[addr] {
			continue
		}
		seen[addr] = true
		c.servers = append(c.servers, &server{addr: addr, idle: make(chan *udpConn, maxIdleConns)})
	}
	if c.timeout < 0 || c.attempts < 0 || c.backoff < 0 || c.minTTL < 0 || c.maxTTL < 0 {
		errs = append(errs, errors.New("timeout, attempts, backoff and TTLs must not be negative"))
	}
	if c.maxTTL != 0 && c.minTTL > c.maxTTL {
		errs = append(errs, fmt.Errorf("min TTL %v is above max TTL %v", c.minTTL, c.maxTTL))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("rbl client: %w", err)
	}
	if c.timeout == 0 {
		c.timeout = DefaultTimeout
	}
	if c.attempts == 0 {
		c.attempts = DefaultAttempts
	}
	if c.backoff == 0 {
		c.backoff = DefaultBackoff
	}
	if c.maxTTL == 0 {
		c.maxTTL = max(DefaultMaxTTL, c.minTTL)
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	size := cfg.CacheSize
	if size == 0 {
		size = DefaultCacheSize
	}
	if size > 0 {
		c.cache = newAnswerCache(size)
	}
	epoch := time.Now()
	c.now = func() time.Duration { return time.Since(epoch) }
	return c, nil
}

// normalizeServer turns "host", "host:port", "::1" or "[::1]:port" into
// host:port.
func normalizeServer(s string) (string, error) {
	s = strings.TrimSpace(s)
	if host, port, err := net.SplitHostPort(s); err == nil {
		if host == "" {
			return "", fmt.Errorf("resolver %q: no host", s)
		}
		if p, err := strconv.ParseUint(port, 10, 16); err != nil || p == 0 {
			return "", fmt.Errorf("resolver %q: port %q is not a number from 1 to 65535", s, port)
		}
		return net.JoinHostPort(host, port), nil
	}
	host := s
	if strings.HasPrefix(host, "[") && strings.HasSuffix(host, "]") {
		host = host[1 : len(host)-1]
	}
	switch {
	case host == "":
		return "", fmt.Errorf("resolver %q: no host", s)
	case strings.Contains(host, ":"):
		if _, err := netip.ParseAddr(host); err != nil {
			return "", fmt.Errorf("resolver %q: not host, host:port or [IPv6]:port", s)
		}
	case strings.ContainsAny(host, "[]/ \t"):
		return "", fmt.Errorf("resolver %q: not host, host:port or [IPv6]:port", s)
	}
	return net.JoinHostPort(host, "53"), nil
}

// ServersFromResolvConf returns the nameservers of a resolv.conf file
// (conventionally /etc/resolv.conf) as host:port.
func ServersFromResolvConf(path string) ([]string, error) {
	cfg, err := dns.ClientConfigFromFile(path)
	if err != nil {
		return nil, fmt.Errorf("resolvers from %s: %w", path, err)
	}
	if len(cfg.Servers) == 0 {
		return nil, fmt.Errorf("resolvers from %s: no nameserver lines", path)
	}
	out := make([]string, len(cfg.Servers))
	for i, s := range cfg.Servers {
		out[i] = net.JoinHostPort(s, cfg.Port)
	}
	return out, nil
}

// Servers returns the resolvers the client asks, as host:port.
func (c *Client) Servers() []string {
	out := make([]string, len(c.servers))
	for i, s := range c.servers {
		out[i] = s.addr
	}
	return out
}

// Close closes the idle sockets. Lookups still running finish; a Client
// may be used after Close, it just keeps no sockets.
func (c *Client) Close() error {
	c.closed.Store(true)
	for _, s := range c.servers {
		for {
			select {
			case u := <-s.idle:
				u.Close()
				continue
			default:
			}
			break
		}
	}
	return nil
}

// Lookup asks for name (a domain name; the trailing dot is optional)
// and type qtype. It returns the response of the first server that gives
// one other than SERVFAIL or REFUSED; when every attempt gets SERVFAIL or
// REFUSED, the last of those, with a nil error. It returns an error
// wrapping a *LookupError only when no response arrived at all: Kind
// ErrTimeout for timeouts and a done context, ErrNetwork when a server
// cannot be reached, ErrBadAnswer for malformed responses.
//
// NOERROR and NXDOMAIN responses are cached for their TTL; a cached
// answer has Cached set and the remaining TTL. The slices of an Answer
// may be shared with the cache and other callers: do not modify them.
func (c *Client) Lookup(ctx context.Context, name string, qtype uint16) (Answer, error) {
	name = dns.Fqdn(strings.ToLower(name))
	if c.cache == nil {
		return c.resolve(ctx, name, qtype)
	}
	key := cacheKey{name: name, qtype: qtype}
	sh := c.cache.shard(key)
	for {
		now := c.now()
		sh.mu.Lock()
		if a, ok := sh.get(key, now); ok {
			sh.mu.Unlock()
			return a, nil
		}
		if f := sh.flights[key]; f != nil {
			sh.mu.Unlock()
			select {
			case <-f.done:
			case <-ctx.Done():
				return Answer{}, &LookupError{Name: name, Kind: ErrTimeout, Err: ctx.Err()}
			}
			if f.leaderGaveUp && ctx.Err() == nil {
				// The leader's own context ended; this caller still
				// wants the answer, so it asks itself.
				continue
			}
			return f.ans, f.err
		}
		f := &flight{done: make(chan struct{})}
		sh.flights[key] = f
		sh.mu.Unlock()

		f.ans, f.err = c.resolve(ctx, name, qtype)
		f.leaderGaveUp = f.err != nil && ctxEnded(ctx)
		ttl := c.cacheTTL(f.ans, f.err)
		sh.mu.Lock()
		delete(sh.flights, key)
		if ttl > 0 {
			sh.put(key, f.ans, c.now()+ttl, now)
		}
		sh.mu.Unlock()
		close(f.done)
		return f.ans, f.err
	}
}

// cacheTTL is how long to cache a lookup's outcome: 0 for errors and
// responses other than NOERROR and NXDOMAIN, the clamped TTL otherwise.
func (c *Client) cacheTTL(a Answer, err error) time.Duration {
	if err != nil || a.Rcode != dns.RcodeSuccess && a.Rcode != dns.RcodeNameError {
		return 0
	}
	return min(max(a.TTL, c.minTTL), c.maxTTL)
}

// resolve sends the query, with retries, and converts the response.
func (c *Client) resolve(ctx context.Context, name string, qtype uint16) (Answer, error) {
	if err := ctx.Err(); err != nil {
		return Answer{}, &LookupError{Name: name, Kind: ErrTimeout, Err: err}
	}
	q := new(dns.Msg)
	q.SetQuestion(name, qtype)
	q.SetEdns0(EDNSBufferSize, false)
	wire, err := q.Pack()
	if err != nil {
		return Answer{}, &LookupError{Name: name, Kind: ErrBadAnswer, Err: fmt.Errorf("cannot build the query: %w", err)}
	}
	x := request{name: name, qtype: qtype, query: q, wire: wire}

	var (
		resp       *dns.Msg // the last SERVFAIL or REFUSED
		respServer string
		respTCP    bool
		lastErr    error
		lastKind   ErrorKind
		lastServer string
	)
	start := c.firstServer()
	for i := range c.attempts {
		if i > 0 && !c.pause(ctx, i) {
			break
		}
		srv := c.servers[(start+i)%len(c.servers)]
		m, tcp, kind, err := c.exchange(ctx, srv, &x)
		if err != nil {
			lastErr, lastKind, lastServer = err, kind, srv.addr
			if ctxEnded(ctx) {
				// The caller gave up; the server may be fine.
				break
			}
			srv.shunnedUntil.Store(int64(c.now() + shunTime))
			c.log.Debug("dns attempt failed", "name", name, "type", dns.TypeToString[qtype],
				"server", srv.addr, "attempt", i+1, "kind", kind, "err", err)
			continue
		}
		srv.shunnedUntil.Store(0)
		if m.Rcode == dns.RcodeServerFailure || m.Rcode == dns.RcodeRefused {
			resp, respServer, respTCP = m, srv.addr, tcp
			c.log.Debug("dns attempt failed", "name", name, "type", dns.TypeToString[qtype],
				"server", srv.addr, "attempt", i+1, "rcode", dns.RcodeToString[m.Rcode])
			continue
		}
		a := answerFromMsg(m)
		a.Server, a.TCP = srv.addr, tcp
		return a, nil
	}
	if resp != nil {
		a := answerFromMsg(resp)
		a.Server, a.TCP = respServer, respTCP
		return a, nil
	}
	if lastErr == nil || ctxEnded(ctx) && lastKind != ErrTimeout {
		lastErr, lastKind = ctxErr(ctx), ErrTimeout
	}
	return Answer{}, &LookupError{Name: name, Server: lastServer, Kind: lastKind, Err: lastErr}
}

// firstServer returns the index of the server a lookup asks first: the
// first in configuration order that is not shunned for a recent failure,
// or, when all are, the one whose shunning ends first.
func (c *Client) firstServer() int {
	now := int64(c.now())
	best, bestUntil := 0, c.servers[0].shunnedUntil.Load()
	for i := 1; i < len(c.servers) && bestUntil > now; i++ {
		if u := c.servers[i].shunnedUntil.Load(); u < bestUntil {
			best, bestUntil = i, u
		}
	}
	return best
}

// pause waits before attempt i (1-based count of attempts made). It
// returns false, without waiting, when ctx would end before the pause
// does, and false when ctx ends during it.
func (c *Client) pause(ctx context.Context, i int) bool {
	d := MaxBackoff
	if i-1 < 30 {
		if b := c.backoff << (i - 1); b > 0 && b < MaxBackoff {
			d = b
		}
	}
	d = d/2 + rand.N(d/2+1)
	if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) < d {
		return false
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// request is one lookup's query, reused by its attempts.
type request struct {
	name  string
	qtype uint16
	query *dns.Msg
	wire  []byte // query packed, ID rewritten per attempt
	// noEDNS is set after a server answered FORMERR to the EDNS query.
	noEDNS bool
}

// exchange runs one attempt against srv: UDP, then TCP if the answer is
// truncated. A FORMERR to a query with EDNS0 is retried at once without
// it (RFC 6891 §7). It returns the response, whether it came over TCP,
// or the kind of failure.
func (c *Client) exchange(ctx context.Context, srv *server, x *request) (*dns.Msg, bool, ErrorKind, error) {
	for {
		m, truncated, kind, err := c.exchangeUDP(ctx, srv, x)
		if err != nil {
			return nil, false, kind, err
		}
		if truncated {
			m, kind, err = c.exchangeTCP(ctx, srv, x)
			if err != nil {
				return nil, true, kind, fmt.Errorf("over tcp after truncation: %w", err)
			}
			return m, true, "", nil
		}
		if m.Rcode == dns.RcodeFormatError && !x.noEDNS {
			x.noEDNS = true
			x.query.Extra = nil
			wire, err := x.query.Pack()
			if err != nil {
				return nil, false, ErrBadAnswer, fmt.Errorf("cannot build the query: %w", err)
			}
			x.wire = wire
			continue
		}
		return m, false, "", nil
	}
}

// deadline is the end of an attempt starting now: the timeout, or the
// context's deadline when that is sooner.
func (c *Client) deadline(ctx context.Context) time.Time {
	d := time.Now().Add(c.timeout)
	if cd, ok := ctx.Deadline(); ok && cd.Before(d) {
		return cd
	}
	return d
}

var readBuffers = sync.Pool{New: func() any { b := make([]byte, readBufferSize); return &b }}

// aLongTimeAgo is a deadline in the past, to interrupt a read.
var aLongTimeAgo = time.Unix(1, 0)

// exchangeUDP sends x over a pooled UDP socket and reads until the
// response with the query's ID and question arrives. Responses with
// another ID or question (late answers to earlier queries on the socket,
// or spoofing attempts) are skipped.
//
// While it waits, it sends the same query again (same socket, same ID,
// so an answer to either copy is taken) each time the server's
// retransmission timeout passes, doubling the timeout each time, until
// the attempt's deadline. A query lost in a full socket buffer (which
// happens with hundreds of queries in flight to a single-threaded server
// such as rbldnsd) then costs a round trip or so instead of the whole
// attempt timeout.
func (c *Client) exchangeUDP(ctx context.Context, srv *server, x *request) (m *dns.Msg, truncated bool, kind ErrorKind, err error) {
	u, err := c.conn(ctx, srv)
	if err != nil {
		return nil, false, errorKindOf(ctx, err), fmt.Errorf("dial %s: %w", srv.addr, err)
	}
	keep := false
	var stop func() bool
	defer func() {
		if stop != nil && !stop() {
			// The cancellation already fired (or is firing) and may
			// reset the deadline under the next user's feet.
			keep = false
		}
		c.release(srv, u, keep)
	}()
	deadline := c.deadline(ctx)
	rto := srv.rto(c.timeout)
	sent := time.Now()
	if err := u.SetWriteDeadline(deadline); err != nil {
		return nil, false, ErrNetwork, fmt.Errorf("udp %s: %w", srv.addr, err)
	}
	if err := u.SetReadDeadline(earlier(sent.Add(rto), deadline)); err != nil {
		return nil, false, ErrNetwork, fmt.Errorf("udp %s: %w", srv.addr, err)
	}
	if ctx.Done() != nil {
		stop = context.AfterFunc(ctx, func() { _ = u.SetReadDeadline(aLongTimeAgo) })
	}
	id := uint16(rand.Uint32())
	x.wire[0], x.wire[1] = byte(id>>8), byte(id)
	if _, err := u.Write(x.wire); err != nil {
		return nil, false, errorKindOf(ctx, err), fmt.Errorf("udp %s: %w", srv.addr, err)
	}
	retransmitted := false
	bp := readBuffers.Get().(*[]byte)
	defer readBuffers.Put(bp)
	buf := *bp
	for {
		n, err := u.Read(buf)
		if err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) && !ctxEnded(ctx) {
				if now := time.Now(); now.Before(deadline) {
					rto *= 2
					retransmitted = true
					if err := u.SetReadDeadline(earlier(now.Add(rto), deadline)); err != nil {
						return nil, false, ErrNetwork, fmt.Errorf("udp %s: %w", srv.addr, err)
					}
					if ctx.Err() != nil {
						// Cancelled between the check and the new
						// deadline, which may have undone the
						// cancellation's.
						return nil, false, ErrTimeout, fmt.Errorf("udp %s: %w", srv.addr, ctx.Err())
					}
					if _, err := u.Write(x.wire); err != nil {
						return nil, false, errorKindOf(ctx, err), fmt.Errorf("udp %s: %w", srv.addr, err)
					}
					continue
				}
			}
			if ctxEnded(ctx) {
				err = ctxErr(ctx)
			}
			return nil, false, errorKindOf(ctx, err), fmt.Errorf("udp %s: %w", srv.addr, err)
		}
		if n < 12 || uint16(buf[0])<<8|uint16(buf[1]) != id {
			continue
		}
		m = new(dns.Msg)
		if err := m.Unpack(buf[:n]); err != nil {
			keep = true
			return nil, false, ErrBadAnswer, fmt.Errorf("udp %s: malformed response: %w", srv.addr, err)
		}
		if !m.Response || !questionMatches(m, x.name, x.qtype) {
			continue
		}
		if !retransmitted {
			// Karn's rule: after a retransmission the round trip is
			// ambiguous, so it is not measured.
			srv.observe(time.Since(sent))
		}
		keep = true
		return m, m.Truncated || n == len(buf), "", nil
	}
}

func earlier(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// exchangeTCP sends x over a new TCP connection.
func (c *Client) exchangeTCP(ctx context.Context, srv *server, x *request) (*dns.Msg, ErrorKind, error) {
	deadline := c.deadline(ctx)
	d := net.Dialer{Deadline: deadline}
	conn, err := d.DialContext(ctx, "tcp", srv.addr)
	if err != nil {
		return nil, errorKindOf(ctx, err), err
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(aLongTimeAgo) })
	defer stop()
	x.query.Id = dns.Id()
	dc := &dns.Client{Net: "tcp", Timeout: time.Until(deadline)}
	dctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	m, _, err := dc.ExchangeWithConnContext(dctx, x.query, &dns.Conn{Conn: conn})
	if err != nil {
		if ctxEnded(ctx) {
			err = ctxErr(ctx)
		}
		kind := errorKindOf(ctx, err)
		if errors.Is(err, dns.ErrId) || isUnpackError(err) {
			kind = ErrBadAnswer
		}
		return nil, kind, err
	}
	if !m.Response || !questionMatches(m, x.name, x.qtype) {
		return nil, ErrBadAnswer, errors.New("response does not answer the question")
	}
	return m, "", nil
}

// isUnpackError reports whether err comes from parsing a DNS message
// (miekg/dns returns *dns.Error for those) rather than from the network.
func isUnpackError(err error) bool {
	var de *dns.Error
	return errors.As(err, &de)
}

// conn takes an idle UDP socket to srv or opens one.
func (c *Client) conn(ctx context.Context, srv *server) (*udpConn, error) {
	select {
	case u := <-srv.idle:
		return u, nil
	default:
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "udp", srv.addr)
	if err != nil {
		return nil, err
	}
	uc, ok := conn.(*net.UDPConn)
	if !ok {
		conn.Close()
		return nil, fmt.Errorf("dial udp %s: got %T", srv.addr, conn)
	}
	return &udpConn{UDPConn: uc}, nil
}

// release returns u to srv's idle sockets when keep is set and u has not
// served its share of queries; it closes u otherwise.
func (c *Client) release(srv *server, u *udpConn, keep bool) {
	u.uses++
	if keep && u.uses < maxConnUses && !c.closed.Load() {
		select {
		case srv.idle <- u:
			return
		default:
		}
	}
	u.Close()
}

// ctxEnded reports whether ctx is done or its deadline has passed. A
// read that timed out at the context's deadline may return before the
// context itself notices.
func ctxEnded(ctx context.Context) bool {
	if ctx.Err() != nil {
		return true
	}
	d, ok := ctx.Deadline()
	return ok && !time.Now().Before(d)
}

// ctxErr is the error of an ended context: ctx.Err(), or
// context.DeadlineExceeded when the deadline passed but the context has
// not noticed yet.
func ctxErr(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return context.DeadlineExceeded
}

// errorKindOf classifies a network error: timeouts and an ended context
// are ErrTimeout, everything else (connection refused, no route) is
// ErrNetwork.
func errorKindOf(ctx context.Context, err error) ErrorKind {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, context.DeadlineExceeded) ||
		errors.Is(err, context.Canceled) || ctx.Err() != nil {
		return ErrTimeout
	}
	return ErrNetwork
}

// questionMatches reports whether m answers the question (name, qtype,
// class IN). Names compare case-insensitively, so answers to a query
// with randomised case (DNS 0x20) match too.
func questionMatches(m *dns.Msg, name string, qtype uint16) bool {
	if len(m.Question) != 1 {
		return false
	}
	q := m.Question[0]
	return q.Qtype == qtype && q.Qclass == dns.ClassINET && strings.EqualFold(q.Name, name)
}

// answerFromMsg extracts what the checker interprets from a response:
// the A and AAAA records, TXT records (each record's strings joined with
// nothing between them, as RFC 7208 §3.3 joins them) and PTR targets of
// the answer section, for the question's name and the CNAMEs the
// resolver followed from it; and the TTL: the smallest TTL of those
// records, or for a negative answer the SOA's negative-caching TTL (the
// smaller of its TTL and MINIMUM, RFC 2308 §5), or DefaultNegativeTTL.
//
// A message without a question (Lookup never passes one: it checks the
// question) contributes the records of every owner name.
func answerFromMsg(m *dns.Msg) Answer {
	a := Answer{Rcode: m.Rcode}
	var chain [maxCNAMEs + 1]string
	n := 0
	if len(m.Question) > 0 {
		chain[0], n = m.Question[0].Name, 1
		for n < len(chain) {
			next := ""
			for _, rr := range m.Answer {
				if cn, ok := rr.(*dns.CNAME); ok && strings.EqualFold(cn.Hdr.Name, chain[n-1]) {
					next = cn.Target
					break
				}
			}
			if next == "" {
				break
			}
			chain[n], n = next, n+1
		}
	}
	inChain := func(owner string) bool {
		if n == 0 {
			return true
		}
		for _, c := range chain[:n] {
			if strings.EqualFold(owner, c) {
				return true
			}
		}
		return false
	}

	ttl, found := uint32(0), false
	for _, rr := range m.Answer {
		h := rr.Header()
		if !inChain(h.Name) {
			continue
		}
		switch rr := rr.(type) {
		case *dns.A:
			if addr, ok := netip.AddrFromSlice(rr.A); ok {
				a.A = append(a.A, addr.Unmap())
			}
		case *dns.AAAA:
			if addr, ok := netip.AddrFromSlice(rr.AAAA); ok {
				a.A = append(a.A, addr)
			}
		case *dns.TXT:
			a.TXT = append(a.TXT, strings.Join(rr.Txt, ""))
		case *dns.PTR:
			a.Names = append(a.Names, strings.TrimSuffix(strings.ToLower(rr.Ptr), "."))
		case *dns.CNAME:
		default:
			continue
		}
		if !found || h.Ttl < ttl {
			ttl, found = h.Ttl, true
		}
	}
	if !found || len(a.A)+len(a.TXT)+len(a.Names) == 0 {
		// Negative answer (or only CNAMEs): the SOA says how long.
		found = false
		for _, rr := range m.Ns {
			if soa, ok := rr.(*dns.SOA); ok {
				ttl, found = min(soa.Hdr.Ttl, soa.Minttl), true
				break
			}
		}
	}
	if found {
		a.TTL = time.Duration(ttl) * time.Second
	} else {
		a.TTL = DefaultNegativeTTL
	}
	return a
}
