package report

import (
	"fmt"
	"image/color"
	"math"
	"slices"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgsvg"

	"github.com/wasmgpu/wasmgpu/results"
)

// Figure size and resolution: 8×5 in at 150 dpi is 1200×750 pixels, readable
// on a screen and in a paper column.
const (
	FigWidth  = 8 * vg.Inch
	FigHeight = 5 * vg.Inch
	FigDPI    = 150
)

// Series is one line of a LinePlot. Lo and Hi, when not nil, are absolute
// bounds of an error bar per point (e.g. the CI of a median); a point whose
// bounds are not finite gets no bar.
type Series struct {
	Name   string
	X, Y   []float64
	Lo, Hi []float64
	// Points draws markers only, no line between them (a scatter).
	Points bool
}

// VLine is a labelled vertical marker, e.g. where two series cross.
type VLine struct {
	X     float64
	Label string
}

// LineSpec describes a line figure. A linear y axis starts at zero (a
// cut axis makes a 5% change look dramatic); a logarithmic one says so in
// its label.
type LineSpec struct {
	Title, XLabel, YLabel string
	LogX, LogY            bool // logarithmic axes
	// XTicks, if set, puts labelled ticks at exactly these x values (e.g.
	// the matrix sizes measured) instead of the automatic ones.
	XTicks []float64
	Series []Series
	VLine  *VLine // optional
}

// LinePlot draws p to path+".png" and path+".svg" (path has no extension;
// parent directories are created). Each series gets its own color, marker
// and dash pattern, and a legend entry.
//
// Points that cannot be drawn are dropped: non-finite coordinates, and
// coordinates ≤ 0 on a log axis. It is an error if nothing is left to draw.
func LinePlot(path string, p LineSpec) error {
	fig := newFigure(p.Title, axisLabel(p.XLabel, p.LogX), axisLabel(p.YLabel, p.LogY))
	plt := fig.plt
	if p.LogX {
		plt.X.Scale, plt.X.Tick.Marker = plot.LogScale{}, logTicks{}
	}
	if p.LogY {
		plt.Y.Scale, plt.Y.Tick.Marker = plot.LogScale{}, logTicks{}
	}
	if len(p.XTicks) > 0 {
		plt.X.Tick.Marker = constTicks(p.XTicks, p.LogX)
	}

	points := 0
	for i, s := range p.Series {
		if len(s.Y) != len(s.X) || (s.Lo != nil && len(s.Lo) != len(s.X)) || (s.Hi != nil && len(s.Hi) != len(s.X)) {
			return fmt.Errorf("report: plot %s: series %q: X, Y, Lo, Hi lengths differ", path, s.Name)
		}
		xys, errs := seriesPoints(s, p.LogX, p.LogY)
		if len(xys) == 0 {
			continue
		}
		points += len(xys)
		line, scatter, err := plotter.NewLinePoints(xys)
		if err != nil {
			return fmt.Errorf("report: plot %s: series %q: %w", path, s.Name, err)
		}
		c := plotutil.Color(i)
		line.Color = c
		line.Width = vg.Points(1.5)
		line.Dashes = plotutil.Dashes(i)
		scatter.Color = c
		scatter.Shape = plotutil.Shape(i)
		scatter.Radius = vg.Points(3.5)
		if s.Points {
			plt.Add(scatter)
		} else {
			plt.Add(line, scatter)
		}
		if len(errs.xys) > 0 {
			eb, err := plotter.NewYErrorBars(errs)
			if err != nil {
				return fmt.Errorf("report: plot %s: series %q error bars: %w", path, s.Name, err)
			}
			eb.Color = c
			eb.Width = vg.Points(1)
			plt.Add(eb)
		}
		if s.Points {
			fig.addLegend(s.Name, scatter)
		} else {
			fig.addLegend(s.Name, line, scatter)
		}
	}
	if points == 0 {
		return fmt.Errorf("report: plot %s: no drawable points", path)
	}
	if p.VLine != nil && !math.IsNaN(p.VLine.X) && !math.IsInf(p.VLine.X, 0) && (!p.LogX || p.VLine.X > 0) {
		plt.Add(&vline{VLine: *p.VLine})
	}
	if !p.LogY && plt.Y.Min > 0 {
		plt.Y.Min = 0
	}
	padRange(&plt.X, p.LogX)
	padRange(&plt.Y, p.LogY)
	margin(&plt.X, p.LogX, 0.03, 0.03)
	margin(&plt.Y, p.LogY, map[bool]float64{true: 0.03, false: 0}[p.LogY || plt.Y.Min < 0], 0.08) // room for the marker's label
	return fig.save(path)
}

// axisLabel adds "log" to the label of a logarithmic axis: "time (ms)"
// becomes "time (ms, log)". Keep y labels short (about 30 characters):
// gonum/plot shrinks the data area to fit a long rotated label.
func axisLabel(label string, log bool) string {
	if !log || label == "" {
		return label
	}
	if strings.HasSuffix(label, ")") {
		return strings.TrimSuffix(label, ")") + ", log)"
	}
	return label + " (log)"
}

