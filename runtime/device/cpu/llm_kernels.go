package cpu

import (
	"fmt"
	"math"
	"sync"

	"github.com/wasmgpu/wasmgpu/internal/safetensors"
	"github.com/wasmgpu/wasmgpu/internal/simd"
	"github.com/wasmgpu/wasmgpu/runtime/device"
)

// The Llama kernels on plain slices, after the spans are checked and staged.
// Arithmetic is float32 with float32 accumulation, as the reference runs its
// float32 model; the transcendental functions (cos, sin, rsqrt) go through
// float64 and round once, but for the exponentials of SwiGLU and of
// attention's softmax, internal/simd's float32 SIMD one (within a few
// float32 ulps). Attention is in llm_attention.go.

// parallelWork is the multiply-adds a chunk of a parallel loop should hold,
// enough that handing it to a worker costs little next to doing it.
const parallelWork = 1 << 16

// gemvChunkBytes is the weight bytes a chunk of a decode GEMV holds. A GEMV
// is bound by memory, not arithmetic, and each chunk starts its rows' streams
// cold: Llama 3.2 1B's decode GEMVs took 65–70 ms/token in chunks of
// 128 KiB (parallelWork's), ≈ 64 ms in chunks of 1–4 MiB (medians of 5–6
// interleaved runs on the 2-core EPYC; 256–512 KiB in between). Measured
// again with the single-stream kernel and the spinning pool, the whole step
// in 12 interleaved rounds each: 256 KiB 67.3, 512 KiB 62.7, 1 MiB 59.6
// ms/token; then 1, 2, 4 MiB 55.7, 58.0, 57.8 (level within the noise).
const gemvChunkBytes = 1 << 20

// embed widens table rows tokens[t] into out rows; a token outside the table
// is an error (token ids are data, so no argument check can catch them).
func embed(t device.WeightTensor, tokens []int32, out []float32, n int) error {
	vocab, dim := t.Shape[0], t.Shape[1]
	es := len(t.Data) / (vocab * dim)
	for i, id := range tokens[:n] {
		if id < 0 || int(id) >= vocab {
			return fmt.Errorf("embed: token %d at row %d is outside the table's %d rows", id, i, vocab)
		}
		row := t.Data[int(id)*dim*es : (int(id)+1)*dim*es]
		widen(t.DType, row, out[i*dim:(i+1)*dim])
	}
	return nil
}

// rmsnorm writes x·rsqrt(mean(x²)+eps)·weight row by row; out may be x.
// It runs on the calling core while the pool's helpers wait for the
// projection that follows, so it reads the weight in place (no widened
// copy) and sums x² in four float64 chains: the one-chain loop with a copy
// took 8.7 µs a row of 2048 (hot, in a benchmark) where this takes 1.5.
func rmsnorm(t device.WeightTensor, x, out []float32, n int, eps float32) {
	dim := t.Shape[0]
	for r := range n {
		xr, or := x[r*dim:(r+1)*dim], out[r*dim:(r+1)*dim]
		inv := float32(1 / math.Sqrt(float64(float32(sumSquares(xr)/float64(dim))+eps)))
		switch t.DType {
		case "BF16":
			for i, h := range u16(t.Data)[:dim] {
				or[i] = math.Float32frombits(uint32(h)<<16) * (xr[i] * inv)
			}
		case "F16":
			for i, h := range u16(t.Data)[:dim] {
				or[i] = safetensors.F16ToF32(h) * (xr[i] * inv)
			}
		default:
			for i, w := range f32s(t.Data)[:dim] {
				or[i] = w * (xr[i] * inv)
			}
		}
	}
}

// sumSquares returns Σ x[i]² in float64, as four interleaved partial sums:
// one chain would wait on the float64 add's latency at every element.
func sumSquares(x []float32) float64 {
	var s0, s1, s2, s3 float64
	i := 0
	for ; i+4 <= len(x); i += 4 {
		a, b, c, d := float64(x[i]), float64(x[i+1]), float64(x[i+2]), float64(x[i+3])
		s0 += a * a
		s1 += b * b
		s2 += c * c
		s3 += d * d
	}
	for ; i < len(x); i++ {
		s0 += float64(x[i]) * float64(x[i])
	}
	return (s0 + s1) + (s2 + s3)
}

