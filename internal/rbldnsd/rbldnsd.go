// Package rbldnsd runs Debian's rbldnsd, the DNS server most DNSBLs run,
// for tests: Start serves the given zones from files in a temporary
// directory on 127.0.0.1 and a free UDP port, and stops the server when
// the test ends; SetZone rewrites a zone's data and returns once the
// server answers from the new data.
//
// Every zone also gets an SOA record (a generic dataset the package
// writes before the zone's own datasets), whose serial the package bumps
// on each change: answering with the new serial is the proof that
// rbldnsd reloaded. Records are served with TTL 1 s (rbldnsd's least;
// see TTL) unless a dataset sets its own $TTL, and negative answers with
// TTL 0, so a caching client sees a change a second later at most.
//
// rbldnsd answers only the zones it serves: a query for a name outside
// them gets REFUSED; a name inside a zone that no dataset lists gets
// NXDOMAIN (with the SOA in the authority section).
package rbldnsd

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/mailrep/mailrep/internal/testenv"
)

// TTL is the TTL of the records rbldnsd serves unless a dataset sets its
// own $TTL. A client that caches answers may serve an answer from before
// a SetZone for up to this long.
const TTL = time.Second

// Zone is one dataset of a zone rbldnsd serves. Several Zones with the
// same Name make one zone from several datasets, the way a combined list
// such as Spamhaus ZEN answers: a name listed in more than one dataset
// gets one A record (and one TXT record) from each, in dataset order.
type Zone struct {
	// Name is the DNS zone, without trailing dot ("zen.example.test").
	Name string
	// Type is the rbldnsd dataset type: ip4set, ip4tset, ip4trie,
	// ip6tset, ip6trie, dnset, generic, combined (see rbldnsd(8)).
	Type string
	// Data is the dataset file in rbldnsd syntax, e.g.
	//	:127.0.0.2:Listed, see https://example.test/lookup?ip=$
	//	127.0.0.2
	//	192.0.2.7 :127.0.0.4:Exploited host $
	Data string
	// File optionally names the dataset file (a base name without ':',
	// ',' or '/'); SetZone finds a dataset by it. The default is derived
	// from Name, the dataset's position and Type.
	File string
}

// Server is a running rbldnsd.
type Server struct {
	// Addr is where the server answers, "127.0.0.1:PORT" (UDP only).
	Addr string

	bin   string
	dir   string
	zones []Zone // with File set
	out   *output

	mu     sync.Mutex
	cmd    *exec.Cmd
	done   chan struct{}        // closed when the process has exited
	serial uint32               // of the SOA last written (server-wide)
	stamps map[string]time.Time // last modification time given to each file
	paused bool
}

