package rules

import (
	"sort"
)

// LintReport says what Load read: how many rules loaded by kind, and every
// rule it could not use with the reason.
type LintReport struct {
	// FilesRead counts rule files read (includes excluded).
	FilesRead int `json:"files_read"`
	// Files lists the directories read.
	Files []string `json:"directories,omitempty"`
	// Plugins lists the plugins the files asked to load.
	Plugins []string `json:"plugins_requested,omitempty"`
	// Loaded counts usable rules by kind; eval rules count under "eval".
	Loaded map[string]int `json:"loaded"`
	// LoadedTotal is the number of usable rules.
	LoadedTotal int `json:"loaded_total"`
	// Regex counts pattern rules by engine.
	Regex RegexStats `json:"regex"`
	// Skipped lists rules that could not be loaded.
	Skipped []Finding `json:"skipped"`
	// Dropped lists rules left out of the no-network, no-Bayes score set
	// (tflags net or learn, network or Bayes evals, metas depending only
	// on those).
	Dropped []Finding `json:"dropped"`
	// NetFlaggedKept names rules with tflags net or learn that make no
	// network or Bayes test themselves and are kept, as SpamAssassin -L
	// runs them (a meta dropped for its inputs is listed in Dropped).
	NetFlaggedKept []string `json:"net_flagged_kept,omitempty"`
	// Problems lists malformed lines and conditionals.
	Problems []Finding `json:"problems"`
	// Ignored summarises directives read but not used, by directive and
	// reason.
	Ignored []Ignored `json:"ignored"`

	ignoredIdx map[[2]string]int
}

// RegexStats counts the pattern rules by how their regex runs.
type RegexStats struct {
	// RE2 patterns run by Go's regexp alone (exact translation).
	RE2 int `json:"re2"`
	// Backtracking patterns need look-around, back-references or atomic
	// groups: an RE2 prefilter plus the bounded backtracking engine.
	Backtracking int `json:"backtracking"`
	// Features counts the Perl features behind Backtracking.
	Features map[string]int `json:"features,omitempty"`
	// Unsupported patterns could not be translated at all.
	Unsupported int `json:"unsupported"`
}

// Finding is one rule or line Load reports.
type Finding struct {
	Source Source `json:"source"`
	Rule   string `json:"rule,omitempty"`
	Kind   string `json:"kind,omitempty"`
	Reason string `json:"reason"`
}

// Ignored is a directive read and ignored, with how often.
type Ignored struct {
	Directive string `json:"directive"`
	Reason    string `json:"reason"`
	Count     int    `json:"count"`
	First     Source `json:"first"`
}

func newLintReport() *LintReport {
	return &LintReport{
		Loaded:     map[string]int{},
		Regex:      RegexStats{Features: map[string]int{}},
		Skipped:    []Finding{},
		Dropped:    []Finding{},
		Problems:   []Finding{},
		Ignored:    []Ignored{},
		ignoredIdx: map[[2]string]int{},
	}
}

func (r *LintReport) skip(src Source, rule, kind, reason string) {
	r.Skipped = append(r.Skipped, Finding{Source: src, Rule: rule, Kind: kind, Reason: reason})
}

func (r *LintReport) drop(src Source, rule, kind, reason string) {
	r.Dropped = append(r.Dropped, Finding{Source: src, Rule: rule, Kind: kind, Reason: reason})
}

func (r *LintReport) problem(src Source, rule, reason string) {
	r.Problems = append(r.Problems, Finding{Source: src, Rule: rule, Reason: reason})
}

func (r *LintReport) ignore(src Source, directive, reason string) {
	if reason == "" {
		reason = "directive not used by mailrep"
	}
	k := [2]string{directive, reason}
	if i, ok := r.ignoredIdx[k]; ok {
		r.Ignored[i].Count++
		return
	}
	r.ignoredIdx[k] = len(r.Ignored)
	r.Ignored = append(r.Ignored, Ignored{Directive: directive, Reason: reason, Count: 1, First: src})
}

// sortFindings orders the lists by file and line.
func (r *LintReport) sortFindings() {
	for _, l := range [][]Finding{r.Skipped, r.Dropped, r.Problems} {
		sort.SliceStable(l, func(i, j int) bool {
			if l[i].Source.File != l[j].Source.File {
				return l[i].Source.File < l[j].Source.File
			}
			return l[i].Source.Line < l[j].Source.Line
		})
	}
	sort.SliceStable(r.Ignored, func(i, j int) bool { return r.Ignored[i].Count > r.Ignored[j].Count })
}

// SkipReasons counts skipped rules by reason class (the text before the
// first colon), for summaries.
func (r *LintReport) SkipReasons() map[string]int {
	out := map[string]int{}
	for _, f := range r.Skipped {
		out[reasonClass(f.Reason)]++
	}
	return out
}

// DropReasons counts dropped rules by reason class.
func (r *LintReport) DropReasons() map[string]int {
	out := map[string]int{}
	for _, f := range r.Dropped {
		out[reasonClass(f.Reason)]++
	}
	return out
}

func reasonClass(s string) string {
	for i := 0; i < len(s); i++ {
		if s[i] == ':' {
			return s[:i]
		}
	}
	return s
}
