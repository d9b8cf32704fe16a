//go:build !amd64 || purego

package simd

// No assembly on this architecture (or with the purego tag): the portable
// loops in generic.go run. The stubs below keep simd.go architecture-neutral
// and are never called while useAVX2 is false.
var (
	useAVX2       = false
	useF16C       = false
	useAVX512     = false
	useAVX512BF16 = false
)

func dotBF16AVX2(w *uint16, x *float32, n int) float32 { panic(noAsm) }
func gemv4BF16AVX2(w *uint16, stride int, x *float32, n int, out *float32) {
	panic(noAsm)
}
func gemm4x3BF16AVX2(w *uint16, wstride int, x *float32, xstride int, n int, out *float32, ostride int) {
	panic(noAsm)
}
func dotF16AVX2(w *uint16, x *float32, n int) float32 { panic(noAsm) }
func gemv4F16AVX2(w *uint16, stride int, x *float32, n int, out *float32) {
	panic(noAsm)
}
func gemm4x3F16AVX2(w *uint16, wstride int, x *float32, xstride int, n int, out *float32, ostride int) {
	panic(noAsm)
}
func dotF32AVX2(w *float32, x *float32, n int) float32 { panic(noAsm) }
func gemv4F32AVX2(w *float32, stride int, x *float32, n int, out *float32) {
	panic(noAsm)
}
func gemm4x3F32AVX2(w *float32, wstride int, x *float32, xstride int, n int, out *float32, ostride int) {
	panic(noAsm)
}

func gemv4BF16PackedAVX2(w *uint16, stride int, x *float32, n int, out *float32) {
	panic(noAsm)
}
func gemv4BF16PackedAVX512(w *uint16, stride int, x *float32, n int, out *float32) {
	panic(noAsm)
}
func gemv8BF16PackedAVX512(w *uint16, stride int, x *float32, n int, out *float32) {
	panic(noAsm)
}
func gemvRowsBF16PackedAVX512(w *uint16, x *float32, n int, out *float32, rows int) {
	panic(noAsm)
}
func weightedSums3BF16AVX2(a *float32, astride int, w *uint16, wstride int, out *float32, ostride int, k int, cols int) {
	panic(noAsm)
}
func weightedSums1BF16AVX2(a *float32, astride int, w *uint16, wstride int, out *float32, ostride int, k int, cols int) {
	panic(noAsm)
}
func weightedSums6BF16AVX512(a *float32, astride int, w *uint16, wstride int, out *float32, ostride int, k int, cols int) {
	panic(noAsm)
}
func weightedSums1BF16AVX512(a *float32, astride int, w *uint16, wstride int, out *float32, ostride int, k int, cols int) {
	panic(noAsm)
}
func weightedSums3F16AVX2(a *float32, astride int, w *uint16, wstride int, out *float32, ostride int, k int, cols int) {
	panic(noAsm)
}
func weightedSums1F16AVX2(a *float32, astride int, w *uint16, wstride int, out *float32, ostride int, k int, cols int) {
	panic(noAsm)
}
func weightedSums6F16AVX512(a *float32, astride int, w *uint16, wstride int, out *float32, ostride int, k int, cols int) {
	panic(noAsm)
}
func weightedSums1F16AVX512(a *float32, astride int, w *uint16, wstride int, out *float32, ostride int, k int, cols int) {
	panic(noAsm)
}
func weightedSums3F32AVX2(a *float32, astride int, w *float32, wstride int, out *float32, ostride int, k int, cols int) {
	panic(noAsm)
}
func weightedSums1F32AVX2(a *float32, astride int, w *float32, wstride int, out *float32, ostride int, k int, cols int) {
	panic(noAsm)
}
func weightedSums6F32AVX512(a *float32, astride int, w *float32, wstride int, out *float32, ostride int, k int, cols int) {
	panic(noAsm)
}
func weightedSums1F32AVX512(a *float32, astride int, w *float32, wstride int, out *float32, ostride int, k int, cols int) {
	panic(noAsm)
}

func gemm4x6BF16AVX512(w *uint16, wstride int, x *float32, xstride int, n int, out *float32, ostride int) {
	panic(noAsm)
}
func gemm4x6F16AVX512(w *uint16, wstride int, x *float32, xstride int, n int, out *float32, ostride int) {
	panic(noAsm)
}
func gemm4x6F32AVX512(w *float32, wstride int, x *float32, xstride int, n int, out *float32, ostride int) {
	panic(noAsm)
}
func gemmBF16DP(w *uint16, wstride int, x *uint16, k int, out *float32, ostride int, rows int, tokens int) {
	panic(noAsm)
}
func packBF16DP(x *float32, xstride int, tokens int, blocks int, dst *uint16) { panic(noAsm) }

func swigluAVX2(gate, up, out *float32, n int)                   { panic(noAsm) }
func expSumAVX2(x *float32, n int, scale, shift float32) float32 { panic(noAsm) }
func maxAVX2(x *float32, n int) float32                          { panic(noAsm) }

const noAsm = "simd: assembly kernel called on a build without it"
