package cuda

import (
	"fmt"
	"unsafe"

	"github.com/wasmgpu/wasmgpu/runtime/device"
)

// Linear's two shapes. Decode (n = 1) is a GEMV that streams the weights
// once: the fused ops' gemv_fused with one matrix and no norm (a warp per
// row, 16-byte loads, x through L1 or in shared memory; llm_fused.go).
// Prefill (n > 1) with bf16 weights runs on cuBLAS's bf16 tensor
// cores: x is split into bf16 hi and lo halves (x ≈ hi + lo to about 16
// mantissa bits) and two cublasGemmEx calls with float32 accumulation sum
// W·hi + W·lo, so rounding the activations costs about 2⁻¹⁷ relative instead
// of bf16's 2⁻⁹, for twice the (cheap) tensor work. f16 and f32 weights, or
// a cuBLAS without GemmEx, use a 16×16 tiled kernel in float32.

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

// gemmBF16 splits x into bf16 hi and lo in scratch and sums two cuBLAS
// GEMMs into out, or with accumulate adds them to out (LinearAdd). Row-major
// out[n, O] is column-major outᵀ (O×n, ld O) = W (column-major I×O,
// transposed) · xᵀ (column-major I×n).
func (m *Memory) gemmBF16(wp, x, out uint64, n, O, I int, accumulate bool) error {
	count := uint64(n) * uint64(I)
	half := alignUp(2*count, weightAlign)
	if err := m.growLLMBuf(&m.llm.scratch, 2*half, false); err != nil {
		return err
	}
	hi, lo := m.llm.scratch.ptr, m.llm.scratch.ptr+half
	m.setArgs(x, hi, lo, count)
	if err := m.launch(m.llm.k.split, m.elementwiseGrid(int(count)), Dim3{X: 256}, 0); err != nil {
		return err
	}
	d := m.d
	d.mu.Lock()
	defer d.mu.Unlock()
	h, err := d.blasHandle(m.stream)
	if err != nil {
		return err
	}
	for i, b := range []uint64{hi, lo} {
		beta := &d.zero
		if i == 1 || accumulate {
			beta = &d.one
		}
		r := call(d.blas.cublasGemmEx, h, cublasOpT, cublasOpN, uintptr(O), uintptr(n), uintptr(I),
			uintptr(unsafe.Pointer(&d.one)), uintptr(wp), cudaR16BF, uintptr(I),
			uintptr(b), cudaR16BF, uintptr(I),
			uintptr(unsafe.Pointer(beta)), uintptr(out), cudaR32F, uintptr(O),
			cublasCompute32F, uintptr(cublasGemmDefaultBits))
		if err := cublasError("cublasGemmEx", r); err != nil {
			return fmt.Errorf("gemm %dx%dx%d: %w", n, O, I, err)
		}
		m.stats.KernelsLaunch++
	}
	return nil
}

// cublasGemmDefaultBits is CUBLAS_GEMM_DEFAULT (-1) as the int32 bit
// pattern a C enum argument carries.
const cublasGemmDefaultBits = uint32(0xFFFFFFFF)
