package report

import (
	"bytes"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wasmgpu/wasmgpu/results"
)

// figDir is where test figures go. Set REPORT_FIG_DIR to keep them for a
// look; by default they go to a temporary directory.
func figDir(t *testing.T) string {
	if d := os.Getenv("REPORT_FIG_DIR"); d != "" {
		return d
	}
	return t.TempDir()
}

func checkFigure(t *testing.T, path string) {
	t.Helper()
	data, err := os.ReadFile(path + ".png")
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("%s.png: %v", path, err)
	}
	if b := img.Bounds(); b.Dx() != 1200 || b.Dy() != 750 {
		t.Errorf("%s.png is %dx%d, want 1200x750", path, b.Dx(), b.Dy())
	}
	svg, err := os.ReadFile(path + ".svg")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(svg, []byte("<svg")) {
		t.Errorf("%s.svg is not SVG", path)
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	for _, e := range entries {
		if strings.Contains(e.Name(), ".tmp-") {
			t.Errorf("temporary file left behind: %s", e.Name())
		}
	}
}

func matmulFile() *results.File {
	f := &results.File{Schema: 1, Experiment: "matmul"}
	for _, n := range []float64{64, 128, 256, 512, 1024, 2048} {
		// Toy model: copy costs bytes moved, zero-copy does not.
		compute := 2 * n * n * n / 50e9
		copyCost := 3 * n * n * 4 / 5e9
		for v, base := range map[string]float64{"wasm-copy": compute + copyCost + 20e-6, "wasm-zerocopy": compute + 20e-6, "native": compute + 15e-6} {
			xs := make([]float64, 12)
			for i := range xs {
				xs[i] = base * (1 + 0.02*math.Sin(float64(i)*1.7+n))
			}
			f.Cases = append(f.Cases, results.Case{Group: "n=" + fmtInt(n), Params: map[string]float64{"n": n}, Variant: v, Samples: xs}.Summarize())
		}
	}
	// A case without the x parameter is ignored by MedianSeries.
	f.Cases = append(f.Cases, results.Case{Group: "other", Variant: "native", Samples: []float64{1}})
	return f
}

func fmtInt(x float64) string { return Value(x, "") }

func TestLinePlot(t *testing.T) {
	dir := figDir(t)
	f := matmulFile()
	series := MedianSeries(f, "n", 1e3)
	if len(series) != 3 {
		t.Fatalf("MedianSeries made %d series, want 3", len(series))
	}
	for _, s := range series {
		if len(s.X) != 6 || s.X[0] != 64 || s.X[5] != 2048 {
			t.Errorf("series %s: X = %v", s.Name, s.X)
		}
		if !(s.Lo[3] <= s.Y[3] && s.Y[3] <= s.Hi[3]) {
			t.Errorf("series %s: CI [%v, %v] does not hold median %v", s.Name, s.Lo[3], s.Hi[3], s.Y[3])
		}
	}
	path := filepath.Join(dir, "sub", "matmul-latency")
	err := LinePlot(path, LineSpec{
		Title: "matmul latency (median, 95% CI)", XLabel: "n (matrix size)", YLabel: "time per matmul (ms)",
		LogX: true, LogY: true, XTicks: []float64{64, 128, 256, 512, 1024, 2048},
		Series: series, VLine: &VLine{X: 300, Label: "crossover"},
	})
	if err != nil {
		t.Fatal(err)
	}
	checkFigure(t, path)

	// Linear axes, error bars with infinite bounds, NaN points.
	lin := filepath.Join(dir, "linear")
	err = LinePlot(lin, LineSpec{Title: "linear", XLabel: "x", YLabel: "y", Series: []Series{
		{Name: "a", X: []float64{1, 2, 3, 4}, Y: []float64{1, math.NaN(), 3, 2}, Lo: []float64{0.5, 0, math.Inf(-1), 1.5}, Hi: []float64{1.5, 0, math.Inf(1), 2.5}},
		{Name: "b", X: []float64{1, 2, 3, 4}, Y: []float64{2, 2, 2, 2}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	checkFigure(t, lin)
}

func TestLinePlotBadInput(t *testing.T) {
	dir := t.TempDir()
	for name, spec := range map[string]LineSpec{
		"no series":      {},
		"length":         {Series: []Series{{X: []float64{1, 2}, Y: []float64{1}}}},
		"all NaN":        {Series: []Series{{X: []float64{math.NaN()}, Y: []float64{1}}}},
		"log nonpositve": {LogY: true, Series: []Series{{X: []float64{1, 2}, Y: []float64{0, -1}}}},
	} {
		if err := LinePlot(filepath.Join(dir, "x"), spec); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	// Degenerate but drawable: one point, log axes, marker outside data.
	one := filepath.Join(dir, "one")
	if err := LinePlot(one, LineSpec{LogX: true, LogY: true, VLine: &VLine{X: -5},
		Series: []Series{{Name: "p", X: []float64{10}, Y: []float64{3}}}}); err != nil {
		t.Fatal(err)
	}
	checkFigure(t, one)
}

func TestBarPlot(t *testing.T) {
	dir := figDir(t)
	path := filepath.Join(dir, "rss-overhead")
	err := BarPlot(path, BarSpec{
		Title: "RSS growth for a 16 MiB region", XLabel: "region size", YLabel: "RSS delta (MiB)",
		Groups: []string{"1 MiB", "4 MiB", "16 MiB", "64 MiB"},
		Series: []BarSeries{
			{Name: "wasm-copy", Values: []float64{1.02, 4.1, 16.78, 64.3}},
			{Name: "wasm-zerocopy", Values: []float64{0.01, 0.02, 0.03, -0.05}},
			{Name: "native", Values: []float64{0, math.NaN(), 0.01, 0.02}},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	checkFigure(t, path)
	for name, spec := range map[string]BarSpec{
		"empty":  {},
		"length": {Groups: []string{"a", "b"}, Series: []BarSeries{{Values: []float64{1}}}},
		"NaN":    {Groups: []string{"a"}, Series: []BarSeries{{Values: []float64{math.NaN()}}}},
	} {
		if err := BarPlot(filepath.Join(dir, "bad"), spec); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}