// errPoints are the points of a series that have finite error bars, with
// bars as offsets from Y, as plotter.NewYErrorBars wants them.
type errPoints struct {
	xys  plotter.XYs
	errs plotter.YErrors
}

func (e errPoints) Len() int                        { return len(e.xys) }
func (e errPoints) XY(i int) (float64, float64)     { return e.xys[i].X, e.xys[i].Y }
func (e errPoints) YError(i int) (float64, float64) { return e.errs[i].Low, e.errs[i].High }

// seriesPoints returns the drawable points of s and their error bars.
func seriesPoints(s Series, logX, logY bool) (plotter.XYs, errPoints) {
	ok := func(v float64, log bool) bool {
		return !math.IsNaN(v) && !math.IsInf(v, 0) && (!log || v > 0)
	}
	var xys plotter.XYs
	var eps errPoints
	for i := range s.X {
		x, y := s.X[i], s.Y[i]
		if !ok(x, logX) || !ok(y, logY) {
			continue
		}
		xys = append(xys, plotter.XY{X: x, Y: y})
		if s.Lo == nil || s.Hi == nil {
			continue
		}
		lo, hi := s.Lo[i], s.Hi[i]
		if !ok(lo, logY) || !ok(hi, logY) || lo > y || hi < y {
			continue
		}
		eps.xys = append(eps.xys, plotter.XY{X: x, Y: y})
		eps.errs = append(eps.errs, struct{ Low, High float64 }{y - lo, hi - y})
	}
	return xys, eps
}

// vline draws a dashed vertical line across the data area with a label at
// its top.
type vline struct{ VLine }

func (v *vline) Plot(c draw.Canvas, plt *plot.Plot) {
	trX, _ := plt.Transforms(&c)
	x := trX(v.X)
	if x < c.Min.X || x > c.Max.X {
		return
	}
	ls := draw.LineStyle{Color: color.Gray{Y: 0x55}, Width: vg.Points(1.2), Dashes: []vg.Length{vg.Points(5), vg.Points(3)}}
	c.StrokeLine2(ls, x, c.Min.Y, x, c.Max.Y)
	if v.Label != "" {
		ts := plt.X.Label.TextStyle
		ts.Color = color.Gray{Y: 0x33}
		ts.XAlign = draw.XLeft
		ts.YAlign = draw.YTop
		c.FillText(ts, vg.Point{X: x + vg.Points(3), Y: c.Max.Y - vg.Points(2)}, v.Label)
	}
}

// DataRange makes sure the line's x is inside the plotted range; it does not
// constrain y.
func (v *vline) DataRange() (xmin, xmax, ymin, ymax float64) {
	return v.X, v.X, math.Inf(1), math.Inf(-1)
}

// logTicks marks a logarithmic axis with labelled powers of ten and
// unlabelled minor ticks between them, all inside the axis's range
// (plot.LogTicks returns ticks beyond it, and the labels of those make
// gonum/plot pad the data area as if they were drawn). With less than one
// decade in range, 1-2-5 steps are labelled too.
type logTicks struct{}

// Ticks implements plot.Ticker.
func (logTicks) Ticks(min, max float64) []plot.Tick {
	if !(min > 0) || !(max > min) {
		return nil
	}
	var ts []plot.Tick
	labelled := 0
	for e := math.Floor(math.Log10(min)); e <= math.Ceil(math.Log10(max)); e++ {
		p := math.Pow(10, e)
		for k := 1.0; k < 10; k++ {
			v := k * p
			if v < min || v > max {
				continue
			}
			t := plot.Tick{Value: v}
			if k == 1 {
				t.Label = strconv.FormatFloat(v, 'g', -1, 64)
				labelled++
			}
			ts = append(ts, t)
		}
	}
	if labelled < 2 {
		for i := range ts {
			k := ts[i].Value / math.Pow(10, math.Floor(math.Log10(ts[i].Value)+1e-9))
			if r := math.Round(k); math.Abs(k-r) < 1e-9 && (r == 1 || r == 2 || r == 5) {
				ts[i].Label = strconv.FormatFloat(ts[i].Value, 'g', 6, 64)
			}
		}
	}
	return ts
}

// constTicks labels exactly the given values, with minor ticks left out.
func constTicks(xs []float64, log bool) plot.ConstantTicks {
	var ts plot.ConstantTicks
	for _, x := range slices.Sorted(slices.Values(xs)) {
		if math.IsNaN(x) || math.IsInf(x, 0) || (log && x <= 0) {
			continue
		}
		ts = append(ts, plot.Tick{Value: x, Label: strconv.FormatFloat(x, 'g', 6, 64)})
	}
	return ts
}

// padRange widens an axis whose data span a single value (or none), which
// would otherwise divide by zero when normalizing.
func padRange(a *plot.Axis, log bool) {
	if math.IsInf(a.Min, 0) || math.IsInf(a.Max, 0) {
		a.Min, a.Max = 1, 10 // no data ranged at all
		return
	}
	if a.Min < a.Max {
		return
	}
	switch {
	case log:
		a.Min, a.Max = a.Min/2, a.Max*2
	case a.Min == 0:
		a.Min, a.Max = -1, 1
	default:
		d := math.Abs(a.Min) / 10
		a.Min, a.Max = a.Min-d, a.Max+d
	}
}

