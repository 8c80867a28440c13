package rules

import (
	"strconv"
	"strings"
	"time"
)

var monthNames = map[string]time.Month{
	"jan": 1, "feb": 2, "mar": 3, "apr": 4, "may": 5, "jun": 6,
	"jul": 7, "aug": 8, "sep": 9, "oct": 10, "nov": 11, "dec": 12,
}

// zoneOffsets are the named zones of RFC 822 and a few common others, in
// minutes east of UTC.
var zoneOffsets = map[string]int{
	"ut": 0, "utc": 0, "gmt": 0, "z": 0, "wet": 0, "bst": 60, "cet": 60, "met": 60, "cest": 120, "mest": 120, "eet": 120,
	"est": -300, "edt": -240, "cst": -360, "cdt": -300, "mst": -420, "mdt": -360, "pst": -480, "pdt": -420,
	"hst": -600, "akst": -540, "akdt": -480, "jst": 540, "kst": 540, "ist": 330,
}

// parseMailDate reads an RFC 5322 date leniently: optional weekday, day,
// month name, two- or four-digit year, time with or without seconds and a
// numeric or named zone (UTC when missing or unknown), or the asctime
// order "Mon Jan  2 15:04:05 2006".
func parseMailDate(s string) (time.Time, bool) {
	if i := strings.IndexByte(s, '('); i >= 0 {
		s = s[:i]
	}
	f := strings.FieldsFunc(s, func(r rune) bool { return r == ' ' || r == '\t' || r == ',' || r == '\r' || r == '\n' })
	var day, year, hh, mm, ss int
	var mon time.Month
	zone := 0
	haveDay, haveYear, haveTime := false, false, false
	// order records which of day (d), month (m), year (y) and time (t)
	// came first, to accept only RFC 5322's "d m y t" and asctime's
	// "m d t y" (SpamAssassin does not read "Aug, 22 2002 8:02 AM").
	var order []byte
	for _, w := range f {
		lw := strings.ToLower(w)
		switch {
		case strings.Count(w, ":") >= 1 && !haveTime:
			parts := strings.Split(w, ":")
			if len(parts) < 2 || len(parts) > 3 {
				return time.Time{}, false
			}
			var err error
			if hh, err = strconv.Atoi(parts[0]); err != nil {
				return time.Time{}, false
			}
			if mm, err = strconv.Atoi(parts[1]); err != nil {
				return time.Time{}, false
			}
			if len(parts) == 3 {
				if ss, err = strconv.Atoi(strings.SplitN(parts[2], ".", 2)[0]); err != nil {
					return time.Time{}, false
				}
			}
			haveTime = true
			order = append(order, 't')
		case len(lw) >= 3 && monthNames[lw[:3]] != 0 && mon == 0 && !isWeekday(lw):
			mon = monthNames[lw[:3]]
			order = append(order, 'm')
		case (w[0] == '+' || w[0] == '-') && len(w) == 5 && allDigits(w[1:]):
			h, _ := strconv.Atoi(w[1:3])
			mi, _ := strconv.Atoi(w[3:5])
			zone = h*60 + mi
			if w[0] == '-' {
				zone = -zone
			}
		case allDigits(w):
			n, _ := strconv.Atoi(w)
			switch {
			case !haveDay && len(w) <= 2 && (mon == 0 || !haveYear):
				day, haveDay = n, true
				order = append(order, 'd')
			case !haveYear:
				year, haveYear = n, true
				order = append(order, 'y')
			}
		default:
			if off, ok := zoneOffsets[lw]; ok {
				zone = off
			}
		}
	}
	if !haveDay || !haveYear || mon == 0 || !haveTime {
		return time.Time{}, false
	}
	if o := string(order); o != "dmyt" && o != "mdty" {
		return time.Time{}, false
	}
	switch {
	case year < 50:
		year += 2000
	case year < 1000:
		year += 1900
	}
	if day < 1 || day > 31 || hh > 23 || mm > 59 || ss > 60 {
		return time.Time{}, false
	}
	t := time.Date(year, mon, day, hh, mm, ss, 0, time.UTC)
	return t.Add(-time.Duration(zone) * time.Minute), true
}

func isWeekday(w string) bool {
	switch w[:3] {
	case "mon", "tue", "wed", "thu", "fri", "sat", "sun":
		return true
	}
	return false
}

func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
