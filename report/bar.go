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
// bars below zero.
func BarPlot(path string, p BarSpec) error {
	if len(p.Groups) == 0 || len(p.Series) == 0 {
		return fmt.Errorf("report: bar plot %s: no groups or no series", path)
	}
	plt := plot.New()
	setLabels(plt, p.Title, p.XLabel, p.YLabel)
	plt.NominalX(p.Groups...)

	// Bars of a group share 80% of the group's share of the plot width.
	area := FigWidth - vg.Inch
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
		if s.Name != "" {
			plt.Legend.Add(s.Name, bars)
		}
	}
	if drawn == 0 {
		return fmt.Errorf("report: bar plot %s: no finite values", path)
	}
	if plt.Y.Min > 0 {
		plt.Y.Min = 0
	}
	padRange(&plt.Y, false)
	// Headroom for labels and legend; room below only for negative bars.
	below := 0.0
	if plt.Y.Min < 0 {
		below = 0.05
	}
	margin(&plt.Y, false, below, 0.15)
	plt.X.Min, plt.X.Max = -0.5, float64(len(p.Groups))-0.5
	plt.Legend.Top = true
	plt.Legend.Left = true
	plt.Legend.XOffs = vg.Points(8)
	plt.Legend.YOffs = -vg.Points(4)
	return save(plt, path)
}

// barLabels writes each bar's value just above (or, for negative values,
// below) the bar.
type barLabels struct {
	values []float64
	offset vg.Length
	format func(float64) string
}

func (b *barLabels) Plot(c draw.Canvas, plt *plot.Plot) {
	trX, trY := plt.Transforms(&c)
	ts := plt.X.Tick.Label
	ts.Font.Size = vg.Points(8)
	ts.XAlign = draw.XCenter
	for i, v := range b.values {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			continue
		}
		label := sig3(v)
		if b.format != nil {
			label = b.format(v)
		}
		pt := vg.Point{X: trX(float64(i)) + b.offset, Y: trY(v)}
		if v >= 0 {
			ts.YAlign = draw.YBottom
			pt.Y += vg.Points(2)
		} else {
			ts.YAlign = draw.YTop
			pt.Y -= vg.Points(2)
		}
		c.FillText(ts, pt, label)
	}
}
