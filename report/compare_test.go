package report

import (
	"bytes"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/wasmgpu/wasmgpu/results"
)

// reps makes k repetitions of per samples each around base: each
// repetition is shifted by its own offset (the noise between repetitions)
// and its samples wobble a little around it.
func reps(base float64, k, per int, spread float64) ([]float64, []int) {
	var xs []float64
	var rs []int
	for r := 0; r < k; r++ {
		off := spread * math.Sin(float64(r)*2.1+0.3)
		for i := 0; i < per; i++ {
			xs = append(xs, base*(1+off+0.001*float64(i)))
			rs = append(rs, r)
		}
	}
	return xs, rs
}

func file(exp string, cases ...results.Case) *results.File {
	f := &results.File{Schema: results.SchemaVersion, Experiment: exp, Spec: results.Spec{Path: exp + ".yaml", SHA256: "s"}}
	f.Provenance.Device = results.DeviceInfo{Backend: "cpu", Name: "Test CPU"}
	f.Provenance.Profile = "quick"
	f.Cases = cases
	return f
}

func decode(group string, base, spread float64) results.Case {
	xs, rs := reps(base, 8, 16, spread)
	return results.Case{Group: group, Variant: "wasm-zerocopy", Samples: xs, Reps: rs}
}

func TestCompare(t *testing.T) {
	old := file("llama",
		decode("prompt=24", 1e-3, 0.01),
		decode("prompt=128", 1e-3, 0.01),
		decode("prompt=512", 1e-3, 0.01),
		decode("gone", 1e-3, 0.01),
	)
	mk := func(slowdown float64) *results.File {
		return file("llama",
			decode("prompt=24", 1e-3*slowdown, 0.01), // changed
			decode("prompt=128", 1e-3, 0.01),         // same
			decode("prompt=512", 0.5e-3, 0.01),       // faster
			decode("new", 1e-3, 0.01),
		)
	}
	tests := []struct {
		name      string
		slowdown  float64
		threshold float64
		regressed bool
		want      []string
	}{
		{"regression", 1.5, 0.05, true, []string{"REGRESSION", "+50.00%", "-50.00%", "faster", "only in old: gone/wasm-zerocopy", "only in new: new/wasm-zerocopy", "(8+8)"}},
		{"within threshold", 1.03, 0.05, false, []string{"+3.00%", "~"}},
		{"no change", 1, 0.05, false, []string{"~"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			reg, err := Compare(&buf, []*results.File{old, mk(tt.slowdown)}, []string{"old", "new"}, CompareOptions{Threshold: tt.threshold})
			if err != nil {
				t.Fatal(err)
			}
			out := buf.String()
			t.Log("\n" + out)
			if reg != tt.regressed {
				t.Errorf("regressed = %v, want %v", reg, tt.regressed)
			}
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q", w)
				}
			}
			for _, line := range strings.Split(out, "\n") {
				if n := len([]rune(line)); n > 100 && !strings.HasPrefix(line, "warning") {
					t.Errorf("line of %d columns: %s", n, line)
				}
			}
		})
	}
}

// TestCompareUnitIsTheRepetition: every token of the new run is 4% slower,
// but the repetitions of each run scatter by ±6%: counted per token the
// shift is "significant"; per repetition it is within the noise.
func TestCompareUnitIsTheRepetition(t *testing.T) {
	old := file("llama", decode("prompt=24", 1e-3, 0.06))
	cur := file("llama", decode("prompt=24", 1.04e-3, 0.06))
	var buf bytes.Buffer
	reg, err := Compare(&buf, []*results.File{old, cur}, []string{"a", "b"}, CompareOptions{Threshold: 0.01})
	if err != nil {
		t.Fatal(err)
	}
	if reg || !strings.Contains(buf.String(), "(8+8)") {
		t.Errorf("flagged a shift inside the repetitions' noise, or counted tokens:\n%s", buf.String())
	}
}

