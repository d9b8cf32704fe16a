package cuda

import (
	"github.com/wasmgpu/wasmgpu/runtime/device"
	"github.com/wasmgpu/wasmgpu/runtime/device/internal/compose"
	"github.com/wasmgpu/wasmgpu/runtime/device/internal/operand"
	"github.com/wasmgpu/wasmgpu/runtime/device/llmabi"
)

// The fused ops. Decode (n = 1) runs each as one
// kernel: gemv_fused for NormLinear, NormGLU and LinearAdd, rope_kv for
// RoPEKV, which takes a layer from ~18 kernels to 6 or 7 (RATIONALE.md has
// the measurements). Prefill runs LinearAdd as cuBLAS GEMMs that accumulate
// into the residual and RoPEKV as rope_kv; NormLinear and NormGLU
// normalize straight into bf16 (rmsnorm_to_bf16, one pass for all their
// projections instead of a float32 row and a conversion per projection)
// and run their GEMMs from it (prefillFused, llm_linear.go), or else their
// defining sequences. Copy mode, which stages each op's operands, runs
// every fused op as its defining sequence.

// The modes of kernels/llm.cu's gemv_fused.
const (
	fusedStore = 0
	fusedAdd   = 1
	fusedGLU   = 2
)

// NormLinear is device.LLMOps.NormLinear.
func (m *Memory) NormLinear(w device.Weights, norm int, weights []int, x, xb device.Span, outs []device.Span, n int, eps float32) error {
	lc := llmabi.NormLinear(norm, weights, x, xb, outs, n, eps)
	if err := lc.Validate(m.size, w); err != nil {
		return err
	}
	nt, ts := lc.Tensor(w, 0), tensors(w, weights)
	same := true
	for _, t := range ts {
		same = same && t.DType == nt.DType
	}
	if same && m.prefillFused(n, ts[0].DType) {
		return m.normLinearPrefill(w, nt, ts, norm, weights, x, outs, n, eps)
	}
	if n != 1 || m.mode == device.Copy || !same {
		return compose.NormLinear(m, m.size, w, norm, weights, x, xb, outs, n, eps)
	}
	gp, wp, c, err := m.normLinearCall(w, norm, weights, x, outs)
	if err != nil {
		return err
	}
	var rows [device.NormLinearMax]int
	for i, t := range ts {
		rows[i] = t.Shape[0]
	}
	return m.llmRun(&c, func() error {
		var out [device.NormLinearMax]uint64
		copy(out[:], c.ptr[1:c.n])
		return m.gemvFused(dtIndex(nt.DType), wp, out, rows, ts[0].Shape[1], c.ptr[0], gp, eps, fusedStore)
	})
}

// NormGLU is device.LLMOps.NormGLU.
func (m *Memory) NormGLU(w device.Weights, norm, gate, up int, x, xb, tmp, out device.Span, n int, eps float32) error {
	lc := llmabi.NormGLU(norm, gate, up, x, xb, tmp, out, n, eps)
	if err := lc.Validate(m.size, w); err != nil {
		return err
	}
	nt, g := lc.Tensor(w, 0), lc.Tensor(w, 1)
	if m.prefillFused(n, g.DType) {
		return m.normGLUPrefill(w, nt, g, norm, gate, up, x, tmp, out, n, eps)
	}
	if n != 1 || m.mode == device.Copy || nt.DType != g.DType {
		return compose.NormGLU(m, m.size, w, norm, gate, up, x, xb, tmp, out, n, eps)
	}
	var wp [device.NormLinearMax]uint64
	gp, err := m.weights("norm_glu", w, norm)
	if err == nil {
		wp[0], err = m.weights("norm_glu", w, gate)
	}
	if err == nil {
		wp[1], err = m.weights("norm_glu", w, up)
	}
	if err != nil {
		return err
	}
	c := llmCall{name: "norm_glu", n: 2, args: [maxLLMArgs]operand.Operand{operand.In(x), operand.Out(out)}}
	return m.llmRun(&c, func() error {
		rows := [device.NormLinearMax]int{g.Shape[0], g.Shape[0]}
		return m.gemvFused(dtIndex(g.DType), wp, [device.NormLinearMax]uint64{c.ptr[1]}, rows, g.Shape[1], c.ptr[0], gp, eps, fusedGLU)
	})
}

