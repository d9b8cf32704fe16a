package matcheck

import (
	"math"
	"testing"
)

// filledProduct fills a (m×k) and b (k×n) from seeds seed and seed+1 and
// returns them with their product c = a·b (m×n).
func filledProduct(seed uint64, m, n, k int) (a, b, c []float32) {
	a, b, c = make([]float32, m*k), make([]float32, k*n), make([]float32, m*n)
	Fill(seed, a)
	Fill(seed+1, b)
	for i := 0; i < m; i++ {
		for p := 0; p < k; p++ {
			for j := 0; j < n; j++ {
				c[i*n+j] += a[i*k+p] * b[p*n+j]
			}
		}
	}
	return a, b, c
}

func TestMaxRelErr(t *testing.T) {
	m, n, k := 17, 9, 33
	a, b, c := filledProduct(1, m, n, k)
	if e := MaxRelErr(a, b, c, m, n, k, 1<<30); e > 1e-6 {
		t.Fatalf("correct product: error %g, want < 1e-6", e)
	}
	c[5*n+3] += 0.5
	if e := MaxRelErr(a, b, c, m, n, k, 1<<30); e < 1e-2 {
		t.Fatalf("corrupted element: error %g, want ≥ 1e-2", e)
	}
	Poison(c[:1])
	if e := MaxRelErr(a, b, c, m, n, k, 1<<30); !math.IsInf(e, 1) {
		t.Fatalf("NaN output: error %g, want +Inf", e)
	}
}

func TestMaxRelErrSampledChecksRowZero(t *testing.T) {
	m, n, k := 64, 64, 64
	a, b, c := filledProduct(3, m, n, k)
	c[7] = 1e6 // row 0 is always among the sampled rows
	if e := MaxRelErr(a, b, c, m, n, k, n*k*4); e < 1 {
		t.Fatalf("sampled check missed a corrupted row-0 element: error %g", e)
	}
}

func TestFillDeterministicAndBounded(t *testing.T) {
	x, y := make([]float32, 1000), make([]float32, 1000)
	Fill(42, x)
	Fill(42, y)
	zeros := 0
	for i := range x {
		if x[i] != y[i] {
			t.Fatalf("Fill not deterministic at %d", i)
		}
		if x[i] < -1 || x[i] >= 1 {
			t.Fatalf("Fill value %g out of [-1, 1)", x[i])
		}
		if x[i] == 0 {
			zeros++
		}
	}
	if zeros > 0 {
		t.Fatalf("Fill drew %d zeros", zeros)
	}
}
