//go:build amd64 && !purego

package simd

import "golang.org/x/sys/cpu"

// The assembly in simd_amd64.s needs AVX2 and FMA; the F16 kernels also F16C,
// the AVX512 ones AVX-512F and VL (every AVX-512 CPU since Skylake has both;
// x/sys/cpu reports them only where the OS saves the 512-bit registers), the
// bfloat16 GEMM on VDPBF16PS also AVX512_BF16. Tests set these to false to
// run the other paths on this machine too.
var (
	useAVX2       = cpu.X86.HasAVX2 && cpu.X86.HasFMA
	useF16C       = cpu.X86.HasF16C
	useAVX512     = useAVX2 && cpu.X86.HasAVX512F && cpu.X86.HasAVX512VL
	useAVX512BF16 = useAVX512 && cpu.X86.HasAVX512BF16
)

// Implemented in simd_amd64.s. n must be a multiple of 8.

//go:noescape
func dotBF16AVX2(w *uint16, x *float32, n int) float32

//go:noescape
func gemv4BF16AVX2(w *uint16, stride int, x *float32, n int, out *float32)

//go:noescape
func gemm4x3BF16AVX2(w *uint16, wstride int, x *float32, xstride int, n int, out *float32, ostride int)

//go:noescape
func gemm4x6BF16AVX512(w *uint16, wstride int, x *float32, xstride int, n int, out *float32, ostride int)

//go:noescape
func dotF16AVX2(w *uint16, x *float32, n int) float32

//go:noescape
func gemv4F16AVX2(w *uint16, stride int, x *float32, n int, out *float32)

//go:noescape
func gemm4x3F16AVX2(w *uint16, wstride int, x *float32, xstride int, n int, out *float32, ostride int)

//go:noescape
func gemm4x6F16AVX512(w *uint16, wstride int, x *float32, xstride int, n int, out *float32, ostride int)

//go:noescape
func dotF32AVX2(w *float32, x *float32, n int) float32

//go:noescape
func gemv4F32AVX2(w *float32, stride int, x *float32, n int, out *float32)

//go:noescape
func gemm4x3F32AVX2(w *float32, wstride int, x *float32, xstride int, n int, out *float32, ostride int)

//go:noescape
func gemm4x6F32AVX512(w *float32, wstride int, x *float32, xstride int, n int, out *float32, ostride int)

//go:noescape
func gemv4BF16PackedAVX2(w *uint16, stride int, x *float32, n int, out *float32)

//go:noescape
func gemv4BF16PackedAVX512(w *uint16, stride int, x *float32, n int, out *float32)

//go:noescape
func gemv8BF16PackedAVX512(w *uint16, stride int, x *float32, n int, out *float32)

//go:noescape
func gemvRowsBF16PackedAVX512(w *uint16, x *float32, n int, out *float32, rows int)

// The many-row weighted sums (gen_amd64.go, weightedSums).

//go:noescape
func weightedSums3BF16AVX2(a *float32, astride int, w *uint16, wstride int, out *float32, ostride int, k int, cols int)

//go:noescape
func weightedSums1BF16AVX2(a *float32, astride int, w *uint16, wstride int, out *float32, ostride int, k int, cols int)

//go:noescape
func weightedSums6BF16AVX512(a *float32, astride int, w *uint16, wstride int, out *float32, ostride int, k int, cols int)

//go:noescape
func weightedSums1BF16AVX512(a *float32, astride int, w *uint16, wstride int, out *float32, ostride int, k int, cols int)

//go:noescape
func weightedSums3F16AVX2(a *float32, astride int, w *uint16, wstride int, out *float32, ostride int, k int, cols int)

//go:noescape
func weightedSums1F16AVX2(a *float32, astride int, w *uint16, wstride int, out *float32, ostride int, k int, cols int)

//go:noescape
func weightedSums6F16AVX512(a *float32, astride int, w *uint16, wstride int, out *float32, ostride int, k int, cols int)

//go:noescape
func weightedSums1F16AVX512(a *float32, astride int, w *uint16, wstride int, out *float32, ostride int, k int, cols int)

//go:noescape
func weightedSums3F32AVX2(a *float32, astride int, w *float32, wstride int, out *float32, ostride int, k int, cols int)

//go:noescape
func weightedSums1F32AVX2(a *float32, astride int, w *float32, wstride int, out *float32, ostride int, k int, cols int)

//go:noescape
func weightedSums6F32AVX512(a *float32, astride int, w *float32, wstride int, out *float32, ostride int, k int, cols int)

//go:noescape
func weightedSums1F32AVX512(a *float32, astride int, w *float32, wstride int, out *float32, ostride int, k int, cols int)

// The bfloat16 GEMM on VDPBF16PS (gen_amd64.go, gemmDP and packDP).

//go:noescape
func gemmBF16DP(w *uint16, wstride int, x *uint16, k int, out *float32, ostride int, rows int, tokens int)

//go:noescape
func packBF16DP(x *float32, xstride int, tokens int, blocks int, dst *uint16)

// The float32 exponential's kernels (gen_amd64.go, expPS) and the maximum.

//go:noescape
func swigluAVX2(gate, up, out *float32, n int)

//go:noescape
func expSumAVX2(x *float32, n int, scale, shift float32) float32

//go:noescape
func maxAVX2(x *float32, n int) float32