func TestCompareRefuses(t *testing.T) {
	a := file("matmul", decode("n=64", 1e-3, 0.01))
	for name, b := range map[string]*results.File{
		"experiment": file("llama", decode("n=64", 1e-3, 0.01)),
		"spec": func() *results.File {
			f := file("matmul", decode("n=64", 1e-3, 0.01))
			f.Spec.SHA256 = "other"
			return f
		}(),
		"profile": func() *results.File {
			f := file("matmul", decode("n=64", 1e-3, 0.01))
			f.Provenance.Profile = "full"
			return f
		}(),
		"device": func() *results.File {
			f := file("matmul", decode("n=64", 1e-3, 0.01))
			f.Provenance.Device.Name = "H100"
			return f
		}(),
		"backend": func() *results.File {
			f := file("matmul", decode("n=64", 1e-3, 0.01))
			f.Provenance.Device.Backend = "cuda"
			return f
		}(),
	} {
		var buf bytes.Buffer
		_, err := Compare(&buf, []*results.File{a, b}, []string{"a", "b"}, CompareOptions{})
		if !errors.Is(err, ErrIncomparable) || !strings.Contains(err.Error(), name) {
			t.Errorf("%s: err = %v, want ErrIncomparable naming it", name, err)
		}
		buf.Reset()
		if _, err := Compare(&buf, []*results.File{a, b}, []string{"a", "b"}, CompareOptions{Force: true}); err != nil || !strings.Contains(buf.String(), "warning") {
			t.Errorf("%s with Force: %v\n%s", name, err, buf.String())
		}
	}
	if _, err := Compare(&bytes.Buffer{}, []*results.File{file("matmul"), file("matmul")}, []string{"a", "b"}, CompareOptions{}); !errors.Is(err, ErrIncomparable) {
		t.Errorf("file without cases: %v", err)
	}
	other := file("matmul", decode("n=64", 1e-3, 0.01))
	other.Provenance.Hostname = "elsewhere"
	var buf bytes.Buffer
	if _, err := Compare(&buf, []*results.File{a, other}, []string{"a", "b"}, CompareOptions{}); err != nil || !strings.Contains(buf.String(), "different machines: hostname") {
		t.Errorf("different machine: %v\n%s", err, buf.String())
	}
	if _, err := Compare(&bytes.Buffer{}, []*results.File{a}, []string{"a"}, CompareOptions{}); err == nil {
		t.Error("one file accepted")
	}
	if _, err := Compare(&bytes.Buffer{}, []*results.File{a, a}, []string{"a", "b"}, CompareOptions{Threshold: -1}); err == nil {
		t.Error("negative threshold accepted")
	}
}

// TestCompareNoise: a 20% slowdown is flagged without a calibration and
// not with one that says two runs of this case differ by up to 30%.
func TestCompareNoise(t *testing.T) {
	a := file("matmul", decode("n=1024", 1e-3, 0.01))
	b := file("matmul", decode("n=1024", 1.2e-3, 0.01))
	n := &results.Noise{Schema: 1, Experiment: "matmul", Profile: "quick", Machine: a.Machine(), Runs: 10,
		Cases: map[string]results.CaseNoise{"n=1024/wasm-zerocopy": {Runs: 10, Band: 0.30}}}
	for _, tc := range []struct {
		noise *results.Noise
		want  bool
	}{{nil, true}, {n, false}} {
		var buf bytes.Buffer
		reg, err := Compare(&buf, []*results.File{a, b}, []string{"a", "b"}, CompareOptions{Threshold: 0.05, Noise: tc.noise})
		if err != nil || reg != tc.want {
			t.Errorf("noise %v: regressed %v, %v; want %v\n%s", tc.noise != nil, reg, err, tc.want, buf.String())
		}
		if tc.noise != nil && !strings.Contains(buf.String(), "30%") {
			t.Errorf("the calibrated band is not shown:\n%s", buf.String())
		}
	}
}

// TestCompareColumns: N files are N columns, each compared with the first.
func TestCompareColumns(t *testing.T) {
	a := file("matmul", decode("n=64", 1e-3, 0.01))
	b := file("matmul", decode("n=64", 1e-3, 0.01))
	c := file("matmul", decode("n=64", 2e-3, 0.01))
	var buf bytes.Buffer
	reg, err := Compare(&buf, []*results.File{a, b, c}, []string{"A", "B", "C"}, CompareOptions{Threshold: 0.05, Format: Markdown})
	if err != nil || !reg {
		t.Fatalf("regressed %v, %v", reg, err)
	}
	header := strings.Split(buf.String(), "\n")[3]
	if strings.Count(header, "verdict") != 2 || !strings.Contains(header, "| B ") || !strings.Contains(header, "| C ") {
		t.Errorf("header %q: want a column group per later file", header)
	}
}

