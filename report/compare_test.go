package report

import (
	"bytes"
	"strings"
	"testing"

	"github.com/wasmgpu/wasmgpu/results"
)

func seq(base float64, n int) []float64 {
	xs := make([]float64, n)
	for i := range xs {
		xs[i] = base * (1 + 0.001*float64(i))
	}
	return xs
}

func TestCompare(t *testing.T) {
	old := &results.File{Schema: 1, Cases: []results.Case{
		{Group: "n=128", Variant: "copy", Samples: seq(1e-3, 10)},
		{Group: "n=128", Variant: "zerocopy", Samples: seq(1e-3, 10)},
		{Group: "n=256", Variant: "copy", Samples: seq(1e-3, 10)},
		{Group: "n=512", Variant: "copy", Samples: seq(1e-3, 10)},
		{Group: "gone", Variant: "copy", Samples: seq(1e-3, 10)},
	}}
	mk := func(slowdown float64) *results.File {
		return &results.File{Schema: 1, Cases: []results.Case{
			{Group: "n=128", Variant: "copy", Samples: seq(1e-3*slowdown, 10)},    // changed
			{Group: "n=128", Variant: "zerocopy", Samples: seq(1e-3, 10)},         // same
			{Group: "n=256", Variant: "copy", Samples: seq(0.5e-3, 10)},           // faster
			{Group: "n=512", Variant: "copy", Samples: seq(1e-3, 10), Unit: "ms"}, // incomparable
			{Group: "new", Variant: "copy", Samples: seq(1e-3, 3)},
		}}
	}
	tests := []struct {
		name      string
		slowdown  float64
		threshold float64
		regressed bool
		want      []string
	}{
		{"regression", 1.5, 0.05, true, []string{"REGRESSION", "+50.00%", "-50.00%", "faster", "~", "units differ", "only in old: gone/copy", "only in new: new/copy", "<0.001", "1.000"}},
		{"within threshold", 1.03, 0.05, false, []string{"slower (within threshold)", "+3.00%"}},
		{"no change", 1, 0.05, false, []string{"~"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			reg, err := Compare(&buf, old, mk(tt.slowdown), tt.threshold)
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
		})
	}
	if _, err := Compare(&bytes.Buffer{}, nil, old, 0); err == nil {
		t.Error("nil file accepted")
	}
	if _, err := Compare(&bytes.Buffer{}, old, old, -1); err == nil {
		t.Error("negative threshold accepted")
	}
}
