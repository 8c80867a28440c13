package queue

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// bigPostfixFile is a queue file holding a 120 KB message of short lines,
// with the size record cleanup writes (so envelope-only reads can jump).
func bigPostfixFile() []byte {
	sizeRec := func(seg, data int) string { return fmt.Sprintf("%15d %15d %15d %15d %15d %15d", seg, data, 1, 0, 0, 0) }
	var f pfFile
	f.rec(recSize, sizeRec(0, 0))
	f.rec(recTime, "1700000000 1").rec(recFrom, "a@x.example").rec(recAttr, "sasl_username=a@x.example")
	f.rec(recAttr, "client_address=192.0.2.1").rec(recRcpt, "r@x.example").rec(recMesg, "")
	data := f.Len()
	var body strings.Builder
	body.WriteString("Subject: big\n\n")
	for i := range 2000 {
		fmt.Fprintf(&body, "line %04d of a long message, the same text again and again\n", i)
	}
	f.body(body.String(), 2048)
	xtra := f.Len()
	f.rec(recXtra, "").rec(recEnd, "")
	b := f.Bytes()
	var c pfFile
	c.rec(recSize, sizeRec(xtra-data, data))
	copy(b, c.Bytes())
	return b
}

func benchParsePostfix(b *testing.B, data []byte, limit int64) {
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParsePostfix(bytes.NewReader(data), limit); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}

func BenchmarkParsePostfix(b *testing.B) {
	small, err := os.ReadFile(filepath.Join("testdata", "postfix", "deferred", "4", "4736F988140"))
	if err != nil {
		b.Fatal(err)
	}
	big := bigPostfixFile()
	b.Run("small", func(b *testing.B) { benchParsePostfix(b, small, DefaultMaxContent) })
	b.Run("120KB", func(b *testing.B) { benchParsePostfix(b, big, DefaultMaxContent) })
	b.Run("120KB-cap4KB", func(b *testing.B) { benchParsePostfix(b, big, 4<<10) })
	b.Run("envelope", func(b *testing.B) { benchParsePostfix(b, big, 0) })
}

func BenchmarkParseEximHeader(b *testing.B) {
	data, err := os.ReadFile(filepath.Join(eximSpool, "input", "z", "1xV7az-00006g-1Q-H"))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseEximHeader(bytes.NewReader(data), DefaultMaxContent); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}

// queueDirs makes a Postfix queue and an Exim spool of n messages each.
func queueDirs(b *testing.B, n int) (pf, ex string) {
	pf, ex = b.TempDir(), b.TempDir()
	msg, err := os.ReadFile(filepath.Join("testdata", "postfix", "deferred", "4", "4736F988140"))
	if err != nil {
		b.Fatal(err)
	}
	h, err := os.ReadFile(filepath.Join(eximSpool, "input", "z", "1xV7az-00006g-1Q-H"))
	if err != nil {
		b.Fatal(err)
	}
	d, err := os.ReadFile(filepath.Join(eximSpool, "input", "z", "1xV7az-00006g-1Q-D"))
	if err != nil {
		b.Fatal(err)
	}
	for i := range n {
		id := fmt.Sprintf("%011X", 0xA0000000+i)
		sub := filepath.Join(pf, "deferred", id[len(id)-1:])
		if err := os.MkdirAll(sub, 0o700); err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(sub, id), msg, 0o700); err != nil {
			b.Fatal(err)
		}
		eid := fmt.Sprintf("1xV7az-%06d-1Q", i)
		esub := filepath.Join(ex, "input", eid[5:6])
		if err := os.MkdirAll(esub, 0o750); err != nil {
			b.Fatal(err)
		}
		hh := strings.Replace(string(h), "1xV7az-00006g-1Q-H", eid+"-H", 1)
		dd := strings.Replace(string(d), "1xV7az-00006g-1Q-D", eid+"-D", 1)
		if err := os.WriteFile(filepath.Join(esub, eid+"-H"), []byte(hh), 0o640); err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(esub, eid+"-D"), []byte(dd), 0o640); err != nil {
			b.Fatal(err)
		}
	}
	return pf, ex
}

// BenchmarkScan reads whole queues of 1000 messages from disk (page cache).
func BenchmarkScan(b *testing.B) {
	const n = 1000
	pf, ex := queueDirs(b, n)
	for _, c := range []struct {
		name string
		dir  string
		kind Kind
	}{{"postfix", pf, KindPostfix}, {"exim", ex, KindExim}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				st, err := Scan(context.Background(), c.dir, c.kind, Options{}, func(*Queued) error { return nil })
				if err != nil || st.Read != n {
					b.Fatalf("%+v %v", st, err)
				}
			}
			b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "msgs/s")
		})
	}
}

// BenchmarkWatcherRescan is the steady state of mailrep run: a full scan of
// 1000 queued messages already handled and unchanged (a stat each).
func BenchmarkWatcherRescan(b *testing.B) {
	const n = 1000
	pf, ex := queueDirs(b, n)
	w := &Watcher{Dirs: []Dir{{pf, KindPostfix}, {ex, KindExim}}, Interval: time.Hour}
	w.files, w.handled, w.pending = map[string]*fileState{}, map[Key]uint64{}, map[string]bool{}
	handled := 0
	fn := func(context.Context, *Queued) error { handled++; return nil }
	w.fullScan(context.Background(), fn)
	if handled != 2*n {
		b.Fatalf("first scan handled %d", handled)
	}
	b.ReportAllocs()
	for b.Loop() {
		w.fullScan(context.Background(), fn)
	}
	if handled != 2*n {
		b.Fatalf("rescans handled %d more", handled-2*n)
	}
	b.ReportMetric(float64(b.N*2*n)/b.Elapsed().Seconds(), "msgs/s")
}
