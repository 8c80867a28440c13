//go:build unix

package rbl

import (
	"context"
	"net/netip"
	"runtime"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/mailrep/mailrep/internal/dnsfault"
	"github.com/mailrep/mailrep/internal/rbldnsd"
)

// benchConcurrency makes RunParallel run 256 goroutines on a 2-CPU
// machine: the checker's concurrency bound.
const benchConcurrency = 256

// BenchmarkClientLookup measures lookups per second with 256 concurrent
// callers, each lookup a name not asked before (so every lookup is a
// query), against the in-process miekg/dns server of internal/dnsfault
// and, when it is installed, Debian's rbldnsd. "pool" is Client (with
// its cache on, as the checker runs it, and off); "exchange" is the
// socket-per-query dns.Client.ExchangeContext it is measured against;
// "cached" is a Client answering from its cache.
func BenchmarkClientLookup(b *testing.B) {
	b.Run("dnsfault", func(b *testing.B) {
		benchServer(b, func(b *testing.B) string {
			// A fresh server for each run: it counts queries per name.
			s := dnsfault.Start(b)
			s.Set("*.bench.test.", dnsfault.Response{Rcode: dns.RcodeNameError})
			return s.Addr
		})
	})
	b.Run("rbldnsd", func(b *testing.B) {
		s := rbldnsd.Start(b, rbldnsd.Zone{Name: "bench.test", Type: "ip4set",
			Data: ":127.0.0.2:Listed\n10.0.0.0/24\n10.0.128.0/17 :127.0.0.4:\n"})
		benchServer(b, func(*testing.B) string { return s.Addr })
	})
	b.Run("cached", func(b *testing.B) {
		s := dnsfault.Start(b)
		s.Set("*.bench.test.", dnsfault.Response{A: dnsfault.Addrs("127.0.0.2"), TTL: 3600})
		c, err := NewClient(ClientConfig{Servers: []string{s.Addr}})
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		const names = 4096
		for i := range names {
			if _, err := c.Lookup(context.Background(), benchName(uint32(i)), dns.TypeA); err != nil {
				b.Fatal(err)
			}
		}
		var n atomic.Uint32
		runLookups(b, func(ctx context.Context) error {
			a, err := c.Lookup(ctx, benchName(n.Add(1)%names), dns.TypeA)
			if err == nil && !a.Cached {
				b.Error("cache miss")
			}
			return err
		})
	})
}

func benchServer(b *testing.B, server func(*testing.B) string) {
	var n atomic.Uint32
	for _, tt := range []struct {
		name      string
		cacheSize int
	}{{"pool", 0}, {"pool-nocache", -1}} {
		b.Run(tt.name, func(b *testing.B) {
			c, err := NewClient(ClientConfig{Servers: []string{server(b)}, CacheSize: tt.cacheSize})
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			runLookups(b, func(ctx context.Context) error {
				_, err := c.Lookup(ctx, benchName(n.Add(1)), dns.TypeA)
				return err
			})
		})
	}
	b.Run("exchange", func(b *testing.B) {
		addr := server(b)
		// No retries here: a lost query is a failure, counted and
		// reported instead of failing the benchmark.
		dc := &dns.Client{Timeout: 2 * time.Second}
		var failed atomic.Int64
		runLookups(b, func(ctx context.Context) error {
			m := new(dns.Msg)
			m.SetQuestion(benchName(n.Add(1)), dns.TypeA)
			m.SetEdns0(EDNSBufferSize, false)
			if _, _, err := dc.ExchangeContext(ctx, m, addr); err != nil {
				failed.Add(1)
			}
			return nil
		})
		b.ReportMetric(float64(failed.Load()), "failed")
	})
}

// runLookups runs lookup b.N times from benchConcurrency goroutines and
// reports lookups/s and the CPU time (user and system) the process spent
// per lookup: with an rbldnsd server that is the client's alone, with the
// in-process server it includes the server's.
func runLookups(b *testing.B, lookup func(context.Context) error) {
	ctx := context.Background()
	b.ReportAllocs()
	b.SetParallelism(max(1, benchConcurrency/runtime.GOMAXPROCS(0)))
	cpu0 := processCPU(b)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := lookup(ctx); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "lookups/s")
	b.ReportMetric(float64(processCPU(b)-cpu0)/float64(b.N), "cpu-ns/op")
}

// processCPU returns the user and system CPU time the process has used.
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// benchName is the query name of the i-th address of 10.0.0.0/8 in
// bench.test.
func benchName(i uint32) string {
	a := netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
	return IPTarget(a).QueryName("bench.test")
}
