package llmref

import (
	"math"
	"testing"
)

// One head, two positions with equal scores: the output is the mean of the
// values; a second query head reads the same kv head.
func TestAttention(t *testing.T) {
	keys := [][]float64{{1, 0}, {1, 0}}
	values := [][]float64{{2, 4}, {4, 8}}
	got := Attention([]float64{3, 5, 0, 1}, keys, values, 2, 1, 2)
	want := []float64{3, 6, 3, 6}
	for i := range want {
		if math.Abs(got[i]-want[i]) > 1e-12 {
			t.Fatalf("got %v, want %v", got, want)
		}
	}
	// A dominant score picks its value.
	got = Attention([]float64{100, 0}, [][]float64{{1, 0}, {-1, 0}}, values, 1, 1, 2)
	if math.Abs(got[0]-2) > 1e-12 || math.Abs(got[1]-4) > 1e-12 {
		t.Fatalf("got %v, want the first value", got)
	}
}

func TestOps(t *testing.T) {
	near := func(what string, got, want []float64) {
		t.Helper()
		for i := range want {
			if math.Abs(got[i]-want[i]) > 1e-12 {
				t.Fatalf("%s: got %v, want %v", what, got, want)
			}
		}
	}
	// mean(x²) = (9+16)/2 = 12.5
	near("rmsnorm", RMSNorm([]float64{3, 4}, []float64{1, 2}, 0), []float64{3 / math.Sqrt(12.5), 8 / math.Sqrt(12.5)})
	near("linear", Linear([]float64{1, 2}, []float64{1, 0, 3, 4, -1, 1}, 3), []float64{1, 11, 1})
	near("swiglu", SwiGLU([]float64{0, 1}, []float64{5, 2}), []float64{0, 2 / (1 + math.Exp(-1))})
	// A quarter turn of pair (0, 1) at position 1: (1, 0) becomes (0, 1).
	x := []float64{1, 0}
	RoPE(x, 1, 2, 1, []float32{math.Pi / 2})
	if math.Abs(x[0]) > 1e-7 || math.Abs(x[1]-1) > 1e-7 {
		t.Fatalf("rope: %v", x)
	}
	nan := float32(math.NaN())
	for _, c := range []struct {
		x    []float32
		want int
	}{{[]float32{1, 3, 3}, 1}, {[]float32{-2, -1, -1}, 1}, {[]float32{nan, 2, 2}, -1},
		{[]float32{2, float32(math.Inf(1))}, -1}, {[]float32{float32(math.Inf(-1)), 0}, -1}} {
		if got := Argmax(c.x); got != c.want {
			t.Errorf("argmax %v = %d, want %d", c.x, got, c.want)
		}
	}
}
