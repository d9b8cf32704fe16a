package report

import (
	"encoding/csv"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/olekukonko/tablewriter"
	"github.com/olekukonko/tablewriter/renderer"
	"github.com/olekukonko/tablewriter/tw"

	"github.com/wasmgpu/wasmgpu/internal/stats"
	"github.com/wasmgpu/wasmgpu/results"
)

// Format is how a table is written.
type Format int

// The table formats. Terminal leaves detail columns out so the table fits
// 100 columns; the result's Markdown file and CSV have every column.
const (
	Terminal Format = iota // box-drawn, for a terminal
	Markdown               // GitHub Markdown
	CSV                    // comma-separated values, RFC 4180
)

// ParseFormat parses a -format value: "table", "md" or "csv".
func ParseFormat(s string) (Format, error) {
	switch s {
	case "table", "":
		return Terminal, nil
	case "md", "markdown":
		return Markdown, nil
	case "csv":
		return CSV, nil
	}
	return 0, fmt.Errorf("unknown table format %q (want table, md, csv or json)", s)
}

// Column is one column of a case table: a header and how to render a case.
type Column struct {
	Header string
	Value  func(results.Case) string
	// Right aligns the column to the right (numbers); text is left aligned.
	Right bool
	// Detail marks a column the terminal table leaves out.
	Detail bool
}

// Detailed returns c marked as a detail column.
func (c Column) Detailed() Column {
	c.Detail = true
	return c
}

// Standard columns. They format samples in the case's unit.
var (
	ColGroup   = Column{Header: "group", Value: func(c results.Case) string { return c.Group }}
	ColVariant = Column{Header: "variant", Value: func(c results.Case) string { return c.Variant }}
	ColN       = Column{Header: "n", Right: true, Value: func(c results.Case) string { return strconv.Itoa(Summary(c).N) }}
	ColMedian  = Column{Header: "median [95% CI]", Right: true, Value: func(c results.Case) string {
		return MedianCI(Summary(c), c.UnitOrDefault())
	}}
	// ColMedianPM is the median with its 95% CI as ± the larger distance
	// to a bound, in percent, as benchstat prints it: "4.56ms ±2%".
	ColMedianPM = Column{Header: "median ±95% CI", Right: true, Value: func(c results.Case) string {
		return MedianPM(Summary(c), c.UnitOrDefault())
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
// when cols is empty) in format.
func Table(w io.Writer, f *results.File, cols []Column, format Format) error {
	if f == nil {
		return fmt.Errorf("report: table: nil result file")
	}
	if len(cols) == 0 {
		cols = DefaultColumns
	}
	var g Grid
	for _, col := range cols {
		g.Header = append(g.Header, col.Header)
		g.Right = append(g.Right, col.Right)
		g.Detail = append(g.Detail, col.Detail)
	}
	for _, c := range f.Cases {
		row := make([]string, len(cols))
		for j, col := range cols {
			if col.Value != nil {
				row[j] = col.Value(c)
			}
		}
		g.Rows = append(g.Rows, row)
	}
	return g.Render(w, format)
}

// Grid is a table of strings: a header, rows, and per column whether it is
// right-aligned (numbers) and a detail the terminal format leaves out.
// Right and Detail may be shorter than Header.
type Grid struct {
	Header        []string
	Rows          [][]string
	Right, Detail []bool
}

// Render writes g in format: plain aligned columns for a terminal (detail
// columns left out), a GitHub Markdown table, or CSV. In Markdown, '|' in cells is escaped so it
// cannot split a cell.
func (g Grid) Render(w io.Writer, format Format) error {
	if format == Terminal {
		g = g.withoutDetail()
	}
	if format == CSV {
		cw := csv.NewWriter(w)
		cw.Write(g.Header)
		cw.WriteAll(g.Rows)
		if err := cw.Error(); err != nil {
			return fmt.Errorf("report: write csv: %w", err)
		}
		return nil
	}
	if format == Terminal {
		return g.plain(w)
	}
	header := escapeRow(g.Header)
	aligns := make([]tw.Align, len(header))
	for j := range aligns {
		aligns[j] = tw.AlignLeft
		if j < len(g.Right) && g.Right[j] {
			aligns[j] = tw.AlignRight
		}
	}
	opts := []tablewriter.Option{
		tablewriter.WithHeaderAutoFormat(tw.Off),
		tablewriter.WithHeaderAlignment(tw.AlignLeft),
		tablewriter.WithRowAlignmentConfig(tw.CellAlignment{PerColumn: aligns}),
		tablewriter.WithRowAutoWrap(tw.WrapNone),
		tablewriter.WithHeaderAutoWrap(tw.WrapNone),
		tablewriter.WithRenderer(renderer.NewMarkdown()),
	}
	t := tablewriter.NewTable(w, opts...)
	t.Header(header)
	for _, r := range g.Rows {
		if err := t.Append(escapeRow(r)); err != nil {
			return fmt.Errorf("report: table row: %w", err)
		}
	}
	if err := t.Render(); err != nil {
		return fmt.Errorf("report: render table: %w", err)
	}
	return nil
}

// plain writes g for a terminal as benchstat does: columns two spaces
// apart, the header underlined, no borders, so more fits in 100 columns.
func (g Grid) plain(w io.Writer) error {
	width := make([]int, len(g.Header))
	for j, h := range g.Header {
		width[j] = utf8.RuneCountInString(h)
	}
	for _, r := range g.Rows {
		for j, cell := range r {
			if j < len(width) {
				width[j] = max(width[j], utf8.RuneCountInString(cell))
			}
		}
	}
	var b strings.Builder
	line := func(cells []string) {
		for j := range width {
			cell := ""
			if j < len(cells) {
				cell = cells[j]
			}
			pad := strings.Repeat(" ", width[j]-utf8.RuneCountInString(cell))
			if j > 0 {
				b.WriteString("  ")
			}
			if j < len(g.Right) && g.Right[j] {
				b.WriteString(pad + cell)
			} else if j < len(width)-1 {
				b.WriteString(cell + pad)
			} else {
				b.WriteString(cell)
			}
		}
		b.WriteString("\n")
	}
	line(g.Header)
	rule := make([]string, len(width))
	for j := range rule {
		rule[j] = strings.Repeat("─", width[j])
	}
	line(rule)
	for _, r := range g.Rows {
		line(r)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// withoutDetail drops the detail columns.
func (g Grid) withoutDetail() Grid {
	keep := func(j int) bool { return j >= len(g.Detail) || !g.Detail[j] }
	var out Grid
	for j, h := range g.Header {
		if keep(j) {
			out.Header = append(out.Header, h)
			out.Right = append(out.Right, j < len(g.Right) && g.Right[j])
		}
	}
	for _, r := range g.Rows {
		var row []string
		for j, cell := range r {
			if keep(j) {
				row = append(row, cell)
			}
		}
		out.Rows = append(out.Rows, row)
	}
	return out
}

func escapeRow(r []string) []string {
	out := make([]string, len(r))
	for i, s := range r {
		out[i] = strings.ReplaceAll(s, "|", `\|`)
	}
	return out
}
