package stats

import (
	"encoding/json"
	"math"
	"slices"
	"strings"
	"testing"

	"golang.org/x/perf/benchmath"
)

func near(a, b float64) bool {
	if math.IsNaN(a) || math.IsNaN(b) {
		return math.IsNaN(a) && math.IsNaN(b)
	}
	if math.IsInf(a, 0) || math.IsInf(b, 0) {
		return a == b
	}
	return math.Abs(a-b) <= 1e-12*math.Max(1, math.Abs(b))
}

func TestSummarize(t *testing.T) {
	nan, inf := math.NaN(), math.Inf(1)
	tests := []struct {
		name    string
		in      []float64
		want    Summary
		warning string // substring of some warning; "" means none expected
	}{
		{
			name:    "empty",
			in:      nil,
			want:    Summary{Min: nan, Max: nan, Mean: nan, SD: nan, Median: nan, P90: nan, P99: nan, CILo: nan, CIHi: nan, CILevel: nan},
			warning: "no samples",
		},
		{
			name:    "one",
			in:      []float64{3},
			want:    Summary{N: 1, Min: 3, Max: 3, Mean: 3, SD: 0, Median: 3, P90: 3, P99: 3, CILo: -inf, CIHi: inf},
			warning: "need >= 6 samples",
		},
		{
			name:    "two",
			in:      []float64{2, 1},
			want:    Summary{N: 2, Min: 1, Max: 2, Mean: 1.5, SD: math.Sqrt(0.5), Median: 1.5, P90: 2, P99: 2, CILo: -inf, CIHi: inf},
			warning: "need >= 6 samples",
		},
		{
			// 1..10 shuffled. SD = sqrt(sum((i-5.5)^2)/9) = sqrt(82.5/9).
			// Nearest-rank p90 of 10 values is the 9th. The 95% CI of
			// the median of n=10 is [x(2), x(9)] (binomial: P = 0.9785).
			name: "one to ten",
			in:   []float64{7, 3, 10, 1, 5, 9, 2, 8, 4, 6},
			want: Summary{N: 10, Min: 1, Max: 10, Mean: 5.5, SD: math.Sqrt(82.5 / 9), Median: 5.5, P90: 9, P99: 10,
				CILo: 2, CIHi: 9, CILevel: 0.978515625},
		},
		{
			name: "all equal",
			in:   []float64{4, 4, 4, 4, 4, 4, 4, 4},
			want: Summary{N: 8, Min: 4, Max: 4, Mean: 4, SD: 0, Median: 4, P90: 4, P99: 4, CILo: 4, CIHi: 4},
		},
		{
			name: "non-finite dropped",
			in:   []float64{nan, 1, 2, inf, 3, -inf},
			want: Summary{N: 3, NonFinite: 3, Min: 1, Max: 3, Mean: 2, SD: 1, Median: 2, P90: 3, P99: 3,
				CILo: -inf, CIHi: inf},
			warning: "3 non-finite samples",
		},
		{
			name: "only NaN",
			in:   []float64{nan, nan},
			want: Summary{NonFinite: 2, Min: nan, Max: nan, Mean: nan, SD: nan, Median: nan, P90: nan, P99: nan,
				CILo: nan, CIHi: nan, CILevel: nan},
			warning: "no samples",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := slices.Clone(tt.in)
			got := Summarize(in)
			if !slices.EqualFunc(in, tt.in, func(a, b float64) bool { return near(a, b) }) {
				t.Errorf("input modified: %v", in)
			}
			check := func(field string, g, w float64) {
				t.Helper()
				if !near(g, w) {
					t.Errorf("%s = %v, want %v", field, g, w)
				}
			}
			if got.N != tt.want.N || got.NonFinite != tt.want.NonFinite {
				t.Errorf("N, NonFinite = %d, %d, want %d, %d", got.N, got.NonFinite, tt.want.N, tt.want.NonFinite)
			}
			check("Min", got.Min, tt.want.Min)
			check("Max", got.Max, tt.want.Max)
			check("Mean", got.Mean, tt.want.Mean)
			check("SD", got.SD, tt.want.SD)
			check("Median", got.Median, tt.want.Median)
			check("P90", got.P90, tt.want.P90)
			check("P99", got.P99, tt.want.P99)
			check("CILo", got.CILo, tt.want.CILo)
			check("CIHi", got.CIHi, tt.want.CIHi)
			if tt.want.CILevel != 0 {
				check("CILevel", got.CILevel, tt.want.CILevel)
			}
			joined := strings.Join(got.Warnings, "; ")
			if tt.warning == "" && len(got.Warnings) > 0 {
				t.Errorf("unexpected warnings: %s", joined)
			}
			if tt.warning != "" && !strings.Contains(joined, tt.warning) {
				t.Errorf("warnings %q do not mention %q", joined, tt.warning)
			}
		})
	}
}

