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
