package rbl

import "testing"

func TestParseTargetsNumericTLD(t *testing.T) {
	for _, bad := range []string{"300.1.1.1", "192.0.2", "mail.123"} {
		if _, err := ParseTargets([]string{bad}); err == nil {
			t.Errorf("%q accepted as a target", bad)
		}
	}
	if ts, err := ParseTargets([]string{"123.example", "mail.example.com"}); err != nil || len(ts) != 2 || ts[0].IsIP() {
		t.Errorf("domains with numeric labels: %v %v", ts, err)
	}
}
