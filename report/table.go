package report

import (
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/olekukonko/tablewriter"
	"github.com/olekukonko/tablewriter/renderer"
	"github.com/olekukonko/tablewriter/tw"

	"github.com/wasmgpu/wasmgpu/internal/stats"
	"github.com/wasmgpu/wasmgpu/results"
)

// Column is one column of a case table: a header and how to render a case.
type Column struct {
	Header string
	Value  func(results.Case) string
	// Right aligns the column to the right (numbers); text is left aligned.
	Right bool
}

// Standard columns. They format samples in the case's unit.
var (
	ColGroup   = Column{Header: "group", Value: func(c results.Case) string { return c.Group }}
	ColVariant = Column{Header: "variant", Value: func(c results.Case) string { return c.Variant }}
	ColN       = Column{Header: "n", Right: true, Value: func(c results.Case) string { return strconv.Itoa(Summary(c).N) }}
	ColMedian  = Column{Header: "median [95% CI]", Right: true, Value: func(c results.Case) string {
		return MedianCI(Summary(c), c.UnitOrDefault())
	}}
	ColP90 = statColumn("p90", func(s stats.Summary) float64 { return s.P90 })
	ColP99 = statColumn("p99", func(s stats.Summary) float64 { return s.P99 })
	ColMin = statColumn("min", func(s stats.Summary) float64 { return s.Min })
	ColMax = statColumn("max", func(s stats.Summary) float64 { return s.Max })
	// ColWarmup shows the warm-up samples (cold start first), apart from
	// the timed ones.
	ColWarmup = Column{Header: "warm-up", Right: true, Value: func(c results.Case) string {
		parts := make([]string, len(c.Warmup))
		for i, x := range c.Warmup {
			parts[i] = Value(x, c.UnitOrDefault())
		}
		return strings.Join(parts, " ")
	}}
)

// Summary returns c.Summary, or computes it from c.Samples when the
// driver left it unset (N == 0 although there are samples).
func Summary(c results.Case) stats.Summary {
	if c.Summary.N == 0 && c.Summary.NonFinite == 0 && len(c.Samples) > 0 {
		return stats.Summarize(c.Samples)
	}
	return c.Summary
}

// statColumn shows one statistic of a case's summary, "-" with no samples.
func statColumn(header string, get func(stats.Summary) float64) Column {
	return Column{Header: header, Right: true, Value: func(c results.Case) string {
		s := Summary(c)
		if s.N == 0 {
			return "-"
		}
		return Value(get(s), c.UnitOrDefault())
	}}
}

// DefaultColumns are the columns Table uses when given none.
var DefaultColumns = []Column{ColGroup, ColVariant, ColN, ColMedian, ColP90, ColP99}

// MetricColumn shows Case.Metrics[key] with format, or "-" where the case
// has no such metric. Use Duration, Bytes or a fmt-based func for format.
func MetricColumn(header, key string, format func(float64) string) Column {
	return Column{Header: header, Right: true, Value: func(c results.Case) string {
		v, ok := c.Metrics[key]
		if !ok {
			return "-"
		}
		return format(v)
	}}
}

// LabelColumn shows Case.Labels[key], or "-" where it is missing.
func LabelColumn(header, key string) Column {
	return Column{Header: header, Value: func(c results.Case) string {
		if v, ok := c.Labels[key]; ok {
			return v
		}
		return "-"
	}}
}

// Table writes one row per case of f with the given columns (DefaultColumns
// when cols is empty): a box-drawn table for terminals, or a GitHub
// Markdown table when markdown is set.
func Table(w io.Writer, f *results.File, cols []Column, markdown bool) error {
	if f == nil {
		return fmt.Errorf("report: table: nil result file")
	}
	if len(cols) == 0 {
		cols = DefaultColumns
	}
	rows := make([][]string, len(f.Cases))
	for i, c := range f.Cases {
		rows[i] = make([]string, len(cols))
		for j, col := range cols {
			if col.Value != nil {
				rows[i][j] = col.Value(c)
			}
		}
	}
	header := make([]string, len(cols))
	right := make([]bool, len(cols))
	for j, col := range cols {
		header[j], right[j] = col.Header, col.Right
	}
	return RenderTable(w, header, rows, right, markdown)
}

// RenderTable writes a table of strings. right[j] right-aligns column j
// (right may be shorter than header). In Markdown mode, '|' in cells is
// escaped so it cannot split a cell.
func RenderTable(w io.Writer, header []string, rows [][]string, right []bool, markdown bool) error {
	aligns := make([]tw.Align, len(header))
	for j := range aligns {
		aligns[j] = tw.AlignLeft
		if j < len(right) && right[j] {
			aligns[j] = tw.AlignRight
		}
	}
	opts := []tablewriter.Option{
		tablewriter.WithHeaderAutoFormat(tw.Off),
		tablewriter.WithHeaderAlignment(tw.AlignLeft),
		tablewriter.WithRowAlignmentConfig(tw.CellAlignment{PerColumn: aligns}),
		tablewriter.WithRowAutoWrap(tw.WrapNone),
		tablewriter.WithHeaderAutoWrap(tw.WrapNone),
	}
	if markdown {
		opts = append(opts, tablewriter.WithRenderer(renderer.NewMarkdown()))
		header = escapeRow(header)
		esc := make([][]string, len(rows))
		for i, r := range rows {
			esc[i] = escapeRow(r)
		}
		rows = esc
	} else {
		opts = append(opts, tablewriter.WithRenderer(renderer.NewBlueprint(tw.Rendition{
			Symbols: tw.NewSymbols(tw.StyleLight),
		})))
	}
	t := tablewriter.NewTable(w, opts...)
	t.Header(header)
	for _, r := range rows {
		if err := t.Append(r); err != nil {
			return fmt.Errorf("report: table row: %w", err)
		}
	}
	if err := t.Render(); err != nil {
		return fmt.Errorf("report: render table: %w", err)
	}
	return nil
}

func escapeRow(r []string) []string {
	out := make([]string, len(r))
	for i, s := range r {
		out[i] = strings.ReplaceAll(s, "|", `\|`)
	}
	return out
}
