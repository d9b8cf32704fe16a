// Package results defines the result file every experiment writes and the
// tools to write, read and re-export it.
//
// A result file is one JSON document (File, schema 2): the spec that
// produced it (whole text and hash), the provenance of the run (commit,
// toolchain, host environment, device, memory mode, weights, profile and
// overrides), one Case per measured configuration with its raw warm-up and
// timed samples, the repetition each sample belongs to, their summary and
// any correctness or memory metrics, and the correctness checks that failed.
// Raw samples are always kept, so any statistic can be recomputed later;
// summaries are recomputed when a file is read. Numeric fields hold numbers
// or null (a note says which values were not finite); Load still reads
// schema-1 files, upgrading them.
//
// Files are written atomically (internal/atomicfile), mode 0644, so an
// interrupted run never leaves a truncated file in results/, and can be
// exported to the Go benchmark format (WriteBenchfmt) for benchstat. A
// Noise file calibrates compare's judgement of run-to-run differences.
package results
