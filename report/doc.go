// Package report turns result files into what people read: terminal and
// Markdown tables, PNG and SVG figures, and a benchstat-style comparison of
// two runs that says whether a difference is real.
//
// Tables are rendered with tablewriter, figures with gonum/plot. Nothing here
// computes experiment logic; it formats what results and stats provide.
package report
