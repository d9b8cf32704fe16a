package cpu

import (
	"sync"

	"github.com/wasmgpu/wasmgpu/internal/simd"
	"github.com/wasmgpu/wasmgpu/runtime/device"
)

// The projections of several tokens at once (prefill, or a batch of
// decodes): GEMMs over the worker pool, the rows of each weight in chunks
// (gemmGrain), the activations packed once per op for the bf16 weights
// (rounded to bfloat16, laid out for VDPBF16PS where the CPU has it:
// internal/simd, PackedBatch). A fused op's elementwise step (SwiGLU, the
// residual add) runs on each chunk's rows as soon as they are done, on the
// core that computed them, instead of over the whole output on one core
// afterwards: the same expression on the same values, so the results are
// the defining sequence's bit for bit.

// batch is n > 1 tokens of activations x for the projections of one op,
// packed for the bf16 weights among them.
type batch struct {
	x  []float32
	n  int
	xp *simd.PackedBatch // nil unless a weight is bf16
}

// batchPool holds the packed activations between ops.
var batchPool = sync.Pool{New: func() any { return new(simd.PackedBatch) }}

// newBatch returns the n rows of x (each ts[0].Shape[1] wide, as every
// weight of ts) ready for rows; release gives the packing back.
func newBatch(ts []device.WeightTensor, x []float32, n int) batch {
	in := ts[0].Shape[1]
	b := batch{x: x[:n*in], n: n}
	for _, t := range ts {
		if t.DType == "BF16" {
			b.xp = batchPool.Get().(*simd.PackedBatch).Pack(b.x, n, in)
			break
		}
	}
	return b
}

func (b batch) release() {
	if b.xp != nil {
		batchPool.Put(b.xp)
	}
}

// rows sets out[t·outDim + r] = Σ_i x[t, i]·W[r, i] for every token t and
// the rows lo ≤ r < hi of t's weight W (outDim × in); out holds all n rows.
func (b batch) rows(t device.WeightTensor, out []float32, lo, hi int) {
	outDim, in := t.Shape[0], t.Shape[1]
	out = out[:b.n*outDim]
	switch t.DType {
	case "BF16":
		simd.GemmBF16Packed(u16(t.Data), b.xp, out, outDim, lo, hi)
	case "F16":
		simd.GemmF16Rows(u16(t.Data), b.x, out, b.n, outDim, in, lo, hi)
	default:
		simd.GemmF32Rows(f32s(t.Data), b.x, out, b.n, outDim, in, lo, hi)
	}
}

// gemmGrain is the rows per chunk of a GEMM of n tokens over t: parallelWork
// multiply-adds or more, rounded up to a multiple of 8 rows so that every
// row meets the same tile kernel however the chunks fall, and at least
// gemmMinRows.
func gemmGrain(t device.WeightTensor, n int) int {
	return max(gemmMinRows, (max(1, parallelWork/(t.Shape[1]*n))+7)&^7)
}

// gemmMinRows is the fewest rows a GEMM chunk takes. A chunk writes its rows
// of every token's output, and the elementwise steps after it read and write
// them again: with 8 rows (32 bytes a token) two chunks share each cache
// line of the output, one per core, and every call handles 8 values. Whole
// Llama 3.2 1B prefills, chunks of 64 tokens, two rounds interleaved on the
// shared EPYC (tokens/s): 8 rows 130–155 (24 tokens), 148–169 (128),
// 125–145 (512); 32 rows 153–163, 158–173, 140–144; 64 rows level with 32
// where uncontended. 32 rows is two cache lines a token.
const gemmMinRows = 32

// gemm sets outs[i] = x·ts[i]ᵀ for n > 1 tokens, every projection in one
// parallel region.
func gemm(stop *stopper, ts []device.WeightTensor, x []float32, outs [][]float32, n int) {
	b := newBatch(ts, x, n)
	var tasks []gemvTask
	for i, t := range ts {
		tasks = appendRowTasks(tasks, i, t.Shape[0], gemmGrain(t, n))
	}
	parallel(stop, len(tasks), 1, func(_ *worker, lo, hi int) {
		for _, tk := range tasks[lo:hi] {
			b.rows(ts[tk.mat], outs[tk.mat], tk.lo, tk.hi)
		}
	})
	b.release()
}

// gemmThen computes out = x·tᵀ for n > 1 tokens over the pool and, on each
// chunk of rows [lo, hi) once it is done, calls then(b, lo, hi) on the same
// worker.
func gemmThen(stop *stopper, ts []device.WeightTensor, x, out []float32, n int, then func(b batch, lo, hi int)) {
	b := newBatch(ts, x, n)
	t := ts[0]
	parallel(stop, t.Shape[0], gemmGrain(t, n), func(_ *worker, lo, hi int) {
		b.rows(t, out, lo, hi)
		then(b, lo, hi)
	})
	b.release()
}

// tokenRows returns rows [lo, hi) of token t in v, n tokens of width rows.
func tokenRows(v []float32, t, width, lo, hi int) []float32 {
	return v[t*width+lo : t*width+hi]
}