// LinearAdd is device.LLMOps.LinearAdd.
func (m *Memory) LinearAdd(w device.Weights, weight int, x, tmp, resid device.Span, n int) error {
	lc := llmabi.LinearAdd(weight, x, tmp, resid, n)
	if err := lc.Validate(m.size, w); err != nil {
		return err
	}
	t := lc.Tensor(w, 0)
	dt := dtIndex(t.DType)
	if m.mode == device.Copy || (n > 1 && (dt != 0 || m.d.blas.cublasGemmEx == 0)) {
		return compose.LinearAdd(m, m.size, w, weight, x, tmp, resid, n)
	}
	wp, err := m.weights("linear_add", w, weight)
	if err != nil {
		return err
	}
	c := llmCall{name: "linear_add", n: 2, args: [maxLLMArgs]operand.Operand{operand.In(x), operand.InOut(resid)}}
	return m.llmRun(&c, func() error {
		O, I := t.Shape[0], t.Shape[1]
		if n > 1 {
			return m.gemmBF16(wp, c.ptr[0], c.ptr[1], n, O, I, true)
		}
		return m.gemvFused(dt, [device.NormLinearMax]uint64{wp}, [device.NormLinearMax]uint64{c.ptr[1]}, [device.NormLinearMax]int{O}, I, c.ptr[0], 0, 0, fusedAdd)
	})
}

// RoPEKV is device.LLMOps.RoPEKV: one rope_kv launch for any n.
func (m *Memory) RoPEKV(q, k, v, invFreq, kCache, vCache device.Span, dt device.KVDType, n, pos, heads, kvHeads, headDim int) error {
	if err := llmabi.Check(m.size, nil, llmabi.RoPEKV(q, k, v, invFreq, kCache, vCache, dt, n, pos, heads, kvHeads, headDim)); err != nil {
		return err
	}
	if m.mode == device.Copy {
		return compose.RoPEKV(m, m.size, q, k, v, invFreq, kCache, vCache, dt, n, pos, heads, kvHeads, headDim)
	}
	// Per op the kernel gets the rows it stores (rowBase = pos); in a
	// program (program.go) the whole caches and pos from the parameter block.
	width := kvHeads * headDim
	kRows, vRows, rowBase := kvRows(kCache, dt, n, pos, width), kvRows(vCache, dt, n, pos, width), pos
	if m.posSlot() != 0 {
		kRows, vRows, rowBase = kCache, vCache, 0
	}
	c := llmCall{name: "rope_kv", n: 6, args: [maxLLMArgs]operand.Operand{operand.InOut(q), operand.InOut(k), operand.In(v), operand.In(invFreq), operand.Out(kRows), operand.Out(vRows)}}
	return m.llmRun(&c, func() error {
		p := c.ptr
		m.setArgs(p[0], p[1], p[2], p[3], p[4], p[5], i32(n), i32(pos), m.posSlot(), i32(rowBase), i32(heads), i32(kvHeads), i32(headDim))
		work := n * (heads*headDim/2 + kvHeads*headDim/2 + width)
		return m.launch(m.llm.k.ropeKV[dtIndex(string(dt))], m.elementwiseGrid(work), Dim3{X: 256}, 0)
	})
}

// gemvShape, when its fields are set, replaces gemv_fused's warps per
// block (even: NormGLU pairs warps) and blocks per multiprocessor: the GEMV
// benchmark's sweep (llm_program_bench_test.go), so that the next change
// to the defaults comes from a measurement.
var gemvShape struct{ wpb, perSM int }

// gemvFused queues gemv_fused: mode fusedStore or fusedAdd over the rows
// of up to three matrices (rows[i] = 0 for none), or fusedGLU with w[0]
// gate and w[1] up into out[0]; g is the norm weight's address, or 0 for
// none. The context is current.
func (m *Memory) gemvFused(dt int, w, out [device.NormLinearMax]uint64, rows [device.NormLinearMax]int, I int, x, g uint64, eps float32, mode int) error {
	total := rows[0] + rows[1] + rows[2]
	if mode == fusedGLU {
		total = 2 * rows[0] // a warp per gate row and per up row
	}
	m.setArgs(w[0], w[1], w[2], out[0], out[1], out[2], i32(rows[0]), i32(rows[1]), i32(rows[2]),
		i32(I), x, g, f32bits(eps), i32(mode))
	k := m.llm.k
	// As linear's gemv: a warp per row, up to 64 warps a multiprocessor, so
	// that every row's loads are in flight at once.
	wpb := 4
	if total >= 8192 {
		wpb = 8
	}
	// Tall matrices (lm_head) stage x in shared memory, and fewer blocks
	// amortize that (RATIONALE.md, cuda).
	blocks := m.llm.sms * 8
	switch {
	case mode == fusedGLU:
		// Four 8-warp blocks a multiprocessor, each looping over ~4 row
		// pairs, beat one pass (RATIONALE.md, cuda).
		blocks = m.llm.sms * 4
	case total >= 16384:
		blocks = m.llm.sms * 4
	}
	if gemvShape.wpb > 0 {
		wpb = gemvShape.wpb
	}
	if gemvShape.perSM > 0 {
		blocks = m.llm.sms * gemvShape.perSM
	}
	grid, block := gridFor(total, wpb, blocks), Dim3{X: uint32(32 * wpb)}
	smem := m.mode == device.Mapped || total >= 16384 || !gemvFromGlobal
	if I*4 <= maxSharedGEMVBytes && smem {
		return m.launch(k.gemvFusedSmem[dt], grid, block, uint32(I*4))
	}
	return m.launch(k.gemvFused[dt], grid, block, 0)
}

