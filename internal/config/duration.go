package config

import (
	"errors"
	"math"
	"strconv"
	"strings"
	"time"
)

const day = 24 * time.Hour

var errDuration = errors.New("invalid duration")

// parseDuration parses Go duration syntax (time.ParseDuration) extended
// with the unit "d" for 24-hour days, e.g. "5d" or "1d12h".
func parseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if !strings.Contains(s, "d") {
		return time.ParseDuration(s)
	}
	rest := s
	neg := false
	if rest != "" && (rest[0] == '-' || rest[0] == '+') {
		neg = rest[0] == '-'
		rest = rest[1:]
	}
	if rest == "" {
		return 0, errDuration
	}
	var total time.Duration
	for rest != "" {
		i := 0
		for i < len(rest) && (rest[i] == '.' || '0' <= rest[i] && rest[i] <= '9') {
			i++
		}
		num := rest[:i]
		j := i
		for j < len(rest) && rest[j] != '.' && (rest[j] < '0' || rest[j] > '9') {
			j++
		}
		unit := rest[i:j]
		rest = rest[j:]
		if num == "" || unit == "" {
			return 0, errDuration
		}
		var part time.Duration
		if unit == "d" {
			h, err := time.ParseDuration(num + "h")
			if err != nil {
				return 0, err
			}
			if h > math.MaxInt64/24 {
				return 0, errDuration
			}
			part = h * 24
		} else {
			p, err := time.ParseDuration(num + unit)
			if err != nil {
				return 0, err
			}
			part = p
		}
		if total > math.MaxInt64-part {
			return 0, errDuration
		}
		total += part
	}
	if neg {
		total = -total
	}
	return total, nil
}

// formatDuration writes d the way a person would in the config file:
// whole days as "5d", otherwise Go syntax without trailing zero units
// ("1h", "1h30m", "90s").
func formatDuration(d time.Duration) string {
	if d >= 2*day && d%day == 0 {
		return strconv.FormatInt(int64(d/day), 10) + "d"
	}
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}
