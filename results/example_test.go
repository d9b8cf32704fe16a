package results_test

import (
	"fmt"

	"github.com/wasmgpu/wasmgpu/results"
)

// The tokens of one decode repetition are one unit of replication: compare
// tests the repetitions' medians, not the tokens.
func ExampleCase_RepMedians() {
	c := results.Case{
		Group: "prompt=24", Variant: "wasm-zerocopy",
		Samples: []float64{0.050, 0.052, 0.051, 0.060, 0.061, 0.059},
		Reps:    []int{0, 0, 0, 1, 1, 1},
	}
	fmt.Println(c.RepMedians())
	// Output: [0.051 0.06]
}