// Start runs rbldnsd serving zones and returns once it answers. The test
// fails if rbldnsd rejects a line of a dataset; it is skipped (or fails
// under MAILREP_INTEGRATION=1) when rbldnsd is not installed. The server
// is stopped in tb's cleanup; its output is logged if the test failed.
func Start(tb testing.TB, zones ...Zone) *Server {
	tb.Helper()
	bin := testenv.NeedProgram(tb, "rbldnsd", "rbldnsd")
	if len(zones) == 0 {
		tb.Fatal("rbldnsd.Start: no zones")
	}
	logFile, err := os.OpenFile(filepath.Join(tb.TempDir(), "rbldnsd.out"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		tb.Fatalf("rbldnsd: %v", err)
	}
	tb.Cleanup(func() { logFile.Close() })
	s := &Server{bin: bin, dir: tb.TempDir(), out: &output{f: logFile}, serial: 1, stamps: map[string]time.Time{}}
	seen := map[string]bool{}
	for i, z := range zones {
		if z.Name == "" || strings.ContainsAny(z.Name, ":,/ ") || z.Type == "" || strings.ContainsAny(z.Type, ":,/ ") {
			tb.Fatalf("rbldnsd.Start: zone %d: name %q and type %q must be non-empty, without ':', ',', '/' or spaces", i, z.Name, z.Type)
		}
		z.Name = strings.ToLower(strings.TrimSuffix(z.Name, "."))
		if z.File == "" {
			z.File = fmt.Sprintf("%s.%d.%s", z.Name, i, z.Type)
		}
		if strings.ContainsAny(z.File, ":,/ ") || strings.HasSuffix(z.File, ".soa") || seen[z.File] {
			tb.Fatalf("rbldnsd.Start: zone %s: file name %q is not a unique base name (no ':', ',', '/', spaces or .soa suffix)", z.Name, z.File)
		}
		seen[z.File] = true
		s.zones = append(s.zones, z)
	}
	// As root, rbldnsd refuses to keep root and switches to an
	// unprivileged user, which cannot enter the test's private temporary
	// directory: it is started chrooted into the zone directory, which is
	// made readable for everyone.
	if os.Geteuid() == 0 {
		if err := os.Chmod(s.dir, 0o755); err != nil {
			tb.Fatalf("rbldnsd: %v", err)
		}
	}
	for _, z := range s.zones {
		if err := s.writeFile(z.File, z.Data); err != nil {
			tb.Fatalf("rbldnsd: %v", err)
		}
	}
	for _, name := range s.names() {
		if err := s.writeFile(soaFile(name), s.soa(name)); err != nil {
			tb.Fatalf("rbldnsd: %v", err)
		}
	}

	tb.Cleanup(func() {
		s.stop()
		if tb.Failed() {
			tb.Logf("rbldnsd output:\n%s", s.out.String())
		}
	})
	const attempts = 3 // the free port may be taken before rbldnsd binds it
	for range attempts {
		if err = s.start(); err == nil {
			break
		}
		if !errors.Is(err, errAddrInUse) {
			break
		}
	}
	if err != nil {
		tb.Fatalf("rbldnsd: %v", err)
	}
	if err := s.rejectedLines(0); err != nil {
		tb.Fatalf("rbldnsd: %v", err)
	}
	return s
}

var errAddrInUse = errors.New("address in use")

// start runs rbldnsd on a fresh free port and waits until it answers.
func (s *Server) start() error {
	port, err := freeUDPPort()
	if err != nil {
		return err
	}
	s.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	args := []string{"-n", "-b", "127.0.0.1/" + strconv.Itoa(port), "-t", strconv.Itoa(int(TTL / time.Second))}
	if os.Geteuid() == 0 {
		args = append(args, "-r", s.dir, "-u", unprivilegedUser())
	}
	// Each zone first gets its SOA dataset, so the SOA comes from it.
	for _, name := range s.names() {
		args = append(args, name+":generic:"+soaFile(name))
	}
	for _, z := range s.zones {
		args = append(args, z.Name+":"+z.Type+":"+z.File)
	}
	start := s.out.Len()
	cmd := exec.Command(s.bin, args...)
	cmd.Dir = s.dir
	cmd.Stdout, cmd.Stderr = s.out.f, s.out.f
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", s.bin, err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	s.mu.Lock()
	s.cmd, s.done = cmd, done
	s.mu.Unlock()

	if err := s.waitServing(s.names()...); err != nil {
		s.stop()
		if strings.Contains(s.out.From(start), "in use") {
			return fmt.Errorf("%w: %v", errAddrInUse, err)
		}
		return err
	}
	return nil
}

// waitServing waits until the named zones answer their SOA query with
// the current serial, or fails when rbldnsd exits or 10 s pass.
func (s *Server) waitServing(names ...string) error {
	s.mu.Lock()
	serial, done := s.serial, s.done
	s.mu.Unlock()
	deadline := time.Now().Add(10 * time.Second)
	c := &dns.Client{Net: "udp", Timeout: 200 * time.Millisecond}
	var last error
	for len(names) > 0 {
		select {
		case <-done:
			return fmt.Errorf("rbldnsd exited before serving %s: %s", names[0], lastLines(s.out.String(), 5))
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("zone %s not served with SOA serial %d within 10s: %v", names[0], serial, last)
		}
		m := new(dns.Msg)
		m.SetQuestion(dns.Fqdn(names[0]), dns.TypeSOA)
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		r, _, err := c.ExchangeContext(ctx, m, s.Addr)
		cancel()
		switch {
		case err != nil:
			last = err
		case r.Rcode != dns.RcodeSuccess || len(r.Answer) == 0:
			last = fmt.Errorf("SOA query answered %s with %d records", dns.RcodeToString[r.Rcode], len(r.Answer))
		default:
			if soa, ok := r.Answer[0].(*dns.SOA); ok && soa.Serial == serial {
				names = names[1:]
				continue
			}
			last = fmt.Errorf("SOA answer %v, want serial %d", r.Answer[0], serial)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return nil
}

// SetZone replaces the data of a dataset and returns once rbldnsd serves
// it. name is a Zone's File, or its Name when the zone has one dataset.
func (s *Server) SetZone(tb testing.TB, name, data string) {
	tb.Helper()
	i, err := s.find(name)
	if err != nil {
		tb.Fatalf("rbldnsd.SetZone: %v", err)
	}
	s.mu.Lock()
	if s.done == nil || s.paused {
		s.mu.Unlock()
		tb.Fatalf("rbldnsd.SetZone(%s): the server is stopped or paused", name)
	}
	s.serial++
	s.zones[i].Data = data
	z := s.zones[i]
	cmd := s.cmd
	s.mu.Unlock()
	if err := s.writeFile(z.File, data); err != nil {
		tb.Fatalf("rbldnsd.SetZone: %v", err)
	}
	if err := s.writeFile(soaFile(z.Name), s.soa(z.Name)); err != nil {
		tb.Fatalf("rbldnsd.SetZone: %v", err)
	}
	start := s.out.Len()
	if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
		tb.Fatalf("rbldnsd.SetZone: reload: %v", err)
	}
	if err := s.waitServing(z.Name); err != nil {
		tb.Fatalf("rbldnsd.SetZone(%s): reload: %v", name, err)
	}
	if err := s.rejectedLines(start); err != nil {
		tb.Fatalf("rbldnsd.SetZone(%s): %v", name, err)
	}
}

func (s *Server) find(name string) (int, error) {
	var byName []int
	for i, z := range s.zones {
		if z.File == name {
			return i, nil
		}
		if z.Name == strings.ToLower(strings.TrimSuffix(name, ".")) {
			byName = append(byName, i)
		}
	}
	switch len(byName) {
	case 0:
		return 0, fmt.Errorf("no zone or file %q", name)
	case 1:
		return byName[0], nil
	}
	var files []string
	for _, i := range byName {
		files = append(files, s.zones[i].File)
	}
	return 0, fmt.Errorf("zone %s has %d datasets; name one by file: %s", name, len(byName), strings.Join(files, ", "))
}

// Pause stops the process (SIGSTOP) without closing its socket: queries
// then time out, as with a server that does not answer. Resume continues
// it; the queries sent meanwhile are answered late, to clients that have
// given up.
func (s *Server) Pause(tb testing.TB) {
	tb.Helper()
	s.signal(tb, syscall.SIGSTOP, true)
}

// Resume continues a paused server.
func (s *Server) Resume(tb testing.TB) {
	tb.Helper()
	s.signal(tb, syscall.SIGCONT, false)
}

func (s *Server) signal(tb testing.TB, sig syscall.Signal, paused bool) {
	tb.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.done == nil {
		tb.Fatalf("rbldnsd: %v: the server is stopped", sig)
	}
	if err := s.cmd.Process.Signal(sig); err != nil {
		tb.Fatalf("rbldnsd: %v: %v", sig, err)
	}
	s.paused = paused
}

// Stop terminates the server before the test ends (it is stopped at the
// end of the test anyway). Queries to Addr then fail.
func (s *Server) Stop() { s.stop() }

// stop sends SIGTERM and waits for the process, killing it after 5 s.
func (s *Server) stop() {
	s.mu.Lock()
	cmd, done, paused := s.cmd, s.done, s.paused
	s.cmd, s.done, s.paused = nil, nil, false
	s.mu.Unlock()
	if done == nil {
		return
	}
	cmd.Process.Signal(syscall.SIGTERM)
	if paused {
		cmd.Process.Signal(syscall.SIGCONT)
	}
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		cmd.Process.Kill()
		<-done
	}
}

// Output returns what rbldnsd has printed so far (zone loads, warnings,
// statistics).
func (s *Server) Output() string { return s.out.String() }

// rejectedLines reports the dataset lines rbldnsd complained about in its
// output after offset start ("file NAME(LINE): invalid address").
func (s *Server) rejectedLines(start int) error {
	var bad []string
	for line := range strings.Lines(s.out.From(start)) {
		for _, z := range s.zones {
			if strings.Contains(line, "file "+z.File+"(") {
				bad = append(bad, strings.TrimSpace(line))
				break
			}
		}
	}
	if bad != nil {
		return fmt.Errorf("rbldnsd rejected dataset lines:\n%s", strings.Join(bad, "\n"))
	}
	return nil
}

// writeFile replaces a file in the zone directory atomically (rbldnsd
// may read it at any time) and gives it a modification time later than
// any before: rbldnsd reloads a file only when its mtime (in seconds)
// changed.
func (s *Server) writeFile(name, data string) error {
	tmp := filepath.Join(s.dir, "."+name+".tmp")
	if err := os.WriteFile(tmp, []byte(data), 0o644); err != nil {
		return fmt.Errorf("write zone file: %w", err)
	}
	// WriteFile's mode is subject to the umask; the server may run as
	// another user.
	if err := os.Chmod(tmp, 0o644); err != nil {
		return fmt.Errorf("zone file: %w", err)
	}
	s.mu.Lock()
	now := time.Now().Truncate(time.Second)
	if last := s.stamps[name]; !now.After(last) {
		now = last.Add(time.Second)
	}
	s.stamps[name] = now
	s.mu.Unlock()
	if err := os.Chtimes(tmp, now, now); err != nil {
		return fmt.Errorf("zone file: %w", err)
	}
	if err := os.Rename(tmp, filepath.Join(s.dir, name)); err != nil {
		return fmt.Errorf("zone file: %w", err)
	}
	return nil
}

// names returns the distinct zone names in order of first appearance.
func (s *Server) names() []string {
	var names []string
	seen := map[string]bool{}
	for _, z := range s.zones {
		if !seen[z.Name] {
			seen[z.Name] = true
			names = append(names, z.Name)
		}
	}
	return names
}

func soaFile(zone string) string { return zone + ".soa" }

// soa is the SOA dataset of zone with the current serial. Its minimum
// TTL 0 makes NXDOMAIN answers uncacheable.
func (s *Server) soa(zone string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return fmt.Sprintf("$SOA 0 ns.%s hostmaster.%s %d 1h 1h 1d 0\n", zone, zone, s.serial)
}

// unprivilegedUser is the user rbldnsd runs as when started by root: the
// Debian package's rbldns, else nobody.
func unprivilegedUser() string {
	if _, err := user.Lookup("rbldns"); err == nil {
		return "rbldns"
	}
	return "nobody"
}

// freeUDPPort returns a UDP port on 127.0.0.1 that was free a moment ago.
func freeUDPPort() (int, error) {
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free UDP port: %w", err)
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port, nil
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// output is rbldnsd's standard output and error: a file rather than a
// pipe, so that a line rbldnsd wrote before it answered a query is there
// to read once the answer arrived.
type output struct {
	f *os.File
}

func (o *output) Len() int {
	st, err := o.f.Stat()
	if err != nil {
		return 0
	}
	return int(st.Size())
}

func (o *output) String() string { return o.From(0) }

// From returns the output after the first start bytes.
func (o *output) From(start int) string {
	b, err := os.ReadFile(o.f.Name())
	if err != nil {
		return fmt.Sprintf("(reading rbldnsd output: %v)", err)
	}
	if start > len(b) {
		start = len(b)
	}
	return string(b[start:])
}
