// Package rules owns mailrep's explainable rules engine: the loader of
// SpamAssassin .cf rule files (a documented subset: header, body, rawbody,
// uri, full, meta, mimeheader and a curated set of eval built-ins), the
// translation of their Perl regular expressions to Go's RE2 with a
// time-bounded backtracking fallback, the lint report of what was loaded and
// what was skipped and why, and the evaluation of a parsed message into a
// Verdict that names every rule hit, its score and where it matched.
//
// Only the no-network, no-Bayes score set (SpamAssassin's set 0) is used:
// mailrep never queries DNS or a learning database while scoring, so rules
// that need either are dropped at load time and listed in the lint report.
package rules
