//go:build wasip1

// Command program is the wasmgpu guest: a WebAssembly reactor (built with
// -buildmode=c-shared) whose exports are the experiments' entry points and
// whose imports are the host's device ABI. It never knows which device runs
// its kernels; it hands the host offsets into its own linear memory.
//
// Big buffers are allocated once and kept in globals: the Go runtime for
// wasm does not move heap objects, so an offset stays valid until released.
package main

import (
	"runtime"
	"unsafe"

	"github.com/wasmgpu/wasmgpu/internal/matcheck"
)

func main() {}

//go:wasmimport wasmgpu matmul
func hostMatMul(a, aLen, b, bLen, c, cLen, m, n, k uint32)

//go:wasmimport wasmgpu nop
func hostNop(x uint32) uint32

// ptr is the linear-memory offset of p.
func ptr[T any](p *T) uint32 { return uint32(uintptr(unsafe.Pointer(p))) }

// The matmul experiment's operands.
var (
	mmA, mmB, mmC []float32
	mmM, mmN, mmK uint32
)

// mm_setup allocates A (m×k), B (k×n) and C (m×n) and fills A and B from
// seed. It returns A's offset.
//
//go:wasmexport mm_setup
func mmSetup(m, n, k uint32, seed uint64) uint32 {
	mmRelease()
	mmM, mmN, mmK = m, n, k
	mmA = make([]float32, int(m)*int(k))
	mmB = make([]float32, int(k)*int(n))
	mmC = make([]float32, int(m)*int(n))
	matcheck.Fill(seed, mmA)
	matcheck.Fill(seed+1, mmB)
	matcheck.Poison(mmC)
	return ptr(&mmA[0])
}

// mm_ptr returns the offset of operand which: 0 A, 1 B, 2 C.
//
//go:wasmexport mm_ptr
func mmPtr(which uint32) uint32 {
	switch which {
	case 0:
		return ptr(&mmA[0])
	case 1:
		return ptr(&mmB[0])
	}
	return ptr(&mmC[0])
}

// mm_run asks the host for C = A·B.
//
//go:wasmexport mm_run
func mmRun() {
	hostMatMul(ptr(&mmA[0]), uint32(len(mmA)*4), ptr(&mmB[0]), uint32(len(mmB)*4),
		ptr(&mmC[0]), uint32(len(mmC)*4), mmM, mmN, mmK)
}

// mm_poison fills C with NaN so the next check sees unwritten elements.
//
//go:wasmexport mm_poison
func mmPoison() { matcheck.Poison(mmC) }

// mm_check returns max|C−R|/max|R| against the float64 product, spending
// about work multiply-adds (all rows when the product is that small).
//
//go:wasmexport mm_check
func mmCheck(work uint32) float64 {
	return matcheck.MaxRelErr(mmA, mmB, mmC, int(mmM), int(mmN), int(mmK), int(work))
}

// mm_release drops the operands and collects them.
//
//go:wasmexport mm_release
func mmRelease() {
	mmA, mmB, mmC = nil, nil, nil
	runtime.GC()
}

// bench_nop makes iters guest→host calls of the cheapest host function.
//
//go:wasmexport bench_nop
func benchNop(iters uint32) uint32 {
	var s uint32
	for i := uint32(0); i < iters; i++ {
		s += hostNop(i)
	}
	return s
}

// raw_matmul forwards its arguments to the host's matmul unchanged: tests use
// it to play a hostile guest.
//
//go:wasmexport raw_matmul
func rawMatMul(a, aLen, b, bLen, c, cLen, m, n, k uint32) {
	hostMatMul(a, aLen, b, bLen, c, cLen, m, n, k)
}

// alloc returns the offset of a new n-byte buffer kept alive until free_all;
// tests use it to get valid ranges.
//
//go:wasmexport alloc
func alloc(n uint32) uint32 {
	b := make([]byte, n)
	kept = append(kept, b)
	return ptr(&b[0])
}

var kept [][]byte

// free_all drops every buffer alloc made.
//
//go:wasmexport free_all
func freeAll() {
	kept = nil
	runtime.GC()
}
