package llmabi_test

import (
	"fmt"

	"github.com/wasmgpu/wasmgpu/runtime/device"
	"github.com/wasmgpu/wasmgpu/runtime/device/llmabi"
)

// A host function receives an op's wire words; Decode makes them a Call and
// Validate checks it against the guest's memory before any device sees it.
func ExampleDecode() {
	// llm_add(x, x_len, y, y_len, count): x += y over 4 floats, but y runs
	// past the end of a 64-byte memory.
	stack := []uint64{0, 16, 56, 16, 4}
	var c llmabi.Call
	if err := llmabi.Decode(llmabi.OpAdd, stack, &c); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(c.S[0], c.S[1], c.I[0])
	fmt.Println(c.Validate(64, nil))
	// Output:
	// {0 16} {56 16} 4
	// add: y [56, +16) is outside memory of 64 bytes
}

// A call's fixed encoding is its op code, then its wire words: what a
// recorded program holds.
func ExampleCall_Encode() {
	c := llmabi.KVStore(device.Span{Off: 0, Len: 64}, device.Span{Off: 64, Len: 640}, device.KVBF16, 2, 3, 8)
	fmt.Println(c.Encode(nil))
	fmt.Println(c.Validate(1024, nil))
	// Output:
	// [4 0 64 64 640 1 2 3 8]
	// <nil>
}
