package report

import (
	"cmp"
	"slices"

	"github.com/wasmgpu/wasmgpu/results"
)

// MedianSeries makes one Series per variant of f (in order of first
// appearance) for a LinePlot of median against a numeric parameter: X is
// Case.Params[xParam], Y the median and Lo/Hi its CI, all multiplied by
// scale (e.g. 1e3 to plot seconds as milliseconds). Cases without the
// parameter are skipped; points are sorted by X.
func MedianSeries(f *results.File, xParam string, scale float64) []Series {
	var out []Series
	index := map[string]int{}
	type pt struct{ x, y, lo, hi float64 }
	var pts [][]pt
	for _, c := range f.Cases {
		x, ok := c.Params[xParam]
		if !ok {
			continue
		}
		i, seen := index[c.Variant]
		if !seen {
			i = len(out)
			index[c.Variant] = i
			out = append(out, Series{Name: c.Variant})
			pts = append(pts, nil)
		}
		s := Summary(c)
		pts[i] = append(pts[i], pt{x, s.Median * scale, s.CILo * scale, s.CIHi * scale})
	}
	for i := range out {
		slices.SortStableFunc(pts[i], func(a, b pt) int { return cmp.Compare(a.x, b.x) })
		for _, p := range pts[i] {
			out[i].X = append(out[i].X, p.x)
			out[i].Y = append(out[i].Y, p.y)
			out[i].Lo = append(out[i].Lo, p.lo)
			out[i].Hi = append(out[i].Hi, p.hi)
		}
	}
	return out
}