// TestSummarizeCIMatchesBenchmath checks the median and its interval against
// benchmath called directly, across the small-n region where the exact
// binomial is used and the large-n region where benchmath approximates.
func TestSummarizeCIMatchesBenchmath(t *testing.T) {
	for _, n := range []int{5, 6, 7, 9, 10, 16, 31, 50, 101} {
		xs := make([]float64, n)
		for i := range xs {
			// Deterministic, unsorted, with ties.
			xs[i] = float64((i*7919)%97) / 10
		}
		got := Summarize(xs)
		want := benchmath.AssumeNothing.Summary(benchmath.NewSample(slices.Clone(xs), &benchmath.DefaultThresholds), 0.95)
		if got.Median != want.Center || got.CILo != want.Lo || got.CIHi != want.Hi || got.CILevel != want.Confidence {
			t.Errorf("n=%d: got %v [%v, %v] @%v, benchmath %v [%v, %v] @%v", n,
				got.Median, got.CILo, got.CIHi, got.CILevel, want.Center, want.Lo, want.Hi, want.Confidence)
		}
		if n >= 6 && !got.HasCI() {
			t.Errorf("n=%d: no finite CI", n)
		}
	}
}

func TestSummaryJSONRoundTrip(t *testing.T) {
	for _, in := range [][]float64{nil, {1}, {1, 2, 3, 4, 5, 6, 7}} {
		s := Summarize(in)
		b, err := json.Marshal(s)
		if err != nil {
			t.Fatalf("%v: marshal: %v", in, err)
		}
		var back Summary
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatalf("%v: unmarshal %s: %v", in, b, err)
		}
		for _, p := range [][2]float64{{s.Min, back.Min}, {s.Median, back.Median}, {s.CILo, back.CILo}, {s.CIHi, back.CIHi}, {s.CILevel, back.CILevel}} {
			if math.IsInf(p[0], 0) {
				p[0] = math.NaN() // written as null, read as NaN
			}
			if !near(p[0], p[1]) {
				t.Errorf("%v: round trip %s changed %v to %v", in, b, p[0], p[1])
			}
		}
		if back.N != s.N || len(back.Warnings) != len(s.Warnings) {
			t.Errorf("%v: round trip %s lost N or warnings", in, b)
		}
	}
	var f Float
	if err := json.Unmarshal([]byte(`"bogus"`), &f); err == nil {
		t.Error("Float accepted a bogus string")
	}
	// Non-finite values are null; the strings of schema-1 files still read.
	for in, want := range map[Float]string{Float(math.NaN()): "null", Float(math.Inf(1)): "null", Float(math.Inf(-1)): "null", 1.5: "1.5"} {
		if b, err := json.Marshal(in); err != nil || string(b) != want {
			t.Errorf("Marshal(%v) = %s, %v; want %s", in, b, err, want)
		}
	}
	for in, want := range map[string]float64{`"NaN"`: math.NaN(), `"+Inf"`: math.Inf(1), `"-Inf"`: math.Inf(-1), "null": math.NaN(), "2": 2} {
		if err := json.Unmarshal([]byte(in), &f); err != nil || !near(float64(f), want) {
			t.Errorf("Unmarshal(%s) = %v, %v; want %v", in, f, err, want)
		}
	}
}
