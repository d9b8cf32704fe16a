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
