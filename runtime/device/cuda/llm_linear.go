package cuda

import (
	"fmt"
	"unsafe"

	"github.com/wasmgpu/wasmgpu/runtime/device"
)

// Linear's two shapes. Decode (n = 1) is a GEMV that streams the weights
// once: the fused ops' gemv_fused with one matrix and no norm (a warp per
// row, 16-byte loads, x through L1 or in shared memory; llm_fused.go).
// Prefill (n > 1) with bf16 weights runs on cuBLAS's bf16 tensor cores
// (cublasGemmEx, float32 accumulation and output): by default x is
// rounded to bf16 once (to_bf16), the activations' precision llama.cpp's
// BF16 path and transformers in bf16 use, 2⁻⁹ relative per product, so
// each output is within 2⁻⁸·Σ|w·x| of float32's; with
// Options.PrefillSplitBF16 x is split into bf16 hi and lo halves (x ≈ hi +
// lo to about 16 mantissa bits) and two GEMMs sum W·hi + W·lo, 2⁻¹⁷ per
// product for twice the tensor work. f16 and f32 weights, or a cuBLAS
// without GemmEx, use a 16×16 tiled kernel in float32.

// cuBLAS and CUDA constants for GemmEx (cublas_api.h, library_types.h).
const (
	cublasOpT          = 1
	cudaR32F           = 0
	cudaR16BF          = 14
	cublasCompute32F   = 68
	maxSharedGEMVBytes = 48 << 10 // a block's default dynamic shared memory limit
)

// gemvFromGlobal makes decode GEMVs read x through L1 instead of staging
// it in shared memory first, except in mapped mode, where every read of x
// crosses the bus, and for very tall weights (lm_head), whose blocks have
// rows enough to amortize the copy (RATIONALE.md, cuda).
var gemvFromGlobal = true

// linear queues out[n, O] = x[n, I]·W[O, I]ᵀ on device addresses. The
// context is current.
func (m *Memory) linear(wp uint64, dt int, x, out uint64, n, O, I int) error {
	if n == 1 {
		return m.gemvFused(dt, [device.NormLinearMax]uint64{wp}, [device.NormLinearMax]uint64{out}, [device.NormLinearMax]int{O}, I, x, 0, 0, fusedStore)
	}
	if dt == 0 && m.d.blas.cublasGemmEx != 0 {
		return m.gemmBF16(wp, x, out, n, O, I, false)
	}
	m.setArgs(wp, x, out, i32(n), i32(O), i32(I))
	return m.launch(m.llm.k.gemm[dt], Dim3{X: uint32(ceilDiv(O, 16)), Y: uint32(ceilDiv(n, 16))}, Dim3{X: 16, Y: 16}, 0)
}

// gemmBF16 computes out = x·Wᵀ (or, with accumulate, out += x·Wᵀ:
// LinearAdd) for bf16 W on cuBLAS, x in float32: rounded to bf16 once in
// scratch, or split into bf16 hi and lo (Options.PrefillSplitBF16) and the
// two GEMMs summed into out.
func (m *Memory) gemmBF16(wp, x, out uint64, n, O, I int, accumulate bool) error {
	count := uint64(n) * uint64(I)
	half := alignUp(2*count, weightAlign)
	if !m.d.opts.PrefillSplitBF16 {
		if err := m.growLLMBuf(&m.llm.scratch, half, false); err != nil {
			return err
		}
		xb := m.llm.scratch.ptr
		m.setArgs(x, xb, count)
		if err := m.launch(m.llm.k.toBF16, m.elementwiseGrid(int(count)), Dim3{X: 256}, 0); err != nil {
			return err
		}
		return m.gemmEx(wp, xb, out, n, O, I, accumulate)
	}
	if err := m.growLLMBuf(&m.llm.scratch, 2*half, false); err != nil {
		return err
	}
	hi, lo := m.llm.scratch.ptr, m.llm.scratch.ptr+half
	m.setArgs(x, hi, lo, count)
	if err := m.launch(m.llm.k.split, m.elementwiseGrid(int(count)), Dim3{X: 256}, 0); err != nil {
		return err
	}
	if err := m.gemmEx(wp, hi, out, n, O, I, accumulate); err != nil {
		return err
	}
	return m.gemmEx(wp, lo, out, n, O, I, true)
}

// gemmEx queues out = xb·Wᵀ, or out += xb·Wᵀ with accumulate, for bf16 W
// and bf16 xb [n, I] on cuBLAS, float32 accumulation and output. Row-major
// out[n, O] is column-major outᵀ (O×n, ld O) = W (column-major I×O,
// transposed) · xbᵀ (column-major I×n).
func (m *Memory) gemmEx(wp, xb, out uint64, n, O, I int, accumulate bool) error {
	d := m.d
	d.mu.Lock()
	defer d.mu.Unlock()
	h, err := d.blasHandle(m.stream)
	if err != nil {
		return err
	}
	beta := &d.zero
	if accumulate {
		beta = &d.one
	}
	r := call(d.blas.cublasGemmEx, h, cublasOpT, cublasOpN, uintptr(O), uintptr(n), uintptr(I),
		uintptr(unsafe.Pointer(&d.one)), uintptr(wp), cudaR16BF, uintptr(I),
		uintptr(xb), cudaR16BF, uintptr(I),
		uintptr(unsafe.Pointer(beta)), uintptr(out), cudaR32F, uintptr(O),
		cublasCompute32F, uintptr(cublasGemmDefaultBits))
	if err := cublasError("cublasGemmEx", r); err != nil {
		return fmt.Errorf("gemm %dx%dx%d: %w", n, O, I, err)
	}
	m.stats.KernelsLaunch++
	return nil
}

// prefillFused reports whether a fused op with n rows and the given
// projection dtype runs its own prefill sequence (normalize straight to
// bf16, then GEMMs from it) rather than its definition: bf16 projections,
// one rounding (not PrefillSplitBF16), cuBLAS GemmEx, not copy mode.
func (m *Memory) prefillFused(n int, dt string) bool {
	return n > 1 && dtIndex(dt) == 0 && !m.d.opts.PrefillSplitBF16 && m.d.blas.cublasGemmEx != 0 && m.mode != device.Copy
}

// normToBF16 queues rmsnorm_to_bf16 of n rows of dim floats at x with the
// norm weight g (dtype index dt) into the Memory's scratch and returns its
// address. The context is current.
func (m *Memory) normToBF16(dt int, g, x uint64, n, dim int, eps float32) (uint64, error) {
	if err := m.growLLMBuf(&m.llm.scratch, alignUp(2*uint64(n)*uint64(dim), weightAlign), false); err != nil {
		return 0, err
	}
	xb := m.llm.scratch.ptr
	m.setArgs(g, x, xb, i32(dim), f32bits(eps))
	return xb, m.launch(m.llm.k.rmsnormBF16[dt], Dim3{X: uint32(n)}, Dim3{X: 256}, 0)
}

// cublasGemmDefaultBits is CUBLAS_GEMM_DEFAULT (-1) as the int32 bit
// pattern a C enum argument carries.
const cublasGemmDefaultBits = uint32(0xFFFFFFFF)