// margin widens an axis range by the given fractions of its span below and
// above (in log space for a log axis), so markers at the ends are not cut.
func margin(a *plot.Axis, log bool, below, above float64) {
	if log {
		f := math.Log(a.Max / a.Min)
		a.Min, a.Max = a.Min*math.Exp(-below*f), a.Max*math.Exp(above*f)
		return
	}
	d := a.Max - a.Min
	a.Min, a.Max = a.Min-below*d, a.Max+above*d
}

// figure is a plot and its legend, which is drawn beside the plot's data
// area rather than on it, so it never hides a point.
type figure struct {
	plt     *plot.Plot
	title   string // drawn by draw, across the figure, not by plt
	legend  plot.Legend
	entries int
}

// newFigure makes a plot with the house's fonts, a grid and the labels.
func newFigure(title, x, y string) *figure {
	plt := plot.New()
	plt.Title.TextStyle.Font.Size = vg.Points(13)
	plt.X.Label.Text = x
	plt.Y.Label.Text = y
	plt.X.Label.TextStyle.Font.Size = vg.Points(12)
	plt.Y.Label.TextStyle.Font.Size = vg.Points(12)
	plt.X.Tick.Label.Font.Size = vg.Points(10)
	plt.Y.Tick.Label.Font.Size = vg.Points(10)
	plt.Add(plotter.NewGrid())
	leg := plot.NewLegend()
	leg.TextStyle.Font.Size = vg.Points(10)
	leg.Top, leg.Left = true, true
	return &figure{plt: plt, title: title, legend: leg}
}

// addLegend adds a legend entry (none for an empty name).
func (f *figure) addLegend(name string, thumbs ...plot.Thumbnailer) {
	if name == "" {
		return
	}
	f.legend.Add(name, thumbs...)
	f.entries++
}

// draw draws the title across the whole figure (its first line 13 points,
// the rest 10), the plot below it, and the legend in a strip at the plot's
// right.
func (f *figure) draw(c draw.Canvas) {
	lines := strings.Split(f.title, "\n")
	ts := f.plt.Title.TextStyle
	ts.XAlign, ts.YAlign = draw.XCenter, draw.YTop
	y := c.Max.Y - vg.Points(4)
	for i, line := range lines {
		if i > 0 {
			ts.Font.Size = vg.Points(10)
		}
		c.FillText(ts, vg.Point{X: (c.Min.X + c.Max.X) / 2, Y: y}, line)
		y -= ts.Height(line) + vg.Points(2)
	}
	top := c.Max.Y - y + vg.Points(6)
	area := draw.Crop(c, 0, 0, 0, -top)
	if f.entries == 0 {
		f.plt.Draw(area)
		return
	}
	r := f.legend.Rectangle(c)
	strip := r.Max.X - r.Min.X + vg.Points(14)
	f.plt.Draw(draw.Crop(area, 0, -strip, 0, 0))
	f.legend.Draw(draw.Crop(area, area.Max.X-area.Min.X-strip+vg.Points(8), 0, 0, -vg.Points(4)))
}

// save writes the figure as path.png (FigDPI) and path.svg, each
// atomically (results.WriteTo), mode 0644.
func (f *figure) save(path string) (err error) {
	// gonum/plot panics on some degenerate inputs this package does not
	// foresee; a figure failing must not bring the harness down.
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("report: plot %s: %v", path, r)
		}
	}()
	png := vgimg.NewWith(vgimg.UseWH(FigWidth, FigHeight), vgimg.UseDPI(FigDPI), vgimg.UseBackgroundColor(color.White))
	f.draw(draw.New(png))
	if err := results.WriteTo(path+".png", vgimg.PngCanvas{Canvas: png}); err != nil {
		return fmt.Errorf("report: plot: %w", err)
	}
	svg := vgsvg.New(FigWidth, FigHeight)
	f.draw(draw.New(svg))
	if err := results.WriteTo(path+".svg", svg); err != nil {
		return fmt.Errorf("report: plot: %w", err)
	}
	return nil
}

// Title is a figure's title: what it shows, then on a second line the
// machine it was measured on (device, backend, host CPU and cores), when
// and at which commit, so a figure cut out of its context still says where
// it comes from.
func Title(what string, f *results.File) string {
	p := f.Provenance
	machine := p.Device.Name + " (" + p.Device.Backend
	if p.CPUCores > 0 {
		machine += fmt.Sprintf(", %d-core host", p.CPUCores)
	}
	machine += ")"
	if !f.Started.IsZero() {
		machine += ", run " + f.Started.UTC().Format("2006-01-02 15:04Z")
	}
	if c := p.GitCommit; len(c) >= 7 {
		machine += ", commit " + c[:7]
	}
	return what + "\n" + machine
}
