package cpu

import (
	"math"

	"github.com/wasmgpu/wasmgpu/internal/simd"
	"github.com/wasmgpu/wasmgpu/runtime/device"
)

// Attention batched over the query tokens of a call: a prefill chunk's
// tokens meet each cached key together instead of one (token, head) pair at
// a time. For one query head, a block of up to attnRows tokens is scored
// against attnTile cached keys at a time by a small GEMM (internal/simd,
// GemmBF16Stride: 4 keys × 6 queries a tile with AVX-512), each row of
// scores gets its causal length and an online softmax step with a float32
// SIMD exponential (simd.Max, simd.ExpSum), and the probabilities multiply
// the tile's values for all the block's rows at once (simd.WeightedSums:
// each row of values widened once for 6 query rows). The output rows
// accumulate in place in out, rescaled when a row's maximum grows, and are
// divided by their sums at the end. Decode (one token) is the same code
// with blocks of one row.

const (
	// attnTile is how many cached keys a block scores at a time: with
	// attnRows rows, the worker's scratch holds attnRows·attnTile scores
	// (24 KiB), whatever the context. Scores used to take pos+n float32s
	// per worker, sized by the guest's pos and n and kept by the pool, so
	// one hostile call left gigabytes held.
	attnTile = 256
	// attnRows is the most query tokens of one head a block holds.
	attnRows = 24
)

// attn is one Attention call's operands and shape.
type attn struct {
	stop                  *stopper
	q, out                []float32
	kc, vc                []byte
	dt                    device.KVDType
	pos, heads, group, hd int
	width                 int // elements in a cache row (every KV head)
	scale                 float32
}

// attention computes, for each query token t and head h, softmax over the
// scaled dot products with cached keys 0..pos+t, then the weighted sum of
// cached values. Its parallel units are (KV head, block of query tokens),
// the blocks with the most keys first so that the longest units do not
// come last; a unit runs the block for each query head of its KV head,
// whose keys and values stay in the core's cache from one head to the next.
// stop is the Memory's stopper (see parallel); a block also polls it
// between its tiles of keys.
func attention(stop *stopper, q []float32, kc, vc []byte, out []float32, dt device.KVDType, n, pos, heads, kvHeads, headDim int) {
	if n <= 0 {
		return
	}
	a := &attn{stop: stop, q: q, out: out, kc: kc, vc: vc, dt: dt, pos: pos, heads: heads, group: heads / kvHeads, hd: headDim,
		width: kvHeads * headDim, scale: float32(1 / math.Sqrt(float64(headDim)))}
	rows := min(n, attnRows)
	blocks := (n + rows - 1) / rows
	// A unit's multiply-adds, in float64: the product can pass 2^63.
	work := float64(rows) * float64(a.group) * float64(pos+n) * float64(headDim) * 2
	grain := int(max(1, parallelWork/work))
	parallel(stop, kvHeads*blocks, grain, func(w *worker, lo, hi int) {
		s := w.floats(rows*min(attnTile, pos+n) + 2*rows)
		for u := lo; u < hi; u++ {
			b, kh := blocks-1-u/kvHeads, u%kvHeads
			t0 := b * rows
			for g := range a.group {
				if !a.block(kh, kh*a.group+g, t0, min(n, t0+rows), s) {
					return
				}
			}
		}
	})
}

// row returns the hd floats of token t, head h in v (q or out).
func (a *attn) row(v []float32, t, h int) []float32 {
	at := (t*a.heads + h) * a.hd
	return v[at : at+a.hd]
}

// block writes to out the attention of query head h (KV head kh) for tokens
// t0 ≤ t < t1, attnTile keys at a time, in s: the tile's scores, then each
// row's running maximum and sum. Row t sees keys 0..pos+t, so a tile's first
// rows may see none of it (they are left out) or part of it (their length
// stops at the diagonal). It reports false if it stopped early.
func (a *attn) block(kh, h, t0, t1 int, s []float32) bool {
	rows, stride := t1-t0, a.heads*a.hd
	m, l, tile := s[:rows], s[rows:2*rows], s[2*rows:]
	keys := cacheRows{a.dt, a.kc, kh * a.hd, a.width}
	values := cacheRows{a.dt, a.vc, kh * a.hd, a.width}
	for i := range rows {
		clear(a.row(a.out, t0+i, h))
		m[i], l[i] = float32(math.Inf(-1)), 0
	}
	var k [attnRows]int // each row's keys in the tile
	end := a.pos + t1   // the keys the last row sees
	for j0 := 0; j0 < end; j0 += attnTile {
		if j0 > 0 && a.stop.stopped() {
			return false
		}
		j1 := min(j0+attnTile, end)
		ta := max(t0, j0-a.pos) // the first row that sees key j0
		nr, nk := t1-ta, j1-j0
		sc := tile[:nr*nk]
		keys.from(j0).scores(a.q[(ta*a.heads+h)*a.hd:], stride, sc, nr, nk, a.hd)
		for i := range nr {
			r := ta - t0 + i
			k[i] = min(j1, a.pos+ta+i+1) - j0
			p := sc[i*nk : i*nk+k[i]]
			if mt := simd.Max(p) * a.scale; mt > m[r] {
				// The row's maximum grew: rescale what it holds (nothing
				// before its first tile).
				if !math.IsInf(float64(m[r]), -1) {
					alpha := float32(math.Exp(float64(m[r] - mt)))
					l[r] *= alpha
					scaleRow(a.row(a.out, ta+i, h), alpha)
				}
				m[r] = mt
			}
			l[r] += simd.ExpSum(p, a.scale, m[r])
		}
		values.from(j0).weightedSums(sc, nk, a.out[(ta*a.heads+h)*a.hd:], stride, k[:nr], a.hd)
	}
	for i := range rows {
		scaleRow(a.row(a.out, t0+i, h), 1/l[i])
	}
	return true
}

// scaleRow multiplies o by f.
func scaleRow(o []float32, f float32) {
	for i := range o {
		o[i] *= f
	}
}
