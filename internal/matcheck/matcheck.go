// Package matcheck fills matrices with reproducible values and measures how far
// a float32 product is from the float64 one. The guest and the native driver
// both use it, so the two variants check the same thing the same way.
package matcheck

import "math"

// Fill writes values in [-1, 1) from a splitmix64 stream seeded by seed.
// Zeros would hide unwritten outputs and wrong indexing, so none are drawn
// except by chance.
func Fill(seed uint64, xs []float32) {
	s := seed
	for i := range xs {
		s += 0x9e3779b97f4a7c15
		z := s
		z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
		z = (z ^ (z >> 27)) * 0x94d049bb133111eb
		z ^= z >> 31
		xs[i] = float32(int32(z>>32))/(1<<31)*0.999 + 0.0005
	}
}

// Poison fills xs with NaN so a check finds every element a kernel failed to write.
func Poison(xs []float32) {
	nan := float32(math.NaN())
	for i := range xs {
		xs[i] = nan
	}
}

// MaxRelErr compares C (m×n) with the float64 product of A (m×k) and B (k×n),
// all row-major, and returns max|C−R| / max|R| over the rows it checks: every
// row when m×n×k ≤ fullWork, else rows spread evenly so that about fullWork
// multiply-adds are spent. A NaN or Inf in C gives +Inf.
func MaxRelErr(a, b, c []float32, m, n, k int, fullWork int) float64 {
	rows := m
	if work := m * n * k; work > fullWork && n*k > 0 {
		rows = max(1, fullWork/(n*k))
	}
	step := max(1, m/rows)
	ref := make([]float64, n)
	maxErr, maxRef := 0.0, 0.0
	for i := 0; i < m; i += step {
		for j := range ref {
			ref[j] = 0
		}
		for p := 0; p < k; p++ {
			av := float64(a[i*k+p])
			row := b[p*n : p*n+n]
			for j, bv := range row {
				ref[j] += av * float64(bv)
			}
		}
		for j, r := range ref {
			got := float64(c[i*n+j])
			if math.IsNaN(got) || math.IsInf(got, 0) {
				return math.Inf(1)
			}
			maxErr = max(maxErr, math.Abs(got-r))
			maxRef = max(maxRef, math.Abs(r))
		}
	}
	if maxRef == 0 {
		return maxErr
	}
	return maxErr / maxRef
}