// TestJudgeGeomean: every case 8% slower, each row inside its 10% band,
// but the geometric mean's band is 3%: the geomean row catches it.
func TestJudgeGeomean(t *testing.T) {
	var a, b []results.Case
	cal := map[string]results.CaseNoise{results.GeomeanCase: {Runs: 10, Band: 0.03}}
	for _, g := range []string{"n=1", "n=2", "n=3", "n=4"} {
		a = append(a, decode(g, 1e-3, 0.01))
		b = append(b, decode(g, 1.08e-3, 0.01))
		cal[g+"/wasm-zerocopy"] = results.CaseNoise{Runs: 10, Band: 0.10}
	}
	fa, fb := file("matmul", a...), file("matmul", b...)
	j := Judge(fa, fb, CompareOptions{Threshold: 0.05, Noise: &results.Noise{Cases: cal}})
	for _, r := range j.Rows {
		if r.Verdict != "~" || math.Abs(r.Delta-0.08) > 1e-9 || r.Min != 0.10 {
			t.Errorf("row %+v: want ~ with min Δ 10%%", r)
		}
	}
	if g := j.Geomean; g.Verdict != "REGRESSION" || math.Abs(g.Delta-0.08) > 1e-9 || !j.Regressed {
		t.Errorf("geomean %+v, regressed %v", g, j.Regressed)
	}
	if g := Judge(fa, fb, CompareOptions{Threshold: 0.5}).Geomean; g.Verdict != "n/a" {
		t.Errorf("geomean without a calibration: %+v", g)
	}
}

func TestCompareWarnsBusy(t *testing.T) {
	a := file("matmul", decode("n=64", 1e-3, 0.01), decode("n=128", 1e-3, 0.01))
	b := file("matmul", decode("n=64", 1e-3, 0.01), decode("n=128", 1e-3, 0.01))
	b.Cases[1].Metrics = map[string]float64{results.MetricOthersCPU: 0.9}
	var buf bytes.Buffer
	if _, err := Compare(&buf, []*results.File{a, b}, []string{"a", "b"}, CompareOptions{}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), "warning: b: 1 of 2 cases ran while other processes used more than 0.25 of a core (up to 0.9)") {
		t.Errorf("no busy warning:\n%s", buf.String())
	}
}

// TestCompareBusy: a case measured while other processes kept a core busy
// is not judged, whatever its change.
func TestCompareBusy(t *testing.T) {
	a := file("matmul", decode("n=64", 1e-3, 0.01))
	b := file("matmul", decode("n=64", 2e-3, 0.01))
	b.Cases[0].Metrics = map[string]float64{results.MetricOthersCPU: 1.0}
	j := Judge(a, b, CompareOptions{Threshold: 0.05})
	if j.Regressed || j.Rows[0].Verdict != "busy" || j.Geomean.Verdict != "no data" {
		t.Errorf("busy case judged: %+v", j)
	}
}

// TestCompareNoBand: with a calibration, a case it has no band for is not
// judged, however large its change.
func TestCompareNoBand(t *testing.T) {
	a := file("matmul", decode("n=64", 1e-3, 0.01), decode("n=1024", 1e-3, 0.01))
	b := file("matmul", decode("n=64", 1e-3, 0.01), decode("n=1024", 1.5e-3, 0.01))
	n := &results.Noise{Cases: map[string]results.CaseNoise{"n=64/wasm-zerocopy": {Runs: 10, Band: 0.05}}}
	j := Judge(a, b, CompareOptions{Threshold: 0.05, Noise: n})
	if j.Regressed || j.Rows[1].Verdict != "no band" || j.Rows[0].Verdict != "~" {
		t.Errorf("judgement %+v", j.Rows)
	}
	if !Judge(a, b, CompareOptions{Threshold: 0.05}).Regressed {
		t.Error("without a calibration the 50% slowdown is not flagged")
	}
}
