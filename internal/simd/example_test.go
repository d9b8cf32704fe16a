package simd_test

import (
	"fmt"
	"sync"

	"github.com/wasmgpu/wasmgpu/internal/simd"
)

// Splitting a GEMV across goroutines is slicing rows: each goroutine gets its
// own rows of w and of out and shares x.
func ExampleGemvBF16() {
	const rows, cols = 8, 3
	w := make([]uint16, rows*cols) // bfloat16 bits
	for r := range rows {
		for i := range cols {
			w[r*cols+i] = 0x3f80 // 1.0
		}
		w[r*cols] = 0x4000 // 2.0
	}
	x := []float32{1, 10, 100}
	out := make([]float32, rows)

	var wg sync.WaitGroup
	for _, rr := range [][2]int{{0, 4}, {4, rows}} {
		r0, r1 := rr[0], rr[1]
		wg.Go(func() { simd.GemvBF16(w[r0*cols:r1*cols], x, out[r0:r1], cols) })
	}
	wg.Wait()
	fmt.Println(out)
	// Output: [112 112 112 112 112 112 112 112]
}

// Prefill: two tokens through a 3×4 weight, out[t*rows+r].
func ExampleGemmF32() {
	w := []float32{
		1, 0, 0, 0,
		0, 1, 0, 0,
		1, 1, 1, 1,
	}
	x := []float32{
		1, 2, 3, 4, // token 0
		5, 6, 7, 8, // token 1
	}
	out := make([]float32, 2*3)
	simd.GemmF32(w, x, out, 2, 3, 4)
	fmt.Println(out)
	// Output: [1 2 10 5 6 26]
}

// Prefill in bfloat16: pack the tokens' activations once (rounded to
// bfloat16: 1.001 becomes 1), then let goroutines share the weight's rows.
func ExampleGemmBF16Packed() {
	const n, rows, cols = 2, 4, 3
	w := []uint16{ // bfloat16 bits
		0x3f80, 0, 0, // row 0: 1 0 0
		0, 0x4000, 0, // row 1: 0 2 0
		0, 0, 0x3f00, // row 2: 0 0 0.5
		0x3f80, 0x3f80, 0x3f80, // row 3: 1 1 1
	}
	x := []float32{
		1, 2, 3, // token 0
		4, 5, 1.001, // token 1
	}
	var xp simd.PackedBatch
	xp.Pack(x, n, cols)
	out := make([]float32, n*rows) // out[t*rows+r]

	var wg sync.WaitGroup
	for _, rr := range [][2]int{{0, 2}, {2, rows}} {
		wg.Go(func() { simd.GemmBF16Packed(w, &xp, out, rows, rr[0], rr[1]) })
	}
	wg.Wait()
	fmt.Println(out)
	// Output: [1 4 1.5 6 4 10 0.5 10]
}

// ExampleWeightedSumsF32 computes one attention head for two queries over
// three cached positions with the attention kernels: the scores, each
// row's softmax over the keys it sees (the first query sees two, a causal
// mask), then the probabilities times the values.
func ExampleWeightedSumsF32() {
	keys := []float32{1, 0, 0, 1, 1, 1} // three rows of 2
	values := []float32{1, 0, 0, 1, 2, 2}
	q := []float32{0, 0, 1, 1} // two queries
	s := make([]float32, 2*3)
	simd.GemmF32Stride(keys, 2, q, 2, s, 3, 2, 3, 2)
	seen := []int{2, 3}
	for t, k := range seen {
		p := s[t*3 : t*3+k]
		sum := simd.ExpSum(p, 1, simd.Max(p))
		for j := range p {
			p[j] /= sum
		}
	}
	out := make([]float32, 2*2)
	simd.WeightedSumsF32(s, 3, values, 2, out, 2, seen, 2)
	fmt.Printf("%.3f\n", out)
	// Output: [0.500 0.500 1.364 1.364]
}
