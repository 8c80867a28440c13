package rules

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// HTML eval functions (SpamAssassin's HTMLEval plugin), over the facts the
// message package gathers while rendering each text/html part. When a
// message has several HTML parts their facts are merged, a later part's
// value replacing an earlier one's, as SpamAssassin keeps one set of HTML
// results per message.

func init() {
	register("html_test", argsExactly(1, func(env *evalEnv, a []string) (evalFunc, error) {
		name := a[0]
		return func(m *msgState) (float64, string) {
			if v, ok := m.htmlValue(name); ok && v != 0 {
				return 1, "HTML " + name
			}
			return 0, ""
		}, nil
	}))
	register("html_range", argsBetween(2, 3, func(env *evalEnv, a []string) (evalFunc, error) {
		name := a[0]
		lo, err := parseBound(a[1], math.Inf(-1))
		if err != nil {
			return nil, err
		}
		hi := math.Inf(1)
		if len(a) == 3 {
			if hi, err = parseBound(a[2], math.Inf(1)); err != nil {
				return nil, err
			}
		}
		return func(m *msgState) (float64, string) {
			v, ok := m.htmlValue(name)
			if ok && v > lo && v <= hi {
				return 1, fmt.Sprintf("%s %.3g", name, v)
			}
			return 0, ""
		}, nil
	}))
	register("html_eval", argsExactly(2, func(env *evalEnv, a []string) (evalFunc, error) {
		name := a[0]
		cmp, err := parseComparison(a[1])
		if err != nil {
			return nil, err
		}
		return func(m *msgState) (float64, string) {
			v, ok := m.htmlValue(name)
			if ok && cmp(v) {
				return 1, fmt.Sprintf("%s %.3g", name, v)
			}
			return 0, ""
		}, nil
	}))
	register("html_tag_exists", argsExactly(1, func(env *evalEnv, a []string) (evalFunc, error) {
		tag := strings.ToLower(a[0])
		return func(m *msgState) (float64, string) {
			if _, ok := m.htmlInside()[tag]; ok {
				return 1, "<" + tag + ">"
			}
			return 0, ""
		}, nil
	}))
	register("html_tag_balance", argsExactly(2, func(env *evalEnv, a []string) (evalFunc, error) {
		tag := strings.ToLower(a[0])
		cmp, err := parseComparison(a[1])
		if err != nil {
			return nil, err
		}
		return func(m *msgState) (float64, string) {
			n, ok := m.htmlInside()[tag]
			if ok && cmp(float64(n)) {
				return 1, fmt.Sprintf("<%s> balance %d", tag, n)
			}
			return 0, ""
		}, nil
	}))
	register("html_text_match", argsExactly(2, func(env *evalEnv, a []string) (evalFunc, error) {
		kind := a[0]
		switch kind {
		case "title", "comment", "script", "anchor":
		default:
			return nil, fmt.Errorf("unknown HTML text kind %q", kind)
		}
		re, err := CompileRegex("/" + a[1] + "/")
		if err != nil {
			return nil, err
		}
		return func(m *msgState) (float64, string) {
			for _, s := range m.htmlTexts(kind) {
				t := newText(s)
				if ok, _ := re.match(t); ok {
					return 1, snippet(re.find(t))
				}
			}
			return 0, ""
		}, nil
	}))
	register("html_image_only", argsExactly(2, func(env *evalEnv, a []string) (evalFunc, error) {
		lo, hi, err := parseRange(a[0], a[1])
		if err != nil {
			return nil, err
		}
		return func(m *msgState) (float64, string) {
			if _, img := m.htmlInside()["img"]; !img {
				return 0, ""
			}
			v, ok := m.htmlValue("length")
			if ok && v > lo && v <= hi {
				return 1, fmt.Sprintf("images and %.0f characters of HTML", v)
			}
			return 0, ""
		}, nil
	}))
	register("html_image_ratio", argsExactly(2, func(env *evalEnv, a []string) (evalFunc, error) {
		lo, hi, err := parseRange(a[0], a[1])
		if err != nil {
			return nil, err
		}
		return func(m *msgState) (float64, string) {
			area, ok := m.htmlValue("image_area")
			if !ok || area == 0 {
				return 0, ""
			}
			text, _ := m.htmlValue("non_space_len")
			r := text / area
			if r > lo && r <= hi {
				return 1, fmt.Sprintf("text/image area %.4f", r)
			}
			return 0, ""
		}, nil
	}))
	register("html_title_subject_ratio", argsExactly(1, func(env *evalEnv, a []string) (evalFunc, error) {
		min, err := strconv.ParseFloat(a[0], 64)
		if err != nil {
			return nil, err
		}
		return func(m *msgState) (float64, string) {
			subj := strings.TrimSpace(m.msg.First("Subject"))
			titles := m.htmlTexts("title")
			if subj == "" || len(titles) == 0 {
				return 0, ""
			}
			title := strings.TrimSpace(titles[0])
			if title == "" {
				return 0, ""
			}
			r := float64(len(title)) / float64(len(subj))
			if r > min {
				return 1, fmt.Sprintf("title/subject %.1f", r)
			}
			return 0, ""
		}, nil
	}))
	register("html_charset_faraway", argsExactly(0, func(env *evalEnv, a []string) (evalFunc, error) {
		okl := env.rs.okLocales
		return func(m *msgState) (float64, string) {
			for _, st := range m.msg.HTMLStats {
				for _, cs := range st.Charsets {
					if charsetFaraway(cs, okl) {
						return 1, cs
					}
				}
			}
			return 0, ""
		}, nil
	}))
	register("check_iframe_src", argsExactly(0, func(env *evalEnv, a []string) (evalFunc, error) {
		return func(m *msgState) (float64, string) {
			for _, st := range m.msg.HTMLStats {
				if st.IFrameSrc {
					return 1, "<iframe src>"
				}
			}
			return 0, ""
		}, nil
	}))
}

// htmlValue returns the merged value of an HTML fact.
func (m *msgState) htmlValue(name string) (float64, bool) {
	var v float64
	var found bool
	for i := range m.msg.HTMLStats {
		if x, ok := m.msg.HTMLStats[i].Value(name); ok {
			v, found = x, true
		}
	}
	return v, found
}

// htmlInside returns the merged tag counts.
func (m *msgState) htmlInside() map[string]int {
	if len(m.msg.HTMLStats) == 1 {
		return m.msg.HTMLStats[0].Inside
	}
	out := map[string]int{}
	for _, st := range m.msg.HTMLStats {
		for k, v := range st.Inside {
			out[k] = v
		}
	}
	return out
}

// htmlTexts returns the texts of one kind from all HTML parts.
func (m *msgState) htmlTexts(kind string) []string {
	var out []string
	for _, st := range m.msg.HTMLStats {
		switch kind {
		case "title":
			out = append(out, st.Titles...)
		case "comment":
			out = append(out, st.Comments...)
		case "script":
			out = append(out, st.Scripts...)
		case "anchor":
			for _, a := range st.Anchors {
				out = append(out, a.Text)
			}
		}
	}
	return out
}