// linear computes out[t, o] = Σ_i x[t, i]·W[o, i] with internal/simd's
// kernels (AVX2+FMA or AVX-512 on amd64, reading bf16 weights straight from
// the mapping), the output rows split over the worker pool in chunks of a
// multiple of 8 rows, the GEMV kernel's pass. One token (decode) is a GEMV
// that streams each weight once, x packed once for all the chunks; several
// (prefill) a GEMM (gemm).
//
// stop is the Memory's stopper (see parallel).
func linear(stop *stopper, t device.WeightTensor, x, out []float32, n int) {
	outDim, in := t.Shape[0], t.Shape[1]
	x, out = x[:n*in], out[:n*outDim]
	if n == 1 {
		// The bf16 GEMV wants x rearranged; do it once, not per chunk.
		xp := packFor([]device.WeightTensor{t}, x)
		parallel(stop, outDim, gemvGrain(t), func(_ *worker, lo, hi int) {
			gemvRows(t, x, xp, out[lo:hi], lo, hi)
		})
		if xp != nil {
			packPool.Put(xp)
		}
		return
	}
	gemm(stop, []device.WeightTensor{t}, x, [][]float32{out}, n)
}

// gemvGrain is the rows per chunk of a decode GEMV over t: gemvChunkBytes
// of weights, rounded up to a multiple of 8 rows (the GEMV kernel's pass,
// so each row meets the same kernel however the chunks are grouped).
func gemvGrain(t device.WeightTensor) int {
	grain := gemvChunkBytes / max(1, len(t.Data)/t.Shape[0])
	return (max(1, grain) + 7) &^ 7
}

// gemvRows sets out[r-lo] = W[r]·x for rows lo ≤ r < hi of t (one token);
// xp is x packed, needed only for bf16 weights.
func gemvRows(t device.WeightTensor, x []float32, xp *simd.PackedX, out []float32, lo, hi int) {
	in := t.Shape[1]
	switch t.DType {
	case "BF16":
		simd.GemvBF16Packed(u16(t.Data)[lo*in:hi*in], xp, out, in)
	case "F16":
		simd.GemvF16(u16(t.Data)[lo*in:hi*in], x[:in], out, in)
	default:
		simd.GemvF32(f32s(t.Data)[lo*in:hi*in], x[:in], out, in)
	}
}

// packPool holds linear's packed copies of x for the bf16 GEMV.
var packPool = sync.Pool{New: func() any { return new(simd.PackedX) }}

// rope rotates pairs (i, i+headDim/2) of every head of every row by
// (pos+t)·invFreq[i], as Hugging Face's apply_rotary_pos_emb with
// rotate_half: the angle is a float32 product, its cos and sin are rounded
// to float32.
func rope(x, invFreq []float32, n, heads, headDim, pos int) {
	half := headDim / 2
	cs := make([]float32, 2*half)
	for t := range n {
		p := float32(pos + t)
		for i := range half {
			a := float64(p * invFreq[i])
			cs[i], cs[half+i] = float32(math.Cos(a)), float32(math.Sin(a))
		}
		for h := range heads {
			v := x[(t*heads+h)*headDim : (t*heads+h+1)*headDim]
			for i := range half {
				c, s := cs[i], cs[half+i]
				x0, x1 := v[i], v[i+half]
				v[i] = x0*c - x1*s
				v[i+half] = x1*c + x0*s
			}
		}
	}
}

// kvstore converts count float32s of src into dst in the cache's dtype,
// rounding to nearest even.
func kvstore(src []float32, dst []byte, dt device.KVDType, count int) {
	switch dt {
	case device.KVBF16:
		d := u16(dst)[:count]
		for i, v := range src[:count] {
			d[i] = safetensors.F32ToBF16(v)
		}
	case device.KVF16:
		d := u16(dst)[:count]
		for i, v := range src[:count] {
			d[i] = safetensors.F32ToF16(v)
		}
	default:
		copy(f32s(dst)[:count], src[:count])
	}
}

// swiglu writes silu(gate)·up; out may be gate. internal/simd's kernel
// computes the exponential in float32, eight at a time (within 6·2⁻²⁴ of
// the exact result): through float64 math.Exp it cost ≈ 10 ns an element,
// a tenth of a prefill's time.
func swiglu(gate, up, out []float32) {
	simd.SwiGLU(gate[:len(out)], up[:len(out)], out)
}

// add does x += y.
func add(x, y []float32) {
	y = y[:len(x)]
	for i := range x {
		x[i] += y[i]
	}
}

// argmax writes the index of each row's largest value, the first on ties,
// or -1 for a row that holds a NaN or an infinity: the engine reports such
// logits as an error instead of decoding a token from them. The check rides
// in the same pass, as a compare that is almost never taken: +Inf ends up
// the largest, and NaN and −Inf fail v ≥ −MaxFloat32.
func argmax(x []float32, out []int32, n, width int) {
	for r := range n {
		row := x[r*width : (r+1)*width]
		best, idx := float32(math.Inf(-1)), 0
		bad := false
		for i, v := range row {
			if v > best {
				best, idx = v, i
			} else if !(v >= -math.MaxFloat32) {
				bad = true
			}
		}
		if bad || best > math.MaxFloat32 {
			idx = -1
		}
		out[r] = int32(idx)
	}
}
