// Package stats summarizes latency samples and compares two sets of samples
// the way benchstat does.
//
// Centers are medians with a distribution-free 95% confidence interval
// (order statistics, computed by golang.org/x/perf/benchmath), and two sample
// sets are compared with the Mann-Whitney U test. Benchmark latencies are
// rarely normal (long right tails, bimodal caches), so nothing here assumes
// normality; the mean and standard deviation are reported for completeness
// only.
//
// Nothing in this package panics on bad input: empty sample sets, samples
// that are all equal and non-finite values (NaN, ±Inf) all produce documented
// results with a warning attached.
package stats
