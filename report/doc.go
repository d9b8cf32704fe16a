// Package report turns result files into what people read: terminal,
// Markdown and CSV tables, PNG and SVG figures, and a benchstat-style
// comparison of runs that says whether a difference is real (Compare: the
// repetition is the unit, changes are measured on the fastest repetition
// and judged against the calibrated run-to-run noise).
//
// Tables are rendered with tablewriter (Markdown) or as plain aligned
// columns (terminal), figures with gonum/plot. Nothing here computes
// experiment logic; it formats what results and stats provide.
package report