// normLinearCall resolves a validated NormLinear's weights to device
// pointers (the norm's, then each projection's) and states its operands: x
// in, outs[i] out as the call's operand 1+i.
func (m *Memory) normLinearCall(w device.Weights, norm int, weights []int, x device.Span, outs []device.Span) (gp uint64, wp [device.NormLinearMax]uint64, c llmCall, err error) {
	if gp, err = m.weights("norm_linear", w, norm); err != nil {
		return 0, wp, c, err
	}
	c = llmCall{name: "norm_linear", n: 1 + len(outs)}
	c.args[0] = operand.In(x)
	for i, id := range weights {
		if wp[i], err = m.weights("norm_linear", w, id); err != nil {
			return 0, wp, c, err
		}
		c.args[1+i] = operand.Out(outs[i])
	}
	return gp, wp, c, nil
}

// tensors looks up the projections of a validated NormLinear.
func tensors(w device.Weights, ids []int) []device.WeightTensor {
	var ts [device.NormLinearMax]device.WeightTensor
	for i, id := range ids {
		ts[i], _ = w.Tensor(id)
	}
	return ts[:len(ids)]
}

// normLinearPrefill is NormLinear's prefill (prefillFused): x normalized
// into bf16 once, then a GEMM per projection from it. xb is left untouched.
func (m *Memory) normLinearPrefill(w device.Weights, nt device.WeightTensor, ts []device.WeightTensor, norm int, weights []int, x device.Span, outs []device.Span, n int, eps float32) error {
	gp, wp, c, err := m.normLinearCall(w, norm, weights, x, outs)
	if err != nil {
		return err
	}
	return m.llmRun(&c, func() error {
		I := ts[0].Shape[1]
		xb, err := m.normToBF16(dtIndex(nt.DType), gp, c.ptr[0], n, I, eps)
		if err != nil {
			return err
		}
		for i := range weights {
			if err := m.gemmEx(wp[i], xb, c.ptr[1+i], n, ts[i].Shape[0], I, false); err != nil {
				return err
			}
		}
		return nil
	})
}

// normGLUPrefill is NormGLU's prefill (prefillFused): x normalized into
// bf16 once, the gate GEMM into out and the up GEMM into tmp from it, then
// SwiGLU in place. xb is left untouched.
func (m *Memory) normGLUPrefill(w device.Weights, nt, g device.WeightTensor, norm, gate, up int, x, tmp, out device.Span, n int, eps float32) error {
	var gp, gw, uw uint64
	var err error
	for _, p := range []struct {
		dst *uint64
		id  int
	}{{&gp, norm}, {&gw, gate}, {&uw, up}} {
		if *p.dst, err = m.weights("norm_glu", w, p.id); err != nil {
			return err
		}
	}
	c := llmCall{name: "norm_glu", n: 3, args: [maxLLMArgs]operand.Operand{operand.In(x), operand.Out(tmp), operand.Out(out)}}
	return m.llmRun(&c, func() error {
		inter, dim := g.Shape[0], g.Shape[1]
		xb, err := m.normToBF16(dtIndex(nt.DType), gp, c.ptr[0], n, dim, eps)
		if err != nil {
			return err
		}
		if err := m.gemmEx(gw, xb, c.ptr[2], n, inter, dim, false); err != nil {
			return err
		}
		if err := m.gemmEx(uw, xb, c.ptr[1], n, inter, dim, false); err != nil {
			return err
		}
		count := n * inter
		m.setArgs(c.ptr[2], c.ptr[1], c.ptr[2], uint64(count))
		return m.launch(m.llm.k.swiglu, m.elementwiseGrid(count), Dim3{X: 256}, 0)
	})
}
