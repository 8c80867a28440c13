package rbl

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"time"
)

// Resolver is what the checker needs from DNS: one lookup of a name and
// type, returning the response code and the records it cares about.
// *Client is the real implementation; tests may use their own.
//
// A Resolver returns an error only when no usable response arrived
// (timeout after all retries, network failure); SERVFAIL, REFUSED and
// NXDOMAIN are responses, returned in Answer.Rcode with a nil error. The
// error then wraps a *LookupError naming the kind.
type Resolver interface {
	Lookup(ctx context.Context, name string, qtype uint16) (Answer, error)
}

// Answer is the part of a DNS response the checker interprets.
type Answer struct {
	// Rcode is the response code (dns.RcodeSuccess, dns.RcodeNameError, …).
	Rcode int
	// A holds every A (and AAAA) record of the answer section, in order.
	A []netip.Addr
	// TXT holds every TXT record, each record's strings joined.
	TXT []string
	// Names holds PTR targets (for PTR queries), lower case, no trailing dot.
	Names []string
	// TTL is the smallest TTL of the answer records (or the negative-
	// caching TTL from the SOA of an NXDOMAIN / empty answer).
	TTL time.Duration
	// Server is the resolver that answered (host:port).
	Server string
	// TCP reports that the answer came over TCP after truncation.
	TCP bool
	// Cached reports that the answer came from the client's cache.
	Cached bool
}

// LookupError is a lookup that produced no usable response.
type LookupError struct {
	Name   string
	Server string
	Kind   ErrorKind // ErrTimeout or ErrNetwork
	Err    error
}

func (e *LookupError) Error() string {
	s := fmt.Sprintf("lookup %s", e.Name)
	if e.Server != "" {
		s += " via " + e.Server
	}
	return fmt.Sprintf("%s: %s: %v", s, e.Kind, e.Err)
}

func (e *LookupError) Unwrap() error { return e.Err }

// lookupErrorKind returns the ErrorKind of a Resolver error: the
// LookupError's kind, ErrTimeout for context deadlines, ErrNetwork
// otherwise.
func lookupErrorKind(err error) ErrorKind {
	var le *LookupError
	if errors.As(err, &le) && le.Kind != "" {
		return le.Kind
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return ErrTimeout
	}
	return ErrNetwork
}
