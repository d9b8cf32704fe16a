// Package results defines the result file every experiment writes and the
// tools to write, read and re-export it.
//
// A result file is one JSON document (File): the spec that produced it
// (whole text and hash), the provenance of the run (commit, toolchain, host,
// device, memory mode, weights), and one Case per measured configuration with
// its raw warm-up and timed samples, their summary and any correctness or
// memory metrics. Raw samples are always kept, so any statistic can be
// recomputed later; summaries are stored for convenience only.
//
// Files are written atomically (WriteAtomic) so an interrupted run never
// leaves a truncated file in results/, and can be exported to the Go
// benchmark format (WriteBenchfmt) for benchstat.
package results
