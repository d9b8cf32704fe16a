package wasm_test

import (
	"context"
	"fmt"
	"log"
	"math"
	"unsafe"

	"github.com/wasmgpu/wasmgpu/runtime/device"
	"github.com/wasmgpu/wasmgpu/runtime/device/cpu"
	"github.com/wasmgpu/wasmgpu/runtime/guest"
	"github.com/wasmgpu/wasmgpu/runtime/wasm"
)

// Example runs the guest's matmul on the cpu device with zero copies: the
// guest fills A and B in its own linear memory, hands the host offsets, and
// the kernel reads and writes those very bytes.
func Example() {
	ctx := context.Background()
	rt, err := wasm.New(ctx, wasm.Config{Wasm: guest.Wasm, MaxMemory: 64 << 20})
	if err != nil {
		log.Fatal(err)
	}
	defer rt.Close(ctx)

	d, _ := cpu.Open()
	g, err := rt.Instantiate(ctx, func(max uint64) (device.Memory, error) {
		return d.NewMemory(device.ZeroCopy, max) // the linear memory is the device's
	})
	if err != nil {
		log.Fatal(err)
	}
	defer g.Close(ctx)

	// The guest allocates and fills 64×64 A and B, then asks the host for C.
	if _, err := g.Call(ctx, "mm_setup", 64, 64, 64, 1); err != nil {
		log.Fatal(err)
	}
	if _, err := g.Call(ctx, "mm_run"); err != nil {
		log.Fatal(err)
	}
	res, _ := g.Call(ctx, "mm_check", 1<<20)
	fmt.Println("max relative error below 1e-6:", math.Float64frombits(res[0]) < 1e-6)

	// The kernel's C is the guest's C: base of linear memory + its offset.
	c, _ := g.Call(ctx, "mm_ptr", 2)
	base := uintptr(unsafe.Pointer(&g.Memory().Bytes()[0]))
	fmt.Println("kernel wrote C in place:", g.Last.Addrs[2] == base+uintptr(c[0]))

	// A guest that lies about a range is trapped, not trusted.
	_, err = g.Call(ctx, "raw_matmul", 0, 64, 64, 64, 0xfffffff0, 64, 4, 4, 4)
	fmt.Println("hostile call trapped:", err != nil)
	// Output:
	// max relative error below 1e-6: true
	// kernel wrote C in place: true
	// hostile call trapped: true
}
