package rules

import (
	"bytes"
	"context"
	"os"
	"runtime"
	"sort"
	"testing"
	"time"

	"github.com/mailrep/mailrep/internal/testenv"
	"github.com/mailrep/mailrep/scoring/message"
)

// BenchmarkCheckCorpus parses and checks every corpus message with
// SpamAssassin's stock ruleset on one CPU (GOMAXPROCS=1), and reports
// messages per second and the 99th percentile time per message.
func BenchmarkCheckCorpus(b *testing.B) {
	testenv.NeedProgram(b, "spamassassin", "spamassassin") // the stock rules come with it
	prev := runtime.GOMAXPROCS(1)
	defer runtime.GOMAXPROCS(prev)
	rs, _, err := Load(stockRuleDirs...)
	if err != nil {
		b.Fatal(err)
	}
	var msgs [][]byte
	for _, f := range corpusMessages(b) {
		data, err := os.ReadFile(f)
		if err != nil {
			b.Fatal(err)
		}
		msgs = append(msgs, data)
	}
	ctx := context.Background()
	times := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		m, err := message.Parse(ctx, bytes.NewReader(msgs[i%len(msgs)]), message.Limits{})
		if err != nil {
			b.Fatal(err)
		}
		rs.Check(ctx, m, nil)
		times = append(times, time.Since(start))
	}
	b.StopTimer()
	var total time.Duration
	for _, d := range times {
		total += d
	}
	sort.Slice(times, func(i, j int) bool { return times[i] < times[j] })
	b.ReportMetric(float64(len(times))/total.Seconds(), "msgs/s")
	b.ReportMetric(float64(times[len(times)*99/100].Microseconds())/1000, "p99-ms")
}
