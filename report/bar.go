package report

import (
	"fmt"
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// BarSeries is one set of bars of a BarPlot: one value per group.
type BarSeries struct {
	Name   string
	Values []float64 // len(BarSpec.Groups) values; NaN or ±Inf draws no bar
}

// BarSpec describes a grouped bar figure: for every group on the x axis
// (e.g. a case), one bar per series (e.g. a variant) side by side.
type BarSpec struct {
	Title, XLabel, YLabel string
	Groups                []string
	Series                []BarSeries
	// Format labels each bar with its value; nil uses three significant
	// digits. Labels make bars too small to see (a zero-copy RSS delta
	// next to a copy's) readable.
	Format func(float64) string
}

// BarPlot draws p to path+".png" and path+".svg" (path without extension;
// parent directories are created). Negative values (a shrinking RSS) draw
// bars below zero. The y axis includes zero; each bar's label is written
// along the bar, so neighbours' labels never overlap.
func BarPlot(path string, p BarSpec) error {
	if len(p.Groups) == 0 || len(p.Series) == 0 {
		return fmt.Errorf("report: bar plot %s: no groups or no series", path)
	}
	fig := newFigure(p.Title, p.XLabel, p.YLabel)
	plt := fig.plt
	plt.NominalX(p.Groups...)

	// Bars of a group share 80% of the group's share of the plot width.
	area := FigWidth - 3*vg.Inch // less the legend strip and the axis
	width := area / vg.Length(len(p.Groups)) * 0.8 / vg.Length(len(p.Series))
	if width > vg.Points(40) {
		width = vg.Points(40)
	}
	drawn := 0
	for i, s := range p.Series {
		if len(s.Values) != len(p.Groups) {
			return fmt.Errorf("report: bar plot %s: series %q has %d values for %d groups", path, s.Name, len(s.Values), len(p.Groups))
		}
		vals := make(plotter.Values, len(s.Values))
		for j, v := range s.Values {
			if !math.IsNaN(v) && !math.IsInf(v, 0) {
				vals[j] = v
				drawn++
			}
		}
		bars, err := plotter.NewBarChart(vals, width)
		if err != nil {
			return fmt.Errorf("report: bar plot %s: series %q: %w", path, s.Name, err)
		}
		bars.Color = plotutil.Color(i)
		bars.LineStyle.Width = vg.Points(0.5)
		bars.Offset = (vg.Length(i) - vg.Length(len(p.Series)-1)/2) * width
		plt.Add(bars, &barLabels{values: s.Values, offset: bars.Offset, format: p.Format})
		fig.addLegend(s.Name, bars)
	}
	if drawn == 0 {
		return fmt.Errorf("report: bar plot %s: no finite values", path)
	}
	plt.Y.Min, plt.Y.Max = math.Min(plt.Y.Min, 0), math.Max(plt.Y.Max, 0)
	padRange(&plt.Y, false)
	// Headroom for the labels along the bars: the longest label's length
	// in data units, above the top (and below the bottom for negative
	// bars).
	room := labelRoom(p, plt)
	if plt.Y.Min < 0 {
		plt.Y.Min -= room
	}
	plt.Y.Max += room
	plt.X.Min, plt.X.Max = -0.5, float64(len(p.Groups))-0.5
	return fig.save(path)
}

// labelRoom estimates the data-space height a bar label needs, for labels
// of 8-point text written vertically on a plot FigHeight tall.
func labelRoom(p BarSpec, plt *plot.Plot) float64 {
	longest := 0
	for _, s := range p.Series {
		for _, v := range s.Values {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				continue
			}
			longest = max(longest, len([]rune(barLabel(v, p.Format))))
		}
	}
	// ≈ 0.55 em per character at 8 points, plus a gap; the data area is
	// about 70% of the figure's height.
	need := vg.Points(8*0.55*float64(longest) + 6)
	span := plt.Y.Max - plt.Y.Min
	return span * float64(need) / float64(FigHeight*0.7-need)
}

func barLabel(v float64, format func(float64) string) string {
	if format != nil {
		return format(v)
	}
	return sig3(v)
}

// barLabels writes each bar's value just above (or, for negative values,
// below) the bar, rotated to run along it.
type barLabels struct {
	values []float64
	offset vg.Length
	format func(float64) string
}

func (b *barLabels) Plot(c draw.Canvas, plt *plot.Plot) {
	trX, trY := plt.Transforms(&c)
	ts := plt.X.Tick.Label
	ts.Font.Size = vg.Points(8)
	ts.Rotation = math.Pi / 2 // along the bar: as wide as one line of text
	ts.YAlign = draw.YCenter
	for i, v := range b.values {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			continue
		}
		pt := vg.Point{X: trX(float64(i)) + b.offset, Y: trY(v)}
		if v >= 0 {
			ts.XAlign = draw.XLeft
			pt.Y += vg.Points(3)
		} else {
			ts.XAlign = draw.XRight
			pt.Y -= vg.Points(3)
		}
		c.FillText(ts, pt, barLabel(v, b.format))
	}
}
